// JWT signing keys, attacker-style: sessions signed with the asymmetric key in use (ES256, RS256) carry its kid,
// verify on REST, GraphQL, storage and realtime's HTTP API and locally in supabase-js (getClaims through the
// JWKS); rotation keeps previously used keys valid until revoked; a revoked key, another project's key, `alg:
// none` and HS256 "signed" with a public key are refused.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { signJwt } from '../../server/src/project/jwt.ts';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { configure } from '../auth/helpers.ts';

const PASSWORD = 'a fine password 1';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

async function project(): Promise<Project> {
  const p = await createProject();
  await configure(p, { mailer_autoconfirm: true });
  await sql(p, `create table notes (id int primary key, owner uuid not null default auth.uid());
    alter table notes enable row level security;
    create policy mine on notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
    grant select, insert on notes to authenticated`);
  return p;
}

async function session(p: Project, key = p.anonKey, email = `u${crypto.randomBytes(5).toString('hex')}@example.com`) {
  const c = createClient(p.url, key, { auth: { persistSession: false, autoRefreshToken: false } });
  const { data, error } = await c.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  return { c, token: data.session!.access_token, user: data.user! };
}

const keys = (p: Project) => http('GET', `/v1/projects/${p.ref}/config/auth/signing-keys`, { token: p.owner.token });
const create = (p: Project, body: unknown) => http('POST', `/v1/projects/${p.ref}/config/auth/signing-keys`, { token: p.owner.token, body });
const setStatus = (p: Project, id: string, status: string) =>
  http('PATCH', `/v1/projects/${p.ref}/config/auth/signing-keys/${id}`, { token: p.owner.token, body: { status } });
const rest = (p: Project, token: string, apikey = p.anonKey) => fetch(`${p.url}/rest/v1/notes?select=id`, { headers: { apikey, authorization: `Bearer ${token}` } });
const jwks = async (p: Project) => (await (await fetch(`${p.url}/auth/v1/.well-known/jwks.json`)).json()).keys as { kid: string; alg: string; d?: string }[];

test('rotation to ES256: sessions carry the kid, every API verifies them, getClaims verifies locally, revocation stops them', async () => {
  const p = await project();
  const legacy = await session(p);
  assert.equal(headerOf(legacy.token).alg, 'HS256');
  assert.deepEqual(await jwks(p), [], 'only the symmetric secret: nothing to publish');

  const listed = await keys(p);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.keys.map((k: { algorithm: string; status: string }) => [k.algorithm, k.status]), [['HS256', 'in_use']]);
  const legacyKey = (await http('GET', `/v1/projects/${p.ref}/config/auth/signing-keys/legacy`, { token: p.owner.token })).body;
  assert.equal(legacyKey.public_jwk, null);

  const made = await create(p, { algorithm: 'ES256' });
  assert.equal(made.status, 201);
  assert.equal(made.body.status, 'standby');
  assert.equal(made.body.public_jwk.kty, 'EC');
  assert.equal(made.body.public_jwk.d, undefined, 'never the private key');
  // Standby keys are published before they sign anything, so caches hold them in time.
  assert.deepEqual((await jwks(p)).map((k) => [k.kid, k.alg]), [[made.body.id, 'ES256']]);

  const rotated = await setStatus(p, made.body.id, 'in_use');
  assert.deepEqual([rotated.status, rotated.body.status], [200, 'in_use']);
  assert.equal((await keys(p)).body.keys.find((k: { id: string }) => k.id === legacyKey.id).status, 'previously_used');

  const user = await session(p);
  assert.deepEqual(headerOf(user.token), { alg: 'ES256', kid: made.body.id, typ: 'JWT' });
  assert.ok((await jwks(p)).every((k) => k.d === undefined));

  // REST (with RLS on the user's id), storage, GraphQL, realtime's HTTP API and auth accept it.
  assert.equal((await fetch(`${p.url}/rest/v1/notes`, { method: 'POST', headers: { apikey: p.anonKey, authorization: `Bearer ${user.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 1 }) })).status, 201);
  assert.deepEqual(await (await rest(p, user.token)).json(), [{ id: 1 }]);
  assert.equal((await fetch(`${p.url}/storage/v1/bucket`, { headers: { apikey: p.anonKey, authorization: `Bearer ${user.token}` } })).status, 200);
  const gql = await fetch(`${p.url}/graphql/v1`, { method: 'POST', headers: { apikey: p.anonKey, authorization: `Bearer ${user.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
  assert.equal(gql.status, 200);
  assert.equal((await fetch(`${p.url}/auth/v1/user`, { headers: { apikey: p.anonKey, authorization: `Bearer ${user.token}` } })).status, 200);
  const broadcast = await fetch(`${p.url}/realtime/v1/api/broadcast`, {
    method: 'POST', headers: { apikey: p.anonKey, authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ topic: 't', event: 'e', payload: {} }] }),
  });
  assert.equal(broadcast.status, 202);

  // supabase-js verifies the session itself, from the JWKS: no call to /auth/v1/user.
  const calls: string[] = [];
  const watched = createClient(p.url, p.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { fetch: (input, init) => { calls.push(String(input)); return fetch(input, init); } },
  });
  const claims = await watched.auth.getClaims(user.token);
  assert.equal(claims.error, null);
  assert.equal(claims.data!.claims.sub, user.user.id);
  assert.ok(calls.some((u) => u.endsWith('/auth/v1/.well-known/jwks.json')));
  assert.ok(!calls.some((u) => u.includes('/auth/v1/user')));
  // A tampered token fails getClaims.
  const [h, , s] = user.token.split('.');
  const forged = `${h}.${b64({ ...claims.data!.claims, role: 'service_role' })}.${s}`;
  assert.notEqual((await watched.auth.getClaims(forged)).error, null);
  assert.equal((await rest(p, forged)).status, 401);

  // The old HS256 session still works while the legacy secret is only previously used; revoked, it stops.
  assert.equal((await rest(p, legacy.token)).status, 200);
  const revoked = await setStatus(p, legacyKey.id, 'revoked');
  assert.deepEqual([revoked.status, revoked.body.status], [200, 'revoked']);
  const refused = await rest(p, legacy.token);
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).code, 'PGRST301');
  // The legacy API keys are signed with that secret too.
  assert.equal((await fetch(`${p.url}/rest/v1/notes`, { headers: { apikey: p.serviceKey } })).status, 401);

  // So the app moves to a publishable key, which no signing key change touches.
  const pub = await http('POST', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token, body: { type: 'publishable', name: 'web_app' } });
  const anonLegacyRefused = await session(p).catch((e: Error) => e);
  assert.ok(anonLegacyRefused instanceof Error);

  // Rotate again (RS256): the ES256 key becomes previously used (its sessions still valid), then revoked.
  const rsa = await create(p, { algorithm: 'RS256', status: 'in_use' });
  assert.equal(rsa.status, 201);
  assert.equal(rsa.body.public_jwk.kty, 'RSA');
  const rsUser = await session(p, pub.body.api_key);
  assert.equal(headerOf(rsUser.token).alg, 'RS256');
  assert.equal((await rest(p, rsUser.token, pub.body.api_key)).status, 200);
  assert.equal((await rest(p, user.token, pub.body.api_key)).status, 200);
  assert.equal((await setStatus(p, made.body.id, 'revoked')).status, 200);
  assert.equal((await rest(p, user.token, pub.body.api_key)).status, 401);
  assert.ok(!(await jwks(p)).some((k) => k.kid === made.body.id), 'revoked keys leave the JWKS');

  // Life-cycle errors.
  const inUse = await http('DELETE', `/v1/projects/${p.ref}/config/auth/signing-keys/${rsa.body.id}`, { token: p.owner.token });
  assert.deepEqual([inUse.status, inUse.body.code], [400, 'signing_key_not_removable']);
  const backToStandby = await setStatus(p, rsa.body.id, 'standby');
  assert.deepEqual([backToStandby.status, backToStandby.body.code], [400, 'invalid_signing_key_status']);
  const gone = await http('DELETE', `/v1/projects/${p.ref}/config/auth/signing-keys/${made.body.id}`, { token: p.owner.token });
  assert.equal(gone.status, 200);
  assert.equal((await http('GET', `/v1/projects/${p.ref}/config/auth/signing-keys/${made.body.id}`, { token: p.owner.token })).status, 404);
  assert.equal((await create(p, { algorithm: 'PS512' })).status, 400);
});

test('attacks: alg none, HS256 signed with the public key, another project\'s signing key, a forged kid', async () => {
  const p = await project();
  const q = await project();
  const made = await create(p, { algorithm: 'ES256', status: 'in_use' });
  const user = await session(p);
  const claims = JSON.parse(Buffer.from(user.token.split('.')[1], 'base64url').toString());
  const service = { ...claims, role: 'service_role' };

  // alg: none, with and without the kid.
  for (const header of [{ alg: 'none', typ: 'JWT' }, { alg: 'none', kid: made.body.id }]) {
    const res = await rest(p, `${b64(header)}.${b64(service)}.`);
    assert.equal(res.status, 401);
  }
  // HS256 keyed with the public key (its JWK text, its PEM, its raw x coordinate), naming the ES256 key's kid.
  const pub = made.body.public_jwk;
  const pem = crypto.createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
  for (const secret of [JSON.stringify(pub), pem, pub.x]) {
    const h = b64({ alg: 'HS256', typ: 'JWT', kid: made.body.id });
    const body = b64(service);
    const sig = crypto.createHmac('sha256', secret).update(`${h}.${body}`).digest('base64url');
    assert.equal((await rest(p, `${h}.${body}.${sig}`)).status, 401);
  }
  // A key the attacker made, claiming the project's kid.
  const { privateKey } = await generateKeyPair('ES256');
  const forged = await new SignJWT(service).setProtectedHeader({ alg: 'ES256', kid: made.body.id }).sign(privateKey);
  assert.equal((await rest(p, forged)).status, 401);
  // An RS256 header naming the ES256 key.
  const { privateKey: rsaKey } = await generateKeyPair('RS256');
  assert.equal((await rest(p, await new SignJWT(service).setProtectedHeader({ alg: 'RS256', kid: made.body.id }).sign(rsaKey))).status, 401);

  // Project A's session (and its kid) means nothing to project B, which has no such key.
  assert.equal((await rest(p, user.token)).status, 200);
  const onB = await fetch(`${q.url}/rest/v1/notes?select=id`, { headers: { apikey: q.anonKey, authorization: `Bearer ${user.token}` } });
  assert.equal(onB.status, 401);
  // Even when B has keys of its own, of the same algorithm.
  await create(q, { algorithm: 'ES256', status: 'in_use' });
  assert.equal((await fetch(`${q.url}/rest/v1/notes?select=id`, { headers: { apikey: q.anonKey, authorization: `Bearer ${user.token}` } })).status, 401);
  // Project B's legacy secret signs nothing of A's either.
  assert.equal((await rest(p, signJwt({ ...claims }, 'not-the-secret-not-the-secret-000'))).status, 401);
});

test('an imported private key signs sessions; an invalid or public one is refused', async () => {
  const p = await project();
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = crypto.randomUUID();
  const res = await create(p, { algorithm: 'ES256', status: 'in_use', private_jwk: { ...jwk, kid } });
  assert.equal(res.status, 201);
  assert.equal(res.body.id, kid);
  const user = await session(p);
  assert.equal(headerOf(user.token).kid, kid);
  // A token signed elsewhere with the imported key is as valid as one the project made.
  const claims = JSON.parse(Buffer.from(user.token.split('.')[1], 'base64url').toString());
  const outside = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
  assert.equal((await rest(p, outside)).status, 200);

  const { d: _d, ...publicOnly } = jwk;
  assert.equal((await create(p, { algorithm: 'ES256', private_jwk: publicOnly })).status, 400);
  assert.equal((await create(p, { algorithm: 'RS256', private_jwk: jwk })).status, 400);
});
