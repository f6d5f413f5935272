// Sign-in with an OpenID Connect provider (a local oidc-provider, Keycloak-shaped, configured as `keycloak` with
// external_keycloak_url): supabase-js' signInWithOAuth in the implicit and the PKCE flow, signInWithIdToken,
// identity linking and unlinking; GoTrue's errors for disabled providers and bad input; state, nonce and
// redirect_to checks; and no token or state of one project working on another.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { http, loam, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure, newEmail } from './helpers.ts';
import { startIdp, type Idp } from './oidc-idp.ts';

const APP = 'https://app.example.com';
let idp: Idp;
let p: Project;
let other: Project;

const providerSettings = (issuer: string, clientIds = 'loam,native-app') => ({
  external_keycloak_enabled: true, external_keycloak_client_id: clientIds, external_keycloak_secret: 'loam-secret',
  external_keycloak_url: issuer, site_url: APP, uri_allow_list: `${APP}/**`,
});

before(async () => {
  // The provider runs on this machine: allow a loopback issuer (as an operator would for one on its network).
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  const { url } = await loam();
  [p, other] = await Promise.all([authProject(), authProject()]);
  idp = await startIdp([
    { client_id: 'loam', client_secret: 'loam-secret', redirect_uris: [`${url}/project/${p.ref}/auth/v1/callback`, `${url}/project/${other.ref}/auth/v1/callback`] },
    { client_id: 'native-app', client_secret: 'native-secret', redirect_uris: ['http://127.0.0.1:1/native'] },
  ]);
  await configure(p, providerSettings(idp.issuer));
});
after(async () => { delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE; await idp?.close(); });

/** A callback's redirect (not followed) and the error fields GoTrue puts in its query. */
async function callbackAnswer(url: string): Promise<{ status: number; to: URL }> {
  const res = await fetch(url, { redirect: 'manual' });
  await res.body?.cancel();
  return { status: res.status, to: new URL(res.headers.get('location') ?? 'about:blank') };
}

const account = (email = newEmail()) => ({ sub: `kc-${crypto.randomBytes(6).toString('hex')}`, email, name: 'Kay Cloak' });

/** An ID token for the native app (as a mobile app would get one from the provider), with a hashed nonce. */
async function nativeIdToken(rawNonce?: string): Promise<string> {
  const config = await oidc.discovery(new URL(idp.issuer), 'native-app', 'native-secret', undefined, { execute: [oidc.allowInsecureRequests] });
  const nonce = rawNonce && crypto.createHash('sha256').update(rawNonce).digest('hex');
  const start = oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:1/native', scope: 'openid email profile', state: 's', response_mode: 'query', ...(nonce ? { nonce } : {}) });
  const back = await idp.follow(start.href, 'http://127.0.0.1:1/native');
  const tokens = await oidc.authorizationCodeGrant(config, new URL(back), { expectedState: 's', expectedNonce: nonce, idTokenExpected: true });
  return tokens.id_token!;
}

describe('disabled and unknown providers (GoTrue words)', () => {
  it('/authorize refuses them; id_token too', async () => {
    const unknown = await authHttp(other, 'GET', '/authorize?provider=nope');
    assert.deepEqual([unknown.status, unknown.body], [400, { code: 'validation_failed', message: 'Unsupported provider: Provider nope could not be found' }]);
    const off = await authHttp(other, 'GET', '/authorize?provider=keycloak');
    assert.deepEqual([off.status, off.body], [400, { code: 'validation_failed', message: 'Unsupported provider: provider is not enabled' }]);
    const { error } = await client(other).auth.signInWithIdToken({ provider: 'google', token: 'x.y.z' });
    assert.equal(error?.status, 400);
    assert.equal(error?.code, 'provider_disabled');
    assert.equal(error?.message, 'Provider (issuer "https://accounts.google.com") is not enabled');
    const linking = await authHttp(other, 'GET', '/user/identities/authorize?provider=keycloak', { token: other.anonKey });
    assert.equal(linking.status, 403); // no user: GoTrue asks for one before anything else
  });
});

describe('the caller\'s other /authorize parameters', () => {
  it('go on to the provider (Google\'s access_type, prompt), never over Loam\'s own', async () => {
    const res = await fetch(`${p.url}/auth/v1/authorize?provider=keycloak&access_type=offline&prompt=consent&state=mine&nonce=mine&redirect_uri=https://evil.example.net&client_id=evil`, { redirect: 'manual' });
    await res.body?.cancel();
    const to = new URL(res.headers.get('location')!);
    assert.equal(to.searchParams.get('access_type'), 'offline');
    assert.equal(to.searchParams.get('prompt'), 'consent');
    assert.equal(to.searchParams.get('client_id'), 'loam');
    assert.equal(to.searchParams.get('redirect_uri'), `${p.url}/auth/v1/callback`);
    assert.notEqual(to.searchParams.get('state'), 'mine');
    assert.notEqual(to.searchParams.get('nonce'), 'mine');
  });
});

describe('a provider that gives no email', () => {
  it('GoTrue\'s error at the callback, unless external_keycloak_email_optional', async () => {
    const who = { sub: `kc-${crypto.randomBytes(6).toString('hex')}`, email: undefined as unknown as string, name: 'No Mail' };
    const start = async () => {
      idp.signInAs(who);
      const { data } = await client(p).auth.signInWithOAuth({ provider: 'keycloak', options: { redirectTo: APP, skipBrowserRedirect: true } });
      return new URL(await idp.follow(data.url!, APP));
    };
    const refused = await start();
    assert.equal(refused.searchParams.get('error_code'), 'unexpected_failure');
    assert.equal(refused.searchParams.get('error_description'), 'Error getting user email from external provider');
    await configure(p, { external_keycloak_email_optional: true });
    try {
      const ok = await start();
      const token = new URLSearchParams(ok.hash.slice(1)).get('access_token');
      assert.ok(token, ok.href);
      const { data } = await client(p).auth.getUser(token!);
      assert.ok(!data.user!.email);
      assert.equal(data.user!.identities![0].id, who.sub);
    } finally {
      await configure(p, { external_keycloak_email_optional: null });
    }
  });
});

describe('the provider URL is the tenant\'s', () => {
  it('Loam never fetches it from a private or loopback address (unless the operator allows it)', async () => {
    const q = await authProject(providerSettings(idp.issuer.replace('127.0.0.1', 'localhost')));
    delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE;
    try {
      const res = await authHttp(q, 'GET', '/authorize?provider=keycloak');
      assert.equal(res.status, 502);
      assert.match(res.body.message, /private or loopback/);
      const literal = await authProject(providerSettings('http://169.254.169.254/latest'));
      const meta = await authHttp(literal, 'GET', '/authorize?provider=keycloak');
      assert.equal(meta.status, 502);
      assert.match(meta.body.message, /private or loopback/);
    } finally {
      process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
    }
  });
});

describe('signInWithOAuth', () => {
  it('implicit flow: the provider\'s user gets a session in the redirect fragment and a keycloak identity', async () => {
    const who = account();
    idp.signInAs(who);
    const c = client(p);
    const { data, error } = await c.auth.signInWithOAuth({ provider: 'keycloak', options: { redirectTo: `${APP}/welcome`, skipBrowserRedirect: true } });
    assert.equal(error, null);
    const back = new URL(await idp.follow(data.url!, APP));
    assert.equal(back.origin + back.pathname, `${APP}/welcome`);
    const f = new URLSearchParams(back.hash.slice(1));
    assert.equal(f.get('token_type'), 'bearer');
    assert.ok(f.get('provider_token'));
    const { data: s, error: setError } = await c.auth.setSession({ access_token: f.get('access_token')!, refresh_token: f.get('refresh_token')! });
    assert.equal(setError, null);
    assert.equal(s.user!.email, who.email);
    assert.equal(s.user!.app_metadata.provider, 'keycloak');
    assert.deepEqual(s.user!.app_metadata.providers, ['keycloak']);
    assert.equal(s.user!.user_metadata.full_name, 'Kay Cloak');
    assert.ok(s.user!.email_confirmed_at);
    const identity = s.user!.identities!.find((i) => i.provider === 'keycloak')!;
    assert.equal(identity.id !== undefined, true);
    assert.equal(identity.identity_data!.sub, who.sub);
    assert.equal(identity.identity_data!.iss, idp.issuer);
    const claims = JSON.parse(Buffer.from(f.get('access_token')!.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims.amr.map((a: { method: string }) => a.method), ['oauth']);

    // The same provider user again: the same Loam user.
    const again = await c.auth.signInWithOAuth({ provider: 'keycloak', options: { skipBrowserRedirect: true } });
    const f2 = new URLSearchParams(new URL(await idp.follow(again.data.url!, APP)).hash.slice(1));
    const second = await c.auth.getUser(f2.get('access_token')!);
    assert.equal(second.data.user!.id, s.user!.id);
  });

  it('PKCE flow: a code comes back and exchangeCodeForSession turns it into a session', async () => {
    const who = account();
    idp.signInAs(who);
    const c = client(p, p.anonKey, { flowType: 'pkce' });
    const { data } = await c.auth.signInWithOAuth({ provider: 'keycloak', options: { redirectTo: `${APP}/cb`, skipBrowserRedirect: true } });
    assert.match(data.url!, /code_challenge=/);
    const back = new URL(await idp.follow(data.url!, APP));
    const code = back.searchParams.get('code')!;
    assert.ok(code);
    const { data: s, error } = await c.auth.exchangeCodeForSession(code);
    assert.equal(error, null);
    assert.equal(s.user!.email, who.email);
    // A code is good once.
    assert.ok((await c.auth.exchangeCodeForSession(code)).error);
  });

  it('a sign-up in someone else\'s name (unconfirmed) loses its password when the owner signs in with the provider', async () => {
    const victim = account();
    const attacker = client(p);
    assert.equal((await attacker.auth.signUp({ email: victim.email, password: 'attacker password 1' })).error, null);
    idp.signInAs(victim);
    const c = client(p);
    const { data } = await c.auth.signInWithOAuth({ provider: 'keycloak', options: { skipBrowserRedirect: true } });
    const f = new URLSearchParams(new URL(await idp.follow(data.url!, APP)).hash.slice(1));
    const { data: s } = await c.auth.getUser(f.get('access_token')!);
    assert.equal(s.user!.email, victim.email);
    assert.deepEqual(s.user!.identities!.map((i) => i.provider), ['keycloak']);
    const stolen = await attacker.auth.signInWithPassword({ email: victim.email, password: 'attacker password 1' });
    assert.equal(stolen.error?.code, 'invalid_credentials');
  });

  it('redirect_to outside the allow list lands on the site URL', async () => {
    idp.signInAs(account());
    const { data } = await client(p).auth.signInWithOAuth({ provider: 'keycloak', options: { redirectTo: 'https://evil.example.net/steal', skipBrowserRedirect: true } });
    const back = new URL(await idp.follow(data.url!, 'https://'));
    assert.equal(back.origin, APP);
  });

  it('a callback with an unknown or replayed state is refused; so is a state from another project', async () => {
    const { url } = await loam();
    const base = `${url}/project/${p.ref}/auth/v1/callback`;
    const bogus = await callbackAnswer(`${base}?state=${crypto.randomUUID()}&code=abc`);
    // GoTrue's loadFlowState: 303 to the site URL, the error in the query only.
    assert.equal(bogus.status, 303);
    assert.equal(bogus.to.origin, APP);
    assert.equal(bogus.to.searchParams.get('error'), 'invalid_request');
    assert.equal(bogus.to.searchParams.get('error_code'), 'bad_oauth_state');
    assert.equal(bogus.to.searchParams.get('error_description'), 'OAuth state not found or expired');
    assert.equal(bogus.to.hash, '');
    const missing = await callbackAnswer(`${base}?code=abc`);
    assert.deepEqual([missing.status, missing.to.searchParams.get('error_code'), missing.to.searchParams.get('error_description')],
      [303, 'bad_oauth_callback', 'OAuth state parameter missing']);
    const invalid = await callbackAnswer(`${base}?code=abc&state=not-a-uuid`);
    assert.deepEqual([invalid.to.searchParams.get('error_code'), invalid.to.searchParams.get('error_description')], ['bad_oauth_state', 'OAuth state parameter is invalid']);

    idp.signInAs(account());
    const start = await client(p).auth.signInWithOAuth({ provider: 'keycloak', options: { redirectTo: `${APP}/here`, skipBrowserRedirect: true } });
    const callback = await idp.follow(start.data.url!, base);
    const first = await callbackAnswer(callback);
    assert.ok(new URLSearchParams(first.to.hash.slice(1)).get('access_token'));
    const replay = await callbackAnswer(callback);
    assert.equal(replay.to.searchParams.get('error_code'), 'bad_oauth_state');
    assert.equal(new URLSearchParams(replay.to.hash.slice(1)).get('access_token'), null);

    // A provider's refusal comes back to the app in GoTrue's form.
    const denied = await client(p).auth.signInWithOAuth({ provider: 'keycloak', options: { redirectTo: `${APP}/here`, skipBrowserRedirect: true } });
    const state = new URL((await callbackAnswer(denied.data.url!)).to).searchParams.get('state');
    const refusal = await callbackAnswer(`${base}?state=${state}&error=access_denied&error_description=no+thanks`);
    assert.equal(refusal.to.pathname, '/here');
    assert.equal(refusal.to.searchParams.get('error'), 'access_denied');
    assert.equal(refusal.to.searchParams.get('error_description'), 'no thanks');

    // Project B has the provider too, but A's state means nothing there.
    await configure(other, providerSettings(idp.issuer));
    const startA = await client(p).auth.signInWithOAuth({ provider: 'keycloak', options: { skipBrowserRedirect: true } });
    const cbA = new URL(await idp.follow(startA.data.url!, base));
    const onB = await callbackAnswer(`${url}/project/${other.ref}/auth/v1/callback${cbA.search}`);
    assert.equal(onB.to.searchParams.get('error_code'), 'bad_oauth_state');
    assert.equal(new URLSearchParams(onB.to.hash.slice(1)).get('access_token'), null);
  });
});

describe('signInWithIdToken', () => {
  it('verifies the provider\'s signature, audience and nonce, and signs in', async () => {
    const who = account();
    idp.signInAs(who);
    const c = client(p);
    const token = await nativeIdToken('raw-nonce-1');
    const { data, error } = await c.auth.signInWithIdToken({ provider: 'keycloak', token, nonce: 'raw-nonce-1' });
    assert.equal(error, null);
    assert.equal(data.user!.identities!.find((i) => i.provider === 'keycloak')!.identity_data!.sub, who.sub);

    const wrongNonce = await c.auth.signInWithIdToken({ provider: 'keycloak', token, nonce: 'other' });
    assert.equal(wrongNonce.error?.message, 'Nonces mismatch');
    const noNonce = await c.auth.signInWithIdToken({ provider: 'keycloak', token });
    assert.equal(noNonce.error?.message, 'Passed nonce and nonce in id_token should either both exist or not.');
    const [h, b, s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(b, 'base64url').toString()), sub: 'someone-else' })).toString('base64url')}.${s}`;
    const bad = await c.auth.signInWithIdToken({ provider: 'keycloak', token: forged, nonce: 'raw-nonce-1' });
    assert.equal(bad.error?.message, 'Bad ID token');
    const raw = await authHttp(p, 'POST', '/token?grant_type=id_token', { body: { provider: 'keycloak' } });
    assert.deepEqual([raw.status, raw.body], [400, { error: 'invalid request', error_description: 'id_token required' }]);
  });

  it('an ID token for project A\'s client is no good on project B, and A\'s session is nothing on B', async () => {
    await configure(other, providerSettings(idp.issuer, 'b-only-client'));
    idp.signInAs(account());
    const token = await nativeIdToken();
    const onB = await client(other).auth.signInWithIdToken({ provider: 'keycloak', token });
    assert.match(onB.error?.message ?? '', /^Unacceptable audience in id_token/);
    const onA = await client(p).auth.signInWithIdToken({ provider: 'keycloak', token });
    assert.equal(onA.error, null);
    const bUser = await authHttp(other, 'GET', '/user', { token: onA.data.session!.access_token });
    assert.equal(bUser.status, 403);
    assert.equal(bUser.body.code, 'bad_jwt');
    const bRefresh = await client(other).auth.refreshSession({ refresh_token: onA.data.session!.refresh_token });
    assert.ok(bRefresh.error);
  });
});

describe('identity linking', () => {
  it('is off unless security_manual_linking_enabled; then links, unlinks, and keeps the last identity', async () => {
    const email = newEmail();
    const c = client(p);
    await authHttp(p, 'POST', '/admin/users', { token: p.serviceKey, apikey: p.serviceKey, body: { email, password: PASSWORD, email_confirm: true } });
    assert.equal((await c.auth.signInWithPassword({ email, password: PASSWORD })).error, null);
    const off = await c.auth.linkIdentity({ provider: 'keycloak', options: { skipBrowserRedirect: true } });
    assert.equal(off.error?.status, 404);
    assert.equal(off.error?.code, 'manual_linking_disabled');
    assert.equal(off.error?.message, 'Manual linking is disabled');

    await configure(p, { security_manual_linking_enabled: true });
    const who = account(newEmail());
    idp.signInAs(who);
    const { data, error } = await c.auth.linkIdentity({ provider: 'keycloak', options: { redirectTo: `${APP}/linked`, skipBrowserRedirect: true } });
    assert.equal(error, null);
    const back = new URL(await idp.follow(data.url!, APP));
    assert.equal(back.pathname, '/linked');
    const { data: ids } = await c.auth.getUserIdentities();
    assert.deepEqual(ids!.identities.map((i) => i.provider).sort(), ['email', 'keycloak']);

    // The same provider account cannot be linked to a second user.
    const email2 = newEmail();
    await authHttp(p, 'POST', '/admin/users', { token: p.serviceKey, apikey: p.serviceKey, body: { email: email2, password: PASSWORD, email_confirm: true } });
    const c2 = client(p);
    await c2.auth.signInWithPassword({ email: email2, password: PASSWORD });
    const taken = await c2.auth.linkIdentity({ provider: 'keycloak', options: { skipBrowserRedirect: true } });
    const { url } = await loam();
    const cb = await idp.follow(taken.data.url!, `${url}/project/${p.ref}/auth/v1/callback`);
    const refused = await callbackAnswer(cb);
    assert.equal(refused.to.searchParams.get('error_code'), 'identity_already_exists');
    assert.equal(refused.to.searchParams.get('error_description'), 'Identity is already linked to another user');

    // Linking with an ID token (supabase-js linkIdentity({ provider, token })): needs a signed-in user.
    const c3 = client(p);
    const email3 = newEmail();
    await authHttp(p, 'POST', '/admin/users', { token: p.serviceKey, apikey: p.serviceKey, body: { email: email3, password: PASSWORD, email_confirm: true } });
    await c3.auth.signInWithPassword({ email: email3, password: PASSWORD });
    idp.signInAs(account(newEmail()));
    const idToken = await nativeIdToken();
    const noUser = await http('POST', `/project/${p.ref}/auth/v1/token?grant_type=id_token`, { body: { provider: 'keycloak', id_token: idToken, link_identity: true }, headers: { apikey: p.anonKey } });
    assert.deepEqual(noUser.body, { error: 'invalid request', error_description: 'Linking requires a valid user access token in Authorization' });
    const linked = await c3.auth.linkIdentity({ provider: 'keycloak', token: idToken });
    assert.equal(linked.error, null);
    assert.equal(linked.data.user!.email, email3);
    assert.deepEqual((await c3.auth.getUserIdentities()).data!.identities.map((i) => i.provider).sort(), ['email', 'keycloak']);

    const keycloak = ids!.identities.find((i) => i.provider === 'keycloak')!;
    assert.equal((await c.auth.unlinkIdentity(keycloak)).error, null);
    const { data: left } = await c.auth.getUserIdentities();
    assert.deepEqual(left!.identities.map((i) => i.provider), ['email']);
    const last = await c.auth.unlinkIdentity(left!.identities[0]);
    assert.equal(last.error?.code, 'single_identity_not_deletable');
    const foreign = await authHttp(p, 'DELETE', `/user/identities/${crypto.randomUUID()}`, { token: (await c2.auth.getSession()).data.session!.access_token });
    assert.equal(foreign.status, 422);
  });
});
