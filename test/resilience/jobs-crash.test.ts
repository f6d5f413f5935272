// Jobs survive crashes: Loam runs as a child process, is killed with SIGKILL while its worker is in the middle of
// provisioning, pausing and deleting projects, and is started again. Every project must settle in a clear state
// within a minute (the dead worker's jobs are unlocked through its expired heartbeat, not graphile-worker's
// 4-hour lock timeout), restore must work on a project stuck mid-pause, a deleted project must leave no database,
// role or file, and the staged file of an upload cut off by the kill must be gone once Loam is back.
//
// To kill a job *while it runs* rather than before or after it, the test holds something the job waits for: a
// connection to the template database (CREATE DATABASE … TEMPLATE waits for it to go), or an open transaction
// that altered the project's database (ALTER / DROP DATABASE wait for its row lock).
//
// This file boots a PostgreSQL of its own instead of using the run's: on a shared control database the other
// test files' workers would take some of these jobs, and which worker a kill leaves holding them would be luck.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { scratchPostgres, type ScratchPostgres } from '../helpers/postgres.ts';

let pgServer: ScratchPostgres;
let databaseUrl: string;
let dataDir: string;
// Short, so the test is quick; set LOAM_WORKER_DEAD_AFTER_MS to measure recovery with another value (30000 is the default).
const DEAD_AFTER_MS = Number(process.env.LOAM_WORKER_DEAD_AFTER_MS || 2000);
const SETTLE_MS = 60_000;
const root = path.resolve(import.meta.dirname, '../..');
const storageRoot = () => path.join(dataDir, 'storage');

interface Child { proc: ChildProcess; url: string; workerId?: string; exited: Promise<void> }
const children = new Set<Child>();

/** Starts `loam <command>` and resolves once it serves (api/start) and its worker runs (worker/start). */
async function startLoam(command: 'start' | 'api' | 'worker'): Promise<Child> {
  const proc = spawn(process.execPath, ['server/bin/loam.ts', command], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl, LOAM_DATA_DIR: dataDir, PORT: '0', LOAM_WORKER_DEAD_AFTER_MS: String(DEAD_AFTER_MS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = { proc, url: '', exited };
  children.add(child);
  let out = '';
  const wantApi = command !== 'worker', wantWorker = command !== 'api';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`loam ${command} did not start in 60 s:\n${out}`)), 60_000);
    const check = () => {
      const listening = /listening on (http:\/\/\S+)/.exec(out);
      const worker = /worker (\S+) running/.exec(out);
      if (listening) child.url = listening[1];
      if (worker) child.workerId = worker[1];
      if ((!wantApi || child.url) && (!wantWorker || child.workerId)) { clearTimeout(timer); resolve(); }
    };
    proc.stdout!.on('data', (d) => { out += d; check(); });
    proc.stderr!.on('data', (d) => { out += d; });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`loam ${command} exited (${code}):\n${out}`)); });
  });
  proc.stdout!.resume();
  proc.stderr!.resume();
  return child;
}

async function kill9(child: Child) {
  child.proc.kill('SIGKILL');
  await child.exited;
  children.delete(child);
}

after(async () => {
  for (const c of [...children]) await kill9(c);
  await control?.end();
  await admin?.end();
  await pgServer?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

let control: pg.Client;
let admin: pg.Client;
let token: string;
let org: string;

async function api(child: Child, method: string, p: string, body?: unknown) {
  const res = await fetch(child.url + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = text;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const statuses = async (refs: string[]) => (await control.query<{ ref: string; status: string; status_reason: string | null }>(
  'select ref, status, status_reason from platform.projects where ref = any($1) order by ref', [refs])).rows;

/** Jobs of `workerId` that are locked right now. */
const lockedBy = async (workerId: string, task: string) => Number((await control.query(
  'select count(*) from graphile_worker.jobs where locked_by = $1 and task_identifier = $2', [workerId, task])).rows[0].count);

/** Statements that are waiting for a lock (or the template) — the jobs the test holds mid-run. */
const waiting = async (pattern: string) => Number((await admin.query(
  `select count(*) from pg_stat_activity where query ilike $1 and state = 'active' and pid <> pg_backend_pid()`, [pattern])).rows[0].count);

before(async () => {
  pgServer = await scratchPostgres('loam-jobs-crash-');
  databaseUrl = pgServer.url;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-jobs-crash-files-'));
  // The first Loam migrates the new control database; the test's own clients need its tables right away.
  const first = await startLoam('api');
  await kill9(first);
  control = new pg.Client({ connectionString: databaseUrl });
  await control.connect();
  const u = new URL(databaseUrl);
  u.pathname = '/postgres';
  admin = new pg.Client({ connectionString: u.href });
  await admin.connect();
});

let healthy: string[] = [];

test('kill -9 during 10 provisionings: after a restart all 10 settle within a minute', async () => {
  const a = await startLoam('start');
  const email = `crash-${crypto.randomBytes(6).toString('hex')}@example.com`;
  const signup = await fetch(`${a.url}/v1/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery' }) });
  assert.equal(signup.status, 201);
  token = (await signup.json()).token;
  org = (await api(a, 'GET', '/v1/organizations')).body[0].slug;

  // While this connection is open, CREATE DATABASE … TEMPLATE waits (up to 5 s) instead of cloning.
  const templateUrl = new URL(databaseUrl!);
  templateUrl.pathname = `/${decodeURIComponent(templateUrl.pathname.slice(1))}_template`;
  const template = new pg.Client({ connectionString: templateUrl.href });
  await template.connect();
  let refs: string[];
  try {
    refs = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const res = await api(a, 'POST', '/v1/projects', { name: `crash ${i}`, organization_id: org, db_pass: 'pw-crash-test-1234' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.ref as string;
    }));
    await until('a provisioning job mid-clone', 10_000, async () =>
      await lockedBy(a.workerId!, 'project__provision') > 0 && await waiting('create database%') > 0);
    await kill9(a);
  } finally {
    await template.end();
  }
  const stuck = (await statuses(refs)).filter((p) => p.status === 'COMING_UP').length;
  assert.ok(stuck > 0, 'the kill left projects in COMING_UP');
  const held = Number((await control.query('select count(*) from graphile_worker.jobs where locked_by = $1', [a.workerId])).rows[0].count);
  assert.ok(held > 0, 'the dead worker still holds jobs');

  const restarted = Date.now();
  const b = await startLoam('start');
  const unlocked = await until('the dead worker\'s jobs unlocked', SETTLE_MS, async () =>
    Number((await control.query('select count(*) from graphile_worker.jobs where locked_by = $1', [a.workerId])).rows[0].count) === 0
    && Date.now());
  const settled = await until('all 10 projects settled', SETTLE_MS, async () => {
    const rows = await statuses(refs);
    return rows.every((p) => p.status === 'ACTIVE_HEALTHY' || (p.status === 'INIT_FAILED' && p.status_reason)) && rows;
  });
  console.log(`provisioning: ${stuck} project(s) stuck, ${held} job(s) held by the killed worker; after restart jobs unlocked in ` +
    `${unlocked - restarted} ms, all settled in ${Date.now() - restarted} ms (LOAM_WORKER_DEAD_AFTER_MS=${DEAD_AFTER_MS})`);
  const { rows: [beat] } = await control.query('select count(*) from platform_private.worker_heartbeats where worker_id = $1', [a.workerId]);
  assert.equal(Number(beat.count), 0, 'the dead worker\'s liveness record is removed');

  healthy = settled.filter((p) => p.status === 'ACTIVE_HEALTHY').map((p) => p.ref);
  assert.ok(healthy.length >= 7, `enough healthy projects to go on with: ${JSON.stringify(settled)}`);
  const dbs = (await admin.query('select datname from pg_database where datname = any($1)', [healthy])).rows.map((r) => r.datname);
  assert.deepEqual(dbs.sort(), [...healthy].sort(), 'every healthy project has its database');
  const q = await api(b, 'POST', `/v1/projects/${healthy[0]}/database/query`, { query: 'select 41 + 1 as n' });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  assert.deepEqual(q.body, [{ n: 42 }]);
  await kill9(b);
});

test('kill -9 during pausing: restore works on a project stuck in PAUSING, the others end INACTIVE', async () => {
  assert.ok(healthy.length >= 7, 'needs the projects of the first test');
  const paused = healthy.slice(0, 3);
  const b = await startLoam('start');
  // An open transaction that altered each database: the pause job's ALTER DATABASE waits for it.
  const blocker = new pg.Client(clientConfig());
  await blocker.connect();
  try {
    await blocker.query('begin');
    for (const ref of paused) await blocker.query(`alter database ${blocker.escapeIdentifier(ref)} with allow_connections true`);
    for (const ref of paused) assert.equal((await api(b, 'POST', `/v1/projects/${ref}/pause`)).status, 200);
    await until('a pause job waiting mid-run', 10_000, async () =>
      await lockedBy(b.workerId!, 'project__pause') === paused.length && await waiting('alter database%allow_connections false%') === paused.length);
    // Make the interrupted run of one pause its job's last attempt: nothing would ever run it again unless the
    // unlock grants one more.
    const last = await control.query(`update graphile_worker._private_jobs set max_attempts = attempts
      where key = 'project__pause:' || $1 and locked_by is not null`, [paused[2]]);
    assert.equal(last.rowCount, 1);
    await kill9(b);
  } finally {
    await blocker.query('rollback').catch(() => {});
    await blocker.end();
  }
  assert.ok((await statuses(paused)).every((p) => p.status === 'PAUSING'), 'the kill left the projects in PAUSING');

  // The API alone (no worker yet): restore must accept a project stuck mid-pause (it used to answer 400).
  const restarted = Date.now();
  const apiOnly = await startLoam('api');
  const restore = await api(apiOnly, 'POST', `/v1/projects/${paused[0]}/restore`);
  assert.equal(restore.status, 200, JSON.stringify(restore.body));
  assert.equal(restore.body.status, 'RESTORING');
  const worker = await startLoam('worker');
  await until('the paused projects settled', SETTLE_MS, async () => {
    const rows = await statuses(paused);
    return rows.find((p) => p.ref === paused[0])!.status === 'ACTIVE_HEALTHY'
      && rows.filter((p) => p.ref !== paused[0]).every((p) => p.status === 'INACTIVE');
  });
  console.log(`pausing: all settled ${Date.now() - restarted} ms after restart`);
  const conn = (await admin.query('select datname, datallowconn from pg_database where datname = any($1)', [paused])).rows;
  for (const { datname, datallowconn } of conn) assert.equal(datallowconn, datname === paused[0], `${datname} accepts connections only if restored`);
  const q = await api(apiOnly, 'POST', `/v1/projects/${paused[0]}/database/query`, { query: 'select 1 as one' });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  await kill9(apiOnly);
  await kill9(worker);
});

test('kill -9 during deletion and mid-upload: deleted projects leave no database, role or file; the staged file goes at startup', async () => {
  assert.ok(healthy.length >= 7, 'needs the projects of the first test');
  const deleted = healthy.slice(3, 6);
  const uploader = healthy[6];
  const c = await startLoam('start');
  const serviceKey = async (ref: string) =>
    (await api(c, 'GET', `/v1/projects/${ref}/api-keys`)).body.find((k: { name: string }) => k.name === 'service_role').api_key as string;
  for (const ref of [...deleted, uploader]) {
    const key = await serviceKey(ref);
    const h = { apikey: key, authorization: `Bearer ${key}` };
    assert.equal((await fetch(`${c.url}/project/${ref}/storage/v1/bucket`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'files' }) })).status, 200);
    assert.equal((await fetch(`${c.url}/project/${ref}/storage/v1/object/files/a.txt`, { method: 'POST', headers: { ...h, 'content-type': 'text/plain' },
      body: 'kept until the project goes' })).status, 200);
    assert.ok(fs.existsSync(path.join(storageRoot(), ref)), `files of ${ref} are stored under ${storageRoot()}`);
  }

  // An upload whose body never finishes: its bytes sit in a staged file when the process dies.
  const stagingDir = path.join(storageRoot(), '.staging');
  const ours = () => (fs.existsSync(stagingDir) ? fs.readdirSync(stagingDir) : []).filter((f) => f.startsWith(`${os.hostname()}.${c.proc.pid}.`));
  const key = await serviceKey(uploader);
  const u = new URL(c.url);
  const req = http.request({ host: u.hostname, port: u.port, method: 'POST', path: `/project/${uploader}/storage/v1/object/files/big.bin`,
    headers: { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream', 'content-length': String(8 << 20) } });
  req.on('error', () => {});
  req.write(Buffer.alloc(256 << 10, 1));
  const staged = await until('the upload staged', 10_000, async () => ours().length > 0 && ours());

  const blocker = new pg.Client(clientConfig());
  await blocker.connect();
  try {
    await blocker.query('begin');
    for (const ref of deleted) await blocker.query(`alter database ${blocker.escapeIdentifier(ref)} with allow_connections true`);
    for (const ref of deleted) assert.equal((await api(c, 'DELETE', `/v1/projects/${ref}`)).status, 200);
    await until('a delete job waiting mid-run', 10_000, async () =>
      await lockedBy(c.workerId!, 'project__delete') > 0 && await waiting('drop database%') > 0);
    await kill9(c);
  } finally {
    req.destroy();
    await blocker.query('rollback').catch(() => {});
    await blocker.end();
  }
  assert.ok((await statuses(deleted)).every((p) => p.status === 'GOING_DOWN'), 'the kill left the projects in GOING_DOWN');
  assert.ok(staged.every((f) => fs.existsSync(path.join(stagingDir, f))), 'the interrupted upload left its staged file');

  // A staged file of a process still alive (this one) stands for another Loam's upload in progress: it stays.
  const live = path.join(stagingDir, `${os.hostname()}.${process.pid}.${crypto.randomUUID()}`);
  fs.writeFileSync(live, 'still arriving');

  const restarted = Date.now();
  const d = await startLoam('start');
  for (const f of staged) assert.ok(!fs.existsSync(path.join(stagingDir, f)), `staged file ${f} is removed at startup`);
  assert.ok(fs.existsSync(live), 'a live process\'s staged file is kept');
  fs.rmSync(live);
  await until('the deleted projects removed', SETTLE_MS, async () => (await statuses(deleted)).every((p) => p.status === 'REMOVED'));
  console.log(`deletion: all removed ${Date.now() - restarted} ms after restart`);
  const dbs = (await admin.query('select datname from pg_database where datname = any($1)', [deleted])).rows;
  assert.deepEqual(dbs, [], 'no database left');
  const roles = (await admin.query(`select rolname from pg_roles r, unnest($1::text[]) ref where starts_with(r.rolname, ref)`, [deleted])).rows;
  assert.deepEqual(roles, [], 'no role left');
  for (const ref of deleted) assert.ok(!fs.existsSync(path.join(storageRoot(), ref)), `no files left for ${ref}`);
  // The project that only lost an upload is untouched.
  assert.ok(fs.existsSync(path.join(storageRoot(), uploader)));
  assert.equal((await statuses([uploader]))[0].status, 'ACTIVE_HEALTHY');
  await kill9(d);
});

test('a deletion whose job gave up is queued again by the workers until the project is gone', async () => {
  assert.ok(healthy.length >= 7, 'needs the projects of the first test');
  const ref = healthy[6];
  // What a deletion looks like after its third failed attempt (its server unreachable, say): GOING_DOWN with the
  // reason, no job left, and no API call that reaches it any more. Made here by hand: making a real server fail
  // three times in a row is out of a test's reach.
  await control.query(`update platform.projects set status = 'GOING_DOWN', deleted_at = now(), status_reason = 'unreachable',
    updated_at = now() - interval '1 hour' where ref = $1`, [ref]);
  const restarted = Date.now();
  const e = await startLoam('start');
  await until('the stalled deletion finished', SETTLE_MS, async () => (await statuses([ref]))[0].status === 'REMOVED');
  console.log(`stalled deletion: removed ${Date.now() - restarted} ms after start`);
  assert.deepEqual((await admin.query('select 1 from pg_database where datname = $1', [ref])).rows, []);
  assert.deepEqual((await admin.query('select rolname from pg_roles where starts_with(rolname, $1)', [ref])).rows, []);
  assert.ok(!fs.existsSync(path.join(storageRoot(), ref)), 'no files left');
  await kill9(e);
});

/** A superuser connection to the `postgres` database, separate from the shared `admin` client. */
function clientConfig(): pg.ClientConfig {
  const u = new URL(databaseUrl!);
  u.pathname = '/postgres';
  return { connectionString: u.href };
}
