// Shapes where Supabase Storage's current behaviour is the reference (issue 14's parity list): bucket JSON,
// bucket search, object info.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject } from '../helpers/platform.ts';
import { client, storageFetch } from './helpers.ts';

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
  await s.from('axb').upload('plain.txt', Buffer.from('x'), { contentType: 'text/plain' });
  assert.deepEqual((await (await storageFetch(p, '/object/info/axb/plain.txt')).json()).metadata, {});
});
