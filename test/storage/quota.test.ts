// The per-project storage quota from the plan (`storage_size_mb`), across REST, S3 and TUS: what would take a
// project past it is refused with a clear error (before the body is read when its size is declared), what is
// removed is given back, and one project's usage is not another's.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';
import { adminClient, createProject, http, type Project } from '../helpers/platform.ts';
import { client, errorOf, storageFetch } from './helpers.ts';

const MB = 1024 * 1024;
let p: Project;
let other: Project;

/** Bytes the control database counts for the project. */
async function used(ref: string): Promise<number> {
  const c = await adminClient();
  try {
    return Number((await c.query('select used from platform_private.storage_quota($1)', [ref])).rows[0].used);
  } finally {
    await c.end();
  }
}

before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  const c = await adminClient();
  try {
    // A plan of 2 MiB of storage for p's organization.
    await c.query(`insert into platform.plans (id, name, max_projects, max_organizations, db_size_mb, storage_size_mb)
                   values ('quota-test', 'Quota test', 10, 10, 500, 2) on conflict (id) do nothing`);
    await c.query(`update platform.organizations set plan = 'quota-test'
                   where id = (select organization_id from platform.projects where ref = $1)`, [p.ref]);
  } finally {
    await c.end();
  }
  await client(p).storage.createBucket('b');
  await client(other).storage.createBucket('b');
});

test('REST: uploads and copies past the quota are refused; deleting gives the bytes back', async () => {
  const s = client(p).storage.from('b');
  assert.equal((await s.upload('one.bin', crypto.randomBytes(MB))).error, null);
  assert.equal(await used(p.ref), MB);
  // Declared too big: refused before the body is read.
  const big = await errorOf(await storageFetch(p, '/object/b/big.bin', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: crypto.randomBytes(1.5 * MB) }));
  assert.deepEqual([big.status, big.statusCode, big.code], [400, '413', 'QuotaExceeded']);
  assert.match(big.message, /^The project's storage quota of 2097152 bytes \(from its plan\) would be exceeded: 1048576 bytes are stored$/);
  // Not declared (a chunked body): refused when its bytes are counted, and nothing is left of it.
  const chunked = await storageFetch(p, '/object/b/chunked.bin', {
    method: 'POST', headers: { 'content-type': 'application/octet-stream' }, duplex: 'half',
    body: new ReadableStream({ start(ctl) { ctl.enqueue(crypto.randomBytes(1.5 * MB)); ctl.close(); } }),
  } as RequestInit);
  assert.equal((await errorOf(chunked)).code, 'QuotaExceeded');
  assert.equal(await used(p.ref), MB);
  const copy = await s.copy('one.bin', 'two.bin');
  assert.equal(copy.error, null);
  assert.equal(await used(p.ref), 2 * MB);
  const third = await s.copy('one.bin', 'three.bin');
  assert.equal((third.error as unknown as { statusCode: string }).statusCode, '413');
  assert.equal(third.error!.message.startsWith('The project\'s storage quota of 2097152 bytes'), true);
  assert.deepEqual((await s.list()).data!.map((o) => o.name), ['one.bin', 'two.bin']);
  // Another project on another plan is not limited by this one's usage.
  assert.equal((await client(other).storage.from('b').upload('big.bin', crypto.randomBytes(3 * MB))).error, null);
  await s.remove(['one.bin', 'two.bin']);
  assert.equal(await used(p.ref), 0);
});

test('S3: PutObject and UploadPart past the quota get QuotaExceeded; parts count until completed or aborted', async () => {
  const res = await http('POST', `/v1/projects/${p.ref}/storage/credentials`, { token: p.owner.token, body: { description: 'q' } });
  const c = new S3Client({ endpoint: `${p.url}/storage/v1/s3`, region: 'local', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: res.body.access_key, secretAccessKey: res.body.secret_key } });
  await c.send(new CreateBucketCommand({ Bucket: 's3q' }));
  const fail = async (p: Promise<unknown>) => p.then(() => assert.fail('expected QuotaExceeded'), (e) => [e.Code ?? e.name, e.$metadata?.httpStatusCode, e.message]);
  await c.send(new PutObjectCommand({ Bucket: 's3q', Key: 'a.bin', Body: crypto.randomBytes(1.25 * MB) }));
  const [code, status, message] = await fail(c.send(new PutObjectCommand({ Bucket: 's3q', Key: 'b.bin', Body: crypto.randomBytes(MB) })));
  assert.deepEqual([code, status], ['QuotaExceeded', 403]);
  assert.match(message, /storage quota of 2097152 bytes/);
  assert.deepEqual((await fail(c.send(new CopyObjectCommand({ Bucket: 's3q', Key: 'c.bin', CopySource: 's3q/a.bin' }))))[0], 'QuotaExceeded');
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 's3q', Key: 'm.bin' }));
  const part1 = await c.send(new UploadPartCommand({ Bucket: 's3q', Key: 'm.bin', UploadId, PartNumber: 1, Body: crypto.randomBytes(0.5 * MB) }));
  assert.equal(await used(p.ref), 1.75 * MB);
  assert.equal((await fail(c.send(new UploadPartCommand({ Bucket: 's3q', Key: 'm.bin', UploadId, PartNumber: 2, Body: crypto.randomBytes(0.5 * MB) }))))[0], 'QuotaExceeded');
  // Completing turns the counted part into the object: no second count.
  await c.send(new CompleteMultipartUploadCommand({ Bucket: 's3q', Key: 'm.bin', UploadId, MultipartUpload: { Parts: [{ ETag: part1.ETag, PartNumber: 1 }] } }));
  assert.equal(await used(p.ref), 1.75 * MB);
  await c.send(new DeleteObjectCommand({ Bucket: 's3q', Key: 'm.bin' }));
  await c.send(new DeleteObjectCommand({ Bucket: 's3q', Key: 'a.bin' }));
  assert.equal(await used(p.ref), 0);
});

test('TUS: an upload whose length would pass the quota is refused at creation, one without a length at its end', async () => {
  const send = (data: Buffer, name: string, deferLength = false) => new Promise<string | null>((resolve) => {
    const upload = new tus.Upload(data, {
      endpoint: `${p.url}/storage/v1/upload/resumable`, retryDelays: null, chunkSize: 512 * 1024, uploadLengthDeferred: deferLength,
      headers: { authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey },
      metadata: { bucketName: 'b', objectName: name, contentType: 'application/octet-stream' },
      onSuccess: () => resolve(null),
      onError: (err) => resolve(String((err as tus.DetailedError).originalResponse?.getBody() ?? err)),
    });
    upload.start();
  });
  assert.equal(await send(crypto.randomBytes(1.5 * MB), 'fits.bin'), null);
  const refused = JSON.parse((await send(crypto.randomBytes(MB), 'big.bin'))!);
  assert.deepEqual([refused.statusCode, refused.code], ['413', 'QuotaExceeded']);
  const late = await send(crypto.randomBytes(MB), 'deferred.bin', true);
  assert.match(late!, /QuotaExceeded/);
  assert.deepEqual((await client(p).storage.from('b').list()).data!.map((o) => o.name), ['fits.bin']);
  assert.equal(await used(p.ref), 1.5 * MB);
});
