// Shapes where Supabase Storage's current behaviour is the reference (issue 14's parity list): bucket JSON,
// bucket search, object info.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject } from '../helpers/platform.ts';
import { client, rawRequest, storageFetch } from './helpers.ts';

test('bucket JSON has file_size_limit as a number; ?search= matches % and _ literally; info metadata is {}', async () => {
  const p = await createProject();
  const s = client(p).storage;
  await s.createBucket('a_b', { public: false, fileSizeLimit: 1000 });
  await s.createBucket('axb');
  const one = await (await storageFetch(p, '/bucket/a_b')).json();
  assert.equal(one.file_size_limit, 1000);
  const all = await (await storageFetch(p, '/bucket')).json();
  assert.deepEqual(all.map((b: { id: string; file_size_limit: unknown }) => [b.id, b.file_size_limit]), [['a_b', 1000], ['axb', null]]);
  const names = async (q: string) => (await (await storageFetch(p, `/bucket?search=${encodeURIComponent(q)}`)).json()).map((b: { id: string }) => b.id);
  assert.deepEqual(await names('_'), ['a_b']);
  assert.deepEqual(await names('%'), []);
  assert.deepEqual(await names('A'), ['a_b', 'axb']);
  // The same through supabase-js' listBuckets({ search }).
  assert.deepEqual((await s.listBuckets({ search: '_' })).data!.map((b) => [b.id, b.file_size_limit]), [['a_b', 1000]]);
  assert.deepEqual((await s.listBuckets({ search: '%' })).data, []);
  await s.from('axb').upload('plain.txt', Buffer.from('x'), { contentType: 'text/plain' });
  assert.deepEqual((await (await storageFetch(p, '/object/info/axb/plain.txt')).json()).metadata, {});
});

test('/status and /version answer without a key; a request without any credential gets storage-api\'s 400', async () => {
  const p = await createProject();
  const status = await storageFetch(p, '/status', { key: null });
  assert.deepEqual([status.status, await status.text()], [200, '']);
  const version = await storageFetch(p, '/version', { key: null });
  assert.equal(version.status, 200);
  assert.match(version.headers.get('content-type')!, /^text\/plain/);
  assert.match(await version.text(), /^\d+\.\d+\.\d+/);
  for (const [method, path] of [['GET', '/bucket'], ['POST', '/object/list/x'], ['DELETE', '/object/x/y.txt'], ['POST', '/object/x/y.txt']]) {
    const res = await storageFetch(p, path, { method, key: null, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{"prefix":""}' : undefined });
    assert.deepEqual({ status: res.status, ...(await res.json()) },
      { status: 400, statusCode: '400', code: 'InvalidRequest', error: 'Error', message: "headers must have required property 'authorization'" }, `${method} ${path}`);
  }
  // The apikey alone still identifies the caller (supabase-js always sends both).
  assert.equal((await storageFetch(p, '/bucket', { key: null, headers: { apikey: p.serviceKey } })).status, 200);
});

test('list-v2: folders carry key, any sortBy with a delimiter (folders by their first object), empty-bucket words', async () => {
  const p = await createProject();
  const s = client(p).storage;
  await s.createBucket('b');
  // Created in this order: z.txt, m/ (m/1.txt), a.txt, c/ (c/1.txt) — then m/2.txt and z.txt again, much later.
  for (const name of ['z.txt', 'm/1.txt', 'a.txt', 'c/1.txt']) {
    assert.equal((await s.from('b').upload(name, Buffer.from(name))).error, null);
    await new Promise((r) => setTimeout(r, 20));
  }
  await s.from('b').upload('m/2.txt', Buffer.from('later'));
  await s.from('b').upload('z.txt', Buffer.from('again'), { upsert: true });
  const byName = await s.from('b').listV2({ with_delimiter: true });
  assert.deepEqual(byName.data!.folders.map((f) => [f.key, f.name]), [['c', 'c/'], ['m', 'm/']]);
  assert.deepEqual(byName.data!.objects.map((o) => [o.key, o.name]), [['a.txt', 'a.txt'], ['z.txt', 'z.txt']]);
  const created = await s.from('b').listV2({ with_delimiter: true, sortBy: { column: 'created_at', order: 'asc' } });
  assert.equal(created.error, null);
  assert.deepEqual(created.data!.folders.map((f) => f.name), ['m/', 'c/']);
  assert.deepEqual(created.data!.objects.map((o) => o.name), ['z.txt', 'a.txt']);
  const updated = await s.from('b').listV2({ with_delimiter: true, sortBy: { column: 'updated_at', order: 'desc' } });
  assert.deepEqual(updated.data!.objects.map((o) => o.name), ['z.txt', 'a.txt']);
  // A folder keeps the place of its first object, as Supabase's does.
  assert.deepEqual(updated.data!.folders.map((f) => f.name), ['c/', 'm/']);
  // Pages in that order continue where the last one ended.
  const first = await s.from('b').listV2({ with_delimiter: true, limit: 2, sortBy: { column: 'created_at', order: 'asc' } });
  assert.equal(first.data!.hasNext, true);
  const rest = await s.from('b').listV2({ with_delimiter: true, limit: 2, cursor: first.data!.nextCursor });
  assert.deepEqual([...first.data!.folders, ...first.data!.objects, ...rest.data!.folders, ...rest.data!.objects].map((e) => e.name).sort(),
    ['a.txt', 'c/', 'm/', 'z.txt']);
  const nested = await s.from('b').listV2({ with_delimiter: true, prefix: 'm/' });
  assert.deepEqual(nested.data!.objects.map((o) => [o.key, o.name]), [['1.txt', 'm/1.txt'], ['2.txt', 'm/2.txt']]);
  assert.deepEqual(await s.emptyBucket('b'), { data: { message: 'Empty bucket has been queued. Completion may take up to an hour.' }, error: null });
});

test('empty path segments (a///b) are kept as Supabase keeps them', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('b');
  const up = await rawRequest(p, 'POST', '/object/b/a///b.txt', 'slashes', { 'content-type': 'text/plain' });
  assert.equal(up.status, 200, up.body);
  assert.deepEqual(JSON.parse(up.body).Key, 'b/a///b.txt');
  assert.equal((await rawRequest(p, 'GET', '/object/b/a///b.txt')).body, 'slashes');
  const all = await client(p).storage.from('b').listV2();
  assert.deepEqual(all.data!.objects.map((o) => o.name), ['a///b.txt']);
  // Still refused: dot segments and a leading slash.
  for (const bad of ['a/../b.txt', '/abs.txt']) assert.equal((await rawRequest(p, 'POST', `/object/b/${bad}`, 'x', { 'content-type': 'text/plain' })).status, 400, bad);
});
