// Sign-in with the rest of GoTrue's providers (auth/oauth-providers.ts): Apple (form_post callback, ID token,
// signInWithIdToken), Facebook, X (PKCE towards X), Slack (OIDC), Spotify, Twitch, Notion, Zoom, Figma, Kakao,
// LinkedIn (OIDC) and WorkOS, each against the local fake (oauth-fake.ts) through its `external_<p>_url`: the
// authorization URL GoTrue builds, the whole redirect → callback → session flow with supabase-js, identity_data
// exactly as GoTrue maps it, the provider's tokens in the PKCE code exchange, GoTrue's errors, and one project's
// flows, codes and sessions useless on another.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Provider } from '@supabase/supabase-js';
import { loam, type Project } from '../helpers/platform.ts';
import { authHttp, authProject, client, configure } from './helpers.ts';
import { FAKE_ROUTES, FakeProviders, providerSettings, someone, type FakeUser } from './oauth-fake.ts';

const APP = 'https://app.example.com';
const fake = new FakeProviders();
let p: Project;
let other: Project;

const settings = () => ({ site_url: APP, uri_allow_list: `${APP}/**`, ...providerSettings(fake) });

/** A browser: redirects followed, an HTML form (Apple's form_post) posted, until the app is reached. */
async function browse(start: string): Promise<{ providerUrl: URL; landing: URL; posted: boolean }> {
  let next = start;
  let providerUrl: URL | undefined;
  let posted = false;
  let init: RequestInit = { redirect: 'manual' };
  for (let i = 0; i < 6; i++) {
    const res = await fetch(next, init);
    init = { redirect: 'manual' };
    if (res.status === 200 && (res.headers.get('content-type') ?? '').includes('text/html')) {
      const html = await res.text();
      const action = /<form method="post" action="([^"]+)"/.exec(html)![1];
      const fields = new URLSearchParams();
      for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1], m[2].replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
      next = action;
      init = { redirect: 'manual', method: 'POST', body: fields, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
      posted = true;
      continue;
    }
    await res.body?.cancel();
    assert.equal(res.status, 302, `hop ${i} to ${next}`);
    next = res.headers.get('location')!;
    providerUrl ??= new URL(next);
    if (next.startsWith(APP)) return { providerUrl, landing: new URL(next), posted };
  }
  throw new Error(`the flow did not reach the app: ${next}`);
}

async function signInWith(q: Project, provider: string, user: FakeUser, opts: { flowType?: 'pkce' | 'implicit'; scopes?: string; queryParams?: Record<string, string> } = {}) {
  fake.next = user;
  const sb = client(q, q.anonKey, { flowType: opts.flowType ?? 'implicit' });
  const { data, error } = await sb.auth.signInWithOAuth({ provider: provider as Provider,
    options: { redirectTo: `${APP}/done`, skipBrowserRedirect: true, scopes: opts.scopes, queryParams: opts.queryParams } });
  assert.equal(error, null);
  return { sb, ...await browse(data.url!) };
}

const fragment = (u: URL) => new URLSearchParams(u.hash.slice(1));

async function userOf(q: Project, landing: URL) {
  const token = fragment(landing).get('access_token');
  assert.ok(token, `no session at ${landing.href}`);
  const { data, error } = await client(q).auth.getUser(token);
  assert.equal(error, null);
  return data.user!;
}

before(async () => {
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  await Promise.all([loam(), fake.start()]);
  [p, other] = await Promise.all([authProject(settings()), authProject(settings())]);
});
after(async () => { delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE; await fake.close(); });

/** Per provider: the scope GoTrue asks for (null: no scope parameter) and identity_data as GoTrue maps it. */
const CASES: Record<string, { scope: string | null; data: (u: FakeUser, b: string) => Record<string, unknown>; verified?: boolean }> = {
  facebook: { scope: 'email', data: (u, b) => ({ iss: `${b}/fb/me?fields=email,first_name,last_name,name,picture`, sub: String(u.id), provider_id: String(u.id),
    name: 'Dee Veloper', nickname: u.login, picture: `https://fb.example.com/${u.id}.jpg`, slug: u.login, avatar_url: `https://fb.example.com/${u.id}.jpg`,
    full_name: 'Dee Veloper', email: u.email, email_verified: true, phone_verified: false }) },
  x: { scope: 'offline.access tweet.read users.email users.read'.split(' ').sort().join(' '), data: (u, b) => ({ iss: `${b}/x`, sub: String(u.id), provider_id: String(u.id),
    name: 'Dee Veloper', preferred_username: u.login, picture: `https://x.example.com/${u.id}.jpg`, profile: `https://x.com/${u.login}`,
    website: 'https://dee.example.com', custom_claims: { created_at: '2020-01-02T03:04:05.000Z' }, avatar_url: `https://x.example.com/${u.id}.jpg`,
    full_name: 'Dee Veloper', user_name: u.login, email: u.email, email_verified: true, phone_verified: false }) },
  slack_oidc: { scope: 'profile email openid', data: (u, b) => ({ iss: `${b}/sl/api`, sub: `U${u.id}`, provider_id: `U${u.id}`, name: 'Dee Veloper',
    picture: `https://slack.example.com/${u.id}.png`, custom_claims: { 'https://slack.com/team_id': 'T0001' }, avatar_url: `https://slack.example.com/${u.id}.png`,
    full_name: 'Dee Veloper', email: u.email, email_verified: true, phone_verified: false }) },
  // The older Slack provider: an unconfirmed Slack address is still taken as verified, as GoTrue does.
  slack: { scope: 'profile email openid', data: (u, b) => ({ iss: `${b}/sk/api`, sub: `U${u.id}`, provider_id: `U${u.id}`, name: 'Dee Veloper',
    picture: `https://slack.example.com/${u.id}.png`, custom_claims: { 'https://slack.com/team_id': 'T0001' }, avatar_url: `https://slack.example.com/${u.id}.png`,
    full_name: 'Dee Veloper', email: u.email, email_verified: true, phone_verified: false }) },
  spotify: { scope: 'user-read-email', verified: false, data: (u, b) => ({ iss: `${b}/sp`, sub: u.login, provider_id: u.login, name: 'Dee Veloper',
    picture: 'https://sp.example.com/large.jpg', avatar_url: 'https://sp.example.com/large.jpg', full_name: 'Dee Veloper', email: u.email,
    email_verified: false, phone_verified: false }) },
  twitch: { scope: 'user:read:email', data: (u, b) => ({ iss: `${b}/tw`, sub: String(u.id), provider_id: String(u.id), picture: `https://tw.example.com/${u.id}.png`,
    name: u.login, nickname: 'Dee Veloper', custom_claims: { broadcaster_type: 'affiliate', description: 'hi', type: '', offline_image_url: '', view_count: 7 },
    slug: 'Dee Veloper', avatar_url: `https://tw.example.com/${u.id}.png`, full_name: u.login, email: u.email, email_verified: true, phone_verified: false }) },
  notion: { scope: null, data: (u, b) => ({ iss: `${b}/no`, sub: `n-${u.id}`, provider_id: `n-${u.id}`, name: 'Dee Veloper', picture: `https://no.example.com/${u.id}.png`,
    avatar_url: `https://no.example.com/${u.id}.png`, full_name: 'Dee Veloper', email: u.email, email_verified: true, phone_verified: false }) },
  zoom: { scope: null, data: (u, b) => ({ iss: `${b}/zo/v2`, sub: `z${u.id}`, provider_id: `z${u.id}`, name: 'Dee Veloper', picture: `https://zo.example.com/${u.id}.png`,
    avatar_url: `https://zo.example.com/${u.id}.png`, full_name: 'Dee Veloper', email: u.email, email_verified: true, phone_verified: false }) },
  figma: { scope: 'current_user:read', data: (u, b) => ({ iss: `${b}/fi`, sub: String(u.id), provider_id: String(u.id), name: u.login, email: u.email,
    email_verified: true, avatar_url: `https://fi.example.com/${u.id}.png`, full_name: u.login, phone_verified: false }) },
  kakao: { scope: 'account_email profile_image profile_nickname', data: (u, b) => ({ iss: `${b}/ka`, sub: String(u.id), provider_id: String(u.id), name: u.login,
    preferred_username: u.login, avatar_url: `https://ka.example.com/${u.id}.png`, full_name: u.login, user_name: u.login, email: u.email,
    email_verified: true, phone_verified: false }) },
  linkedin_oidc: { scope: 'openid email profile', data: (u, b) => ({ iss: `${b}/li/oauth`, sub: `li-${u.id}`, provider_id: `li-${u.id}`, name: 'Dee Veloper',
    given_name: 'Dee', family_name: 'Veloper', locale: 'en_US', picture: `https://li.example.com/${u.id}.jpg`, email: u.email, email_verified: true, phone_verified: false }) },
  workos: { scope: null, data: (u, b) => ({ iss: `${b}/wo`, sub: `prof_${u.id}`, provider_id: `prof_${u.id}`, name: 'Dee Veloper',
    custom_claims: { connection_id: 'conn_1', organization_id: 'org_1' }, full_name: 'Dee Veloper', email: u.email, email_verified: true, phone_verified: false }) },
};

describe('each provider: the authorization URL, the flow, identity_data as GoTrue maps it', () => {
  for (const [name, want] of Object.entries(CASES)) {
    it(name, async () => {
      const user = someone();
      const { providerUrl, landing } = await signInWith(p, name, user);
      const [prefix, authPath] = FAKE_ROUTES[name];
      assert.equal(providerUrl.href.split('?')[0], `${fake.base}${prefix}${authPath}`);
      assert.equal(providerUrl.searchParams.get('client_id'), `${name}-client`);
      assert.equal(providerUrl.searchParams.get('redirect_uri'), `${p.url}/auth/v1/callback`);
      assert.equal(providerUrl.searchParams.get('response_type'), 'code');
      const scope = providerUrl.searchParams.get('scope');
      assert.equal(name === 'x' ? scope?.split(' ').sort().join(' ') ?? null : scope, want.scope);
      const u = await userOf(p, landing);
      assert.equal(u.email, user.email);
      assert.equal(Boolean(u.email_confirmed_at), want.verified ?? true);
      assert.equal(u.app_metadata.provider, name);
      const identity = u.identities!.find((i) => i.provider === name)!;
      assert.deepEqual(identity.identity_data, want.data(user, fake.base));
      assert.equal(identity.id, want.data(user, fake.base).sub);
      assert.ok(fragment(landing).get('provider_token')?.startsWith('tok-'));
      // The same provider account again: the same user.
      const again = await signInWith(p, name, user);
      assert.equal((await userOf(p, again.landing)).id, u.id);
    });
  }

  it('each provider\'s own way: Twitch\'s Client-Id, Notion\'s version and Basic auth, Facebook\'s appsecret_proof, X\'s PKCE', async () => {
    // (The fake refuses a request without them; the flows above passed, so these were sent.)
    assert.equal(fake.seen.get('/tw/helix/users')!.headers['client-id'], 'twitch-client');
    assert.equal(fake.seen.get('/no/v1/users/me')!.headers['notion-version'], '2021-08-16');
    assert.match(fake.seen.get('/fb/me')!.query.get('appsecret_proof')!, /^[0-9a-f]{64}$/);
    const { providerUrl } = await signInWith(p, 'x', someone());
    assert.equal(providerUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.match(providerUrl.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    // The scopes a caller adds go after the provider's; Notion, Zoom and WorkOS take none.
    const more = await signInWith(p, 'twitch', someone(), { scopes: 'channel:read:subscriptions' });
    assert.equal(more.providerUrl.searchParams.get('scope'), 'user:read:email channel:read:subscriptions');
    const none = await signInWith(p, 'notion', someone(), { scopes: 'anything' });
    assert.equal(none.providerUrl.searchParams.get('scope'), null);
  });

  it('WorkOS: workos_provider becomes WorkOS\' provider, other query parameters go on to the provider', async () => {
    const { providerUrl, landing } = await signInWith(p, 'workos', someone(), { queryParams: { workos_provider: 'GoogleOAuth', connection: 'conn_1' } });
    assert.equal(providerUrl.searchParams.get('provider'), 'GoogleOAuth');
    assert.equal(providerUrl.searchParams.get('connection'), 'conn_1');
    assert.equal(providerUrl.searchParams.get('workos_provider'), null);
    assert.ok(fragment(landing).get('access_token'));
  });
});

describe('Twitter (OAuth 1.0a)', () => {
  it('request token, authenticate, access token, verify_credentials — each signed; identity_data as GoTrue maps it', async () => {
    const user = someone();
    const { providerUrl, landing } = await signInWith(p, 'twitter', user);
    assert.equal(providerUrl.href.split('?')[0], `${fake.base}/tt/oauth/authenticate`);
    assert.match(providerUrl.searchParams.get('oauth_token')!, /^rt-/);
    const u = await userOf(p, landing);
    assert.equal(u.email, user.email);
    assert.ok(u.email_confirmed_at);
    const identity = u.identities!.find((i) => i.provider === 'twitter')!;
    assert.deepEqual(identity.identity_data, { iss: `${fake.base}/tt/1.1/account/verify_credentials.json`, sub: String(user.id),
      provider_id: String(user.id), name: 'Dee Veloper', picture: `https://tt.example.com/${user.id}.png`, preferred_username: user.login,
      user_name: user.login, full_name: 'Dee Veloper', avatar_url: `https://tt.example.com/${user.id}.png`, email: user.email,
      email_verified: true, phone_verified: false });
    assert.ok(fragment(landing).get('provider_token')?.startsWith('tok-'));
    // A wrong consumer secret: Twitter refuses the signature, no request token.
    const q = await authProject({ ...settings(), external_twitter_secret: 'wrong' });
    const res = await authHttp(q, 'GET', '/authorize?provider=twitter');
    assert.deepEqual([res.status, res.body.code, res.body.message], [500, 'unexpected_failure', 'Error getting a request token from Twitter']);
    // The user says no (Twitter sends `denied`, no verifier): GoTrue's words.
    fake.next = someone();
    const { data } = await client(p).auth.signInWithOAuth({ provider: 'twitter', options: { skipBrowserRedirect: true } });
    const atTwitter = new URL((await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!);
    const callback = fake.twitterCallback(atTwitter.searchParams.get('oauth_token')!);
    assert.match(callback, /\/auth\/v1\/callback\?state=[0-9a-f-]{36}$/);
    const denied = new URL((await fetch(`${callback}&denied=${atTwitter.searchParams.get('oauth_token')}`, { redirect: 'manual' })).headers.get('location')!);
    assert.equal(denied.searchParams.get('error_description'), 'Unable to retrieve access token');
  });
});

describe('Apple', () => {
  it('the authorization URL (form_post), the callback as a form POST, the name of the first sign-in', async () => {
    const user = someone();
    fake.appleName = { firstName: 'Dee', lastName: 'Veloper' };
    let flow;
    try {
      flow = await signInWith(p, 'apple', user, { queryParams: { prompt: 'consent' }, scopes: 'openid' });
    } finally {
      fake.appleName = null;
    }
    const { providerUrl, landing, posted } = flow;
    assert.equal(providerUrl.href.split('?')[0], `${fake.base}/ap/auth/authorize`);
    assert.equal(providerUrl.searchParams.get('response_mode'), 'form_post');
    assert.equal(providerUrl.searchParams.get('scope'), 'email name');
    assert.equal(providerUrl.searchParams.get('prompt'), null, 'Apple gets none of the caller\'s other parameters');
    assert.ok(posted);
    const u = await userOf(p, landing);
    assert.equal(u.email, user.email);
    assert.ok(u.email_confirmed_at);
    const identity = u.identities!.find((i) => i.provider === 'apple')!;
    assert.deepEqual(identity.identity_data, {
      iss: `${fake.base}/ap`, sub: `000${user.id}.apple`, provider_id: `000${user.id}.apple`, custom_claims: { is_private_email: false, auth_time: 1700000000 },
      name: 'Dee Veloper', full_name: 'Dee Veloper', email: user.email, email_verified: true, phone_verified: false,
    });
    // Apple sends the name once: the next sign-in keeps what the user has.
    const again = await signInWith(p, 'apple', user);
    const u2 = await userOf(p, again.landing);
    assert.equal(u2.id, u.id);
    assert.equal(u2.user_metadata.full_name, 'Dee Veloper');
  });

  it('PKCE: the code exchange answers provider_token (and provider_refresh_token when the provider gave one)', async () => {
    const { sb, landing } = await signInWith(p, 'apple', someone(), { flowType: 'pkce' });
    const { data, error } = await sb.auth.exchangeCodeForSession(landing.searchParams.get('code')!);
    assert.equal(error, null);
    assert.ok(data.session!.provider_token?.startsWith('tok-'));
    assert.equal(data.session!.provider_refresh_token, undefined);
    // X gives a refresh token too; raw HTTP shows GoTrue's field names.
    const x = await signInWith(p, 'x', someone(), { flowType: 'pkce' });
    const verifier = await verifierOf(x.sb);
    const res = await authHttp(p, 'POST', '/token?grant_type=pkce', { body: { auth_code: x.landing.searchParams.get('code'), code_verifier: verifier } });
    assert.equal(res.status, 200);
    assert.ok(res.body.provider_token.startsWith('tok-'));
    assert.equal(res.body.provider_refresh_token, `r-${res.body.provider_token}`);
    assert.ok(res.body.access_token);
  });

  it('signInWithIdToken: verified with Apple\'s keys, audience, nonce; GoTrue\'s errors', async () => {
    const nonce = crypto.randomBytes(8).toString('hex');
    const hashed = crypto.createHash('sha256').update(nonce).digest('hex');
    const sub = `id-${crypto.randomBytes(4).toString('hex')}`;
    const email = `${sub}@privaterelay.example.com`;
    const token = (over: Record<string, unknown> = {}) => fake.idToken({ iss: `${fake.base}/ap`, aud: 'apple-client', sub, email, nonce: hashed, is_private_email: true, ...over });
    const sb = client(p);
    const { data, error } = await sb.auth.signInWithIdToken({ provider: 'apple', token: await token(), nonce });
    assert.equal(error, null);
    assert.equal(data.user!.email, email);
    const identity = data.user!.identities!.find((i) => i.provider === 'apple')!;
    assert.deepEqual(identity.identity_data, { iss: `${fake.base}/ap`, sub, provider_id: sub, custom_claims: { is_private_email: true }, email,
      email_verified: true, phone_verified: false });
    const grant = (body: Record<string, unknown>, q = p) => authHttp(q, 'POST', '/token?grant_type=id_token', { body: { provider: 'apple', ...body } });
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ id_token: await token({ aud: 'someone-else' }), nonce }, 400, 'oauth_error', 'Unacceptable audience in id_token: [someone-else]'],
      [{ id_token: await token(), nonce: 'wrong' }, 400, 'oauth_error', 'Nonces mismatch'],
      [{ id_token: await token() }, 400, 'oauth_error', 'Passed nonce and nonce in id_token should either both exist or not.'],
      [{ id_token: await token({ iss: 'https://evil.example.com' }), nonce }, 400, 'validation_failed', 'Detected ID token issuer is not an Apple ID token issuer'],
      [{ id_token: await token(), nonce, issuer: 'https://appleid.apple.com' }, 400, 'validation_failed', 'Provided issuer does not match ID token issuer'],
      [{ id_token: 'not-a-jwt', nonce }, 400, 'validation_failed', 'Unable to detect issuer in ID token for Apple provider'],
      // Signed by another key: the fake's key id, another key.
      [{ id_token: `${(await token()).split('.').slice(0, 2).join('.')}.${Buffer.alloc(256, 1).toString('base64url')}`, nonce }, 400, 'oauth_error', 'Bad ID token'],
      // An access token that is not the one of the ID token's at_hash.
      [{ id_token: await fake.idToken({ iss: `${fake.base}/ap`, aud: 'apple-client', sub, email, nonce: hashed }, 'the-access-token'), nonce, access_token: 'not-the-one' },
        400, 'oauth_error', 'Bad ID token'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await grant(body);
      // GoTrue's OAuthError is {error, error_description}; the others {code, message}.
      const got = code === 'oauth_error' ? [res.status, 'oauth_error', res.body.error_description] : [res.status, res.body.code, res.body.message];
      assert.deepEqual(got, [status, code, message], JSON.stringify(body).slice(0, 80));
    }
    // The access token of the ID token (at_hash) is accepted.
    const withAt = await fake.idToken({ iss: `${fake.base}/ap`, aud: 'apple-client', sub, email, nonce: hashed }, 'the-access-token');
    assert.equal((await grant({ id_token: withAt, nonce, access_token: 'the-access-token' })).status, 200);
    // additional client ids are audiences too.
    await configure(other, { external_apple_additional_client_ids: 'ios.bundle.id' });
    assert.equal((await grant({ id_token: await token({ aud: 'ios.bundle.id' }), nonce }, other)).status, 200);
    assert.equal((await grant({ id_token: await token({ aud: 'ios.bundle.id' }), nonce })).status, 400);
    // Disabled.
    const off = await authProject({ external_apple_url: `${fake.base}/ap`, external_apple_client_id: 'apple-client' });
    const res = await grant({ id_token: await token(), nonce }, off);
    assert.deepEqual([res.status, res.body.code, res.body.message], [400, 'provider_disabled', `Provider (issuer "${fake.base}/ap") is not enabled`]);
  });
});

describe('signInWithIdToken for Facebook Limited Login and Kakao', () => {
  it('their issuers\' keys, GoTrue\'s claims, audience and nonce rules, disabled providers', async () => {
    const sub = `fb-${crypto.randomBytes(4).toString('hex')}`;
    const email = `${sub}@example.com`;
    // Facebook: no nonce check (GoTrue skips it for Limited Login).
    const fb = await fake.idToken({ iss: `${fake.base}/fb`, aud: 'facebook-client', sub, email, name: 'Dee Veloper', picture: 'https://fb.example.com/p.jpg', nonce: 'whatever' });
    const { data, error } = await client(p).auth.signInWithIdToken({ provider: 'facebook', token: fb });
    assert.equal(error, null);
    const fi = data.user!.identities!.find((i) => i.provider === 'facebook')!;
    assert.deepEqual(fi.identity_data, { iss: `${fake.base}/fb`, sub, provider_id: sub, name: 'Dee Veloper', picture: 'https://fb.example.com/p.jpg',
      email, email_verified: true, phone_verified: false });
    assert.equal(data.user!.email, email);
    // Kakao: by issuer; the nonce is checked.
    const ksub = `ka-${crypto.randomBytes(4).toString('hex')}`;
    const nonce = 'n-1';
    const hashed = crypto.createHash('sha256').update(nonce).digest('hex');
    const ka = await fake.idToken({ iss: `${fake.base}/ka`, aud: 'kakao-client', sub: ksub, nickname: 'deev', picture: 'https://ka.example.com/p.png', email: `${ksub}@example.com`, nonce: hashed });
    const kres = await authHttp(p, 'POST', '/token?grant_type=id_token', { body: { issuer: `${fake.base}/ka`, client_id: 'kakao-client', id_token: ka, nonce } });
    assert.equal(kres.status, 200, JSON.stringify(kres.body));
    const ki = kres.body.user.identities.find((i: { provider: string }) => i.provider === 'kakao');
    assert.deepEqual(ki.identity_data, { iss: `${fake.base}/ka`, sub: ksub, provider_id: ksub, name: 'deev', preferred_username: 'deev',
      picture: 'https://ka.example.com/p.png', email: `${ksub}@example.com`, email_verified: true, phone_verified: false });
    const grant = (q: Project, body: Record<string, unknown>) => authHttp(q, 'POST', '/token?grant_type=id_token', { body });
    const wrongNonce = await grant(p, { provider: 'kakao', id_token: ka, nonce: 'other' });
    assert.deepEqual([wrongNonce.status, wrongNonce.body.error_description], [400, 'Nonces mismatch']);
    const wrongAud = await grant(p, { provider: 'facebook', id_token: await fake.idToken({ iss: `${fake.base}/fb`, aud: 'other-app', sub }) });
    assert.deepEqual([wrongAud.status, wrongAud.body.error_description], [400, 'Unacceptable audience in id_token: [other-app]']);
    const otherIssuer = await grant(p, { provider: 'facebook', id_token: await fake.idToken({ iss: `${fake.base}/ka`, aud: 'facebook-client', sub }) });
    assert.deepEqual([otherIssuer.status, otherIssuer.body.error_description], [400, 'Bad ID token']);
    // Disabled: GoTrue's provider_disabled with the issuer.
    const off = await authProject({ external_facebook_url: `${fake.base}/fb`, external_facebook_client_id: 'facebook-client' });
    const res = await grant(off, { provider: 'facebook', id_token: fb });
    assert.deepEqual([res.status, res.body.code, res.body.message], [400, 'provider_disabled', `Provider (issuer "${fake.base}/fb") is not enabled`]);
    // The session is project A's only.
    const atB = await client(other).auth.getUser(data.session!.access_token);
    assert.equal(atB.error?.status, 403);
  });
});

/** The PKCE verifier supabase-js keeps for the flow it started. */
async function verifierOf(sb: ReturnType<typeof client>): Promise<string> {
  // supabase-js stores it under `<storageKey>-code-verifier` in its (in-memory) storage.
  const auth = sb.auth as unknown as { storage: { getItem(k: string): string | null | Promise<string | null> }; storageKey: string };
  const raw = await auth.storage.getItem(`${auth.storageKey}-code-verifier`);
  return raw!.split('/')[0].replace(/^"|"$/g, '');
}

describe('GoTrue\'s errors', () => {
  it('a provider that is not enabled, or half-configured: 400 validation_failed at /authorize', async () => {
    const q = await authProject({ site_url: APP, external_zoom_enabled: true, external_zoom_client_id: 'z' });
    for (const name of Object.keys(CASES).concat('apple', 'twitter')) {
      const res = await authHttp(q, 'GET', `/authorize?provider=${name}`);
      const message = name === 'zoom' ? 'Unsupported provider: missing OAuth secret' : 'Unsupported provider: provider is not enabled';
      assert.deepEqual([res.status, res.body], [400, { code: 'validation_failed', message }], name);
    }
    // A custom URL that is no URL: a 400, never a 500.
    const bad = await authProject({ ...providerSettings(fake, ['zoom', 'twitter']), external_zoom_url: 'not a url', external_twitter_url: '::' });
    for (const name of ['zoom', 'twitter']) {
      const res = await authHttp(bad, 'GET', `/authorize?provider=${name}`);
      assert.deepEqual([res.status, res.body.message], [400, `Unsupported provider: unable to find URL for the ${name} provider`], name);
    }
    const unknown = await authHttp(q, 'GET', '/authorize?provider=linkedin');
    assert.deepEqual([unknown.status, unknown.body.message], [400, 'Unsupported provider: Provider linkedin could not be found']);
  });

  it('a PKCE flow\'s callback again: 303 flow_state_already_used "State has already been used"', async () => {
    fake.next = someone();
    const { data } = await client(p, p.anonKey, { flowType: 'pkce' }).auth.signInWithOAuth({ provider: 'spotify', options: { skipBrowserRedirect: true, redirectTo: `${APP}/done` } });
    const atProvider = (await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!;
    const callback = (await fetch(atProvider, { redirect: 'manual' })).headers.get('location')!;
    const first = await fetch(callback, { redirect: 'manual' });
    assert.ok(new URL(first.headers.get('location')!).searchParams.get('code'));
    const again = await fetch(callback, { redirect: 'manual' });
    const to = new URL(again.headers.get('location')!);
    assert.deepEqual([again.status, to.origin, to.searchParams.get('error_code'), to.searchParams.get('error_description')],
      [303, APP, 'flow_state_already_used', 'State has already been used']);
  });

  it('a provider turned off during the flow: the callback redirects with oauth_provider_not_supported', async () => {
    const q = await authProject(settings());
    fake.next = someone();
    const { data } = await client(q).auth.signInWithOAuth({ provider: 'spotify', options: { skipBrowserRedirect: true } });
    const atProvider = (await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!;
    const callback = (await fetch(atProvider, { redirect: 'manual' })).headers.get('location')!;
    await configure(q, { external_spotify_enabled: false });
    const failed = new URL((await fetch(callback, { redirect: 'manual' })).headers.get('location')!);
    assert.equal(failed.searchParams.get('error_code'), 'oauth_provider_not_supported');
    assert.equal(failed.searchParams.get('error_description'), 'Unsupported provider: provider is not enabled');
  });

  it('no email: an error unless external_<p>_email_optional', async () => {
    const noEmail = someone({ email: null, emails: [] });
    const { landing } = await signInWith(p, 'figma', noEmail);
    assert.equal(landing.searchParams.get('error_description'), 'Error getting user email from external provider');
    const q = await authProject({ ...settings(), external_figma_email_optional: true });
    const ok = await signInWith(q, 'figma', noEmail);
    const u = await userOf(q, ok.landing);
    assert.ok(!u.email);
    assert.equal(u.identities![0].provider, 'figma');
  });
});

describe('one project\'s provider flows are not another\'s', () => {
  it('A\'s state at B\'s callback (GET or Apple\'s POST), A\'s PKCE code at B, A\'s session at B', async () => {
    // Apple's form post of A's flow, sent to B's callback.
    fake.next = someone();
    const { data } = await client(p).auth.signInWithOAuth({ provider: 'apple' as Provider, options: { skipBrowserRedirect: true } });
    const atProvider = (await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!;
    const html = await (await fetch(atProvider)).text();
    const fields = new URLSearchParams([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const atB = await fetch(`${other.url}/auth/v1/callback`, { method: 'POST', body: fields, redirect: 'manual' });
    assert.equal(new URL(atB.headers.get('location')!).searchParams.get('error_code'), 'bad_oauth_state');
    // A's PKCE code is unknown at B, even with the right verifier.
    const x = await signInWith(p, 'x', someone(), { flowType: 'pkce' });
    const verifier = await verifierOf(x.sb);
    const code = x.landing.searchParams.get('code');
    const atOther = await authHttp(other, 'POST', '/token?grant_type=pkce', { body: { auth_code: code, code_verifier: verifier } });
    assert.equal(atOther.status, 404);
    assert.equal(atOther.body.code, 'flow_state_not_found');
    // A's session is refused by B.
    const { landing } = await signInWith(p, 'twitch', someone());
    const { error } = await client(other).auth.getUser(fragment(landing).get('access_token')!);
    assert.equal(error?.status, 403);
    // The same provider account at A and at B: two users, each project's own.
    const same = someone();
    const atA = await userOf(p, (await signInWith(p, 'zoom', same)).landing);
    const atB2 = await userOf(other, (await signInWith(other, 'zoom', same)).landing);
    assert.notEqual(atA.id, atB2.id);
    assert.equal((await client(other).auth.getUser(fragment((await signInWith(p, 'zoom', same)).landing).get('access_token')!)).error?.status, 403);
    // B's settings are B's: turning B's Figma off leaves A's on.
    await configure(other, { external_figma_enabled: false });
    assert.equal((await authHttp(other, 'GET', '/authorize?provider=figma')).status, 400);
    assert.equal((await authHttp(p, 'GET', '/settings')).body.external.figma, true);
  });
});
