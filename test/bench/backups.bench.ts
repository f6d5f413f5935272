// Backup and restore times of a project holding ~1 GB of rows and ~1 GB of stored files: the backup job (pg_dump +
// file copy), a restore into the same project (its files are already there, so only the database is rebuilt), and
// a restore into a new project (database and every file copied). Times are from the API request to the job's end
// as the API reports it (polled every 250 ms).
//   DATABASE_URL=postgres://…/<a fresh database> npm run bench -- backups
// It needs pg_dump/pg_restore of the server's major version (the PG15 server on this machine; not the embedded 17).
// Knobs: BENCH_BACKUP_ROWS_MB (default 1024), BENCH_BACKUP_FILES_MB (default 1024), BENCH_BACKUP_FILE_MB (default 8).
import crypto from 'node:crypto';
import pg from 'pg';
import { createBenchProject, managementApi, projectDbUrl, startLoam, table } from './harness.ts';

const ROWS_MB = Number(process.env.BENCH_BACKUP_ROWS_MB || 1024);
const FILES_MB = Number(process.env.BENCH_BACKUP_FILES_MB || 1024);
const FILE_MB = Number(process.env.BENCH_BACKUP_FILE_MB || 8);

const loam = await startLoam();
const p = await createBenchProject(loam);
const api = managementApi(loam, p.token);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

// Rows: ~500 bytes each of random hex text (pg_dump's compression roughly halves it).
let t = Date.now();
const db = new pg.Client({ connectionString: projectDbUrl(loam, p.ref) });
await db.connect();
const rows = Math.round((ROWS_MB * 1024 * 1024) / 560);
await db.query(`create table big (id bigint primary key, body text); alter table big owner to ${db.escapeIdentifier(p.ref)}`);
for (let from = 1; from <= rows; from += 250_000) {
  await db.query(`insert into big select g, ${Array.from({ length: 15 }, () => 'md5(random()::text)').join(' || ')}
    from generate_series($1::bigint, $2::bigint) g`, [from, Math.min(rows, from + 249_999)]);
}
const dbBytes = Number((await db.query('select pg_database_size(current_database()) as n')).rows[0].n);
await db.end();
const seedRows = Date.now() - t;

// Files: random bytes (incompressible), uploaded through the storage API.
t = Date.now();
const storageHeaders = { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` };
let res = await fetch(`${p.url}/storage/v1/bucket`, { method: 'POST', headers: { ...storageHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', public: false }) });
if (res.status !== 200) throw new Error(`bucket: ${res.status} ${await res.text()}`);
const files = Math.max(1, Math.round(FILES_MB / FILE_MB));
for (let i = 0; i < files; i++) {
  res = await fetch(`${p.url}/storage/v1/object/bench/f${i}.bin`, {
    method: 'POST', headers: { ...storageHeaders, 'content-type': 'application/octet-stream' }, body: crypto.randomBytes(FILE_MB * 1024 * 1024),
  });
  if (res.status !== 200) throw new Error(`upload: ${res.status} ${await res.text()}`);
}
const seedFiles = Date.now() - t;

async function timed<T>(what: string, start: () => Promise<{ id: number }>, done: (id: number) => Promise<T | undefined>): Promise<[number, T]> {
  const began = Date.now();
  const { id } = await start();
  for (;;) {
    const r = await done(id);
    if (r !== undefined) return [Date.now() - began, r];
    if (Date.now() - began > 3 * 3600_000) throw new Error(`${what} did not finish`);
    await new Promise((x) => setTimeout(x, 250));
  }
}
const backups = () => api('GET', `/v1/projects/${p.ref}/database/backups`);
const restores = () => api('GET', `/v1/projects/${p.ref}/database/backups/restores`);

const [backupMs, backup] = await timed('backup', () => api('POST', `/v1/projects/${p.ref}/database/backups`),
  async (id) => (await backups()).backups.find((b: { id: number; status: string }) => b.id === id && b.status !== 'PENDING'));
if (backup.status !== 'COMPLETED') throw new Error(`backup failed: ${JSON.stringify(backup)}`);
const finished = (id: number) => async () => {
  const r = (await restores()).find((x: { id: number; status: string }) => x.id === id && ['COMPLETED', 'FAILED'].includes(x.status));
  if (r && r.status !== 'COMPLETED') throw new Error(`restore failed: ${JSON.stringify(r)}`);
  return r;
};
const [sameMs] = await timed('restore', () => api('POST', `/v1/projects/${p.ref}/database/backups/restore`, { id: backup.id }), (id) => finished(id)());
const [newMs] = await timed('restore into a new project', () => api('POST', `/v1/projects/${p.ref}/database/backups/restore`,
  { id: backup.id, new_project: { name: 'bench copy', db_pass: 'a-long-password' } }), (id) => finished(id)());

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
console.log(`project: database ${mb(dbBytes)} (${rows} rows, seeded in ${seconds(seedRows)} s), ${files} files of ${FILE_MB} MB (${mb(files * FILE_MB * 1024 * 1024)}, uploaded in ${seconds(seedFiles)} s)`);
console.log(`backup: dump ${mb(backup.database_bytes)}, ${backup.file_count} files ${mb(backup.file_bytes)}`);
console.log(table([
  ['operation', 'seconds'],
  ['backup (pg_dump + file copy)', seconds(backupMs)],
  ['restore into the same project (database; files already there)', seconds(sameMs)],
  ['restore into a new project (database + every file)', seconds(newMs)],
]));
await loam.stop();
