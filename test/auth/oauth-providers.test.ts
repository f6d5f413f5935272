// Sign-in with the OAuth 2.0 providers that are not OpenID Connect issuers (auth/oauth-providers.ts), through
// their custom-URL settings: GitHub in its Enterprise form (external_github_url: /login/oauth/*, /api/v3/user and
// /user/emails) and a self-hosted GitLab (external_gitlab_url: /oauth/*, /api/v4/user and /user/emails), served
// by a local server that speaks each one's token and user API shapes. supabase-js' signInWithOAuth (implicit and
// PKCE) followed redirect by redirect; GoTrue's errors; redirect_to only to allowed URLs; one project's flows and
// sessions useless on another.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loam, type Project } from '../helpers/platform.ts';
import { authHttp, authProject, client, configure } from './helpers.ts';
import { FakeProviders, someone, type FakeUser } from './oauth-fake.ts';

const APP = 'https://app.example.com';

const fake = new FakeProviders();
let p: Project;
let other: Project;

const settings = () => ({
  site_url: APP, uri_allow_list: `${APP}/**`,
  external_github_enabled: true, external_github_client_id: 'gh-client', external_github_secret: 'provider-secret', external_github_url: `${fake.base}/gh`,
  external_gitlab_enabled: true, external_gitlab_client_id: 'gl-client', external_gitlab_secret: 'provider-secret', external_gitlab_url: `${fake.base}/gl/`,
  external_discord_enabled: true, external_discord_client_id: 'dc-client', external_discord_secret: 'provider-secret', external_discord_url: `${fake.base}/dc`,
  external_bitbucket_enabled: true, external_bitbucket_client_id: 'bb-client', external_bitbucket_secret: 'provider-secret', external_bitbucket_url: `${fake.base}/bb`,
});

/** signInWithOAuth, then the redirects a browser would follow: Loam → provider → Loam's callback → the app. */
async function signInWith(q: Project, provider: 'github' | 'gitlab' | 'discord' | 'bitbucket', user: FakeUser, opts: { redirectTo?: string; scopes?: string; flowType?: 'pkce' | 'implicit' } = {}) {
  fake.next = user;
  const sb = client(q, q.anonKey, { flowType: opts.flowType ?? 'implicit' });
  const { data, error } = await sb.auth.signInWithOAuth({ provider, options: { redirectTo: opts.redirectTo, scopes: opts.scopes, skipBrowserRedirect: true } });
  assert.equal(error, null);
  const hops: URL[] = [];
  let next = data.url!;
  for (let i = 0; i < 3; i++) {
    const res = await fetch(next, { redirect: 'manual' });
    await res.body?.cancel();
    assert.equal(res.status, 302, `hop ${i} to ${next}`);
    next = res.headers.get('location')!;
    hops.push(new URL(next));
  }
  return { sb, providerUrl: hops[0], landing: hops[2] };
}

const fragment = (u: URL) => new URLSearchParams(u.hash.slice(1));

before(async () => {
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  await Promise.all([loam(), fake.start()]);
  [p, other] = await Promise.all([authProject(settings()), authProject(settings())]);
});
after(async () => { delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE; await fake.close(); });

describe('GitHub (Enterprise URL)', () => {
  it('implicit flow: the URLs GoTrue builds, a session, the user and identity in GoTrue\'s shape', async () => {
    const user = someone();
    const { providerUrl, landing } = await signInWith(p, 'github', user, { redirectTo: `${APP}/home`, scopes: 'repo' });
    assert.equal(providerUrl.href.split('?')[0], `${fake.base}/gh/login/oauth/authorize`);
    assert.equal(providerUrl.searchParams.get('client_id'), 'gh-client');
    assert.equal(providerUrl.searchParams.get('scope'), 'user:email repo');
    assert.equal(providerUrl.searchParams.get('redirect_uri'), `${p.url}/auth/v1/callback`);
    assert.equal(`${landing.origin}${landing.pathname}`, `${APP}/home`);
    const f = fragment(landing);
    assert.ok(f.get('provider_token')?.startsWith('tok-'));
    const { data, error } = await client(p).auth.getUser(f.get('access_token')!);
    assert.equal(error, null);
    const u = data.user!;
    assert.equal(u.email, user.email); // the primary address, not the first
    assert.ok(u.email_confirmed_at);
    assert.equal(u.app_metadata.provider, 'github');
    const identity = u.identities!.find((i) => i.provider === 'github')!;
    assert.equal(identity.id, String(user.id));
    assert.equal(identity.identity_data!.iss, `${fake.base}/gh/api/v3`);
    assert.equal(identity.identity_data!.user_name, user.login);
    assert.equal(identity.identity_data!.preferred_username, user.login);
    assert.equal(identity.identity_data!.email_verified, true);
    assert.equal(u.user_metadata.full_name, 'Dee Veloper');
    assert.equal(u.user_metadata.avatar_url, `https://avatars.example.com/${user.id}`);
    assert.ok(fake.requests.includes('GET /gh/api/v3/user/emails'));
    // Again: the same user.
    const again = await signInWith(p, 'github', user);
    const { data: d2 } = await client(p).auth.getUser(fragment(again.landing).get('access_token')!);
    assert.equal(d2.user!.id, u.id);
  });

  it('/settings lists the providers and whether they are on', async () => {
    const s = await authHttp(p, 'GET', '/settings');
    assert.equal(s.body.external.github, true);
    assert.equal(s.body.external.gitlab, true);
    assert.equal(s.body.external.discord, true);
    assert.equal(s.body.external.azure, false);
  });
});

describe('GitLab (self-hosted URL)', () => {
  it('PKCE flow: ?code= at the app, exchanged for a session; an unconfirmed GitLab address is not verified', async () => {
    const user = someone({ confirmed: false });
    const { sb, providerUrl, landing } = await signInWith(p, 'gitlab', user, { redirectTo: `${APP}/cb`, flowType: 'pkce' });
    assert.equal(providerUrl.href.split('?')[0], `${fake.base}/gl/oauth/authorize`);
    assert.equal(providerUrl.searchParams.get('scope'), 'read_user');
    const code = landing.searchParams.get('code');
    assert.ok(code);
    const { data, error } = await sb.auth.exchangeCodeForSession(code!);
    assert.equal(error, null);
    assert.equal(data.user!.email, user.email);
    assert.equal(data.user!.email_confirmed_at, undefined);
    const identity = data.user!.identities!.find((i) => i.provider === 'gitlab')!;
    assert.equal(identity.identity_data!.iss, `${fake.base}/gl`);
    assert.equal(identity.identity_data!.email_verified, false);
  });
});

describe('Discord and Bitbucket (custom URLs)', () => {
  it('the same table: their endpoints, scopes and user shapes', async () => {
    const user = someone();
    const dc = await signInWith(p, 'discord', user);
    assert.equal(dc.providerUrl.href.split('?')[0], `${fake.base}/dc/api/oauth2/authorize`);
    assert.equal(dc.providerUrl.searchParams.get('scope'), 'email identify');
    const { data: d1 } = await client(p).auth.getUser(fragment(dc.landing).get('access_token')!);
    const di = d1.user!.identities!.find((i) => i.provider === 'discord')!;
    assert.equal(di.identity_data!.iss, `${fake.base}/dc/api`);
    assert.equal(di.identity_data!.name, `${user.login}#0042`);
    assert.equal(di.identity_data!.avatar_url, `https://cdn.discordapp.com/avatars/${user.id}/a_abc.gif`);
    assert.equal(d1.user!.email, user.email);
    const other2 = someone();
    // Bitbucket takes no caller's scopes (GoTrue's NewBitbucketProvider has none).
    const bb = await signInWith(p, 'bitbucket', other2, { scopes: 'repository' });
    assert.equal(bb.providerUrl.href.split('?')[0], `${fake.base}/bb/site/oauth2/authorize`);
    assert.equal(bb.providerUrl.searchParams.get('scope'), 'account email');
    const { data: d2 } = await client(p).auth.getUser(fragment(bb.landing).get('access_token')!);
    const bi = d2.user!.identities!.find((i) => i.provider === 'bitbucket')!;
    assert.equal(bi.id, `{${other2.id}}`);
    assert.equal(bi.identity_data!.iss, `${fake.base}/bb/2.0`);
    assert.equal(d2.user!.email, other2.email);
  });
});

describe('GoTrue\'s errors', () => {
  it('unknown, disabled, half-configured providers at /authorize', async () => {
    const q = await authProject({ site_url: APP, external_discord_enabled: true, external_discord_client_id: 'x' });
    const cases: [string, string][] = [
      ['githubx', 'Unsupported provider: Provider githubx could not be found'],
      ['github', 'Unsupported provider: provider is not enabled'],
      ['discord', 'Unsupported provider: missing OAuth secret'],
      ['constructor', 'Unsupported provider: Provider constructor could not be found'],
    ];
    for (const [provider, message] of cases) {
      const res = await authHttp(q, 'GET', `/authorize?provider=${provider}`);
      assert.deepEqual([res.status, res.body], [400, { code: 'validation_failed', message }], provider);
    }
  });

  it('the provider refuses, the code does not exchange, no email: redirects with GoTrue\'s error fields', async () => {
    // The user says no at the provider: its error comes back to the callback.
    fake.next = someone();
    const { data } = await client(p).auth.signInWithOAuth({ provider: 'github', options: { skipBrowserRedirect: true } });
    const toProvider = (await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!;
    const state = new URL(toProvider).searchParams.get('state')!;
    const denied = await fetch(`${p.url}/auth/v1/callback?state=${state}&error=access_denied&error_description=The+user+said+no`, { redirect: 'manual' });
    const deniedTo = new URL(denied.headers.get('location')!);
    assert.equal(deniedTo.searchParams.get('error'), 'access_denied');
    assert.equal(deniedTo.searchParams.get('error_description'), 'The user said no');
    // No code in the callback.
    const { data: d2 } = await client(p).auth.signInWithOAuth({ provider: 'github', options: { skipBrowserRedirect: true } });
    const state2 = new URL((await fetch(d2.url!, { redirect: 'manual' })).headers.get('location')!).searchParams.get('state')!;
    const noCode = new URL((await fetch(`${p.url}/auth/v1/callback?state=${state2}`, { redirect: 'manual' })).headers.get('location')!);
    assert.equal(noCode.searchParams.get('error_code'), 'bad_oauth_callback');
    assert.equal(noCode.searchParams.get('error_description'), 'OAuth callback with missing authorization code missing');
    // A wrong client secret: the provider refuses the code.
    const q = await authProject({ ...settings(), external_github_secret: 'wrong' });
    fake.next = someone();
    const sb = client(q);
    const { data: d3 } = await sb.auth.signInWithOAuth({ provider: 'github', options: { skipBrowserRedirect: true } });
    const atProvider = (await fetch(d3.url!, { redirect: 'manual' })).headers.get('location')!;
    const callback = (await fetch(atProvider, { redirect: 'manual' })).headers.get('location')!;
    const code = new URL(callback).searchParams.get('code')!;
    const failed = new URL((await fetch(callback, { redirect: 'manual' })).headers.get('location')!);
    assert.equal(failed.searchParams.get('error'), 'server_error');
    assert.equal(failed.searchParams.get('error_description'), `Unable to exchange external code: ${code.slice(0, 4)}`);
    // A GitHub account without any address.
    const { landing } = await signInWith(p, 'github', someone({ email: null, emails: [] }));
    assert.equal(landing.searchParams.get('error'), 'server_error');
    assert.equal(landing.searchParams.get('error_description'), 'Error getting user email from external provider');
  });

  it('redirect_to outside the allowed URLs lands on the site URL; sign-ups off refuse new users', async () => {
    const { landing } = await signInWith(p, 'github', someone(), { redirectTo: 'https://evil.example.net/x' });
    assert.equal(`${landing.origin}${landing.pathname}`, `${APP}/`);
    assert.ok(fragment(landing).get('access_token'));
    const closed = await authProject({ ...settings(), disable_signup: true });
    const refused = await signInWith(closed, 'gitlab', someone());
    assert.equal(refused.landing.searchParams.get('error'), 'access_denied');
    assert.equal(refused.landing.searchParams.get('error_code'), 'signup_disabled');
  });
});

describe('one project\'s provider flows are not another\'s', () => {
  it('a state of project A is unknown at B\'s callback; A\'s session is refused by B', async () => {
    fake.next = someone();
    const { data } = await client(p).auth.signInWithOAuth({ provider: 'github', options: { skipBrowserRedirect: true } });
    const atProvider = (await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!;
    const callbackA = new URL((await fetch(atProvider, { redirect: 'manual' })).headers.get('location')!);
    const atB = new URL((await fetch(`${other.url}/auth/v1/callback${callbackA.search}`, { redirect: 'manual' })).headers.get('location')!);
    assert.equal(atB.searchParams.get('error_code'), 'bad_oauth_state');
    const { landing } = await signInWith(p, 'gitlab', someone());
    const { error } = await client(other).auth.getUser(fragment(landing).get('access_token')!);
    assert.equal(error?.status, 403);
    // B's own settings: turning B's GitHub off does not touch A's.
    await configure(other, { external_github_enabled: false });
    const off = await authHttp(other, 'GET', '/authorize?provider=github');
    assert.equal(off.status, 400);
    assert.equal((await authHttp(p, 'GET', '/settings')).body.external.github, true);
  });
});
