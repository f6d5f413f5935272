// The project's OAuth 2.1 server: a client registers (dynamically or by the admin), sends a user to
// /oauth/authorize, the site's consent page reads and answers the request with supabase-js' auth.oauth.*, the
// client exchanges the code (PKCE S256) and refreshes; the access token reads the user's rows through REST under
// RLS, and is worth nothing on another project. GoTrue's errors for disabled features and bad requests; attacks:
// a wrong verifier, a reused code, an unregistered redirect_uri, another client's code, a client of project A on B.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, it } from 'node:test';
import { http, sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure, newEmail } from './helpers.ts';

const SITE = 'https://app.example.com';
const REDIRECT = 'https://client.example.org/callback';
let p: Project;
let other: Project;

before(async () => {
  const settings = { mailer_autoconfirm: true, site_url: SITE, oauth_server_enabled: true,
    oauth_server_allow_dynamic_registration: true, oauth_server_authorization_path: '/oauth/consent' };
  [p, other] = await Promise.all([authProject(settings), authProject(settings)]);
  await sql(p, `
    create table public.notes (
      id bigint generated always as identity primary key,
      user_id uuid not null default auth.uid() references auth.users on delete cascade,
      body text not null
    );
    alter table public.notes enable row level security;
    create policy select_own on public.notes for select to authenticated using (auth.uid() = user_id);
    grant select on public.notes to authenticated;`);
});

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const pkcePair = () => {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
};

async function user(project = p) {
  const c = client(project);
  const email = newEmail();
  const { data, error } = await c.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  return { c, email, id: data.user!.id, token: data.session!.access_token };
}

const admin = (project: Project) => ({ token: project.serviceKey, apikey: project.serviceKey });

/** A public client: registered by the app itself (RFC 7591) when `dynamic`, else by the admin (dynamic
 *  registration is limited to 10 per 5 minutes per IP, and all these tests share one IP). */
async function registerPublic(project = p, dynamic = false) {
  const body = { client_name: 'Public app', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' };
  const res = dynamic
    ? await authHttp(project, 'POST', '/oauth/clients/register', { body })
    : await authHttp(project, 'POST', '/admin/oauth/clients', { ...admin(project), body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { client_id: string };
}

async function registerConfidential(project = p) {
  const res = await authHttp(project, 'POST', '/admin/oauth/clients', { ...admin(project), body: { client_name: 'Server app', redirect_uris: [REDIRECT] } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { client_id: string; client_secret: string };
}

/** /oauth/authorize as the browser follows it (no key of the project): the redirect to the consent page. */
async function authorize(project: Project, query: Record<string, string>) {
  const { url } = await import('../helpers/platform.ts').then((m) => m.loam());
  const res = await fetch(`${url}/project/${project.ref}/auth/v1/oauth/authorize?${new URLSearchParams(query)}`, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location') ?? '', body: res.status === 302 ? null : await res.json() };
}

/** The whole browser part: authorize, consent page reads and approves; returns the code. */
async function codeFor(u: Awaited<ReturnType<typeof user>>, clientId: string, challenge: string, project = p, scope = 'openid email') {
  const a = await authorize(project, { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope, state: 'st8', code_challenge: challenge, code_challenge_method: 'S256' });
  assert.equal(a.status, 302, JSON.stringify(a.body));
  const consentPage = new URL(a.location);
  assert.equal(consentPage.origin + consentPage.pathname, `${SITE}/oauth/consent`);
  const id = consentPage.searchParams.get('authorization_id')!;
  const details = await u.c.auth.oauth.getAuthorizationDetails(id);
  assert.equal(details.error, null, JSON.stringify(details.error));
  const approved = await u.c.auth.oauth.approveAuthorization(id, { skipBrowserRedirect: true });
  assert.equal(approved.error, null, JSON.stringify(approved.error));
  const back = new URL((approved.data as any).redirect_url);
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('state'), 'st8');
  return { code: back.searchParams.get('code')!, details: details.data as any, authorizationId: id };
}

async function token(project: Project, form: Record<string, string>, headers: Record<string, string> = {}) {
  const { url } = await import('../helpers/platform.ts').then((m) => m.loam());
  const res = await fetch(`${url}/project/${project.ref}/auth/v1/oauth/token`, {
    // The client's backend knows no key of the project: the token endpoint is open, as at Supabase.
    method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  return { status: res.status, body: await res.json() as any };
}

describe('OAuth server: discovery and disabled features', () => {
  it('publishes GoTrue\'s metadata documents', async () => {
    const oidc = await authHttp(p, 'GET', '/.well-known/openid-configuration');
    assert.equal(oidc.status, 200);
    assert.equal(oidc.body.issuer, `${p.url}/auth/v1`);
    assert.equal(oidc.body.token_endpoint, `${p.url}/auth/v1/oauth/token`);
    assert.equal(oidc.body.registration_endpoint, `${p.url}/auth/v1/oauth/clients/register`);
    assert.deepEqual(oidc.body.code_challenge_methods_supported, ['S256']);
    const as = await authHttp(p, 'GET', '/.well-known/oauth-authorization-server');
    assert.deepEqual(as.body, oidc.body);
  });

  it('off: GoTrue\'s 404 feature_disabled; dynamic registration off: 403', async () => {
    const off = await authProject({ site_url: SITE });
    for (const [method, path] of [['GET', '/.well-known/oauth-authorization-server'], ['GET', '/oauth/authorize?client_id=x'], ['POST', '/oauth/token'], ['POST', '/oauth/clients/register']]) {
      const res = await authHttp(off, method, path, { body: method === 'POST' ? {} : undefined });
      assert.deepEqual([res.status, res.body.code, res.body.message], [404, 'feature_disabled', 'OAuth server is disabled'], path);
    }
    assert.equal((await authHttp(off, 'GET', '/.well-known/openid-configuration')).body.registration_endpoint, undefined);
    await configure(off, { oauth_server_enabled: true });
    const res = await authHttp(off, 'POST', '/oauth/clients/register', { body: { redirect_uris: [REDIRECT] } });
    assert.deepEqual([res.status, res.body.code, res.body.message], [403, 'oauth_dynamic_client_registration_disabled', 'Dynamic client registration is not enabled']);
  });
});

describe('OAuth server: the authorization code flow', () => {
  it('public client: register, authorize, consent, code + verifier → a project JWT that reads the user\'s rows under RLS; refresh', async () => {
    const [u, someoneElse] = [await user(), await user()];
    await sql(p, `insert into public.notes (user_id, body) values ('${u.id}', 'mine'), ('${someoneElse.id}', 'not mine')`);
    const c = await registerPublic(p, true);
    const { verifier, challenge } = pkcePair();
    const { code, details } = await codeFor(u, c.client_id, challenge);
    assert.equal(details.client.name, 'Public app');
    assert.equal(details.user.email, u.email);
    assert.equal(details.scope, 'openid email');

    const t = await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id, redirect_uri: REDIRECT });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const jwt = claims(t.body.access_token);
    assert.equal(jwt.sub, u.id);
    assert.equal(jwt.client_id, c.client_id);
    assert.equal(jwt.scope, 'openid email');
    assert.equal(jwt.role, 'authenticated');
    assert.equal(jwt.amr[0].method, 'oauth_provider/authorization_code');
    const id = claims(t.body.id_token);
    assert.deepEqual(id.aud, [c.client_id]);
    assert.equal(id.email, u.email);

    const rows = await http('GET', `/project/${p.ref}/rest/v1/notes?select=body`, { token: t.body.access_token, headers: { apikey: p.anonKey } });
    assert.equal(rows.status, 200);
    assert.deepEqual(rows.body, [{ body: 'mine' }]);

    const info = await authHttp(p, 'GET', '/oauth/userinfo', { token: t.body.access_token });
    assert.deepEqual(info.body, { sub: u.id, email: u.email, email_verified: true });

    const r = await token(p, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: c.client_id });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(claims(r.body.access_token).client_id, c.client_id);
    assert.notEqual(r.body.refresh_token, t.body.refresh_token);
    // The client's refresh token is not a first-party one: supabase-js' /token refuses it, as GoTrue does.
    const firstParty = await authHttp(p, 'POST', '/token?grant_type=refresh_token', { body: { refresh_token: r.body.refresh_token } });
    assert.deepEqual([firstParty.status, firstParty.body.error, firstParty.body.error_description], [400, 'invalid_client', 'Client authentication required for OAuth session']);

    // The user sees the grant and can revoke it; the client's sessions end.
    const grants = await authHttp(p, 'GET', '/user/oauth/grants', { token: u.token });
    assert.deepEqual(grants.body.map((g: any) => g.client.id), [c.client_id]);
    assert.equal((await authHttp(p, 'DELETE', `/user/oauth/grants?client_id=${c.client_id}`, { token: u.token })).status, 204);
    const again = await authHttp(p, 'DELETE', `/user/oauth/grants?client_id=${c.client_id}`, { token: u.token });
    assert.deepEqual([again.status, again.body.code, again.body.message], [404, 'oauth_consent_not_found', 'No active grant found for this client']);
    const after = await token(p, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token, client_id: c.client_id });
    assert.equal(after.status, 400);
  });

  it('a second authorization with consent already given is approved at once', async () => {
    const u = await user();
    const c = await registerPublic();
    await codeFor(u, c.client_id, pkcePair().challenge);
    const a = await authorize(p, { client_id: c.client_id, redirect_uri: REDIRECT, scope: 'email', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const id = new URL(a.location).searchParams.get('authorization_id')!;
    const details = await u.c.auth.oauth.getAuthorizationDetails(id);
    assert.ok((details.data as any).redirect_url.startsWith(`${REDIRECT}?code=`));
  });

  it('confidential client: client_secret_basic; wrong secret, wrong method; regenerate; admin CRUD', async () => {
    const u = await user();
    const c = await registerConfidential();
    const basic = (secret: string) => ({ authorization: `Basic ${Buffer.from(`${c.client_id}:${secret}`).toString('base64')}` });
    const { verifier, challenge } = pkcePair();
    const { code } = await codeFor(u, c.client_id, challenge);
    const wrong = await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier }, basic('nope'));
    assert.deepEqual([wrong.status, wrong.body.error_code, wrong.body.msg], [400, 'invalid_credentials', 'invalid client credentials']);
    const post = await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id, client_secret: c.client_secret });
    assert.equal(post.status, 400);
    assert.match(post.body.msg, /registered for 'client_secret_basic' but 'client_secret_post' was used/);
    const ok = await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier }, basic(c.client_secret));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    const regen = await authHttp(p, 'POST', `/admin/oauth/clients/${c.client_id}/regenerate_secret`, admin(p));
    assert.equal(regen.status, 200);
    assert.notEqual(regen.body.client_secret, c.client_secret);
    const old = await token(p, { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token }, basic(c.client_secret));
    assert.equal(old.status, 400);
    assert.equal((await token(p, { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token }, basic(regen.body.client_secret))).status, 200);

    const list = await authHttp(p, 'GET', '/admin/oauth/clients', admin(p));
    assert.ok(list.body.clients.some((x: any) => x.client_id === c.client_id && x.client_secret === undefined && x.client_secret_hash === undefined));
    const put = await authHttp(p, 'PUT', `/admin/oauth/clients/${c.client_id}`, { ...admin(p), body: { client_name: 'Renamed' } });
    assert.equal(put.body.client_name, 'Renamed');
    assert.deepEqual([(await authHttp(p, 'PUT', `/admin/oauth/clients/${c.client_id}`, { ...admin(p), body: {} })).body.message], ['No fields provided for update']);
    assert.equal((await authHttp(p, 'GET', `/admin/oauth/clients/${c.client_id}`, { token: u.token })).status, 403);
    assert.equal((await authHttp(p, 'DELETE', `/admin/oauth/clients/${c.client_id}`, admin(p))).status, 204);
    const gone = await authHttp(p, 'GET', `/admin/oauth/clients/${c.client_id}`, admin(p));
    assert.deepEqual([gone.status, gone.body.code, gone.body.message], [404, 'oauth_client_not_found', 'OAuth client not found']);
  });

  it('deny sends access_denied back to the client', async () => {
    const u = await user();
    const c = await registerPublic();
    const a = await authorize(p, { client_id: c.client_id, redirect_uri: REDIRECT, state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const id = new URL(a.location).searchParams.get('authorization_id')!;
    await u.c.auth.oauth.getAuthorizationDetails(id);
    const denied = await u.c.auth.oauth.denyAuthorization(id, { skipBrowserRedirect: true });
    const back = new URL((denied.data as any).redirect_url);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('error_description'), 'User denied the request');
    assert.equal(back.searchParams.get('state'), 's');
  });
});

describe('OAuth server: refusals and attacks', () => {
  it('authorize: GoTrue\'s errors, in JSON before the redirect_uri is trusted, as redirects after', async () => {
    const c = await registerPublic();
    const json: [Record<string, string>, string, string][] = [
      [{ redirect_uri: REDIRECT }, 'validation_failed', 'client_id is required'],
      [{ client_id: c.client_id }, 'validation_failed', 'redirect_uri is required'],
      [{ client_id: 'nope', redirect_uri: REDIRECT }, 'oauth_client_not_found', 'invalid client_id format'],
      [{ client_id: crypto.randomUUID(), redirect_uri: REDIRECT }, 'oauth_client_not_found', 'invalid client_id'],
      [{ client_id: c.client_id, redirect_uri: 'https://evil.example.net/callback' }, 'validation_failed', 'invalid redirect_uri'],
      [{ client_id: c.client_id, redirect_uri: `${REDIRECT}/more` }, 'validation_failed', 'invalid redirect_uri'],
    ];
    for (const [query, code, message] of json) {
      const a = await authorize(p, query);
      assert.deepEqual([a.status, a.body.error_code, a.body.msg], [400, code, message], JSON.stringify(query));
    }
    const { challenge } = pkcePair();
    const redirected: [Record<string, string>, string][] = [
      [{}, 'PKCE flow requires both code_challenge and code_challenge_method'],
      [{ code_challenge: challenge, code_challenge_method: 'plain' }, "code_challenge_method must be 'S256'"],
      [{ code_challenge: 'short', code_challenge_method: 'S256' }, 'code_challenge must be between 43 and 128 characters'],
      [{ code_challenge: challenge, code_challenge_method: 'S256', response_type: 'token' }, 'only response_type=code is supported'],
      [{ code_challenge: challenge, code_challenge_method: 'S256', scope: 'email admin' }, 'unsupported scope: admin'],
    ];
    for (const [extra, description] of redirected) {
      const a = await authorize(p, { client_id: c.client_id, redirect_uri: REDIRECT, state: 'z', ...extra });
      assert.equal(a.status, 302);
      const back = new URL(a.location);
      assert.equal(back.origin + back.pathname, REDIRECT);
      assert.deepEqual([back.searchParams.get('error'), back.searchParams.get('error_description'), back.searchParams.get('state')], ['invalid_request', description, 'z']);
    }
  });

  it('a wrong code verifier, a reused code, another client\'s code, a redirect_uri that differs', async () => {
    const u = await user();
    const c = await registerPublic();
    const thief = await registerPublic();
    const { verifier, challenge } = pkcePair();
    const { code } = await codeFor(u, c.client_id, challenge);
    const cases: [Record<string, string>, string][] = [
      [{ code_verifier: pkcePair().verifier, client_id: c.client_id }, 'PKCE verification failed: code challenge does not match previously saved code verifier'],
      [{ code_verifier: verifier, client_id: thief.client_id }, 'Authorization code was not issued for this client'],
      [{ code_verifier: verifier, client_id: c.client_id, redirect_uri: 'https://client.example.org/other' }, 'Invalid redirect_uri'],
    ];
    for (const [form, description] of cases) {
      const t = await token(p, { grant_type: 'authorization_code', code, ...form });
      assert.deepEqual([t.status, t.body.error, t.body.error_description], [400, 'invalid_grant', description]);
    }
    assert.equal((await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id })).status, 200);
    const reused = await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id });
    assert.deepEqual([reused.status, reused.body.error, reused.body.error_description], [400, 'invalid_grant', 'Invalid authorization code']);
  });

  it('the consent API: only the user who opened the request, only from the site, once', async () => {
    const u = await user();
    const stranger = await user();
    const c = await registerPublic();
    const a = await authorize(p, { client_id: c.client_id, redirect_uri: REDIRECT, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const id = new URL(a.location).searchParams.get('authorization_id')!;
    const fromEvil = await authHttp(p, 'GET', `/oauth/authorizations/${id}`, { token: u.token, headers: { origin: 'https://evil.example.net' } });
    assert.deepEqual([fromEvil.status, fromEvil.body.message], [400, 'unauthorized request origin']);
    assert.equal((await authHttp(p, 'GET', `/oauth/authorizations/${id}`, { token: u.token, headers: { origin: SITE } })).status, 200);
    const theirs = await authHttp(p, 'POST', `/oauth/authorizations/${id}/consent`, { token: stranger.token, body: { action: 'approve' } });
    assert.deepEqual([theirs.status, theirs.body.code, theirs.body.message], [404, 'oauth_authorization_not_found', 'authorization not found']);
    assert.deepEqual((await authHttp(p, 'POST', `/oauth/authorizations/${id}/consent`, { token: u.token, body: { action: 'maybe' } })).body.message, "action must be 'approve' or 'deny'");
    assert.equal((await authHttp(p, 'POST', `/oauth/authorizations/${id}/consent`, { token: u.token, body: { action: 'approve' } })).status, 200);
    const twice = await authHttp(p, 'POST', `/oauth/authorizations/${id}/consent`, { token: u.token, body: { action: 'approve' } });
    assert.deepEqual([twice.status, twice.body.message], [400, 'authorization request is no longer pending']);
    assert.equal((await authHttp(p, 'GET', '/oauth/authorizations/nope', { token: u.token })).status, 404);
  });

  it('a client of project A is unknown on project B; A\'s OAuth tokens are refused by B', async () => {
    const u = await user();
    const c = await registerPublic();
    const { verifier, challenge } = pkcePair();
    const { code } = await codeFor(u, c.client_id, challenge);
    const onB = await token(other, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id });
    assert.deepEqual([onB.status, onB.body.error_code, onB.body.msg], [400, 'invalid_credentials', 'Invalid client credentials']);
    const a = await authorize(other, { client_id: c.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' });
    assert.deepEqual([a.status, a.body.msg], [400, 'invalid client_id']);
    const t = await token(p, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: c.client_id });
    assert.equal(t.status, 200);
    const rest = await http('GET', `/project/${other.ref}/rest/v1/`, { token: t.body.access_token, headers: { apikey: other.anonKey } });
    assert.equal(rest.status, 401);
    assert.equal((await authHttp(other, 'GET', '/user', { token: t.body.access_token })).status, 403);
    // B's client refreshing A's token: unknown there.
    const bClient = await registerPublic(other);
    const refresh = await token(other, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: bClient.client_id });
    assert.equal(refresh.status, 400);
  });

  it('registration: GoTrue\'s validation messages', async () => {
    const cases: [unknown, string][] = [
      [{}, 'redirect_uris is required'],
      [{ redirect_uris: ['http://example.com/cb'] }, "invalid redirect_uri 'http://example.com/cb': HTTP scheme only allowed for localhost"],
      [{ redirect_uris: ['javascript://x/alert(1)'] }, "invalid redirect_uri 'javascript://x/alert(1)': scheme 'javascript' is not allowed for security reasons"],
      [{ redirect_uris: [REDIRECT], grant_types: ['password'] }, "grant_types must only contain 'authorization_code' and/or 'refresh_token'"],
      [{ redirect_uris: [REDIRECT], client_type: 'public', token_endpoint_auth_method: 'client_secret_basic' },
        "client_type 'public' is inconsistent with token_endpoint_auth_method 'client_secret_basic' (expected client_type 'confidential')"],
    ];
    for (const [body, message] of cases) {
      const res = await authHttp(p, 'POST', '/oauth/clients/register', { body });
      assert.deepEqual([res.status, res.body.code, res.body.message], [400, 'validation_failed', message], JSON.stringify(body));
    }
    const local = await authHttp(p, 'POST', '/oauth/clients/register', { body: { redirect_uris: ['http://localhost:8080/cb'] } });
    assert.equal(local.status, 201);
    assert.equal(local.body.client_type, 'confidential');
    assert.equal(typeof local.body.client_secret, 'string');
    // Registration is open to anyone, so it is rate limited per IP.
    let limited;
    for (let i = 0; i < 11 && !limited; i++) {
      const res = await authHttp(p, 'POST', '/oauth/clients/register', { body: { redirect_uris: [REDIRECT] } });
      if (res.status === 429) limited = res;
    }
    assert.deepEqual([limited?.body.code, limited?.body.message], ['over_request_rate_limit', 'Request rate limit reached']);
  });
});
