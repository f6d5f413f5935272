// Resumable uploads (TUS) with tus-js-client, as supabase-js' docs use it: an upload interrupted and resumed, the
// object visible through the REST API only once complete, RLS at creation, x-upsert, and uploads no other caller
// can continue.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tus from 'tus-js-client';
import { createProject, type Project } from '../helpers/platform.ts';
import { startChildLoam } from '../resilience/child-loam.ts';
import { client, storageFetch } from './helpers.ts';

const endpoint = (p: Project) => `${p.url}/storage/v1/upload/resumable`;

interface Opts { key?: string; upsert?: boolean; uploadUrl?: string; chunkSize?: number; abortAfterChunks?: number }

/** Runs a tus-js-client upload; resolves with its URL when it succeeds, is interrupted as asked, or fails.
 *  The interruption refuses the PATCH after the given number of chunks before it is sent (aborting a request in
 *  flight would leave the server a half-sent request to time out). */
function send(p: Project, data: Buffer, metadata: Record<string, string>, o: Opts = {}): Promise<{ url: string | null; error?: string; aborted?: boolean }> {
  const key = o.key ?? p.serviceKey;
  return new Promise((resolve) => {
    let patches = 0;
    let interrupted = false;
    const upload: tus.Upload = new tus.Upload(data, {
      endpoint: endpoint(p), uploadUrl: o.uploadUrl, retryDelays: null, chunkSize: o.chunkSize ?? 256 * 1024,
      headers: { authorization: `Bearer ${key}`, apikey: key, 'x-upsert': o.upsert ? 'true' : 'false' },
      metadata, removeFingerprintOnSuccess: true,
      onBeforeRequest: (req) => {
        if (req.getMethod() === 'PATCH' && o.abortAfterChunks && ++patches > o.abortAfterChunks) {
          interrupted = true;
          return Promise.reject(new Error('interrupted'));
        }
        return undefined;
      },
      onSuccess: () => resolve({ url: upload.url }),
      onError: (err) => resolve(interrupted ? { url: upload.url, aborted: true } : { url: upload.url, error: String(err) }),
    });
    upload.start();
  });
}

test('a 30 MB resumable upload, interrupted and resumed, appears through the REST API once complete', async () => {
  const p = await createProject();
  const s = client(p).storage;
  await s.createBucket('videos');
  const data = crypto.randomBytes(30 * 1024 * 1024 + 123);
  const meta = { bucketName: 'videos', objectName: 'clips/one.bin', contentType: 'video/mp4', cacheControl: '3600', metadata: JSON.stringify({ take: 2 }) };
  const chunkSize = 4 * 1024 * 1024;
  const first = await send(p, data, meta, { abortAfterChunks: 2, chunkSize });
  assert.equal(first.aborted, true);
  assert.match(first.url!, new RegExp(`/project/${p.ref}/storage/v1/upload/resumable/[0-9a-f-]{36}$`));
  const head = await fetch(first.url!, { method: 'HEAD', headers: { authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey, 'tus-resumable': '1.0.0' } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('upload-offset'), String(2 * chunkSize));
  // Not an object yet.
  assert.equal((await s.from('videos').list('clips')).data!.length, 0);

  const second = await send(p, data, meta, { uploadUrl: first.url!, chunkSize });
  assert.equal(second.error, undefined);
  const got = await s.from('videos').download('clips/one.bin');
  assert.ok(Buffer.from(await got.data!.arrayBuffer()).equals(data));
  const info = await (await storageFetch(p, '/object/info/videos/clips/one.bin')).json();
  assert.deepEqual([info.content_type, info.cache_control, info.size, info.metadata], ['video/mp4', 'max-age=3600', data.length, { take: 2 }]);
  // The upload is over: nothing is left of it, and its URL names nothing.
  assert.deepEqual(fs.readdirSync(path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref, 'tus')), []);
  const after = await fetch(first.url!, { method: 'HEAD', headers: { authorization: `Bearer ${p.serviceKey}`, 'tus-resumable': '1.0.0' } });
  assert.equal(after.status, 404);
});

test('resumable uploads: RLS at creation, x-upsert, another caller\'s upload, ids Loam did not make', async () => {
  const p = await createProject();
  const s = client(p).storage;
  await s.createBucket('b');
  const small = Buffer.from('small file');
  const meta = { bucketName: 'b', objectName: 'x.txt', contentType: 'text/plain' };
  // The anon key: RLS (no policy) refuses the upload before any byte is sent.
  const denied = await send(p, small, meta, { key: p.anonKey });
  assert.match(denied.error!, /response code: 403/);
  assert.match(denied.error!, /row-level security/);
  assert.equal((await send(p, small, meta)).error, undefined);
  const dup = await send(p, small, meta);
  assert.match(dup.error!, /response code: 409/);
  assert.equal((await send(p, Buffer.from('replaced'), meta, { upsert: true })).error, undefined);
  assert.equal(await (await s.from('b').download('x.txt')).data!.text(), 'replaced');
  assert.match((await send(p, small, { ...meta, bucketName: 'nope' })).error!, /response code: 404/);
  assert.match((await send(p, small, { ...meta, objectName: '../x' })).error!, /response code: 400/);

  // An unfinished upload of the service role is nobody else's to see or continue.
  const partial = await send(p, crypto.randomBytes(300 * 1024), { ...meta, objectName: 'big.bin' }, { abortAfterChunks: 1 });
  const other = { authorization: `Bearer ${p.anonKey}`, apikey: p.anonKey, 'tus-resumable': '1.0.0' };
  assert.equal((await fetch(partial.url!, { method: 'HEAD', headers: other })).status, 404);
  assert.equal((await fetch(partial.url!, { method: 'PATCH', headers: { ...other, 'upload-offset': String(256 * 1024), 'content-type': 'application/offset+octet-stream' }, body: 'x' })).status, 404);
  const base = endpoint(p);
  for (const id of ['..%2F..%2Fobjects', 'not-a-uuid']) {
    assert.equal((await fetch(`${base}/${id}`, { method: 'HEAD', headers: { authorization: `Bearer ${p.serviceKey}`, 'tus-resumable': '1.0.0' } })).status, 404, id);
  }
  // Without any credential, storage refuses as storage-api does for every route that needs one.
  const none = await fetch(base, { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '1' } });
  assert.deepEqual([none.status, await none.json()], [400, { statusCode: '400', code: 'InvalidRequest', error: 'Error', message: "headers must have required property 'authorization'" }]);
});

test('resumable uploads to a signed upload URL: the token is the permission, for its object only', async () => {
  const p = await createProject();
  const s = client(p).storage;
  await s.createBucket('b');
  const { data } = await s.from('b').createSignedUploadUrl('signed/file.bin');
  const body = crypto.randomBytes(600 * 1024);
  const sendSigned = (metadata: Record<string, string>, token: string, o: { uploadUrl?: string; abortAfterChunks?: number } = {}) =>
    new Promise<{ url: string | null; error?: string }>((resolve) => {
      let patches = 0;
      let interrupted = false;
      const upload: tus.Upload = new tus.Upload(body, {
        endpoint: `${endpoint(p)}/sign`, uploadUrl: o.uploadUrl, retryDelays: null, chunkSize: 256 * 1024,
        headers: { 'x-signature': token }, metadata,
        onBeforeRequest: (req) => {
          if (req.getMethod() === 'PATCH' && o.abortAfterChunks && ++patches > o.abortAfterChunks) {
            interrupted = true;
            return Promise.reject(new Error('interrupted'));
          }
          return undefined;
        },
        onSuccess: () => resolve({ url: upload.url }),
        onError: (err) => resolve({ url: upload.url, error: interrupted ? undefined : String(err) }),
      });
      upload.start();
    });
  const meta = { bucketName: 'b', objectName: 'signed/file.bin', contentType: 'application/octet-stream' };
  assert.match((await sendSigned({ ...meta, objectName: 'elsewhere.bin' }, data!.token)).error!, /InvalidSignature/);
  assert.match((await sendSigned(meta, `${data!.token}x`)).error!, /response code: 400/);
  const first = await sendSigned(meta, data!.token, { abortAfterChunks: 1 });
  assert.match(first.url!, /\/upload\/resumable\/sign\/[0-9a-f-]{36}$/);
  // Without the token the upload cannot be continued.
  assert.equal((await fetch(first.url!, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } })).status, 400);
  assert.equal((await sendSigned(meta, data!.token, { uploadUrl: first.url! })).error, undefined);
  assert.ok(Buffer.from(await (await s.from('b').download('signed/file.bin')).data!.arrayBuffer()).equals(body));
});

test('a 30 MB upload resumes across a restart of Loam (a process killed mid-upload, another one started)', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('b');
  const data = crypto.randomBytes(30 * 1024 * 1024);
  const chunkSize = 8 * 1024 * 1024;
  const meta = { bucketName: 'b', objectName: 'restarted.bin', contentType: 'application/octet-stream' };
  const first = await startChildLoam('api', {});
  const second = await (async () => {
    try {
      const atFirst = { ...p, url: `${first.url}/project/${p.ref}` };
      const partial = await send(atFirst, data, meta, { abortAfterChunks: 1, chunkSize });
      assert.ok(partial.url?.startsWith(first.url));
      first.process.kill('SIGKILL');
      await new Promise((r) => first.process.once('exit', r));
      return { partial, loam: await startChildLoam('api', {}) };
    } finally {
      await first.stop();
    }
  })();
  try {
    const resumed = second.partial.url!.replace(first.url, second.loam.url);
    const head = await fetch(resumed, { method: 'HEAD', headers: { authorization: `Bearer ${p.serviceKey}`, 'tus-resumable': '1.0.0' } });
    assert.equal(head.headers.get('upload-offset'), String(chunkSize));
    const done = await send({ ...p, url: `${second.loam.url}/project/${p.ref}` }, data, meta, { uploadUrl: resumed, chunkSize });
    assert.equal(done.error, undefined);
  } finally {
    await second.loam.stop();
  }
  assert.ok(Buffer.from(await (await client(p).storage.from('b').download('restarted.bin')).data!.arrayBuffer()).equals(data));
});

test('cross-project: one project\'s upload URL, keys and signed upload tokens cannot touch another project\'s uploads', async () => {
  const [p, q] = await Promise.all([createProject(), createProject()]);
  await Promise.all([client(p).storage.createBucket('b'), client(q).storage.createBucket('b')]);
  const data = crypto.randomBytes(600 * 1024);
  const meta = { bucketName: 'b', objectName: 'mine.bin' };
  const partial = await send(p, data, meta, { abortAfterChunks: 1 });
  const id = partial.url!.split('/').pop()!;
  const tusHeaders = (key: string) => ({ authorization: `Bearer ${key}`, apikey: key, 'tus-resumable': '1.0.0' });
  // Project q's key on p's upload URL: a token of another project is no token here.
  const foreign = await fetch(partial.url!, { method: 'HEAD', headers: tusHeaders(q.serviceKey) });
  assert.equal(foreign.status, 400);
  const patchForeign = await fetch(partial.url!, { method: 'PATCH', headers: { ...tusHeaders(q.serviceKey), 'upload-offset': String(256 * 1024), 'content-type': 'application/offset+octet-stream' }, body: 'x' });
  assert.equal(patchForeign.status, 400);
  // p's upload id under q's URL, with q's own key: q has no such upload.
  const elsewhere = `${endpoint(q)}/${id}`;
  assert.equal((await fetch(elsewhere, { method: 'HEAD', headers: tusHeaders(q.serviceKey) })).status, 404);
  assert.equal((await fetch(elsewhere, { method: 'PATCH', headers: { ...tusHeaders(q.serviceKey), 'upload-offset': String(256 * 1024), 'content-type': 'application/offset+octet-stream' }, body: 'x' })).status, 404);
  assert.equal((await fetch(elsewhere, { method: 'DELETE', headers: tusHeaders(q.serviceKey) })).status, 404);
  // A signed upload token of p is refused by q.
  const { data: signed } = await client(p).storage.from('b').createSignedUploadUrl('signed.bin');
  const viaQ = await fetch(`${endpoint(q)}/sign`, { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'x-signature': signed!.token, 'upload-length': '10',
    'upload-metadata': `bucketName ${Buffer.from('b').toString('base64')},objectName ${Buffer.from('signed.bin').toString('base64')}` } });
  assert.equal(viaQ.status, 400);
  // p's upload is untouched and finishes; q has no object.
  assert.equal((await send(p, data, meta, { uploadUrl: partial.url! })).error, undefined);
  assert.ok(Buffer.from(await (await client(p).storage.from('b').download('mine.bin')).data!.arrayBuffer()).equals(data));
  assert.deepEqual((await client(q).storage.from('b').list()).data, []);
});
