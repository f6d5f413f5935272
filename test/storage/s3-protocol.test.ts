// The S3 protocol at /storage/v1/s3 with the AWS SDK v3: access keys from the Management API, every operation
// over the same objects as the REST API, SigV4 in all its forms (signatures computed with @smithy/signature-v4),
// and the refusals: a wrong secret, a revoked key, another project's key, no signature at all.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand,
  CreateMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand,
  GetBucketAclCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListMultipartUploadsCommand, ListObjectsCommand,
  ListObjectsV2Command, ListPartsCommand, PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { adminClient, createProject, http, signup, sql, type Project } from '../helpers/platform.ts';
import sweep from '../../worker/src/tasks/storage__sweep.ts';
import { migrateProject } from '../../db/src/migrate-projects.ts';
import { loadRuntime } from '../../db/src/projects.ts';
import { client, user } from './helpers.ts';

class Sha256 {
  private h: crypto.Hash | crypto.Hmac;
  constructor(secret?: unknown) { this.h = secret ? crypto.createHmac('sha256', Buffer.from(secret as Uint8Array)) : crypto.createHash('sha256'); }
  update(d: string | Uint8Array) { this.h.update(d); }
  async digest() { return new Uint8Array(this.h.digest()); }
  reset() {}
}

interface Key { id: string; access_key: string; secret_key: string }

async function newKey(p: Project, description = 'test'): Promise<Key> {
  const res = await http('POST', `/v1/projects/${p.ref}/storage/credentials`, { token: p.owner.token, body: { description } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const endpoint = (p: Project) => `${p.url}/storage/v1/s3`;

function s3(p: Project, accessKeyId: string, secretAccessKey: string, sessionToken?: string): S3Client {
  return new S3Client({
    endpoint: endpoint(p), region: 'local', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey, sessionToken },
  });
}

const text = async (body: unknown) => Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).toString();

async function s3Error(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.Code ?? e.name, status: e.$metadata?.httpStatusCode };
  }
  assert.fail('expected an S3 error');
}

function signer(accessKeyId: string, secretAccessKey: string) {
  return new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region: 'local', service: 's3', sha256: Sha256, uriEscapePath: false });
}

test('access keys: created with the secret shown once, listed without it, stored sealed, revoked', async () => {
  const p = await createProject();
  const base = `/v1/projects/${p.ref}/storage/credentials`;
  const k = await newKey(p, 'backup');
  assert.match(k.access_key, /^[0-9a-f]{32}$/);
  assert.match(k.secret_key, /^[0-9a-f]{64}$/);
  const list = await http('GET', base, { token: p.owner.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((c: Record<string, unknown>) => [c.id, c.description, c.access_key, 'secret_key' in c]), [[k.id, 'backup', k.access_key, false]]);
  const admin = await adminClient();
  try {
    const { rows } = await admin.query('select secret_sealed from platform_private.storage_credentials where id = $1', [k.id]);
    assert.ok(!rows[0].secret_sealed.includes(k.secret_key));
  } finally {
    await admin.end();
  }
  const stranger = await signup();
  assert.equal((await http('GET', base, { token: stranger.token })).status, 404);
  assert.equal((await http('POST', base, { token: stranger.token, body: {} })).status, 404);
  assert.equal((await http('DELETE', `${base}/${k.id}`, { token: stranger.token })).status, 404);
  assert.equal((await http('POST', base, { token: p.owner.token, body: { description: 'x'.repeat(300) } })).status, 400);
  assert.equal((await http('DELETE', `${base}/not-a-uuid`, { token: p.owner.token })).status, 404);
  assert.equal((await http('DELETE', `${base}/${k.id}`, { token: p.owner.token })).status, 200);
  assert.equal((await http('DELETE', `${base}/${k.id}`, { token: p.owner.token })).status, 404);
  assert.deepEqual((await http('GET', base, { token: p.owner.token })).body.data, []);
  assert.deepEqual((await http('GET', `/v1/projects/${p.ref}/config/storage`, { token: p.owner.token })).body.features.s3Protocol, { enabled: true });
});

test('S3 operations with the AWS SDK, over the same objects as the REST API', async () => {
  const p = await createProject();
  const k = await newKey(p);
  const c = s3(p, k.access_key, k.secret_key);
  await c.send(new CreateBucketCommand({ Bucket: 'docs' }));
  await c.send(new HeadBucketCommand({ Bucket: 'docs' }));
  assert.deepEqual((await c.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name), ['docs']);
  assert.equal((await s3Error(c.send(new HeadBucketCommand({ Bucket: 'nope' })))).status, 404);

  const put = await c.send(new PutObjectCommand({ Bucket: 'docs', Key: 'a/one.txt', Body: 'hello s3', ContentType: 'text/plain', Metadata: { colour: 'blue' } }));
  assert.equal(put.ETag, `"${crypto.createHash('md5').update('hello s3').digest('hex')}"`);
  // A stream body: the SDK sends it aws-chunked with a checksum trailer.
  await c.send(new PutObjectCommand({ Bucket: 'docs', Key: 'a/two.txt', Body: Readable.from([Buffer.from('streamed '), Buffer.from('body')]), ContentLength: 13 }));
  await c.send(new PutObjectCommand({ Bucket: 'docs', Key: 'b/three.txt', Body: 'three' }));
  await c.send(new PutObjectCommand({ Bucket: 'docs', Key: 'top.txt', Body: 'top' }));

  const got = await c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'a/one.txt' }));
  assert.equal(await text(got.Body), 'hello s3');
  assert.equal(got.ContentType, 'text/plain');
  assert.equal(got.Metadata?.colour, 'blue');
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'a/two.txt' }))).Body), 'streamed body');
  const head = await c.send(new HeadObjectCommand({ Bucket: 'docs', Key: 'a/one.txt' }));
  assert.equal(head.ContentLength, 8);
  const ranged = await c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'a/one.txt', Range: 'bytes=6-' }));
  assert.equal(await text(ranged.Body), 's3');
  assert.equal(ranged.ContentRange, 'bytes 6-7/8');
  assert.equal((await s3Error(c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'a/one.txt', IfMatch: '"nope"' })))).status, 412);
  assert.equal((await s3Error(c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'a/one.txt', IfNoneMatch: put.ETag })))).status, 304);
  assert.equal((await s3Error(c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'a/one.txt', IfModifiedSince: new Date(Date.now() + 60_000) })))).status, 304);
  assert.deepEqual(await s3Error(c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'missing' }))), { name: 'NoSuchKey', status: 404 });

  // Listing: a delimiter folds folders, max-keys pages with continuation tokens; V1 too.
  const top = await c.send(new ListObjectsV2Command({ Bucket: 'docs', Delimiter: '/' }));
  assert.deepEqual(top.CommonPrefixes?.map((x) => x.Prefix), ['a/', 'b/']);
  assert.deepEqual(top.Contents?.map((x) => x.Key), ['top.txt']);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await c.send(new ListObjectsV2Command({ Bucket: 'docs', MaxKeys: 2, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((x) => x.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  assert.deepEqual(keys, ['a/one.txt', 'a/two.txt', 'b/three.txt', 'top.txt']);
  const underA = await c.send(new ListObjectsV2Command({ Bucket: 'docs', Prefix: 'a/' }));
  assert.deepEqual(underA.Contents?.map((x) => [x.Key, x.Size]), [['a/one.txt', 8], ['a/two.txt', 13]]);
  const v1 = await c.send(new ListObjectsCommand({ Bucket: 'docs', Marker: 'a/two.txt' }));
  assert.deepEqual(v1.Contents?.map((x) => x.Key), ['b/three.txt', 'top.txt']);

  // The REST API sees what S3 wrote, and S3 sees what the REST API wrote.
  const rest = client(p).storage.from('docs');
  assert.equal(await (await rest.download('a/one.txt')).data!.text(), 'hello s3');
  await rest.upload('from-rest.txt', Buffer.from('via rest'), { contentType: 'text/plain' });
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'from-rest.txt' }))).Body), 'via rest');

  await c.send(new CopyObjectCommand({ Bucket: 'docs', Key: 'copy.txt', CopySource: 'docs/a/one.txt' }));
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'docs', Key: 'copy.txt' }))).Body), 'hello s3');
  await c.send(new DeleteObjectCommand({ Bucket: 'docs', Key: 'copy.txt' }));
  await c.send(new DeleteObjectCommand({ Bucket: 'docs', Key: 'copy.txt' })); // S3: deleting nothing is fine
  const del = await c.send(new DeleteObjectsCommand({ Bucket: 'docs', Delete: { Objects: [{ Key: 'a/one.txt' }, { Key: 'a/two.txt' }, { Key: 'nothing' }] } }));
  assert.deepEqual(del.Deleted?.map((d) => d.Key).sort(), ['a/one.txt', 'a/two.txt', 'nothing']);
  assert.equal((await rest.download('a/one.txt')).error !== null, true);
  assert.equal((await s3Error(c.send(new DeleteBucketCommand({ Bucket: 'docs' })))).name, 'BucketNotEmpty');
  await c.send(new DeleteObjectsCommand({ Bucket: 'docs', Delete: { Objects: ['b/three.txt', 'top.txt', 'from-rest.txt'].map((Key) => ({ Key })) } }));
  await c.send(new DeleteBucketCommand({ Bucket: 'docs' }));
  assert.deepEqual((await c.send(new ListBucketsCommand({}))).Buckets ?? [], []);
});

test('multipart uploads: parts under their own keys, completed through the one commit path, aborted without a trace', async () => {
  const p = await createProject();
  const k = await newKey(p);
  const c = s3(p, k.access_key, k.secret_key);
  await c.send(new CreateBucketCommand({ Bucket: 'big' }));
  const part1 = crypto.randomBytes(1024 * 1024);
  const part2 = crypto.randomBytes(1000);
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'big', Key: 'blob.bin', ContentType: 'application/x-test' }));
  const e2 = await c.send(new UploadPartCommand({ Bucket: 'big', Key: 'blob.bin', UploadId, PartNumber: 2, Body: part2 }));
  const e1 = await c.send(new UploadPartCommand({ Bucket: 'big', Key: 'blob.bin', UploadId, PartNumber: 1, Body: part1 }));
  assert.deepEqual((await c.send(new ListPartsCommand({ Bucket: 'big', Key: 'blob.bin', UploadId }))).Parts?.map((x) => [x.PartNumber, x.Size]), [[1, part1.length], [2, 1000]]);
  assert.deepEqual((await c.send(new ListMultipartUploadsCommand({ Bucket: 'big' }))).Uploads?.map((u) => u.UploadId), [UploadId]);
  // Not visible before it is complete.
  assert.equal((await s3Error(c.send(new HeadObjectCommand({ Bucket: 'big', Key: 'blob.bin' })))).status, 404);
  assert.equal((await s3Error(c.send(new CompleteMultipartUploadCommand({ Bucket: 'big', Key: 'blob.bin', UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0000"' }, { PartNumber: 2, ETag: e2.ETag }] } })))).name, 'InvalidPart');
  await c.send(new CompleteMultipartUploadCommand({ Bucket: 'big', Key: 'blob.bin', UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }));
  const got = await c.send(new GetObjectCommand({ Bucket: 'big', Key: 'blob.bin' }));
  assert.equal(got.ContentType, 'application/x-test');
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([part1, part2])));
  const partsDir = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref, 'parts');
  assert.deepEqual(fs.existsSync(partsDir) ? fs.readdirSync(partsDir) : [], []);

  const second = await c.send(new CreateMultipartUploadCommand({ Bucket: 'big', Key: 'gone.bin' }));
  await c.send(new UploadPartCommand({ Bucket: 'big', Key: 'gone.bin', UploadId: second.UploadId, PartNumber: 1, Body: part2 }));
  const [live] = fs.readdirSync(partsDir);
  // The sweep removes old part bytes no row refers to (a crash between storing a part and its row), not live ones.
  const orphan = path.join(partsDir, crypto.randomUUID());
  fs.writeFileSync(orphan, 'orphan part');
  const old = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(orphan, old, old);
  fs.utimesSync(path.join(partsDir, live), old, old);
  await sweep({ ref: p.ref }, { logger: { info() {} } } as never);
  assert.deepEqual(fs.readdirSync(partsDir), [live]);
  await c.send(new AbortMultipartUploadCommand({ Bucket: 'big', Key: 'gone.bin', UploadId: second.UploadId }));
  assert.deepEqual(fs.readdirSync(partsDir), []);
  assert.equal((await s3Error(c.send(new ListPartsCommand({ Bucket: 'big', Key: 'gone.bin', UploadId: second.UploadId })))).name, 'NoSuchUpload');
  assert.deepEqual((await c.send(new ListMultipartUploadsCommand({ Bucket: 'big' }))).Uploads ?? [], []);
});

test('an existing project database gets the multipart tables from `loam migrate`, as its owner', async () => {
  const p = await createProject();
  // The database as it was before template migration 0005.
  await sql(p, 'drop table storage.s3_multipart_uploads_parts, storage.s3_multipart_uploads');
  const admin = await adminClient(p.ref);
  try {
    await admin.query(`delete from _loam.migrations where version = 5; delete from _loam.settings where key = 'applied_sql_checksum'`);
  } finally {
    await admin.end();
  }
  await migrateProject((await loadRuntime(p.ref))!);
  const [owner] = await sql(p, `select tableowner from pg_tables where schemaname = 'storage' and tablename = 's3_multipart_uploads'`);
  assert.equal(owner.tableowner, p.ref);
  const k = await newKey(p);
  const c = s3(p, k.access_key, k.secret_key);
  await c.send(new CreateBucketCommand({ Bucket: 'b' }));
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'k' }));
  const { ETag } = await c.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId, PartNumber: 1, Body: 'one part' }));
  await c.send(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'k', UploadId, MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] } }));
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).Body), 'one part');
});

test('a 50 MB object in five parts, one of them copied from a range of another object', async () => {
  const p = await createProject();
  await http('PATCH', `/v1/projects/${p.ref}/config/storage`, { token: p.owner.token, body: { fileSizeLimit: 60 * 1024 * 1024 } });
  const k = await newKey(p);
  const c = s3(p, k.access_key, k.secret_key);
  await c.send(new CreateBucketCommand({ Bucket: 'big' }));
  const MB = 1024 * 1024;
  const parts = Array.from({ length: 5 }, () => crypto.randomBytes(10 * MB));
  await c.send(new PutObjectCommand({ Bucket: 'big', Key: 'source.bin', Body: Buffer.concat([crypto.randomBytes(100), parts[4], crypto.randomBytes(100)]) }));
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'big', Key: 'fifty.bin' }));
  const etags = await Promise.all(parts.slice(0, 4).map(async (Body, i) =>
    (await c.send(new UploadPartCommand({ Bucket: 'big', Key: 'fifty.bin', UploadId, PartNumber: i + 1, Body }))).ETag));
  const copied = await c.send(new UploadPartCopyCommand({ Bucket: 'big', Key: 'fifty.bin', UploadId, PartNumber: 5,
    CopySource: 'big/source.bin', CopySourceRange: `bytes=100-${100 + 10 * MB - 1}` }));
  etags.push(copied.CopyPartResult!.ETag);
  // S3's ETags: a part's is the MD5 of its bytes; the object's the MD5 of the parts' binary MD5s, then `-<parts>`.
  const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest();
  assert.deepEqual(etags, parts.map((b) => `"${md5(b).toString('hex')}"`));
  const expected = `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-5"`;
  const done = await c.send(new CompleteMultipartUploadCommand({ Bucket: 'big', Key: 'fifty.bin', UploadId,
    MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
  assert.equal(done.ETag, expected);
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: 'big', Key: 'fifty.bin' }))).ETag, expected);
  assert.equal((await client(p).storage.from('big').info('fifty.bin')).data!.etag, expected);
  const got = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: 'big', Key: 'fifty.bin' }))).Body!.transformToByteArray());
  assert.equal(got.length, 50 * MB);
  assert.ok(got.equals(Buffer.concat(parts)));
});

test('SigV4: presigned URLs, signed aws-chunked bodies, and every refusal', async () => {
  const [p, other] = await Promise.all([createProject(), createProject()]);
  const k = await newKey(p);
  const c = s3(p, k.access_key, k.secret_key);
  await c.send(new CreateBucketCommand({ Bucket: 'b' }));
  const u = new URL(endpoint(p));
  const presign = (method: string, key: string, opts: { expiresIn?: number; signingDate?: Date } = {}) =>
    signer(k.access_key, k.secret_key).presign({
      method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: `${u.pathname}/b/${key}`, query: {},
      headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    } as never, { ...opts, unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) })
      .then((r) => `${u.origin}${r.path}?${new URLSearchParams(r.query as Record<string, string>)}`);

  const putUrl = await presign('PUT', 'pre.txt');
  assert.equal((await fetch(putUrl, { method: 'PUT', body: 'presigned body' })).status, 200);
  const getRes = await fetch(await presign('GET', 'pre.txt'));
  assert.equal(getRes.status, 200);
  assert.equal(await getRes.text(), 'presigned body');
  const expired = await fetch(await presign('GET', 'pre.txt', { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) }));
  assert.equal(expired.status, 403);
  assert.match(await expired.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);
  const tampered = (await presign('GET', 'pre.txt')).replace('pre.txt', 'other.txt');
  assert.match(await (await fetch(tampered)).text(), /<Code>SignatureDoesNotMatch<\/Code>/);

  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: a signature per chunk, chained from the request's.
  const chunks = [Buffer.from('first chunk, '), Buffer.from('second chunk')];
  const sendChunked = async (tamper: boolean) => {
    const date = new Date();
    const s = signer(k.access_key, k.secret_key);
    const decoded = chunks.reduce((n, b) => n + b.length, 0);
    const signed = await s.sign({
      method: 'PUT', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: `${u.pathname}/b/chunked.txt`, query: {},
      headers: { host: u.host, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded) },
    } as never, { signingDate: date }) as unknown as { headers: Record<string, string> };
    let prev = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)![1];
    const longDate = signed.headers['x-amz-date'];
    const scope = `${longDate.slice(0, 8)}/local/s3/aws4_request`;
    const parts: Buffer[] = [];
    for (const data of [...chunks, Buffer.alloc(0)]) {
      const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', longDate, scope, prev, crypto.createHash('sha256').update('').digest('hex'),
        crypto.createHash('sha256').update(data).digest('hex')].join('\n');
      prev = await s.sign(toSign, { signingDate: date });
      const body = tamper && data.length ? Buffer.from(data.toString().toUpperCase()) : data;
      parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${prev}\r\n`), body, Buffer.from('\r\n'));
    }
    const headers = { ...signed.headers };
    delete headers.host;
    return fetch(`${u.origin}${u.pathname}/b/chunked.txt`, { method: 'PUT', headers, body: Buffer.concat(parts) });
  };
  assert.equal((await sendChunked(false)).status, 200);
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'b', Key: 'chunked.txt' }))).Body), 'first chunk, second chunk');
  const bad = await sendChunked(true);
  assert.equal(bad.status, 403);
  assert.match(await bad.text(), /SignatureDoesNotMatch/);
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'b', Key: 'chunked.txt' }))).Body), 'first chunk, second chunk');

  // A body that is not the one whose hash was signed.
  const signedPut = await signer(k.access_key, k.secret_key).sign({
    method: 'PUT', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: `${u.pathname}/b/hash.txt`, query: {},
    headers: { host: u.host, 'x-amz-content-sha256': crypto.createHash('sha256').update('declared').digest('hex') },
  } as never) as unknown as { headers: Record<string, string> };
  const { host: _h, ...hashHeaders } = signedPut.headers;
  const mismatch = await fetch(`${u.origin}${u.pathname}/b/hash.txt`, { method: 'PUT', headers: hashHeaders, body: 'different' });
  assert.equal(mismatch.status, 400);
  assert.match(await mismatch.text(), /XAmzContentSHA256Mismatch/);
  assert.equal((await s3Error(c.send(new HeadObjectCommand({ Bucket: 'b', Key: 'hash.txt' })))).status, 404);

  // Refusals: no signature (the key gate lets S3 paths through to this check), a wrong secret, another
  // project's key, a revoked key.
  const unsigned = await fetch(`${endpoint(p)}/`);
  assert.equal(unsigned.status, 403);
  assert.match(await unsigned.text(), /<Code>AccessDenied<\/Code>/);
  const bearer = await fetch(`${endpoint(p)}/`, { headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` } });
  assert.equal(bearer.status, 403);
  assert.deepEqual(await s3Error(s3(p, k.access_key, 'f'.repeat(64)).send(new ListBucketsCommand({}))), { name: 'SignatureDoesNotMatch', status: 403 });
  assert.deepEqual(await s3Error(s3(other, k.access_key, k.secret_key).send(new ListBucketsCommand({}))), { name: 'InvalidAccessKeyId', status: 403 });
  // Cross-project: this project's presigned URL pointed at the other project, and this project's session
  // credentials (its ref, anon key and a user's token) at the other project's endpoint, are refused.
  const crossUrl = (await presign('GET', 'pre.txt')).replace(`/project/${p.ref}/`, `/project/${other.ref}/`);
  const cross = await fetch(crossUrl);
  assert.deepEqual([cross.status, /<Code>InvalidAccessKeyId<\/Code>/.test(await cross.text())], [403, true]);
  const crossUser = await user(p);
  assert.equal((await s3Error(s3(other, p.ref, p.anonKey, crossUser.token).send(new ListBucketsCommand({})))).name, 'InvalidAccessKeyId');
  assert.deepEqual(await s3Error(s3(p, 'a'.repeat(32), k.secret_key).send(new ListBucketsCommand({}))), { name: 'InvalidAccessKeyId', status: 403 });
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/storage/credentials/${k.id}`, { token: p.owner.token })).status, 200);
  assert.deepEqual(await s3Error(c.send(new ListBucketsCommand({}))), { name: 'InvalidAccessKeyId', status: 403 });
});

test('session tokens: a user\'s JWT as S3 credentials acts as that user, under RLS', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('private');
  await sql(p, `create policy own_folder_insert on storage.objects for insert to authenticated
      with check (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
    create policy own_folder_select on storage.objects for select to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
    create policy own_folder_update on storage.objects for update to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);`);
  await client(p).storage.from('private').upload('someone-else/secret.txt', Buffer.from('not yours'), { contentType: 'text/plain' });
  const alice = await user(p);
  const c = s3(p, p.ref, p.anonKey, alice.token);
  await c.send(new PutObjectCommand({ Bucket: 'private', Key: `${alice.id}/mine.txt`, Body: 'mine' }));
  assert.equal(await text((await c.send(new GetObjectCommand({ Bucket: 'private', Key: `${alice.id}/mine.txt` }))).Body), 'mine');
  assert.deepEqual((await c.send(new ListObjectsV2Command({ Bucket: 'private' }))).Contents?.map((x) => x.Key), [`${alice.id}/mine.txt`]);
  assert.equal((await s3Error(c.send(new PutObjectCommand({ Bucket: 'private', Key: 'someone-else/x.txt', Body: 'x' })))).name, 'AccessDenied');
  assert.equal((await s3Error(c.send(new GetObjectCommand({ Bucket: 'private', Key: 'someone-else/secret.txt' })))).status, 404);
  // The anon key signs, but without a session token it is no credential; a forged token is refused.
  assert.equal((await s3Error(s3(p, p.ref, p.anonKey).send(new ListBucketsCommand({})))).name, 'InvalidAccessKeyId');
  assert.equal((await s3Error(s3(p, p.ref, p.anonKey, `${alice.token}x`).send(new ListBucketsCommand({})))).name, 'AccessDenied');
  assert.equal((await s3Error(s3(p, p.ref, 'not-the-anon-key', alice.token).send(new ListBucketsCommand({})))).name, 'SignatureDoesNotMatch');
});

test('hostile S3 requests get an S3 error, never a 5xx', async () => {
  const p = await createProject();
  const k = await newKey(p);
  const base = endpoint(p);
  const auth = (extra: string) => ({ authorization: `AWS4-HMAC-SHA256 ${extra}`, 'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
  const cases: [string, string, Record<string, string>][] = [
    ['GET', '/', { authorization: 'AWS4-HMAC-SHA256 garbage' }],
    ['GET', '/', auth(`Credential=${k.access_key}/20200101/local/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`)],
    ['GET', '/', auth(`Credential=${k.access_key}/x/y, SignedHeaders=host, Signature=${'0'.repeat(64)}`)],
    ['GET', '/', auth(`Credential=${k.access_key}/${new Date().toISOString().slice(0, 10).replace(/-/g, '')}/local/s3/aws4_request, SignedHeaders=x-missing;host, Signature=${'0'.repeat(64)}`)],
    ['GET', '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Expires=abc', {}],
    ['GET', '/?X-Amz-Algorithm=HMAC', {}],
    ['GET', '/b/%E0%A4%A', {}],
    ['GET', '/?%E0%A4%A=1', {}],
    ['PUT', '/b/x\u0000y', {}],
    ['POST', '/b?delete', { 'content-type': 'application/xml' }],
  ];
  // Signed, but asking for what Loam does not do: NotImplemented, not a listing; a Content-MD5 that does not match.
  const c = s3(p, k.access_key, k.secret_key);
  await c.send(new CreateBucketCommand({ Bucket: 'b' }));
  assert.deepEqual(await s3Error(c.send(new GetBucketAclCommand({ Bucket: 'b' }))), { name: 'NotImplemented', status: 501 });
  assert.deepEqual(await s3Error(c.send(new PutObjectCommand({ Bucket: 'b', Key: 'x', Body: 'abc', ContentMD5: Buffer.alloc(16).toString('base64') }))),
    { name: 'BadDigest', status: 400 });
  await c.send(new PutObjectCommand({ Bucket: 'b', Key: 'x', Body: 'abc', ContentMD5: crypto.createHash('md5').update('abc').digest('base64') }));
  for (const [method, path_, headers] of cases) {
    const res = await fetch(`${base}${path_}`, { method, headers });
    assert.ok(res.status >= 400 && res.status < 500, `${method} ${path_}: ${res.status}`);
    assert.match(await res.text(), /<Error[^>]*><Code>\w+<\/Code>/, `${method} ${path_}`);
  }
});
