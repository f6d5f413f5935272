// The OAuth 2.0 providers GoTrue signs in with through its own code rather than OpenID discovery (GitHub, GitLab,
// Discord, Bitbucket, Apple, Facebook, X, Slack — OIDC and the older one —, Spotify, Twitch, Notion, Zoom, Figma,
// Kakao, LinkedIn, WorkOS): one table of what differs between them, as GoTrue's provider package has it — where the browser goes (and with
// which extra parameters), where the code is exchanged, which scopes are asked for, which API calls (or which ID
// token) describe the user and how their answers map to GoTrue's claims and emails — and one flow for all
// (oauth.ts calls it). `external_<p>_url` moves a provider to another host (GitHub Enterprise, a GitLab server,
// or a test's local server), as GOTRUE_EXTERNAL_<P>_URL does. Every request goes through guardedFetch: the URL is
// the tenant's.
import crypto from 'node:crypto';
import { createRemoteJWKSet, customFetch as joseFetch, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { guardedFetch } from '../project/keyring.ts';
import type { AuthConfig } from './config.ts';
import { AuthError } from './errors.ts';

export interface ProviderEmail { email: string; verified: boolean; primary: boolean }

/** What a provider says of the user: GoTrue's Claims (identity_data) and its emails. */
export interface ProviderUser { claims: Record<string, unknown>; emails: ProviderEmail[] }

interface Endpoints { authorize: string; token: string; api: string }

/** What a provider's `user` reads: its API (`get`, with the access token), the token endpoint's whole answer
 *  (WorkOS' profile, an ID token), the client, and the callback's own parameters (Apple's `user`). */
interface UserInput {
  get(url: string, headers?: Record<string, string>): Promise<any>;
  api: string;
  url: string | null;
  token: Record<string, unknown>;
  accessToken: string;
  clientId: string;
  secret: string;
  callback: Record<string, string>;
}

interface OAuth2Provider {
  endpoints(url: string | null): Endpoints;
  /** The scopes always asked for; null: the provider takes none (GoTrue ignores the caller's `scopes`). */
  scopes: string[] | null;
  /** Only these scopes: GoTrue's constructor of the provider takes no caller's `scopes` (Apple, Bitbucket). */
  fixedScopes?: boolean;
  /** Extra parameters of the authorization URL (Apple's form_post); Apple's AuthCodeURL passes on none of the
   *  caller's other /authorize parameters. */
  authParams?: Record<string, string>;
  ownParamsOnly?: boolean;
  /** PKCE towards the provider (GoTrue's RequiresPKCE: X). */
  pkce?: boolean;
  /** How the client authenticates at the token endpoint: golang.org/x/oauth2's auto-detection (Basic, then the
   *  form) unless the provider is pinned to the form (GoTrue's AuthStyleInParams). */
  tokenAuth?: 'params';
  user(i: UserInput): Promise<ProviderUser>;
}

/** GoTrue's chooseHost: the configured base without a trailing slash, else https://<default>. */
const host = (url: string | null, fallback: string) => (url ? url.replace(/\/$/, '') : `https://${fallback}`);
const s = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
/** Claims without the empty ones (GoTrue's omitempty), email_verified and phone_verified always. */
const claims = (c: Record<string, unknown>) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== '' && v !== undefined && v !== null));
const primary = (email: unknown, verified: boolean): ProviderEmail[] => (s(email) ? [{ email: s(email), verified, primary: true }] : []);
const fullName = (first: unknown, last: unknown) => `${s(first)} ${s(last)}`.trim();

// JWKS of the providers whose user is an ID token (Apple, LinkedIn), fetched through guardedFetch, cached per URL.
const jwksSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
export function remoteJwks(uri: string) {
  let set = jwksSets.get(uri);
  if (!set) {
    if (jwksSets.size >= 200) jwksSets.delete(jwksSets.keys().next().value!);
    set = createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000, [joseFetch]: guardedFetch as never });
    jwksSets.set(uri, set);
  }
  return set;
}

/** The OIDC at_hash check (go-oidc's VerifyAccessToken): the left half of the token's hash by the ID token's alg. */
export function atHashMatches(idToken: string, accessToken: string, atHash: string): boolean {
  const alg = decodeProtectedHeader(idToken).alg ?? '';
  const bits = alg === 'EdDSA' ? 512 : Number(/(\d{3})$/.exec(alg)?.[1] ?? 256);
  const digest = crypto.createHash(`sha${bits}`).update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url') === atHash;
}

/** An ID token of the token endpoint's answer, verified as go-oidc does for GoTrue: signature by the JWKS,
 *  audience the client, expiry, the issuer unless `issuer` is null (Apple: GoTrue skips it), at_hash. */
async function idTokenOf(i: UserInput, jwks: string, issuer: string | null): Promise<JWTPayload> {
  const idToken = i.token.id_token;
  if (typeof idToken !== 'string' || !idToken) throw new Error('the token endpoint answered no id_token');
  const { payload } = await jwtVerify(idToken, remoteJwks(jwks), { audience: i.clientId, ...(issuer ? { issuer } : {}) });
  if (typeof payload.at_hash === 'string' && payload.at_hash && !atHashMatches(idToken, i.accessToken, payload.at_hash)) {
    throw new Error('id token access token hash does not match');
  }
  return payload;
}

/** Apple's ID token claims as GoTrue keeps them (parseAppleIDToken); also used by grant_type=id_token. */
export function appleUser(payload: JWTPayload): ProviderUser {
  const custom: Record<string, unknown> = {};
  if (payload.is_private_email !== undefined && payload.is_private_email !== null) {
    custom.is_private_email = payload.is_private_email === true || payload.is_private_email === 'true';
  }
  if (typeof payload.auth_time === 'number') custom.auth_time = payload.auth_time;
  if (s(payload.transfer_sub)) custom.transfer_sub = s(payload.transfer_sub);
  return {
    claims: claims({ iss: payload.iss, sub: payload.sub, provider_id: payload.sub, custom_claims: Object.keys(custom).length ? custom : undefined }),
    emails: primary(payload.email, true),
  };
}

/** Apple's issuers (GoTrue's IsAppleIssuer), or the configured base (a Loam setting: GoTrue ignores a URL). */
export const appleIssuers = (url: string | null) => (url ? [host(url, '')] : ['https://appleid.apple.com', 'https://account.apple.com']);
export const appleJwks = (url: string | null) => `${host(url, 'appleid.apple.com')}/auth/keys`;

export const OAUTH2_PROVIDERS: Record<string, OAuth2Provider> = {
  github: {
    endpoints(url) {
      const auth = host(url, 'github.com');
      let api = host(url, 'api.github.com');
      // GitHub Enterprise serves its API under /api/v3 of the instance.
      if (!api.endsWith('api.github.com')) api += '/api/v3';
      return { authorize: `${auth}/login/oauth/authorize`, token: `${auth}/login/oauth/access_token`, api };
    },
    scopes: ['user:email'],
    async user({ get, api }) {
      const u = await get(`${api}/user`);
      const emails = (await get(`${api}/user/emails`)) as unknown[];
      return {
        claims: claims({ iss: api, sub: s(u.id), name: s(u.name), preferred_username: s(u.login), avatar_url: s(u.avatar_url),
          full_name: s(u.name), user_name: s(u.login) }),
        emails: (Array.isArray(emails) ? emails : []).filter((e: any) => s(e?.email))
          .map((e: any) => ({ email: s(e.email), verified: e.verified === true, primary: e.primary === true })),
      };
    },
  },
  gitlab: {
    endpoints(url) {
      const h = host(url, 'gitlab.com');
      return { authorize: `${h}/oauth/authorize`, token: `${h}/oauth/token`, api: h };
    },
    scopes: ['read_user'],
    async user({ get, api: h }) {
      const u = await get(`${h}/api/v4/user`);
      const extra = (await get(`${h}/api/v4/user/emails`)) as unknown[];
      const emails: ProviderEmail[] = (Array.isArray(extra) ? extra : []).filter((e: any) => s(e?.email))
        .map((e: any) => ({ email: s(e.email), verified: false, primary: false }));
      if (s(u.email)) emails.push({ email: s(u.email), verified: s(u.confirmed_at) !== '', primary: true });
      return {
        claims: claims({ iss: h, sub: s(u.id), name: s(u.name), picture: s(u.avatar_url), avatar_url: s(u.avatar_url), full_name: s(u.name) }),
        emails,
      };
    },
  },
  discord: {
    endpoints(url) {
      const api = `${host(url, 'discord.com')}/api`;
      return { authorize: `${api}/oauth2/authorize`, token: `${api}/oauth2/token`, api };
    },
    scopes: ['email', 'identify'],
    async user({ get, api }) {
      const u = await get(`${api}/users/@me`);
      const id = s(u.id);
      let avatar: string;
      if (!s(u.avatar)) avatar = `https://cdn.discordapp.com/embed/avatars/${(Number.parseInt(s(u.discriminator), 10) || 0) % 5}.png`;
      else avatar = `https://cdn.discordapp.com/avatars/${id}/${s(u.avatar)}.${s(u.avatar).startsWith('a_') ? 'gif' : 'png'}`;
      return {
        claims: claims({ iss: api, sub: id, name: `${s(u.username)}#${s(u.discriminator)}`, picture: avatar, avatar_url: avatar,
          full_name: s(u.global_name) || s(u.username), custom_claims: s(u.global_name) ? { global_name: s(u.global_name) } : undefined }),
        emails: s(u.email) ? [{ email: s(u.email), verified: u.verified === true, primary: true }] : [],
      };
    },
  },
  bitbucket: {
    endpoints(url) {
      const auth = host(url, 'bitbucket.org');
      return { authorize: `${auth}/site/oauth2/authorize`, token: `${auth}/site/oauth2/access_token`, api: `${host(url, 'api.bitbucket.org')}/2.0` };
    },
    scopes: ['account', 'email'],
    fixedScopes: true,
    async user({ get, api }) {
      const u = await get(`${api}/user`);
      const list = await get(`${api}/user/emails`);
      return {
        claims: claims({ iss: api, sub: s(u.uuid), name: s(u.display_name), picture: s(u.avatar?.href), avatar_url: s(u.avatar?.href),
          full_name: s(u.display_name) }),
        emails: (Array.isArray(list?.values) ? list.values : []).filter((e: any) => s(e?.email))
          .map((e: any) => ({ email: s(e.email), verified: e.is_confirmed === true, primary: e.is_primary === true })),
      };
    },
  },
  // Apple: the code comes back as a form POST (response_mode=form_post), the user is the ID token of the token
  // answer (issuer not checked, as GoTrue), and the name only in the first POST's `user` field.
  apple: {
    endpoints(url) {
      const h = host(url, 'appleid.apple.com');
      return { authorize: `${h}/auth/authorize`, token: `${h}/auth/token`, api: h };
    },
    scopes: ['email', 'name'],
    fixedScopes: true,
    authParams: { response_mode: 'form_post' },
    ownParamsOnly: true,
    tokenAuth: 'params',
    async user(i) {
      const u = appleUser(await idTokenOf(i, appleJwks(i.url), null));
      if (i.callback.user) {
        let named: any;
        try { named = JSON.parse(i.callback.user); } catch { throw new Error('the user field is not JSON'); }
        const name = fullName(named?.name?.firstName, named?.name?.lastName);
        u.claims = claims({ ...u.claims, name, full_name: name });
      }
      return u;
    },
  },
  facebook: {
    endpoints(url) {
      return { authorize: `${host(url, 'www.facebook.com')}/dialog/oauth`, token: `${host(url, 'graph.facebook.com')}/oauth/access_token`,
        api: `${host(url, 'graph.facebook.com')}/me?fields=email,first_name,last_name,name,picture` };
    },
    scopes: ['email'],
    async user({ get, api, accessToken, secret }) {
      const proof = crypto.createHmac('sha256', secret).update(accessToken).digest('hex');
      const u = await get(`${api}&appsecret_proof=${proof}`);
      const name = fullName(u.first_name, u.last_name);
      return {
        claims: claims({ iss: api, sub: s(u.id), name, nickname: s(u.name), picture: s(u.picture?.data?.url), slug: s(u.name),
          avatar_url: s(u.picture?.data?.url), full_name: name, provider_id: s(u.id) }),
        emails: primary(u.email, true),
      };
    },
  },
  // X (OAuth 2.0 with PKCE towards X). The OAuth 1.0a `twitter` provider is not built.
  x: {
    endpoints(url) {
      const api = host(url, 'api.x.com');
      return { authorize: `${host(url, 'x.com')}/i/oauth2/authorize`, token: `${api}/2/oauth2/token`, api };
    },
    scopes: ['users.email', 'tweet.read', 'users.read', 'offline.access'],
    pkce: true,
    async user({ get, api }) {
      const u = (await get(`${api}/2/users/me?user.fields=id,name,username,confirmed_email,profile_image_url,url,created_at`))?.data ?? {};
      return {
        claims: claims({ iss: api, sub: s(u.id), name: s(u.name), preferred_username: s(u.username), picture: s(u.profile_image_url),
          profile: `https://x.com/${s(u.username)}`, website: s(u.url), custom_claims: { created_at: s(u.created_at) },
          avatar_url: s(u.profile_image_url), full_name: s(u.name), provider_id: s(u.id), user_name: s(u.username) }),
        emails: primary(u.confirmed_email, true),
      };
    },
  },
  slack_oidc: {
    endpoints(url) {
      const h = host(url, 'slack.com');
      return { authorize: `${h}/openid/connect/authorize`, token: `${h}/api/openid.connect.token`, api: `${h}/api` };
    },
    scopes: ['profile', 'email', 'openid'],
    async user({ get, api }) {
      const u = await get(`${api}/openid.connect.userInfo`);
      const id = s(u['https://slack.com/user_id']);
      return {
        claims: claims({ iss: api, sub: id, name: s(u.name), picture: s(u.picture), custom_claims: { 'https://slack.com/team_id': s(u['https://slack.com/team_id']) },
          avatar_url: s(u.picture), full_name: s(u.name), provider_id: id }),
        emails: primary(u.email, u.email_verified === true),
      };
    },
  },
  // Slack's older "Sign in with Slack" (deprecated in GoTrue for slack_oidc): the same user API, its own endpoints,
  // and the address taken as verified.
  slack: {
    endpoints(url) {
      const h = host(url, 'slack.com');
      return { authorize: `${h}/oauth/authorize`, token: `${h}/api/oauth.access`, api: `${h}/api` };
    },
    scopes: ['profile', 'email', 'openid'],
    async user(i) {
      const u = await OAUTH2_PROVIDERS.slack_oidc.user(i);
      return { ...u, emails: u.emails.map((e) => ({ ...e, verified: true })) };
    },
  },
  spotify: {
    endpoints(url) {
      const auth = host(url, 'accounts.spotify.com');
      return { authorize: `${auth}/authorize`, token: `${auth}/api/token`, api: host(url, 'api.spotify.com/v1') };
    },
    scopes: ['user-read-email'],
    async user({ get, api }) {
      const u = await get(`${api}/me`);
      const images: any[] = Array.isArray(u.images) ? u.images : [];
      // The largest image (by its area), the first of equals.
      const largest = images.reduce((a, b) => ((Number(b?.height) || 0) * (Number(b?.width) || 0) > (Number(a?.height) || 0) * (Number(a?.width) || 0) ? b : a), images[0]);
      const avatar = s(largest?.url);
      return {
        claims: claims({ iss: api, sub: s(u.id), name: s(u.display_name), picture: avatar, avatar_url: avatar, full_name: s(u.display_name), provider_id: s(u.id) }),
        emails: primary(u.email, false),
      };
    },
  },
  twitch: {
    endpoints(url) {
      const auth = host(url, 'id.twitch.tv');
      return { authorize: `${auth}/oauth2/authorize`, token: `${auth}/oauth2/token`, api: host(url, 'api.twitch.tv') };
    },
    scopes: ['user:read:email'],
    async user({ get, api, clientId }) {
      const list = await get(`${api}/helix/users`, { 'client-id': clientId });
      const u = Array.isArray(list?.data) ? list.data[0] : undefined;
      if (!u) throw new Error('unable to find user with twitch provider');
      return {
        claims: claims({ iss: api, sub: s(u.id), picture: s(u.profile_image_url), name: s(u.login), nickname: s(u.display_name),
          custom_claims: { broadcaster_type: s(u.broadcaster_type), description: s(u.description), type: s(u.type),
            offline_image_url: s(u.offline_image_url), view_count: Number(u.view_count) || 0 },
          slug: s(u.display_name), avatar_url: s(u.profile_image_url), full_name: s(u.login), provider_id: s(u.id) }),
        emails: primary(u.email, true),
      };
    },
  },
  notion: {
    endpoints(url) {
      const h = host(url, 'api.notion.com');
      return { authorize: `${h}/v1/oauth/authorize`, token: `${h}/v1/oauth/token`, api: h };
    },
    scopes: null,
    async user({ get, api }) {
      const u = (await get(`${api}/v1/users/me`, { 'notion-version': '2021-08-16' }))?.bot?.owner?.user ?? {};
      return {
        claims: claims({ iss: api, sub: s(u.id), name: s(u.name), picture: s(u.avatar_url), avatar_url: s(u.avatar_url), full_name: s(u.name), provider_id: s(u.id) }),
        // Notion says nothing of verification; GoTrue takes its address as verified.
        emails: primary(u.person?.email, true),
      };
    },
  },
  zoom: {
    endpoints(url) {
      const auth = `${host(url, 'zoom.us')}/oauth`;
      return { authorize: `${auth}/authorize`, token: `${auth}/token`, api: `${host(url, 'api.zoom.us')}/v2` };
    },
    scopes: null,
    async user({ get, api }) {
      const u = await get(`${api}/users/me`);
      const name = fullName(u.first_name, u.last_name);
      return {
        claims: claims({ iss: api, sub: s(u.id), name, picture: s(u.pic_url), avatar_url: s(u.pic_url), full_name: name, provider_id: s(u.id) }),
        emails: primary(u.email, s(u.login_type) !== '100' || (Number(u.verified) || 0) !== 0),
      };
    },
  },
  figma: {
    endpoints(url) {
      const api = host(url, 'api.figma.com');
      return { authorize: `${host(url, 'www.figma.com')}/oauth`, token: `${api}/v1/oauth/token`, api };
    },
    scopes: ['current_user:read'],
    async user({ get, api }) {
      const u = await get(`${api}/v1/me`);
      return {
        claims: claims({ iss: api, sub: s(u.id), name: s(u.handle), email: s(u.email), email_verified: true, avatar_url: s(u.img_url),
          full_name: s(u.handle), provider_id: s(u.id) }),
        emails: primary(u.email, true),
      };
    },
  },
  kakao: {
    endpoints(url) {
      const auth = host(url, 'kauth.kakao.com');
      return { authorize: `${auth}/oauth/authorize`, token: `${auth}/oauth/token`, api: host(url, 'kapi.kakao.com') };
    },
    scopes: ['account_email', 'profile_image', 'profile_nickname'],
    tokenAuth: 'params',
    async user({ get, api }) {
      const u = await get(`${api}/v2/user/me`);
      const a = u.kakao_account ?? {};
      const name = s(a.profile?.nickname);
      return {
        claims: claims({ iss: api, sub: s(u.id), name, preferred_username: name, avatar_url: s(a.profile?.profile_image_url), full_name: name,
          provider_id: s(u.id), user_name: name }),
        emails: primary(a.email, a.is_email_verified === true && a.is_email_valid === true),
      };
    },
  },
  // LinkedIn (OpenID Connect): the user is the ID token of the token answer, issued by www.linkedin.com/oauth
  // (with a custom URL: <url>/oauth, its keys at <url>/oauth/openid/jwks).
  linkedin_oidc: {
    endpoints(url) {
      const api = host(url, 'api.linkedin.com');
      return { authorize: `${api}/oauth/v2/authorization`, token: `${api}/oauth/v2/accessToken`, api };
    },
    scopes: ['openid', 'email', 'profile'],
    async user(i) {
      const iss = `${i.url ? host(i.url, '') : 'https://www.linkedin.com'}/oauth`;
      const t = await idTokenOf(i, `${iss}/openid/jwks`, iss);
      const verified = t.email_verified === true || (typeof t.email_verified === 'string' && t.email_verified.toLowerCase() === 'true');
      return {
        claims: claims({ iss: t.iss, sub: t.sub, name: fullName(t.given_name, t.family_name), given_name: s(t.given_name), family_name: s(t.family_name),
          locale: typeof t.locale === 'string' ? t.locale : '', picture: s(t.picture), provider_id: t.sub }),
        emails: primary(t.email, verified),
      };
    },
  },
  // WorkOS: the profile comes with the token; `/authorize?workos_provider=…` (or connection, organization) picks
  // the connection.
  workos: {
    endpoints(url) {
      const h = host(url, 'api.workos.com');
      return { authorize: `${h}/sso/authorize`, token: `${h}/sso/token`, api: h };
    },
    scopes: null,
    async user({ token, api }) {
      const u = (token.profile && typeof token.profile === 'object' ? token.profile : {}) as Record<string, unknown>;
      const name = fullName(u.first_name, u.last_name);
      return {
        claims: claims({ iss: api, sub: s(u.id), name, custom_claims: { connection_id: s(u.connection_id), organization_id: s(u.organization_id) },
          full_name: name, provider_id: s(u.id) }),
        emails: primary(u.email, true),
      };
    },
  },
};

export const isOAuth2Provider = (name: string | undefined): name is string => !!name && Object.hasOwn(OAUTH2_PROVIDERS, name);
export const oauth2Pkce = (name: string) => OAUTH2_PROVIDERS[name].pkce === true;

/** `external_<p>_url`, or null when unset. */
export const urlOf = (cfg: AuthConfig, name: string) => {
  const url = cfg[`external_${name}_url`];
  return typeof url === 'string' && url ? url : null;
};

export function oauth2Endpoints(cfg: AuthConfig, name: string): Endpoints {
  return OAUTH2_PROVIDERS[name].endpoints(urlOf(cfg, name));
}

// Parameters of the authorization URL that Loam sets itself; the caller's other /authorize query parameters go
// on to the provider, as GoTrue passes them (`workos_provider` as WorkOS' `provider`).
const OWN_PARAMS = new Set(['provider', 'scopes', 'redirect_to', 'skip_http_redirect', 'invite_token', 'apikey',
  'client_id', 'client_secret', 'redirect_uri', 'response_type', 'state', 'code_challenge', 'code_challenge_method', 'code_verifier', 'nonce']);

/** The caller's /authorize query parameters that go on to the provider, as GoTrue passes them. */
export function passThrough(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) {
    if (k === 'workos_provider') out.provider = v;
    else if (!OWN_PARAMS.has(k.toLowerCase())) out[k] = v;
  }
  return out;
}

/** The provider's authorization URL (golang.org/x/oauth2's AuthCodeURL: scopes joined by spaces, keys sorted). */
export function oauth2AuthorizeUrl(cfg: AuthConfig, name: string, o: { clientId: string; redirectUri: string; state: string; scopes: string[];
  extra: Record<string, string>; codeChallenge?: string }): string {
  const pr = OAUTH2_PROVIDERS[name];
  const u = new URL(oauth2Endpoints(cfg, name).authorize);
  u.searchParams.set('client_id', o.clientId);
  u.searchParams.set('redirect_uri', o.redirectUri);
  u.searchParams.set('response_type', 'code');
  if (pr.scopes) {
    const scopes = [...new Set([...pr.scopes, ...(pr.fixedScopes ? [] : o.scopes)])];
    if (scopes.length) u.searchParams.set('scope', scopes.join(' '));
  }
  u.searchParams.set('state', o.state);
  for (const [k, v] of Object.entries(pr.ownParamsOnly ? {} : passThrough(o.extra))) u.searchParams.set(k, v);
  for (const [k, v] of Object.entries(pr.authParams ?? {})) u.searchParams.set(k, v);
  if (o.codeChallenge) {
    u.searchParams.set('code_challenge', o.codeChallenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  u.searchParams.sort();
  return u.href;
}

async function readJson(res: Response): Promise<any> {
  const text = await res.text();
  try { return JSON.parse(text); } catch { return Object.fromEntries(new URLSearchParams(text)); }
}

// golang.org/x/oauth2 remembers per token URL which client authentication worked; so does Loam (bounded).
const tokenAuthStyles = new Map<string, 'header' | 'params'>();

async function tokenRequest(url: string, form: Record<string, string>, clientId: string, secret: string, style: 'header' | 'params') {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(form);
  if (style === 'header') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else {
    body.set('client_id', clientId);
    body.set('client_secret', secret);
  }
  const res = await guardedFetch(url, { method: 'POST', headers, body: body.toString() });
  const json = await readJson(res);
  const ok = res.status >= 200 && res.status < 300 && typeof json?.access_token === 'string' && json.access_token !== '';
  return { ok, status: res.status, json };
}

/** The code for tokens (with the PKCE verifier towards providers that need one), then the user: GoTrue's words
 *  when either fails. */
export async function oauth2Exchange(cfg: AuthConfig, name: string, o: { clientId: string; secret: string; redirectUri: string; code: string;
  codeVerifier?: string | null; callback: Record<string, string> }): Promise<{ accessToken: string; refreshToken: string | null; user: ProviderUser }> {
  const pr = OAUTH2_PROVIDERS[name];
  const ep = oauth2Endpoints(cfg, name);
  let token: Record<string, unknown>;
  try {
    const form: Record<string, string> = { grant_type: 'authorization_code', code: o.code, redirect_uri: o.redirectUri,
      ...(o.codeVerifier ? { code_verifier: o.codeVerifier } : {}) };
    const known = pr.tokenAuth ?? tokenAuthStyles.get(ep.token);
    let r = await tokenRequest(ep.token, form, o.clientId, o.secret, known ?? 'header');
    if (!known) {
      let style: 'header' | 'params' = 'header';
      if (!r.ok) {
        style = 'params';
        r = await tokenRequest(ep.token, form, o.clientId, o.secret, style);
      }
      if (r.ok) {
        if (tokenAuthStyles.size >= 500) tokenAuthStyles.delete(tokenAuthStyles.keys().next().value!);
        tokenAuthStyles.set(ep.token, style);
      }
    }
    if (!r.ok) throw new Error(`token endpoint answered ${r.status}${r.json?.error ? ` (${s(r.json.error)})` : ''}`);
    token = r.json;
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', `Unable to exchange external code: ${o.code.slice(0, 4)}`, {}, err);
  }
  const accessToken = token.access_token as string;
  const refreshToken = typeof token.refresh_token === 'string' && token.refresh_token ? token.refresh_token : null;
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await guardedFetch(url, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json', ...headers } });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new Error(`${url} answered ${res.status}`);
    return JSON.parse(text);
  };
  try {
    const user = await pr.user({ get, api: ep.api, url: urlOf(cfg, name), token, accessToken, clientId: o.clientId, secret: o.secret, callback: o.callback });
    return { accessToken, refreshToken, user };
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting user profile from external provider', {}, err);
  }
}

/** GoTrue's choice of the user's email among the provider's: the primary one (else the last), with its flag;
 *  none is an error unless the provider's `external_<p>_email_optional` is on. */
export function pickEmail(emails: ProviderEmail[], optional = false): { email: string | null; verified: boolean } {
  if (!emails.length) {
    if (optional) return { email: null, verified: false };
    throw new AuthError(500, 'unexpected_failure', 'Error getting user email from external provider');
  }
  const chosen = emails.find((e) => e.primary) ?? emails[emails.length - 1];
  return { email: chosen.email, verified: chosen.verified };
}
