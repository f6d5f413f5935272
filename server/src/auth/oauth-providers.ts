// The OAuth 2.0 providers GoTrue signs in with that are not OpenID Connect issuers (GitHub, GitLab, Discord,
// Bitbucket): one table of what differs between them, as GoTrue's provider package has it — where the browser
// goes, where the code is exchanged, which scopes are asked for, which API calls describe the user and how their
// answers map to GoTrue's claims and emails — and one flow for all (oauth.ts calls it). `external_<p>_url` moves
// a provider to a self-hosted instance (GitHub Enterprise, a GitLab server), as GOTRUE_EXTERNAL_<P>_URL does.
// Every request goes through guardedFetch: the URL is the tenant's.
import { guardedFetch } from '../project/keyring.ts';
import type { AuthConfig } from './config.ts';
import { AuthError } from './errors.ts';

export interface ProviderEmail { email: string; verified: boolean; primary: boolean }

/** What a provider says of the user: GoTrue's Claims (identity_data) and its emails. */
export interface ProviderUser { claims: Record<string, unknown>; emails: ProviderEmail[] }

interface Endpoints { authorize: string; token: string; api: string }

interface OAuth2Provider {
  endpoints(url: string | null): Endpoints;
  scopes: string[];
  /** The user, from the provider's API; `get` fetches JSON with the access token. */
  user(get: (url: string) => Promise<any>, api: string): Promise<ProviderUser>;
}

/** GoTrue's chooseHost: the configured base without a trailing slash, else https://<default>. */
const host = (url: string | null, fallback: string) => (url ? url.replace(/\/$/, '') : `https://${fallback}`);
const s = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
/** Claims without the empty ones (GoTrue's omitempty), email_verified and phone_verified always. */
const claims = (c: Record<string, unknown>) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== '' && v !== undefined && v !== null));

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
    async user(get, api) {
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
    async user(get, h) {
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
    async user(get, api) {
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
    async user(get, api) {
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
};

export const isOAuth2Provider = (name: string | undefined): name is string => !!name && Object.hasOwn(OAUTH2_PROVIDERS, name);

export function oauth2Endpoints(cfg: AuthConfig, name: string): Endpoints {
  const url = cfg[`external_${name}_url`];
  return OAUTH2_PROVIDERS[name].endpoints(typeof url === 'string' && url ? url : null);
}

/** The provider's authorization URL (GoTrue's oauth2 AuthCodeURL: scopes joined by spaces). */
export function oauth2AuthorizeUrl(cfg: AuthConfig, name: string, o: { clientId: string; redirectUri: string; state: string; scopes: string[] }): string {
  const u = new URL(oauth2Endpoints(cfg, name).authorize);
  u.searchParams.set('client_id', o.clientId);
  u.searchParams.set('redirect_uri', o.redirectUri);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('scope', [...new Set([...OAUTH2_PROVIDERS[name].scopes, ...o.scopes])].join(' '));
  u.searchParams.set('state', o.state);
  return u.href;
}

async function readJson(res: Response): Promise<any> {
  const text = await res.text();
  try { return JSON.parse(text); } catch { return Object.fromEntries(new URLSearchParams(text)); }
}

/** The code for tokens, then the user: GoTrue's words when either fails. */
export async function oauth2Exchange(cfg: AuthConfig, name: string, o: { clientId: string; secret: string; redirectUri: string; code: string }):
  Promise<{ accessToken: string; refreshToken: string | null; user: ProviderUser }> {
  const ep = oauth2Endpoints(cfg, name);
  let accessToken: string;
  let refreshToken: string | null = null;
  try {
    const res = await guardedFetch(ep.token, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: o.code, redirect_uri: o.redirectUri, client_id: o.clientId, client_secret: o.secret }).toString(),
    });
    const body = await readJson(res);
    if (res.status !== 200 || typeof body?.access_token !== 'string' || !body.access_token) {
      throw new Error(`token endpoint answered ${res.status}${body?.error ? ` (${s(body.error)})` : ''}`);
    }
    accessToken = body.access_token;
    if (typeof body.refresh_token === 'string' && body.refresh_token) refreshToken = body.refresh_token;
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', `Unable to exchange external code: ${o.code.slice(0, 4)}`, {}, err);
  }
  const get = async (url: string) => {
    const res = await guardedFetch(url, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new Error(`${url} answered ${res.status}`);
    return JSON.parse(text);
  };
  try {
    return { accessToken, refreshToken, user: await OAUTH2_PROVIDERS[name].user(get, ep.api) };
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting user profile from external provider', {}, err);
  }
}

/** GoTrue's choice of the user's email among the provider's: the primary one (else the last), with its flag. */
export function pickEmail(emails: ProviderEmail[]): { email: string; verified: boolean } {
  if (!emails.length) throw new AuthError(500, 'unexpected_failure', 'Error getting user email from external provider');
  const chosen = emails.find((e) => e.primary) ?? emails[emails.length - 1];
  return { email: chosen.email, verified: chosen.verified };
}
