// Signed URLs: download links (one and a batch) that expire, signed upload URLs, and tokens that do not fit.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, type Project } from '../helpers/platform.ts';
import { client, errorOf, storageFetch, user } from './helpers.ts';

let p: Project;
before(async () => {
  p = await createProject();
  const s = client(p).storage;
  await s.createBucket('secret');
  await s.from('secret').upload('report.txt', Buffer.from('top secret'), { contentType: 'text/plain' });
  await s.from('secret').upload('other.txt', Buffer.from('other'), { contentType: 'text/plain' });
});

test('a signed URL serves the object without a key until it expires', async () => {
  const s = client(p).storage.from('secret');
  const { data, error } = await s.createSignedUrl('report.txt', 2);
  assert.equal(error, null);
  assert.ok(data!.signedUrl.startsWith(`${p.url}/storage/v1/object/sign/secret/report.txt?token=`));
  const res = await fetch(data!.signedUrl);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'top secret');
  assert.ok(res.headers.get('expires'));
  const ranged = await fetch(data!.signedUrl, { headers: { range: 'bytes=0-2' } });
  assert.equal(await ranged.text(), 'top');
  const dl = await s.createSignedUrl('report.txt', 60, { download: 'r.txt' });
  assert.equal((await fetch(dl.data!.signedUrl)).headers.get('content-disposition'), "attachment; filename=r.txt; filename*=UTF-8''r.txt");

  await new Promise((r) => setTimeout(r, 3100));
  const expired = await errorOf(await fetch(data!.signedUrl));
  assert.deepEqual(expired, { status: 400, statusCode: '400', code: 'InvalidJWT', error: 'InvalidJWT', message: '"exp" claim timestamp check failed' });
});

test('batch signing reports objects that do not exist', async () => {
  const { data, error } = await client(p).storage.from('secret').createSignedUrls(['report.txt', 'missing.txt', 'other.txt'], 60);
  assert.equal(error, null);
  assert.equal(data![1].error, 'Either the object does not exist or you do not have access to it');
  assert.equal(data![1].signedUrl, null);
  assert.equal(await (await fetch(data![0].signedUrl!)).text(), 'top secret');
  assert.equal(await (await fetch(data![2].signedUrl!)).text(), 'other');
});

test('tokens that do not fit are refused', async () => {
  const { data } = await client(p).storage.from('secret').createSignedUrl('report.txt', 60);
  const token = new URL(data!.signedUrl).searchParams.get('token')!;
  // For another path, tampered with, missing, or an API key instead of a signed-URL token.
  const other = await errorOf(await storageFetch(p, `/object/sign/secret/other.txt?token=${token}`, { key: null }));
  assert.deepEqual([other.statusCode, other.code, other.message], ['400', 'InvalidSignature', 'Invalid signature']);
  const tampered = await errorOf(await storageFetch(p, `/object/sign/secret/report.txt?token=${token.slice(0, -3)}abc`, { key: null }));
  assert.equal(tampered.code, 'InvalidJWT');
  const none = await errorOf(await storageFetch(p, '/object/sign/secret/report.txt', { key: null }));
  assert.equal(none.statusCode, '400');
  const apiKey = await errorOf(await storageFetch(p, `/object/sign/secret/report.txt?token=${p.anonKey}`, { key: null }));
  assert.equal(apiKey.code, 'InvalidSignature');
  const bad = await client(p).storage.from('secret').createSignedUrl('report.txt', 0);
  assert.equal((bad.error as unknown as { statusCode: string }).statusCode, '400');
  assert.equal((await client(p).storage.from('secret').createSignedUrl('missing.txt', 60)).error?.message, 'Object not found');
});

test('signed upload URLs let someone without a key upload one file, once permitted', async () => {
  const s = client(p).storage.from('secret');
  const created = await s.createSignedUploadUrl('uploads/new.txt');
  assert.equal(created.error, null);
  assert.equal(created.data!.path, 'uploads/new.txt');
  // The holder of the URL needs no key (a fresh client with only the anon key).
  const up = await client(p, p.anonKey).storage.from('secret').uploadToSignedUrl('uploads/new.txt', created.data!.token, new Blob(['via signed url'], { type: 'text/plain' }));
  assert.equal(up.error, null);
  assert.equal(up.data!.fullPath, 'secret/uploads/new.txt');
  assert.equal(await (await s.download('uploads/new.txt')).data!.text(), 'via signed url');
  // Without upsert the same token cannot overwrite; an upload token is not a download token.
  const again = await client(p, p.anonKey).storage.from('secret').uploadToSignedUrl('uploads/new.txt', created.data!.token, new Blob(['x']));
  assert.equal(again.error?.message, 'The resource already exists');
  const wrongScope = await errorOf(await storageFetch(p, `/object/sign/secret/uploads/new.txt?token=${created.data!.token}`, { key: null }));
  assert.equal(wrongScope.message, 'Token is not scoped for download');
  const upsert = await s.createSignedUploadUrl('uploads/new.txt', { upsert: true });
  assert.equal((await client(p, p.anonKey).storage.from('secret').uploadToSignedUrl('uploads/new.txt', upsert.data!.token, Buffer.from('v2'), { contentType: 'text/plain' })).error, null);
  assert.equal(await (await s.download('uploads/new.txt')).data!.text(), 'v2');
  // Creating one needs the right to write there: an anonymous caller without a policy is refused.
  const denied = await client(p, p.anonKey).storage.from('secret').createSignedUploadUrl('uploads/anon.txt');
  assert.equal(denied.error?.message, 'new row violates row-level security policy');
  const u = await user(p);
  assert.equal((await u.client.storage.from('secret').createSignedUploadUrl('x.txt')).error?.message, 'new row violates row-level security policy');
});
