// PostgreSQL stopped and started again under a running Loam (a child process, API and worker, on a PostgreSQL of
// this test's own). While it is down: /health says 503 and names the database; every API answers 503 JSON in
// its own shape (it used to be Express's HTML 500 page, and /health kept saying ok). When it is back, Loam
// recovers by itself: no restart, same process.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../db/src/embedded.ts';
import { freePort } from '../helpers/postgres.ts';
import { startChildLoam, type ChildLoam } from './child-loam.ts';

let dataDir: string;
let filesDir: string;
let port: number;
let pgServer: EmbeddedServer | undefined;
let child: ChildLoam;
let token: string;
let ref: string;
let anonKey: string;

const call: ChildLoam['call'] = (method, p, opts) => child.call(method, p, opts);

const startPostgres = async () => { pgServer = await startEmbeddedPostgres({ dataDir, port, listen: 'localhost' }); };

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: last answer ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const key = () => ({ apikey: anonKey, authorization: `Bearer ${anonKey}` });
const rest = () => call('GET', `/project/${ref}/rest/v1/notes?select=id`, { headers: key() });

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-down-'));
  fs.chmodSync(dataDir, 0o755); // the `postgres` OS user must reach it when we run as root
  filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-down-files-'));
  port = await freePort();
  await startPostgres();
  child = await startChildLoam('start', { DATABASE_URL: pgServer!.url, LOAM_DATA_DIR: filesDir });

  const email = `down${crypto.randomBytes(4).toString('hex')}@example.com`;
  const s = await call('POST', '/v1/auth/signup', { body: { email, password: 'correct horse battery' } });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  token = s.body.token;
  const auth = { authorization: `Bearer ${token}` };
  const orgs = await call('GET', '/v1/organizations', { headers: auth });
  const created = await call('POST', '/v1/projects', { headers: auth, body: { name: 'down', organization_id: orgs.body[0].slug, db_pass: 'pw-down-test-123' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  ref = created.body.ref;
  await until('project healthy', () => call('GET', `/v1/projects/${ref}`, { headers: auth }), (r) => r.body?.status === 'ACTIVE_HEALTHY');
  const keys = await call('GET', `/v1/projects/${ref}/api-keys`, { headers: auth });
  anonKey = keys.body.find((k: { name: string }) => k.name === 'anon').api_key;
  const q = await call('POST', `/v1/projects/${ref}/database/query`, {
    headers: auth, body: { query: 'create table notes (id int primary key); insert into notes values (1); grant select on notes to anon' },
  });
  assert.equal(q.status, 201, JSON.stringify(q.body));
});

after(async () => {
  await child?.stop();
  await pgServer?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(filesDir, { recursive: true, force: true });
});

test('PostgreSQL stops and starts again under a running Loam', async () => {
  // Up: healthy, and every API serves (this also fills the caches an outage must not be hidden by).
  assert.deepEqual((await call('GET', '/health')).body, { ok: true, checks: { database: 'ok' } });
  assert.deepEqual((await rest()).body, [{ id: 1 }]);
  const gql = await call('POST', `/project/${ref}/graphql/v1`, { headers: key(), body: { query: '{ allNotes { nodes { rowId } } }' } });
  assert.deepEqual(gql.body, { data: { allNotes: { nodes: [{ rowId: 1 }] } } });

  await pgServer!.stop();
  pgServer = undefined;

  // Down: /health names the database (within the second its answer is cached).
  const health = await until('health reports the database', () => call('GET', '/health'), (r) => r.status === 503);
  assert.deepEqual(health.body, { ok: false, checks: { database: 'unreachable' } });

  // Every API: 503, JSON, its own shape.
  const r = await rest();
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.match(r.type, /application\/json/);
  assert.deepEqual(Object.keys(r.body).sort(), ['code', 'details', 'hint', 'message']);
  assert.equal(r.body.code, 'PGRST000');

  const g = await call('POST', `/project/${ref}/graphql/v1`, { headers: key(), body: { query: '{ allNotes { nodes { rowId } } }' } });
  assert.equal(g.status, 503, JSON.stringify(g.body));
  assert.equal(g.body.errors[0].extensions.code, 'SERVICE_UNAVAILABLE');

  const a = await call('GET', `/project/${ref}/auth/v1/settings`, { headers: key() });
  assert.equal(a.status, 503, JSON.stringify(a.body));
  assert.deepEqual(a.body, { code: 503, error_code: 'database_unavailable', msg: a.body.msg });

  const st = await call('POST', `/project/${ref}/storage/v1/object/list/files`, { headers: key(), body: { prefix: '' } });
  assert.equal(st.status, 503, JSON.stringify(st.body));
  assert.deepEqual(st.body, { statusCode: '503', code: 'DatabaseError', error: 'Service Unavailable', message: st.body.message });

  const m = await call('GET', '/v1/projects', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(m.status, 503, JSON.stringify(m.body));
  assert.deepEqual(m.body, { message: m.body.message, code: 'database_unavailable' });

  assert.ok(child.alive(), `the Loam process exited:\n${child.output()}`);

  // Back: the same process recovers by itself.
  await startPostgres();
  const healthy = await until('health recovers', () => call('GET', '/health'), (x) => x.status === 200);
  assert.deepEqual(healthy.body, { ok: true, checks: { database: 'ok' } });
  const back = await until('REST recovers', rest, (x) => x.status === 200);
  assert.deepEqual(back.body, [{ id: 1 }]);
  const gBack = await until('GraphQL recovers', () => call('POST', `/project/${ref}/graphql/v1`, { headers: key(), body: { query: '{ allNotes { nodes { rowId } } }' } }),
    (x) => x.status === 200 && !x.body.errors);
  assert.deepEqual(gBack.body, { data: { allNotes: { nodes: [{ rowId: 1 }] } } });
  const mBack = await until('Management API recovers', () => call('GET', '/v1/projects', { headers: { authorization: `Bearer ${token}` } }), (x) => x.status === 200);
  assert.equal(mBack.body[0].ref, ref);
  assert.ok(child.alive(), `the Loam process exited:\n${child.output()}`);
});
