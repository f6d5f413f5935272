// Point-in-time restore times of a project holding ~1 GB of rows, on a PostgreSQL 15 server of the bench's own
// whose WAL is archived (the control database on it too, as the default server): a base backup of the server, a
// restore to a moment whose WAL since the base backup holds the whole 1 GB (replay-heavy), and one right after a
// fresh base backup (copy-heavy). Times are from the API request to the job's end as the API reports it.
//   npm run bench -- pitr
// Needs Debian's PostgreSQL 15 server and client binaries. Knob: BENCH_PITR_ROWS_MB (default 1024).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { startArchivingPg15, waitForBaseBackup, withPg15 } from '../helpers/pitr.ts';

if (withPg15.skip) { console.log(`skipped: ${withPg15.skip}`); process.exit(0); }
const ROWS_MB = Number(process.env.BENCH_PITR_ROWS_MB || 1024);
if (!process.env.LOAM_PITR_BENCH_SERVER) {
  // The platform reads its settings once, on import: the bench itself runs in a child with them in its environment.
  const server = await startArchivingPg15();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('create database loam_bench');
  await admin.end();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-pitr-bench-'));
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname], { stdio: 'inherit', env: {
    ...process.env, DATABASE_URL: server.url.replace(/\/postgres$/, '/loam_bench'), LOAM_DATA_DIR: dataDir,
    LOAM_PITR_WAL_ARCHIVE_DIR: server.walDir, LOAM_PITR_BASE_BACKUP_DIR: server.baseDir, LOAM_PITR_BASE_BACKUP_EVERY_HOURS: '0',
    LOAM_PITR_BENCH_SERVER: server.url,
  } });
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}
const { createBenchProject, managementApi, projectDbUrl, startLoam, table } = await import('./harness.ts');
const { controlPool } = await import('../../db/src/pools.ts');
const loam = await startLoam();
const p = await createBenchProject(loam);
const api = managementApi(loam, p.token);
const seconds = (ms: number) => (ms / 1000).toFixed(1);
const baseBackup = async () => {
  const began = Date.now();
  await controlPool().query(`select platform_private.queue_base_backup(1, 'manual')`);
  const b = await waitForBaseBackup(controlPool(), 1, 3 * 3600_000);
  return { ms: Date.now() - began, mb: Math.round(Number(b.bytes) / 1048576) };
};
const db = new pg.Client({ connectionString: projectDbUrl(loam, p.ref) });
await db.connect();
const moment = async (before: string, after: string) => {
  await db.query('update marker set v = $1', [before]);
  const t = Math.ceil(Date.now() / 1000);
  while (Date.now() < t * 1000 + 300) await new Promise((r) => setTimeout(r, 50));
  await db.query('update marker set v = $1', [after]);
  return t;
};
const restoreTo = async (t: number, expect: string) => {
  const began = Date.now();
  const { id } = await api('POST', `/v1/projects/${p.ref}/database/backups/restore-pitr`, { recovery_time_target_unix: t });
  for (;;) {
    const r = (await api('GET', `/v1/projects/${p.ref}/database/backups/restores`)).find((x: { id: number }) => x.id === id);
    if (r.status === 'FAILED') throw new Error(`restore failed: ${JSON.stringify(r)}`);
    if (r.status === 'COMPLETED') break;
    await new Promise((x) => setTimeout(x, 250));
  }
  const ms = Date.now() - began;
  const c = new pg.Client({ connectionString: projectDbUrl(loam, p.ref) });
  await c.connect();
  const v = (await c.query('select v from marker')).rows[0].v;
  await c.end();
  if (v !== expect) throw new Error(`restored to ${v}, expected ${expect}`);
  return ms;
};

await db.query(`create table marker (v text); insert into marker values ('start'); alter table marker owner to ${db.escapeIdentifier(p.ref)}`);
const first = await baseBackup();
let began = Date.now();
const rows = Math.round((ROWS_MB * 1024 * 1024) / 560);
await db.query(`create table big (id bigint primary key, body text); alter table big owner to ${db.escapeIdentifier(p.ref)}`);
for (let from = 1; from <= rows; from += 250_000) {
  await db.query(`insert into big select g, ${Array.from({ length: 15 }, () => 'md5(random()::text)').join(' || ')}
    from generate_series($1::bigint, $2::bigint) g`, [from, Math.min(rows, from + 249_999)]);
}
const dbBytes = Number((await db.query('select pg_database_size(current_database()) as n')).rows[0].n);
const seedMs = Date.now() - began;
const t1 = await moment('one', 'two');
await db.end();
const replayMs = await restoreTo(t1, 'one');
const second = await baseBackup();
const db2 = new pg.Client({ connectionString: projectDbUrl(loam, p.ref) });
await db2.connect();
await db2.query(`update marker set v = 'three'`);
const t2 = Math.ceil(Date.now() / 1000);
while (Date.now() < t2 * 1000 + 300) await new Promise((r) => setTimeout(r, 50));
await db2.query(`update marker set v = 'four'`);
await db2.end();
const copyMs = await restoreTo(t2, 'three');

console.log(`project database ${Math.round(dbBytes / 1048576)} MB (seeded in ${seconds(seedMs)} s)`);
console.log(table([['step', 'seconds'],
  [`base backup of the server before the rows (${first.mb} MB)`, seconds(first.ms)],
  [`restore to a moment after the rows (replays their ~${ROWS_MB} MB of WAL)`, seconds(replayMs)],
  [`base backup of the server after the rows (${second.mb} MB)`, seconds(second.ms)],
  ['restore to a moment just after that base backup (copies it)', seconds(copyMs)],
]));
await loam.stop();
process.exit(0);
