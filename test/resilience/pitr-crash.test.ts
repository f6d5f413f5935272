// A point-in-time restore survives a crash: Loam runs as a child process on a PostgreSQL 15 server whose WAL is
// archived (LOAM_PITR_* configure the default server), is killed with SIGKILL while the restore runs (its temporary
// recovered cluster, a detached postgres, is left behind), and is started again. Meanwhile the project must not
// serve; once Loam is back the job runs again from the start — stopping the orphaned temporary cluster first — and
// the project comes back as it was at the moment, with nothing left over. The control database is on that server
// too, so only this child's worker can take the job.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { startArchivingPg15, waitForBaseBackup, withPg15, type ArchivingPg15 } from '../helpers/pitr.ts';
import { startChildLoam, type ChildLoam } from './child-loam.ts';

let server: ArchivingPg15 | undefined;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-pitr-crash-'));
const children: ChildLoam[] = [];

/** postgres processes running on a directory of this test's server (its temporary clusters), by pid. */
function tempClusterPids(): number[] {
  if (!server) return [];
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try { cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.includes(path.join(server.baseDir, 'restore-'))) pids.push(Number(d));
  }
  return pids;
}

after(async () => {
  for (const c of children) { if (c.alive()) { c.process.kill('SIGKILL'); await new Promise((r) => c.process.once('exit', r)).catch(() => {}); } }
  for (const pid of tempClusterPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  fs.rmSync(dataDir, { recursive: true, force: true });
  await server?.stop();
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

test('kill -9 during a point-in-time restore: the project stays out of service, and the restore finishes when Loam is back', withPg15, async () => {
  server = await startArchivingPg15();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('create database loam_control');
  await admin.end();
  const controlUrl = server.url.replace(/\/postgres$/, '/loam_control');
  const env = {
    DATABASE_URL: controlUrl, LOAM_DATA_DIR: dataDir, LOAM_WORKER_DEAD_AFTER_MS: '2000', LOAM_BCRYPT_ROUNDS: '4',
    LOAM_PITR_WAL_ARCHIVE_DIR: server.walDir, LOAM_PITR_BASE_BACKUP_DIR: server.baseDir,
  };
  const start = async () => { const c = await startChildLoam('start', env); children.push(c); return c; };
  let loam = await start();
  assert.match(loam.output(), /point-in-time restore: WAL archive /);

  const signup = await loam.call('POST', '/v1/auth/signup', { body: { email: `pitr-${crypto.randomBytes(4).toString('hex')}@example.com`, password: 'correct horse battery' } });
  const auth = { authorization: `Bearer ${signup.body.token}` };
  const org = (await loam.call('GET', '/v1/organizations', { headers: auth })).body[0].slug;
  const created = await loam.call('POST', '/v1/projects', { headers: auth, body: { name: 'pitr crash', organization_id: org, db_pass: 'a-long-password' } });
  const ref: string = created.body.ref;
  await until('the project', async () => (await loam.call('GET', `/v1/projects/${ref}`, { headers: auth })).body.status === 'ACTIVE_HEALTHY' || undefined);
  // The schedule takes the server's first base backup by itself.
  const control = new pg.Client({ connectionString: controlUrl });
  await control.connect();
  try {
    await waitForBaseBackup(control, 1);
  } finally { await control.end(); }

  const query = (q: string) => loam.call('POST', `/v1/projects/${ref}/database/query`, { headers: auth, body: { query: q } });
  // Enough WAL after the base backup that replaying it (and dumping the result) takes a while: the kill lands then.
  assert.equal((await query(`create table big as select g as id, md5(g::text) || md5((g * 7)::text) as body from generate_series(1, 400000) g;
    create table marker (v text); insert into marker values ('A')`)).status, 201);
  const target = Math.ceil(Date.now() / 1000);
  while (Date.now() < target * 1000 + 300) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await query(`update marker set v = 'B'; delete from big where id > 10`)).status, 201);

  const restore = await loam.call('POST', `/v1/projects/${ref}/database/backups/restore-pitr`, { headers: auth, body: { recovery_time_target_unix: target } });
  assert.equal(restore.status, 201, JSON.stringify(restore.body));
  await until('the temporary cluster to be running', async () => {
    const r = (await loam.call('GET', `/v1/projects/${ref}/database/backups/restores`, { headers: auth })).body[0];
    return (r.step === 'restoring' && tempClusterPids().length > 0) || undefined;
  }, 120_000, 20);
  loam.process.kill('SIGKILL');
  await new Promise((r) => loam.process.once('exit', r));

  // Dead: the project is out of service and its live database refuses logins.
  const check = new pg.Client({ connectionString: controlUrl });
  await check.connect();
  assert.equal((await check.query('select status from platform.projects where ref = $1', [ref])).rows[0].status, 'RESTORING_BACKUP');
  await check.end();
  const owner = new pg.Client({ host: 'localhost', port: server.port, user: ref, password: 'a-long-password', database: ref });
  await assert.rejects(owner.connect(), /not currently accepting connections/);

  loam = await start();
  const done = await until('the restore to finish', async () => {
    const r = (await loam.call('GET', `/v1/projects/${ref}/database/backups/restores`, { headers: auth })).body[0];
    return r.status === 'COMPLETED' || r.status === 'FAILED' ? r : undefined;
  }, 240_000, 250);
  assert.equal(done.status, 'COMPLETED', `${JSON.stringify(done)}\n${children.map((c) => c.output().slice(-3000)).join('\n---\n')}`);
  await until('the project', async () => (await loam.call('GET', `/v1/projects/${ref}`, { headers: auth })).body.status === 'ACTIVE_HEALTHY' || undefined);
  const rows = await loam.call('POST', `/v1/projects/${ref}/database/query`, { headers: auth, body: { query: 'select (select v from marker) as v, (select count(*)::int from big) as n' } });
  assert.deepEqual(rows.body, [{ v: 'A', n: 400000 }]);
  // Nothing left over: no temporary cluster running or on disk, no database beside the project's.
  assert.deepEqual(tempClusterPids(), []);
  assert.deepEqual(fs.readdirSync(server.baseDir).filter((f) => f.startsWith('restore-')), []);
  const a = new pg.Client({ connectionString: server.url });
  await a.connect();
  const dbs = (await a.query('select datname from pg_database where datname like $1 order by 1', [`${ref}%`])).rows.map((r) => r.datname);
  await a.end();
  assert.deepEqual(dbs, [ref]);
});
