// A restore survives a crash: Loam runs as a child process, is killed with SIGKILL while pg_restore is loading
// the backup, and is started again. Meanwhile the project must not serve (out of service, its live database
// closed, nothing half-restored reachable); once Loam is back the job runs again from the start and the project
// comes back with the backup's data, with no database left over beside it.
//
// It needs pg_dump/pg_restore of the server's major version (the PG15 DATABASE_URL server on this machine), and a
// control database of its own on that server: on the run's shared one, other test files' workers would take the
// job and the kill would hit nothing.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { findPgTools } from '../../db/src/backups.ts';
import { projectRoles } from '../../db/src/roles.ts';
import { startChildLoam, type ChildLoam } from './child-loam.ts';

const serverUrl = process.env.DATABASE_URL;
const toolsHere = serverUrl ? await (async () => {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    return await findPgTools(Number((await c.query('show server_version_num')).rows[0].server_version_num)).then(() => true, () => false);
  } finally { await c.end(); }
})() : false;

const name = `loam_backup_crash_${crypto.randomBytes(4).toString('hex')}`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-backup-crash-'));
let controlUrl = '';
const children: ChildLoam[] = [];

after(async () => {
  for (const c of children) { if (c.alive()) { c.process.kill('SIGKILL'); await new Promise((r) => c.process.once('exit', r)).catch(() => {}); } }
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (!controlUrl) return;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const control = new pg.Client({ connectionString: controlUrl });
  await control.connect();
  const refs: string[] = (await control.query('select ref from platform.projects')).rows.map((r) => r.ref);
  await control.end();
  for (const ref of refs) {
    for (const db of [ref, `${ref}_restoring`, `${ref}_before_restore`]) await admin.query(`drop database if exists ${admin.escapeIdentifier(db)} with (force)`);
    const r = projectRoles(ref);
    for (const role of [r.authenticator, r.mgmt, r.functions, r.anon, r.authenticated, r.service_role, r.owner]) {
      await admin.query(`drop role if exists ${admin.escapeIdentifier(role)}`).catch(() => {});
    }
  }
  for (const db of [name, `${name}_template`]) await admin.query(`drop database if exists ${admin.escapeIdentifier(db)} with (force)`);
  await admin.end();
});

async function start(): Promise<ChildLoam> {
  const child = await startChildLoam('start', { DATABASE_URL: controlUrl, LOAM_DATA_DIR: dataDir, LOAM_WORKER_DEAD_AFTER_MS: '2000', LOAM_BCRYPT_ROUNDS: '4' });
  children.push(child);
  return child;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

test('kill -9 during a restore: the project stays out of service, and the restore finishes when Loam is back', {
  skip: toolsHere ? false : 'needs DATABASE_URL on a server whose pg_dump/pg_restore major version is installed',
}, async () => {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(serverUrl!);
  u.pathname = `/${name}`;
  controlUrl = u.href;

  let loam = await start();
  const signup = await loam.call('POST', '/v1/auth/signup', { body: { email: `crash-${crypto.randomBytes(4).toString('hex')}@example.com`, password: 'correct horse battery' } });
  const auth = { authorization: `Bearer ${signup.body.token}` };
  const org = (await loam.call('GET', '/v1/organizations', { headers: auth })).body[0].slug;
  const created = await loam.call('POST', '/v1/projects', { headers: auth, body: { name: 'crash', organization_id: org, db_pass: 'a-long-password' } });
  const ref: string = created.body.ref;
  await until('the project', async () => (await loam.call('GET', `/v1/projects/${ref}`, { headers: auth })).body.status === 'ACTIVE_HEALTHY' || undefined);
  const query = (q: string) => loam.call('POST', `/v1/projects/${ref}/database/query`, { headers: auth, body: { query: q } });
  // Enough rows that pg_restore takes a while on this machine: the kill lands while it loads them.
  assert.equal((await query(`create table big as select g as id, md5(g::text) || md5((g * 7)::text) as body from generate_series(1, 400000) g;
    create table marker (v text); insert into marker values ('at backup')`)).status, 201);
  const made = await loam.call('POST', `/v1/projects/${ref}/database/backups`, { headers: auth });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const backup = await until('the backup', async () => {
    const b = (await loam.call('GET', `/v1/projects/${ref}/database/backups`, { headers: auth })).body.backups[0];
    return b.status === 'PENDING' ? undefined : b;
  }, 120_000, 250);
  assert.equal(backup.status, 'COMPLETED', JSON.stringify(backup));
  assert.equal((await query(`update marker set v = 'after backup'; delete from big where id > 10`)).status, 201);

  const restore = await loam.call('POST', `/v1/projects/${ref}/database/backups/restore`, { headers: auth, body: { id: backup.id } });
  assert.equal(restore.status, 201, JSON.stringify(restore.body));
  await until('pg_restore to be loading', async () => {
    const r = (await loam.call('GET', `/v1/projects/${ref}/database/backups/restores`, { headers: auth })).body[0];
    return /^restoring the database/.test(r.progress ?? '') || undefined;
  }, 120_000, 20);
  loam.process.kill('SIGKILL');
  await new Promise((r) => loam.process.once('exit', r));

  // Dead: the project is out of service, its live database refuses logins, the half-built one is no project's.
  const control = new pg.Client({ connectionString: controlUrl });
  await control.connect();
  assert.equal((await control.query('select status from platform.projects where ref = $1', [ref])).rows[0].status, 'RESTORING_BACKUP');
  await control.end();
  const owner = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: ref, password: 'a-long-password', database: ref });
  await assert.rejects(owner.connect(), /not currently accepting connections/);

  loam = await start();
  const done = await until('the restore to finish', async () => {
    const r = (await loam.call('GET', `/v1/projects/${ref}/database/backups/restores`, { headers: auth })).body[0];
    return r.status === 'COMPLETED' || r.status === 'FAILED' ? r : undefined;
  }, 180_000, 250);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
  await until('the project', async () => (await loam.call('GET', `/v1/projects/${ref}`, { headers: auth })).body.status === 'ACTIVE_HEALTHY' || undefined);
  const rows = await loam.call('POST', `/v1/projects/${ref}/database/query`, { headers: auth, body: { query: 'select (select v from marker) as v, (select count(*)::int from big) as n' } });
  assert.deepEqual(rows.body, [{ v: 'at backup', n: 400000 }]);
  const check = new pg.Client({ connectionString: serverUrl });
  await check.connect();
  const dbs = (await check.query('select datname from pg_database where datname like $1 order by 1', [`${ref}%`])).rows.map((r) => r.datname);
  await check.end();
  assert.deepEqual(dbs, [ref]);
});
