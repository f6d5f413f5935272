// TLS for PostgreSQL: the embedded server makes a self-signed certificate at init and accepts TLS
// (`sslmode=require`); connections without TLS keep working where the project does not enforce it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { adminClient, createProject, loam } from '../helpers/platform.ts';

// A DATABASE_URL server has its own TLS set-up (or none): these check the embedded one.
const skip = !process.env.LOAM_TEST_EMBEDDED_POSTGRES ? 'the embedded server\'s TLS: a DATABASE_URL server has its own set-up' : false;

test('the embedded server has a certificate with a private key only its owner can read, and TLS on', { skip }, async () => {
  const admin = await adminClient();
  const { rows: [s] } = await admin.query(`select current_setting('ssl') as ssl, current_setting('data_directory') as dir`);
  await admin.end();
  assert.equal(s.ssl, 'on');
  const key = fs.statSync(path.join(s.dir, 'server.key'));
  assert.equal(key.mode & 0o077, 0, 'server.key is private');
  assert.match(fs.readFileSync(path.join(s.dir, 'server.crt'), 'utf8'), /BEGIN CERTIFICATE/);
  assert.match(fs.readFileSync(path.join(s.dir, 'pg_hba.conf'), 'utf8'), /^# BEGIN LOAM MANAGED RULES/);
});

test('a project owner connects with TLS (sslmode=require) and without it', { skip }, async () => {
  const p = await createProject();
  const u = new URL((await loam()).databaseUrl);
  const base = { host: u.hostname, port: Number(u.port), user: p.ref, password: p.dbPass, database: p.ref };
  const tls = new pg.Client({ ...base, ssl: { rejectUnauthorized: false } });
  await tls.connect();
  const { rows: [r] } = await tls.query('select ssl, version from pg_stat_ssl where pid = pg_backend_pid()');
  assert.equal(r.ssl, true);
  assert.match(r.version, /^TLSv1\.[23]$/);
  await tls.end();
  // The connection string form clients paste: sslmode=require (no verification of the self-signed certificate).
  const byUrl = new pg.Client({ connectionString: `postgresql://${p.ref}:${encodeURIComponent(p.dbPass)}@${u.hostname}:${u.port}/${p.ref}?sslmode=no-verify` });
  await byUrl.connect();
  assert.equal((await byUrl.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0].ssl, true);
  await byUrl.end();
  const plain = new pg.Client({ ...base, ssl: false });
  await plain.connect();
  assert.equal((await plain.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0].ssl, false);
  await plain.end();
  // Verifying against the certificate itself works too (it names localhost).
  const admin = await adminClient();
  const dir = (await admin.query(`select current_setting('data_directory') as d`)).rows[0].d;
  await admin.end();
  const verified = new pg.Client({ ...base, host: 'localhost', ssl: { ca: fs.readFileSync(path.join(dir, 'server.crt'), 'utf8') } });
  await verified.connect();
  await verified.end();
});
