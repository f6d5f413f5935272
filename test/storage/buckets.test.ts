// Buckets through supabase-js (as users call them) and raw HTTP for the error bodies.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, type Project } from '../helpers/platform.ts';
import { client, errorOf, storageFetch } from './helpers.ts';

let p: Project;
before(async () => { p = await createProject(); });

test('create, get, list, update, empty and delete a bucket', async () => {
  const s = client(p).storage;
  assert.deepEqual(await s.createBucket('avatars', { public: true, fileSizeLimit: '1MB', allowedMimeTypes: ['image/*'] }),
    { data: { name: 'avatars' }, error: null });
  const got = await s.getBucket('avatars');
  assert.equal(got.error, null);
  assert.equal(got.data!.id, 'avatars');
  assert.equal(got.data!.public, true);
  assert.equal(Number(got.data!.file_size_limit), 1_000_000);
  assert.deepEqual(got.data!.allowed_mime_types, ['image/*']);
  for (const k of ['created_at', 'updated_at', 'owner']) assert.ok(k in got.data!, k);

  await s.createBucket('zeta');
  const listed = await s.listBuckets();
  assert.deepEqual(listed.data!.map((b) => b.name), ['avatars', 'zeta']);
  const searched = await storageFetch(p, '/bucket?search=zet&limit=5&sortColumn=created_at&sortOrder=desc');
  assert.deepEqual((await searched.json()).map((b: { id: string }) => b.id), ['zeta']);

  assert.deepEqual(await s.updateBucket('avatars', { public: false, fileSizeLimit: 2048, allowedMimeTypes: ['image/png'] }),
    { data: { message: 'Successfully updated' }, error: null });
  const updated = await s.getBucket('avatars');
  assert.equal(updated.data!.public, false);
  assert.equal(Number(updated.data!.file_size_limit), 2048);
  assert.deepEqual(updated.data!.allowed_mime_types, ['image/png']);

  await s.from('zeta').upload('a.txt', 'x', { contentType: 'text/plain' });
  const notEmpty = await s.deleteBucket('zeta');
  assert.equal(notEmpty.error?.message, 'The bucket you tried to delete is not empty');
  assert.equal((notEmpty.error as unknown as { statusCode: string }).statusCode, '409');
  assert.deepEqual(await s.emptyBucket('zeta'), { data: { message: 'Empty bucket has been queued. Completion may take up to an hour.' }, error: null });
  assert.deepEqual((await s.from('zeta').list()).data, []);
  assert.deepEqual(await s.deleteBucket('zeta'), { data: { message: 'Successfully deleted' }, error: null });
  assert.equal((await s.getBucket('zeta')).error?.message, 'Bucket not found');
});

test('bucket errors have storage-api status codes and bodies', async () => {
  const post = (body: unknown, key?: string) => storageFetch(p, '/bucket', {
    method: 'POST', key, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  await client(p).storage.createBucket('dup');
  const cases: [unknown, number, string, string][] = [
    [{ name: 'dup' }, 409, 'Duplicate', 'The resource already exists'],
    [{ name: 'bad/name' }, 400, 'Invalid Input', 'Bucket name invalid'],
    [{ name: ' padded' }, 400, 'Invalid Input', 'Bucket name invalid'],
    [{ name: '..' }, 400, 'Invalid Input', 'Bucket name invalid'],
    [{}, 400, 'MissingParameter', 'Missing Required Parameter name'],
    [{ name: 'big', file_size_limit: '10TB' }, 400, 'InvalidRequest', 'Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B'],
    [{ name: 'huge', file_size_limit: 10 ** 13 }, 413, 'Payload too large', 'The object exceeded the maximum allowed size'],
    [{ name: 'mimes', allowed_mime_types: ['not a mime'] }, 415, 'invalid_mime_type', 'mime type not a mime is not supported'],
  ];
  for (const [body, statusCode, error, message] of cases) {
    const e = await errorOf(await post(body));
    // storage-api sends client errors as HTTP 400 and the meaningful status in the body.
    assert.deepEqual({ status: e.status, statusCode: e.statusCode, error: e.error, message: e.message },
      { status: 400, statusCode: String(statusCode), error, message }, JSON.stringify(body));
  }
  const anon = await errorOf(await post({ name: 'by-anon' }, p.anonKey));
  assert.deepEqual([anon.statusCode, anon.error, anon.message], ['403', 'Unauthorized', 'new row violates row-level security policy']);
  const missing = await errorOf(await storageFetch(p, '/bucket/nope', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"public":true}' }));
  assert.deepEqual([missing.statusCode, missing.message], ['404', 'Bucket not found']);
  const nothing = await errorOf(await storageFetch(p, '/bucket/dup', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' }));
  assert.deepEqual([nothing.statusCode, nothing.message], ['400', 'No content provided']);
  const badJson = await errorOf(await storageFetch(p, '/bucket', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }));
  assert.equal(badJson.statusCode, '400');
  const badSort = await errorOf(await storageFetch(p, '/bucket?sortColumn=owner'));
  assert.equal(badSort.code, 'InvalidParameter');
  const badToken = await errorOf(await storageFetch(p, '/bucket', { key: 'not-a-jwt' }));
  assert.deepEqual([badToken.status, badToken.statusCode, badToken.error], [400, '403', 'Unauthorized']);
  assert.equal((await errorOf(await storageFetch(p, '/nowhere'))).statusCode, '404');
});

test('anon sees no buckets without a policy; RLS on storage.buckets decides', async () => {
  const anon = client(p, p.anonKey).storage;
  assert.deepEqual((await anon.listBuckets()).data, []);
  assert.equal((await anon.getBucket('dup')).error?.message, 'Bucket not found');
});
