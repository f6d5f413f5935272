// Access is whatever RLS on storage.objects allows: two users with folder-per-user policies (a role × operation
// matrix), public buckets readable without a key, and keys of one project worthless on another.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { client, errorOf, storageFetch, user, type User } from './helpers.ts';

let p: Project;
let alice: User;
let bob: User;

before(async () => {
  p = await createProject();
  [alice, bob] = [await user(p), await user(p)];
  await sql(p, `
    insert into storage.buckets (id, name, public) values ('private', 'private', false), ('pub', 'pub', true);
    create policy "read own folder" on storage.objects for select to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
    create policy "write own folder" on storage.objects for insert to authenticated
      with check (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
    create policy "update own folder" on storage.objects for update to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);
    create policy "delete own folder" on storage.objects for delete to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = auth.uid()::text);`);
  const svc = client(p).storage;
  for (const u of [alice, bob]) {
    assert.equal((await svc.from('private').upload(`${u.id}/seed.txt`, Buffer.from(`seed of ${u.id}`), { contentType: 'text/plain' })).error, null);
  }
  assert.equal((await svc.from('pub').upload('hello.txt', Buffer.from('public hello'), { contentType: 'text/plain' })).error, null);
  assert.equal((await svc.from('pub').upload('img/x.txt', Buffer.from('x'), { contentType: 'text/plain' })).error, null);
});

type Outcome = 'ok' | 'rls' | 'not_found' | 'denied' | 'no_bucket';

function outcome(error: unknown): Outcome {
  if (!error) return 'ok';
  const e = error as { message: string; statusCode: string };
  if (e.message === 'new row violates row-level security policy') return 'rls';
  if (e.message === 'Object not found') return 'not_found';
  if (e.message === 'Access denied') return 'denied';
  if (e.message === 'Bucket not found') return 'no_bucket';
  throw new Error(`unexpected error ${JSON.stringify(e)}`);
}

test('folder-per-user policies: role × operation matrix', async () => {
  const anonClient = client(p, p.anonKey).storage;
  const who = { alice: alice.client.storage, service: client(p).storage, anon: anonClient };
  const own = (u: User) => `${u.id}`;
  let n = 0;
  const fresh = () => `f${n++}.txt`;
  const matrix: [keyof typeof who, string, () => Promise<{ error: unknown }>, Outcome][] = [
    ['alice', 'upload to own folder', () => who.alice.from('private').upload(`${own(alice)}/${fresh()}`, Buffer.from('a'), { contentType: 'text/plain' }), 'ok'],
    ['alice', 'upload to bob\'s folder', () => who.alice.from('private').upload(`${own(bob)}/${fresh()}`, Buffer.from('a'), { contentType: 'text/plain' }), 'rls'],
    ['alice', 'upsert over bob\'s file', () => who.alice.from('private').upload(`${own(bob)}/seed.txt`, Buffer.from('a'), { contentType: 'text/plain', upsert: true }), 'rls'],
    ['alice', 'download own file', () => who.alice.from('private').download(`${own(alice)}/seed.txt`), 'ok'],
    ['alice', 'download bob\'s file', () => who.alice.from('private').download(`${own(bob)}/seed.txt`), 'not_found'],
    ['alice', 'info of bob\'s file', () => who.alice.from('private').info(`${own(bob)}/seed.txt`), 'not_found'],
    ['alice', 'sign bob\'s file', () => who.alice.from('private').createSignedUrl(`${own(bob)}/seed.txt`, 60), 'not_found'],
    ['alice', 'move bob\'s file', () => who.alice.from('private').move(`${own(bob)}/seed.txt`, `${own(alice)}/stolen.txt`), 'not_found'],
    ['alice', 'copy bob\'s file', () => who.alice.from('private').copy(`${own(bob)}/seed.txt`, `${own(alice)}/stolen.txt`), 'not_found'],
    ['alice', 'copy own file into bob\'s folder', () => who.alice.from('private').copy(`${own(alice)}/seed.txt`, `${own(bob)}/gift.txt`), 'rls'],
    ['anon', 'upload', () => who.anon.from('private').upload(`${own(alice)}/${fresh()}`, Buffer.from('a'), { contentType: 'text/plain' }), 'rls'],
    ['anon', 'download', () => who.anon.from('private').download(`${own(alice)}/seed.txt`), 'not_found'],
    ['service', 'download bob\'s file', () => who.service.from('private').download(`${own(bob)}/seed.txt`), 'ok'],
    ['service', 'upload anywhere', () => who.service.from('private').upload(`elsewhere/${fresh()}`, Buffer.from('a'), { contentType: 'text/plain' }), 'ok'],
  ];
  const got = [];
  for (const [role, op, run] of matrix) got.push([role, op, outcome((await run()).error)]);
  assert.deepEqual(got, matrix.map(([role, op, , expected]) => [role, op, expected]));

  // Listing shows each user only their own folder.
  assert.deepEqual((await who.alice.from('private').list(own(bob))).data, []);
  assert.deepEqual((await who.alice.from('private').list()).data!.map((e) => e.name), [alice.id]);
  assert.ok((await who.service.from('private').list()).data!.length >= 3);
  // Deleting: RLS hides bob's file from alice (nothing removed), his own goes.
  assert.deepEqual((await who.alice.from('private').remove([`${own(bob)}/seed.txt`])).data, []);
  const denied = await errorOf(await storageFetch(p, `/object/private/${own(bob)}/seed.txt`, { method: 'DELETE', key: alice.token }));
  assert.deepEqual([denied.statusCode, denied.message], ['403', 'Access denied']);
  assert.equal((await bob.client.storage.from('private').download(`${own(bob)}/seed.txt`)).error, null);
  assert.deepEqual((await bob.client.storage.from('private').remove([`${own(bob)}/seed.txt`])).data!.length, 1);
  // Uploads denied by RLS leave no row behind.
  assert.equal((await sql(p, `select count(*)::int as n from storage.objects where name like '${bob.id}/f%'`))[0].n, 0);
});

test('a public bucket serves reads without a key; writes and listing still follow RLS', async () => {
  const { data } = client(p, p.anonKey).storage.from('pub').getPublicUrl('hello.txt');
  const noKey = await fetch(data.publicUrl);
  assert.equal(noKey.status, 200);
  assert.equal(await noKey.text(), 'public hello');
  assert.equal((await fetch(data.publicUrl, { method: 'HEAD' })).headers.get('content-length'), '12');
  const info = await storageFetch(p, '/object/info/public/pub/hello.txt', { key: null });
  assert.equal((await info.json()).name, 'hello.txt');
  // Without any key the plain object route serves public buckets as anon (storage-api's allowInvalidJwt route),
  // as it does with the anon key; with a user's key RLS is not consulted either.
  const anonymous = await storageFetch(p, '/object/pub/hello.txt', { key: null });
  assert.equal(await anonymous.text(), 'public hello');
  assert.equal(await (await storageFetch(p, '/object/pub/hello.txt', { key: p.anonKey })).text(), 'public hello');
  assert.equal(await (await alice.client.storage.from('pub').download('hello.txt')).data!.text(), 'public hello');
  assert.equal((await storageFetch(p, '/object/public/pub/missing.txt', { key: null })).status, 400);
  // A private bucket is not public.
  const priv = await errorOf(await storageFetch(p, `/object/public/private/${alice.id}/seed.txt`, { key: null }));
  assert.deepEqual([priv.statusCode, priv.message], ['404', 'Bucket not found']);
  // With the anon key RLS decides: anon sees nothing in it.
  const privAnon = await errorOf(await storageFetch(p, `/object/private/${alice.id}/seed.txt`, { key: p.anonKey }));
  assert.deepEqual([privAnon.statusCode, privAnon.message], ['404', 'Object not found']);
  // Writing and listing a public bucket still need a policy.
  assert.equal(outcome((await client(p, p.anonKey).storage.from('pub').upload('spam.txt', Buffer.from('x'), { contentType: 'text/plain' })).error), 'rls');
  assert.deepEqual((await client(p, p.anonKey).storage.from('pub').list()).data, []);
});

test('keys and user tokens of one project get nothing from another', async () => {
  const other = await createProject();
  const foreignService = client(p, other.serviceKey).storage;
  const asForeign = await foreignService.from('private').download(`${alice.id}/seed.txt`);
  // The download route reads a bad token as no token (storage-api's allowInvalidJwt): a private bucket is then not found.
  assert.equal(asForeign.error?.message, 'Bucket not found');
  const strict = await errorOf(await storageFetch(p, `/object/authenticated/private/${alice.id}/seed.txt`, { key: other.serviceKey }));
  assert.deepEqual([strict.statusCode, strict.error], ['403', 'Unauthorized']);
  assert.equal((await foreignService.listBuckets()).error?.message, 'signature verification failed');
  // Alice's token on the other project: a valid-looking JWT signed with the wrong secret.
  const e = await errorOf(await storageFetch(other, '/bucket', { key: alice.token }));
  assert.deepEqual([e.status, e.statusCode, e.error], [400, '403', 'Unauthorized']);
  // The other project's service key cannot list, upload into, or sign this project's objects.
  const up = await storageFetch(p, `/object/private/${alice.id}/x.txt`, { method: 'POST', key: other.serviceKey, headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal((await errorOf(up)).statusCode, '403');
  const sign = await storageFetch(p, `/object/sign/private/${alice.id}/seed.txt`, { method: 'POST', key: other.serviceKey, headers: { 'content-type': 'application/json' }, body: '{"expiresIn":60}' });
  assert.equal((await errorOf(sign)).statusCode, '403');
  // Same bucket and key in the other project is a different object.
  await client(other).storage.createBucket('private');
  assert.equal((await client(other).storage.from('private').download(`${alice.id}/seed.txt`)).error?.message, 'Object not found');
});
