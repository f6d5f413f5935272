// The S3 backend against a real S3-compatible server (s3rver, started here): the storage API end to end, the
// keys it writes, replaced and deleted versions removed, and every byte of a project gone when it is deleted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command,
  S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';
import S3rver from 's3rver';
import sharp from 'sharp';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { client } from './helpers.ts';
import { purgeProjectFiles } from '../../server/src/storage/backend.ts';

let server: S3rver;
let s3: S3Client;
let p: Project;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-s3-'));

before(async () => {
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'loam-files' }] });
  const { port } = await server.run();
  Object.assign(process.env, {
    LOAM_STORAGE_BACKEND: 's3', LOAM_S3_BUCKET: 'loam-files', LOAM_S3_ENDPOINT: `http://127.0.0.1:${port}`,
    LOAM_S3_ACCESS_KEY_ID: 'S3RVER', LOAM_S3_SECRET_ACCESS_KEY: 'S3RVER', LOAM_S3_PREFIX: 'tenants',
  });
  s3 = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  p = await createProject();
});
after(async () => {
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const keysOf = async (prefix: string) =>
  ((await s3.send(new ListObjectsV2Command({ Bucket: 'loam-files', Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();

test('objects live in S3 under the project prefix, keyed by version', async () => {
  const s = client(p).storage;
  await s.createBucket('docs');
  assert.equal((await s.from('docs').upload('a/one.txt', new Blob(['hello s3'], { type: 'text/plain' }))).error, null);
  assert.equal((await s.from('docs').upload('a/two.bin', Buffer.alloc(256 * 1024, 7), { contentType: 'application/octet-stream' })).error, null);
  const versions = await sql(p, `select name, version from storage.objects order by name`);
  assert.deepEqual(await keysOf(`tenants/${p.ref}/`), versions.map((v) => `tenants/${p.ref}/objects/${v.version}`).sort());

  assert.equal(await (await s.from('docs').download('a/one.txt')).data!.text(), 'hello s3');
  const big = await s.from('docs').download('a/two.bin');
  assert.equal((await big.data!.arrayBuffer()).byteLength, 256 * 1024);
  const range = await fetch(`${p.url}/storage/v1/object/docs/a/one.txt`, { headers: { authorization: `Bearer ${p.serviceKey}`, range: 'bytes=6-7' } });
  assert.equal(range.status, 206);
  assert.equal(await range.text(), 's3');

  // Replacing an object removes the old version's bytes; copy adds a key, move none, delete removes it.
  assert.equal((await s.from('docs').upload('a/one.txt', Buffer.from('v2'), { contentType: 'text/plain', upsert: true })).error, null);
  assert.equal((await keysOf(`tenants/${p.ref}/objects/`)).length, 2);
  assert.equal((await s.from('docs').copy('a/one.txt', 'b/copy.txt')).error, null);
  assert.equal((await s.from('docs').move('b/copy.txt', 'b/moved.txt')).error, null);
  assert.equal((await keysOf(`tenants/${p.ref}/objects/`)).length, 3);
  assert.equal(await (await s.from('docs').download('b/moved.txt')).data!.text(), 'v2');
  await s.from('docs').remove(['b/moved.txt']);
  assert.equal((await keysOf(`tenants/${p.ref}/objects/`)).length, 2);

  const signed = await s.from('docs').createSignedUrl('a/one.txt', 60);
  assert.equal(await (await fetch(signed.data!.signedUrl)).text(), 'v2');

  // Rendered variants are cached in S3 too.
  const png = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#0a0' } }).png().toBuffer();
  await s.from('docs').upload('pic.png', png, { contentType: 'image/png' });
  const small = await s.from('docs').download('pic.png', { transform: { width: 25, height: 20 } });
  assert.deepEqual(await sharp(Buffer.from(await small.data!.arrayBuffer())).metadata().then((m) => [m.width, m.height]), [25, 20]);
  assert.equal((await keysOf(`tenants/${p.ref}/renders/`)).length, 1);
  await s.emptyBucket('docs');
  assert.deepEqual(await keysOf(`tenants/${p.ref}/`), []);
});

// The deletion job calls this (see worker/src/tasks/project__delete.ts; the job itself is tested with the file
// backend in management.test.ts): here, directly, because in a test run any test file's worker may take the job.
test('purging a deleted project empties its S3 prefix and nothing else', async () => {
  const q = await createProject();
  await client(q).storage.createBucket('b');
  await client(q).storage.from('b').upload('x.txt', Buffer.from('x'), { contentType: 'text/plain' });
  await client(p).storage.createBucket('keep');
  await client(p).storage.from('keep').upload('y.txt', Buffer.from('y'), { contentType: 'text/plain' });
  assert.equal((await keysOf(`tenants/${q.ref}/`)).length, 1);
  assert.equal((await http('DELETE', `/v1/projects/${q.ref}`, { token: q.owner.token })).status, 200);
  await purgeProjectFiles(q.ref);
  assert.deepEqual(await keysOf(`tenants/${q.ref}/`), []);
  assert.equal((await keysOf(`tenants/${p.ref}/`)).length, 1);
});

test('the S3 protocol and TUS on the S3 backend: parts and objects under UUID keys, nothing left behind', async () => {
  const q = await createProject();
  const key = await http('POST', `/v1/projects/${q.ref}/storage/credentials`, { token: q.owner.token, body: { description: 'x' } });
  const loamS3 = new S3Client({
    endpoint: `${q.url}/storage/v1/s3`, region: 'local', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: key.body.access_key, secretAccessKey: key.body.secret_key },
  });
  await loamS3.send(new CreateBucketCommand({ Bucket: 'b' }));
  const { UploadId } = await loamS3.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'm.bin' }));
  const parts = [Buffer.alloc(300 * 1024, 1), Buffer.alloc(1000, 2)];
  const etags = [];
  for (const [i, Body] of parts.entries()) etags.push((await loamS3.send(new UploadPartCommand({ Bucket: 'b', Key: 'm.bin', UploadId, PartNumber: i + 1, Body }))).ETag);
  assert.equal((await keysOf(`tenants/${q.ref}/parts/`)).length, 2);
  await loamS3.send(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'm.bin', UploadId,
    MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
  assert.deepEqual(await keysOf(`tenants/${q.ref}/parts/`), []);
  const got = await loamS3.send(new GetObjectCommand({ Bucket: 'b', Key: 'm.bin', Range: 'bytes=307199-307200' }));
  assert.deepEqual([...await got.Body!.transformToByteArray()], [1, 2]);

  const upload = await new Promise<string | undefined>((resolve) => {
    const u = new tus.Upload(Buffer.from('resumable on s3'), {
      endpoint: `${q.url}/storage/v1/upload/resumable`, retryDelays: null,
      headers: { authorization: `Bearer ${q.serviceKey}` }, metadata: { bucketName: 'b', objectName: 't.txt', contentType: 'text/plain' },
      onSuccess: () => resolve(undefined), onError: (err) => resolve(String(err)),
    });
    u.start();
  });
  assert.equal(upload, undefined);
  assert.equal(await (await client(q).storage.from('b').download('t.txt')).data!.text(), 'resumable on s3');
  const versions = await sql(q, 'select version from storage.objects order by name');
  assert.deepEqual(await keysOf(`tenants/${q.ref}/`), versions.map((v) => `tenants/${q.ref}/objects/${v.version}`).sort());
});
