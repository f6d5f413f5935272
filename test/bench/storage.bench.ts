// Storage with big files: 1 GiB uploaded and downloaded through REST, S3 multipart and TUS, each timed as a ratio
// of a plain streamed file copy of the same bytes on this machine, with the peak growth of the Loam process's
// RSS during each transfer (target: < 64 MB). The client runs in its own process (storage-client.ts); Loam runs
// in this one, whose RSS is sampled every 20 ms. BENCH_STORAGE_MB sets the size.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createBenchProject, startLoam, table } from './harness.ts';

const MB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_STORAGE_MB || 1024) * MB;
const PART = 64 * MB;
const TARGET_RSS = 64 * MB;

const loam = await startLoam();
const p = await createBenchProject(loam);
// A plan with room for it, and a file size limit above it.
const admin = new pg.Client({ connectionString: loam.databaseUrl });
await admin.connect();
await admin.query(`update platform.organizations set plan = 'pro' where id = (select organization_id from platform.projects where ref = $1)`, [p.ref]);
await admin.end();
const mgmt = async (method: string, route: string, body?: unknown) => {
  const res = await fetch(`${loam.url}/v1/projects/${p.ref}${route}`, { method, headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return res.json();
};
await mgmt('PATCH', '/config/storage', { fileSizeLimit: SIZE * 2 });
const key = await mgmt('POST', '/storage/credentials', { description: 'bench' });
const bucket = await fetch(`${p.url}/storage/v1/bucket`, { method: 'POST', headers: { authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) });
if (!bucket.ok) throw new Error(`bucket: ${await bucket.text()}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-storage-bench-'));
const src = path.join(dir, 'source.bin');
const out = path.join(dir, 'out.bin');
{
  const fd = fs.openSync(src, 'w');
  const chunk = crypto.randomBytes(MB);
  for (let i = 0; i < SIZE / MB; i++) fs.writeSync(fd, chunk.map((b) => b ^ (i & 0xff)));
  fs.closeSync(fd);
}
const sha = async (file: string) => {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
};

/** Runs one client operation, sampling this process's RSS meanwhile; resolves with its time and the RSS peak
 *  above the level just before it. */
function run(op: string, name: string): Promise<{ ms: number; rss: number }> {
  global.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'storage-client.ts');
  const args = { op, name, file: src, out, url: p.url, key: p.serviceKey, s3: { accessKeyId: key.access_key, secretAccessKey: key.secret_key }, partSize: PART };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`${op} exited ${code}`));
      resolve({ ms: JSON.parse(text).ms, rss: peak - base });
    });
  });
}

const expected = await sha(src);
const copy = await run('copy', '');
fs.rmSync(out);
const rows: (string | number)[][] = [['transfer', 'seconds', 'MB/s', '× file copy', 'Loam RSS growth (MB)', 'target']];
const mbps = (ms: number) => Math.round(SIZE / MB / (ms / 1000));
rows.push(['plain file copy (baseline)', Number((copy.ms / 1000).toFixed(1)), mbps(copy.ms), 1, '-', '']);
let failed = false;
for (const [label, up, down] of [['REST', 'rest-up', 'rest-down'], ['S3 multipart (64 MiB parts)', 's3-up', 's3-down'], ['TUS (64 MiB chunks)', 'tus-up', 'rest-down']]) {
  const name = `${up}.bin`;
  for (const [dirn, op] of [['upload', up], ['download', down]]) {
    const r = await run(op, name);
    if (dirn === 'download') {
      if (await sha(out) !== expected) throw new Error(`${label}: downloaded bytes differ`);
      fs.rmSync(out);
    }
    const ok = r.rss < TARGET_RSS;
    failed ||= !ok;
    rows.push([`${label} ${dirn}`, Number((r.ms / 1000).toFixed(1)), mbps(r.ms), Number((copy.ms / r.ms).toFixed(2)), Number((r.rss / MB).toFixed(1)), ok ? '< 64 MB ok' : 'OVER']);
  }
  await fetch(`${p.url}/storage/v1/object/bench/${name}`, { method: 'DELETE', headers: { authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey } });
}
console.log(`\nStorage: ${SIZE / MB} MiB through each protocol (× file copy: the copy's time over the transfer's; 1 = as fast as the copy)`);
console.log(table(rows));
fs.rmSync(dir, { recursive: true, force: true });
await loam.stop();
process.exit(failed ? 1 : 0);
