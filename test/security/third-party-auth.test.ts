// Third-party auth against an issuer this test runs (a JWKS and an OIDC discovery document on 127.0.0.1):
// refused as a private address until the operator allows it; then its tokens act as their `role` claim
// (authenticated; none → anon; never service_role), must name the configured issuer, do nothing on another
// project, and stop when the integration is deleted.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createProject, http as api, sql, type Project } from '../helpers/platform.ts';

let server: http.Server;
let base = '';
const kid = 'issuer-key-1';
let privateKey: CryptoKey;
let jwk: Record<string, unknown>;
let hits = 0;

before(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
  server = http.createServer((req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks.json` }));
    if (req.url === '/jwks.json') return void res.end(JSON.stringify({ keys: [jwk] }));
    if (req.url === '/huge.json') return void res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(400_000) }));
    res.statusCode = 404;
    res.end('{}');
  });
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => { server.close(); delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE; });

const token = (claims: Record<string, unknown>, iss = base) =>
  new SignJWT({ sub: 'user_2abc', exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setIssuer(iss).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);

async function project(): Promise<Project> {
  const p = await createProject();
  await sql(p, `create table notes (id int primary key, owner text not null default auth.jwt()->>'sub');
    alter table notes enable row level security;
    create policy mine on notes for all to authenticated using (owner = auth.jwt()->>'sub') with check (owner = auth.jwt()->>'sub');
    create policy none_for_anon on notes for select to anon using (false);
    grant select, insert on notes to authenticated, anon`);
  return p;
}
const rest = (p: Project, jwt: string, init: RequestInit = {}) =>
  fetch(`${p.url}/rest/v1/notes?select=id,owner`, { ...init, headers: { apikey: p.anonKey, authorization: `Bearer ${jwt}`, 'content-type': 'application/json', ...init.headers as Record<string, string> } });
const tpa = (p: Project, body: unknown) => api('POST', `/v1/projects/${p.ref}/config/auth/third-party-auth`, { token: p.owner.token, body });

test('private and loopback issuers are refused unless the operator allows them; bad URLs are 400', async () => {
  const p = await project();
  delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE;
  for (const url of [`${base}/jwks.json`, 'http://[::1]/jwks.json', 'http://169.254.169.254/latest', 'http://10.0.0.1/jwks']) {
    const res = await tpa(p, { jwks_url: url });
    assert.equal(res.status, 400, url);
    assert.match(res.body.message, /private or loopback/);
  }
  // A name that resolves to loopback is refused when fetched (nothing is resolved).
  const named = await tpa(p, { jwks_url: `http://localhost:${new URL(base).port}/jwks.json` });
  assert.equal(named.status, 201);
  assert.equal(named.body.resolved_jwks, null);
  const before = hits;
  assert.equal((await rest(p, await token({ role: 'authenticated' }))).status, 401);
  assert.equal(hits, before, 'the issuer was never contacted');
  for (const body of [{ jwks_url: 'file:///etc/passwd' }, { jwks_url: 'not a url' }, { oidc_issuer_url: 'ftp://x.example' }, {}, { jwks_url: 'http://user:pw@example.com/' }]) {
    assert.equal((await tpa(p, body)).status, 400, JSON.stringify(body));
  }
});

test('tokens of a trusted issuer: role claim as PostgREST reads it, never service_role, issuer checked, project-bound, deletable', async () => {
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  const p = await project();
  const q = await project();
  const made = await tpa(p, { oidc_issuer_url: base });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.type, 'oidc');
  assert.deepEqual(made.body.resolved_jwks.keys.map((k: { kid: string }) => k.kid), [kid]);
  assert.ok(made.body.resolved_at);
  const listed = await api('GET', `/v1/projects/${p.ref}/config/auth/third-party-auth`, { token: p.owner.token });
  assert.deepEqual(listed.body.map((t: { id: string }) => t.id), [made.body.id]);
  assert.equal((await api('GET', `/v1/projects/${p.ref}/config/auth/third-party-auth/${made.body.id}`, { token: p.owner.token })).body.oidc_issuer_url, base);
  const dup = await tpa(p, { oidc_issuer_url: base });
  assert.deepEqual([dup.status, dup.body.code], [409, 'third_party_auth_exists']);

  const user = await token({ role: 'authenticated' });
  const ins = await rest(p, user, { method: 'POST', body: JSON.stringify({ id: 1 }) });
  assert.equal(ins.status, 201);
  assert.deepEqual(await (await rest(p, user)).json(), [{ id: 1, owner: 'user_2abc' }]);
  // Other APIs take it too.
  assert.equal((await fetch(`${p.url}/storage/v1/bucket`, { headers: { apikey: p.anonKey, authorization: `Bearer ${user}` } })).status, 200);

  // No role claim: anon (sees nothing here); service_role or a database role: refused.
  assert.deepEqual(await (await rest(p, await token({}))).json(), []);
  for (const role of ['service_role', 'postgres']) {
    const res = await rest(p, await token({ role }));
    assert.equal(res.status, 401, role);
  }
  // Another issuer's name with the same key: refused (the configured issuer is the only one).
  assert.equal((await rest(p, await token({ role: 'authenticated' }, 'https://evil.example'))).status, 401);
  // Expired: refused.
  assert.equal((await rest(p, await token({ role: 'authenticated', exp: Math.floor(Date.now() / 1000) - 3600 }))).status, 401);
  // Project B does not trust this issuer.
  const onB = await fetch(`${q.url}/rest/v1/notes`, { headers: { apikey: q.anonKey, authorization: `Bearer ${user}` } });
  assert.equal(onB.status, 401);

  // Deleted: its tokens stop at once.
  const del = await api('DELETE', `/v1/projects/${p.ref}/config/auth/third-party-auth/${made.body.id}`, { token: p.owner.token });
  assert.equal(del.status, 200);
  assert.equal((await rest(p, user)).status, 401);
  assert.equal((await api('GET', `/v1/projects/${p.ref}/config/auth/third-party-auth/${made.body.id}`, { token: p.owner.token })).status, 404);

  // A JWKS URL works the same; an oversized document is not read past the cap.
  const byJwks = await tpa(p, { jwks_url: `${base}/jwks.json` });
  assert.equal(byJwks.body.type, 'jwks');
  assert.equal((await rest(p, user)).status, 200);
  const huge = await tpa(q, { jwks_url: `${base}/huge.json` });
  assert.deepEqual([huge.status, huge.body.resolved_jwks], [201, null]);
});

test('the issuer rotates its key: a token with the new kid fetches the JWKS again (rate-limited)', async () => {
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  const p = await project();
  assert.equal((await tpa(p, { jwks_url: `${base}/jwks.json` })).status, 201);
  assert.equal((await rest(p, await token({ role: 'authenticated' }))).status, 200);
  // New key at the issuer, under a new kid.
  const pair = await generateKeyPair('ES256', { extractable: true });
  const oldJwk = jwk;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'issuer-key-2', alg: 'ES256', use: 'sig' };
  const fresh = await new SignJWT({ sub: 'user_2abc', role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 })
    .setIssuer(base).setProtectedHeader({ alg: 'ES256', kid: 'issuer-key-2' }).sign(pair.privateKey);
  try {
    // Within the refresh interval the unknown kid does not reach the issuer.
    process.env.LOAM_THIRD_PARTY_AUTH_REFRESH_MS = '3600000';
    let before = hits;
    assert.equal((await rest(p, fresh)).status, 401);
    assert.equal(hits, before);
    // Past it, one fetch, and the token is accepted.
    process.env.LOAM_THIRD_PARTY_AUTH_REFRESH_MS = '0';
    before = hits;
    assert.equal((await rest(p, fresh)).status, 200);
    assert.equal(hits, before + 1);
  } finally {
    delete process.env.LOAM_THIRD_PARTY_AUTH_REFRESH_MS;
    jwk = oldJwk;
  }
});
