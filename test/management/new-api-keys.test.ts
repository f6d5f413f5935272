// The new API keys (sb_publishable_… / sb_secret_…) and the legacy switch, end to end: made through the
// Management API, accepted by the data plane as Supabase's gateway accepts them (publishable = anon, secret =
// service_role, never as JWTs), refused from a browser (secret), from another project, and once deleted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';

async function newKey(p: Project, type: 'publishable' | 'secret', name: string) {
  const res = await http('POST', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token, body: { type, name } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; api_key: string; prefix: string; hash: string; type: string; name: string };
}

async function withItems(p: Project) {
  await sql(p, `create table items (id int primary key, secret boolean not null default false);
    alter table items enable row level security;
    create policy select_public on items for select to anon using (not secret);
    grant select on items to anon, service_role;
    insert into items values (1, false), (2, true)`);
}

const rest = (p: Project, headers: Record<string, string>, path = '/rest/v1/items?select=id&order=id') =>
  fetch(`${p.url}${path}`, { headers });

test('create, list (masked unless revealed), get, rename, delete; shapes as Supabase\'s', async () => {
  const p = await createProject();
  const pub = await newKey(p, 'publishable', 'web_app');
  const sec = await newKey(p, 'secret', 'ci_server');
  assert.match(pub.api_key, /^sb_publishable_[A-Za-z0-9_-]{20,}$/);
  assert.match(sec.api_key, /^sb_secret_[A-Za-z0-9_-]{30,}$/);
  assert.ok(sec.api_key.startsWith(sec.prefix));

  const masked = await http('GET', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token });
  assert.equal(masked.status, 200);
  const byName = Object.fromEntries(masked.body.map((k: { name: string }) => [k.name, k]));
  assert.deepEqual(Object.keys(byName).sort(), ['anon', 'ci_server', 'service_role', 'web_app']);
  assert.equal(byName.web_app.api_key, pub.api_key, 'publishable keys are always shown');
  assert.notEqual(byName.ci_server.api_key, sec.api_key);
  assert.equal(byName.ci_server.api_key, sec.prefix, 'masked: the identifying prefix only');
  assert.equal(sec.prefix.length, 'sb_secret_'.length + 5);
  assert.deepEqual(byName.ci_server.secret_jwt_template, { role: 'service_role' });
  assert.equal(byName.anon.type, 'legacy');
  for (const k of ['id', 'type', 'prefix', 'name', 'hash', 'inserted_at', 'updated_at']) assert.ok(k in byName.ci_server, k);

  const revealed = await http('GET', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token });
  assert.equal(revealed.body.find((k: { name: string }) => k.name === 'ci_server').api_key, sec.api_key);
  const one = await http('GET', `/v1/projects/${p.ref}/api-keys/${sec.id}?reveal=true`, { token: p.owner.token });
  assert.equal(one.body.api_key, sec.api_key);

  const renamed = await http('PATCH', `/v1/projects/${p.ref}/api-keys/${sec.id}`, { token: p.owner.token, body: { name: 'ci_server_rotated' } });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, 'ci_server_rotated');

  // Errors a user can hit: status, code and message.
  const dup = await http('POST', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token, body: { type: 'secret', name: 'web_app' } });
  assert.deepEqual([dup.status, dup.body.code], [409, 'api_key_name_taken']);
  const badName = await http('POST', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token, body: { type: 'secret', name: 'No' } });
  assert.deepEqual([badName.status, badName.body.code], [400, 'invalid_body']);
  const badType = await http('POST', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token, body: { type: 'legacy', name: 'legacy_one' } });
  assert.deepEqual([badType.status, badType.body.message], [400, 'type must be publishable or secret']);
  const badRole = await http('POST', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token, body: { type: 'secret', name: 'as_postgres', secret_jwt_template: { role: 'postgres' } } });
  assert.equal(badRole.status, 400);
  const missing = await http('DELETE', `/v1/projects/${p.ref}/api-keys/00000000-0000-4000-8000-000000000000`, { token: p.owner.token });
  assert.deepEqual([missing.status, missing.body.code], [404, 'api_key_not_found']);

  // Another account cannot see or touch the project's keys.
  const q = await createProject();
  const foreign = await http('DELETE', `/v1/projects/${p.ref}/api-keys/${sec.id}`, { token: q.owner.token });
  assert.equal(foreign.status, 404);

  const del = await http('DELETE', `/v1/projects/${p.ref}/api-keys/${sec.id}?was_compromised=true&reason=leak`, { token: p.owner.token });
  assert.equal(del.status, 200);
  assert.equal(del.body.id, sec.id);
  assert.equal((await http('GET', `/v1/projects/${p.ref}/api-keys/${sec.id}`, { token: p.owner.token })).status, 404);
});

test('data plane: publishable = anon, secret = service_role, on REST, GraphQL, storage and auth; supabase-js works with them', async () => {
  const p = await createProject();
  await withItems(p);
  const pub = await newKey(p, 'publishable', 'web_app');
  const sec = await newKey(p, 'secret', 'backend');

  // supabase-js sends the key as apikey and as Bearer.
  const anon = createClient(p.url, pub.api_key, { auth: { persistSession: false } });
  assert.deepEqual((await anon.from('items').select('id').order('id')).data, [{ id: 1 }]);
  const service = createClient(p.url, sec.api_key, { auth: { persistSession: false } });
  assert.deepEqual((await service.from('items').select('id').order('id')).data, [{ id: 1 }, { id: 2 }]);
  // Only the apikey header, as Supabase's docs ask.
  assert.deepEqual(await (await rest(p, { apikey: sec.api_key })).json(), [{ id: 1 }, { id: 2 }]);

  // Storage: the secret key is the service role (creates a bucket), the publishable one is anon (cannot).
  assert.equal((await service.storage.createBucket('files')).error, null);
  assert.notEqual((await anon.storage.createBucket('other')).error, null);
  // Auth admin with the secret key in apikey alone, as the Supabase knowledge base shows.
  const users = await fetch(`${p.url}/auth/v1/admin/users`, { headers: { apikey: sec.api_key } });
  assert.equal(users.status, 200);
  const notAdmin = await fetch(`${p.url}/auth/v1/admin/users`, { headers: { apikey: pub.api_key, authorization: `Bearer ${pub.api_key}` } });
  assert.equal(notAdmin.status, 403);
  // GraphQL.
  const gql = await fetch(`${p.url}/graphql/v1`, {
    method: 'POST', headers: { apikey: sec.api_key, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  assert.equal(gql.status, 200);

  // A key only as the Bearer is no key at all, as at Supabase's gateway.
  const bearerOnly = await rest(p, { authorization: `Bearer ${sec.api_key}` });
  assert.equal(bearerOnly.status, 401);
  assert.equal((await bearerOnly.json()).message, 'No API key found in request');
  // A key in Authorization must be the request's apikey too: a JWT is never an API key and vice versa.
  const mismatch = await rest(p, { apikey: pub.api_key, authorization: `Bearer ${sec.api_key}` });
  assert.equal(mismatch.status, 401);
  assert.equal((await mismatch.json()).code, 'PGRST301');
});

test('gateway rules: unknown key, another project\'s key, a secret key from a browser, a deleted key', async () => {
  const p = await createProject();
  const q = await createProject();
  await withItems(p);
  const sec = await newKey(p, 'secret', 'backend');
  const pub = await newKey(p, 'publishable', 'web_app');
  const other = await newKey(q, 'secret', 'backend');

  for (const key of [other.api_key, `sb_secret_${'x'.repeat(32)}`, `sb_publishable_${'y'.repeat(22)}`]) {
    const res = await rest(p, { apikey: key });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { code: 'invalid_api_key', message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    // Every area refuses it the same way, before its own handler.
    for (const path of ['/auth/v1/user', '/storage/v1/bucket', '/graphql/v1', '/functions/v1/anything']) {
      assert.equal((await rest(p, { apikey: key }, path)).status, 401, path);
    }
  }

  const browser = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
  const fromBrowser = await rest(p, { apikey: sec.api_key, 'user-agent': browser });
  assert.equal(fromBrowser.status, 401);
  assert.equal((await fromBrowser.json()).message, 'Forbidden use of secret API key in browser');
  assert.equal((await rest(p, { apikey: pub.api_key, 'user-agent': browser })).status, 200, 'publishable keys are for browsers');

  // Deleted: refused from the next request on.
  assert.equal((await rest(p, { apikey: sec.api_key })).status, 200);
  await http('DELETE', `/v1/projects/${p.ref}/api-keys/${sec.id}`, { token: p.owner.token });
  assert.equal((await rest(p, { apikey: sec.api_key })).status, 401);
});

test('legacy keys can be turned off (and on again) on every API', async () => {
  const p = await createProject();
  await withItems(p);
  const pub = await newKey(p, 'publishable', 'web_app');
  assert.deepEqual((await http('GET', `/v1/projects/${p.ref}/api-keys/legacy`, { token: p.owner.token })).body, { enabled: true });
  const bad = await http('PUT', `/v1/projects/${p.ref}/api-keys/legacy?enabled=maybe`, { token: p.owner.token });
  assert.equal(bad.status, 400);

  const off = await http('PUT', `/v1/projects/${p.ref}/api-keys/legacy?enabled=false`, { token: p.owner.token });
  assert.deepEqual([off.status, off.body], [200, { enabled: false }]);
  for (const key of [p.anonKey, p.serviceKey]) {
    const res = await rest(p, { apikey: key, authorization: `Bearer ${key}` });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).message, 'Legacy API keys are disabled');
  }
  // Smuggled in as the Bearer next to a valid new key: still refused.
  const smuggled = await rest(p, { apikey: pub.api_key, authorization: `Bearer ${p.serviceKey}` });
  assert.equal(smuggled.status, 401);
  assert.equal((await rest(p, { apikey: pub.api_key })).status, 200);

  await http('PUT', `/v1/projects/${p.ref}/api-keys/legacy?enabled=true`, { token: p.owner.token });
  assert.equal((await rest(p, { apikey: p.serviceKey })).status, 200);
});

test('S3 session mode: a publishable key signs as the legacy anon key does; legacy keys off, the anon key no longer does', async () => {
  const { S3Client, ListBucketsCommand } = await import('@aws-sdk/client-s3');
  const { configure } = await import('../auth/helpers.ts');
  const p = await createProject();
  await configure(p, { mailer_autoconfirm: true });
  const pub = await newKey(p, 'publishable', 'web_app');
  const signedUp = await createClient(p.url, pub.api_key, { auth: { persistSession: false } }).auth.signUp({ email: `s3${Date.now()}@example.com`, password: 'a fine password 1' });
  const session = signedUp.data.session!.access_token;
  const s3 = (secret: string) => new S3Client({
    endpoint: `${p.url}/storage/v1/s3`, region: 'local', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: p.ref, secretAccessKey: secret, sessionToken: session },
  });
  const outcome = (secret: string) => s3(secret).send(new ListBucketsCommand({})).then(() => 'ok', (e: { Code?: string; name: string }) => e.Code ?? e.name);
  assert.equal(await outcome(pub.api_key), 'ok');
  assert.equal(await outcome(p.anonKey), 'ok');
  assert.equal(await outcome(`sb_publishable_${'q'.repeat(22)}`), 'SignatureDoesNotMatch');
  await http('PUT', `/v1/projects/${p.ref}/api-keys/legacy?enabled=false`, { token: p.owner.token });
  assert.equal(await outcome(p.anonKey), 'SignatureDoesNotMatch');
  assert.equal(await outcome(pub.api_key), 'ok');
});
