// Throughput of a 10 MB object through the storage API (file backend), next to a plain file copy on the same
// disk; the numbers are printed as test diagnostics. The assertions check only that the bytes round-trip.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createProject } from '../helpers/platform.ts';
import { client, storageFetch } from './helpers.ts';

const SIZE = 10 * 1024 * 1024;
const RUNS = 5;
const mbps = (ms: number) => (SIZE / 1024 / 1024 / (ms / 1000)).toFixed(0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

test('10 MB upload and download throughput vs a plain file copy', async (t) => {
  const p = await createProject();
  await client(p).storage.createBucket('bench');
  const data = crypto.randomBytes(SIZE);
  const digest = crypto.createHash('md5').update(data).digest('hex');
  const dir = fs.mkdtempSync(path.join(process.env.LOAM_DATA_DIR!, 'copy-'));
  fs.writeFileSync(path.join(dir, 'src'), data);

  const copy: number[] = [], rawUp: number[] = [], formUp: number[] = [], down: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    copy.push(await time(() => fs.promises.copyFile(path.join(dir, 'src'), path.join(dir, `dst${i}`))));
    rawUp.push(await time(async () => {
      const res = await storageFetch(p, `/object/bench/raw${i}.bin`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: data });
      assert.equal(res.status, 200, await res.text());
    }));
    formUp.push(await time(async () => {
      const { error } = await client(p).storage.from('bench').upload(`form${i}.bin`, new Blob([data]));
      assert.equal(error, null);
    }));
    down.push(await time(async () => {
      const res = await storageFetch(p, `/object/bench/raw${i}.bin`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(crypto.createHash('md5').update(body).digest('hex'), digest);
    }));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const line = `10 MB, median of ${RUNS}: file copy ${mbps(median(copy))} MB/s; upload raw ${mbps(median(rawUp))} MB/s, ` +
    `multipart (supabase-js) ${mbps(median(formUp))} MB/s; download ${mbps(median(down))} MB/s`;
  t.diagnostic(line);
  console.log(line);
});
