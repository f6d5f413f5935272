// Abandoned uploads expire: an S3 multipart upload never completed and a TUS upload never finished are removed —
// rows, part bytes, the TUS file and their quota — by the `storage_uploads__expire` job that starting them
// queued from SQL, after LOAM_STORAGE_UPLOAD_EXPIRY seconds (3 here).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';

process.env.LOAM_STORAGE_UPLOAD_EXPIRY = '3';
const { adminClient, createProject, http } = await import('../helpers/platform.ts');

test('an abandoned multipart upload and an abandoned TUS upload are removed by the job their creation queued', async () => {
  const p = await createProject();
  const key = (await http('POST', `/v1/projects/${p.ref}/storage/credentials`, { token: p.owner.token, body: { description: 'e' } })).body;
  const c = new S3Client({ endpoint: `${p.url}/storage/v1/s3`, region: 'local', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: key.access_key, secretAccessKey: key.secret_key } });
  await c.send(new CreateBucketCommand({ Bucket: 'b' }));
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'left.bin' }));
  await c.send(new UploadPartCommand({ Bucket: 'b', Key: 'left.bin', UploadId, PartNumber: 1, Body: crypto.randomBytes(100_000) }));

  // A TUS upload cut off after its first chunk.
  const url = await new Promise<string>((resolve, reject) => {
    let patches = 0;
    const upload: tus.Upload = new tus.Upload(crypto.randomBytes(300_000), {
      endpoint: `${p.url}/storage/v1/upload/resumable`, retryDelays: null, chunkSize: 100_000,
      headers: { authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey },
      metadata: { bucketName: 'b', objectName: 'tus.bin' },
      onBeforeRequest: (req) => (req.getMethod() === 'PATCH' && ++patches > 1 ? Promise.reject(new Error('cut')) : undefined),
      onError: () => (upload.url ? resolve(upload.url) : reject(new Error('no upload was created'))),
      onSuccess: () => reject(new Error('the upload was not cut off')),
    });
    upload.start();
  });
  const root = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref);
  assert.equal(fs.readdirSync(path.join(root, 'parts')).length, 1);
  assert.equal(fs.readdirSync(path.join(root, 'tus')).length, 2); // the bytes and their .json

  // Queued from SQL, once per project.
  const admin = await adminClient();
  try {
    const { rows } = await admin.query(`select key, run_at from graphile_worker.jobs where task_identifier = 'storage_uploads__expire' and key like '%' || $1`, [p.ref]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].key, `storage_uploads__expire:${p.ref}`);

    const headers = { authorization: `Bearer ${p.serviceKey}`, apikey: p.serviceKey, 'tus-resumable': '1.0.0' };
    const deadline = Date.now() + 40_000;
    let state: unknown[] = [];
    while (Date.now() < deadline) {
      state = [
        (await c.send(new ListMultipartUploadsCommand({ Bucket: 'b' }))).Uploads?.length ?? 0,
        fs.readdirSync(path.join(root, 'parts')).length,
        fs.readdirSync(path.join(root, 'tus')).length,
        (await fetch(url, { method: 'HEAD', headers })).status,
        Number((await admin.query('select used from platform_private.storage_quota($1)', [p.ref])).rows[0].used),
      ];
      if (JSON.stringify(state) === JSON.stringify([0, 0, 0, 404, 0])) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(state, [0, 0, 0, 404, 0], 'uploads, part bytes, TUS files, the upload URL, the quota');
  } finally {
    await admin.end();
  }
});
