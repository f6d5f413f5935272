// TUS uploads are locked across API processes (server/src/storage/tus-lock.ts): with two Loam processes, a PATCH
// that reaches one process while another process holds the upload (a stale request of a client that
// reconnected elsewhere) waits until the holder has been asked to let go and has ended, instead of writing beside
// it; and a process that dies holding an upload releases it with its connection.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { createProject, type Project } from '../helpers/platform.ts';
import { startChildLoam, type ChildLoam } from '../resilience/child-loam.ts';
import { client } from './helpers.ts';

const SIZE = 1024 * 1024;
const auth = (p: Project) => ({ authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey, 'tus-resumable': '1.0.0' });
const base = (loam: ChildLoam, p: Project) => `${loam.url}/project/${p.ref}/storage/v1/upload/resumable`;

/** A PATCH that sends `first` bytes and then holds the request open (a client that went quiet); `ended` resolves
 *  (with the time) when the server ends it. */
function stalledPatch(url: string, p: Project, offset: number, first: Buffer) {
  const u = new URL(url);
  let endedAt = 0;
  const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PATCH', headers: {
    ...auth(p), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(SIZE - offset),
  } });
  const ended = new Promise<number>((resolve) => {
    const done = () => { endedAt ||= Date.now(); resolve(endedAt); };
    req.on('response', (res) => { res.resume(); res.on('end', done); res.on('close', done); });
    req.on('error', done);
    req.on('close', done);
  });
  req.write(first);
  return { req, ended };
}

async function patch(url: string, p: Project, offset: number, body: Buffer) {
  const res = await fetch(url, { method: 'PATCH', headers: { ...auth(p), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body: new Uint8Array(body) });
  return { status: res.status, at: Date.now(), offset: res.headers.get('upload-offset') };
}

async function waitForSize(file: string, size: number) {
  for (let i = 0; i < 200 && (fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0) < size; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.statSync(file).size >= size, 'the stalled request wrote its first bytes');
}

test('two Loam processes share one lock per upload; a process that dies releases its uploads', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('b');
  const data = crypto.randomBytes(SIZE);
  const [a, b] = await Promise.all([startChildLoam('api', {}), startChildLoam('api', {})]);
  try {
    const created = await fetch(base(a, p), { method: 'POST', headers: { ...auth(p), 'upload-length': String(SIZE),
      'upload-metadata': `bucketName ${Buffer.from('b').toString('base64')},objectName ${Buffer.from('locked.bin').toString('base64')}` } });
    assert.equal(created.status, 201);
    const id = created.headers.get('location')!.split('/').pop()!;
    const file = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref, 'tus', id);

    // Process A holds the upload with a request that went quiet after 64 KiB.
    const stalled = stalledPatch(`${base(a, p)}/${id}`, p, 0, data.subarray(0, 64 * 1024));
    await waitForSize(file, 64 * 1024);
    // Process B is asked to continue from there: it must first get A to let go, and A's request ends first.
    const resumed = await patch(`${base(b, p)}/${id}`, p, 64 * 1024, data.subarray(64 * 1024, 512 * 1024));
    const endedAt = await Promise.race([stalled.ended, new Promise<number>((r) => setTimeout(() => r(Infinity), 5000))]);
    assert.equal(resumed.status, 204);
    assert.ok(endedAt <= resumed.at, 'the request holding the upload in the other process ended before the resumed one was served');
    assert.equal(resumed.offset, String(512 * 1024));

    // A process killed while it holds the upload: its lock goes with its connection, and B carries on at once.
    const again = stalledPatch(`${base(a, p)}/${id}`, p, 512 * 1024, data.subarray(512 * 1024, 576 * 1024));
    await waitForSize(file, 576 * 1024);
    a.process.kill('SIGKILL');
    await new Promise((r) => a.process.once('exit', r));
    again.req.destroy();
    const head = await fetch(`${base(b, p)}/${id}`, { method: 'HEAD', headers: auth(p) });
    const offset = Number(head.headers.get('upload-offset'));
    assert.ok(offset >= 512 * 1024, `offset ${offset}`);
    const started = Date.now();
    const rest = await patch(`${base(b, p)}/${id}`, p, offset, data.subarray(offset));
    assert.equal(rest.status, 204);
    assert.ok(Date.now() - started < 10_000, 'not held up by the dead process\'s lock');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  assert.ok(Buffer.from(await (await client(p).storage.from('b').download('locked.bin')).data!.arrayBuffer()).equals(data));
});
