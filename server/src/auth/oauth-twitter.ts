// Twitter's OAuth 1.0a sign-in (GoTrue's `twitter` provider, the mrjones/oauth consumer): a request token whose
// callback carries the flow's state, the browser to /oauth/authenticate, then at the callback the verifier for an
// access token and the user from /1.1/account/verify_credentials.json — every request signed with HMAC-SHA1
// (RFC 5849). `external_twitter_url` moves the API host (GOTRUE_EXTERNAL_TWITTER_URL). Requests go through
// guardedFetch: the URL is the tenant's.
import crypto from 'node:crypto';
import { guardedFetch } from '../project/keyring.ts';
import { AuthError } from './errors.ts';
import type { ProviderUser } from './oauth-providers.ts';

export function twitterEndpoints(url: string | null) {
  const h = url ? url.replace(/\/$/, '') : 'https://api.twitter.com';
  return { requestToken: `${h}/oauth/request_token`, authenticate: `${h}/oauth/authenticate`, accessToken: `${h}/oauth/access_token`,
    profile: `${h}/1.1/account/verify_credentials.json` };
}

/** RFC 3986 percent-encoding, as OAuth 1.0a requires (encodeURIComponent leaves !'()* alone). */
const enc = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

interface Client { key: string; secret: string }

/** A signed GET: the oauth_* parameters in the Authorization header, the others in the query. */
async function signedGet(url: string, client: Client, token: { token: string; secret: string } | null, oauthExtra: Record<string, string>,
  query: Record<string, string> = {}): Promise<Response> {
  const oauth: Record<string, string> = {
    oauth_consumer_key: client.key, oauth_nonce: crypto.randomBytes(16).toString('hex'), oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: String(Math.floor(Date.now() / 1000)), oauth_version: '1.0', ...(token ? { oauth_token: token.token } : {}), ...oauthExtra,
  };
  const all = [...Object.entries(oauth), ...Object.entries(query)].map(([k, v]) => [enc(k), enc(v)]).sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1));
  const base = ['GET', enc(url), enc(all.map(([k, v]) => `${k}=${v}`).join('&'))].join('&');
  oauth.oauth_signature = crypto.createHmac('sha1', `${enc(client.secret)}&${enc(token?.secret ?? '')}`).update(base).digest('base64');
  const header = `OAuth ${Object.entries(oauth).map(([k, v]) => `${enc(k)}="${enc(v)}"`).join(', ')}`;
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return guardedFetch(u.href, { headers: { authorization: header } });
}

const form = async (res: Response) => Object.fromEntries(new URLSearchParams(await res.text()));

/** The browser's next stop: Twitter's authenticate page for a new request token whose callback names the flow. */
export async function twitterAuthorizeUrl(url: string | null, client: Client, callback: string): Promise<string> {
  const ep = twitterEndpoints(url);
  let token: string | undefined;
  try {
    const res = await signedGet(ep.requestToken, client, null, { oauth_callback: callback });
    token = res.status === 200 ? (await form(res)).oauth_token : undefined;
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting a request token from Twitter', {}, err);
  }
  if (!token) throw new AuthError(500, 'unexpected_failure', 'Error getting a request token from Twitter');
  return `${ep.authenticate}?oauth_token=${enc(token)}`;
}

/** The callback's request token and verifier for an access token (GoTrue signs this one without the request
 *  token's secret), then the user: GoTrue's words when either fails. */
export async function twitterExchange(url: string | null, client: Client, requestToken: string, verifier: string):
  Promise<{ accessToken: string; user: ProviderUser }> {
  const ep = twitterEndpoints(url);
  let access: Record<string, string>;
  try {
    const res = await signedGet(ep.accessToken, client, { token: requestToken, secret: '' }, { oauth_verifier: verifier });
    access = res.status === 200 ? await form(res) : {};
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', 'Unable to retrieve access token', {}, err);
  }
  if (!access.oauth_token) throw new AuthError(500, 'unexpected_failure', 'Unable to retrieve access token');
  let u: Record<string, unknown>;
  try {
    const res = await signedGet(ep.profile, client, { token: access.oauth_token, secret: access.oauth_token_secret ?? '' }, {},
      { include_entities: 'false', skip_status: 'true', include_email: 'true' });
    if (res.status < 200 || res.status >= 300) throw new Error(`a ${res.status} error occurred with retrieving user from twitter`);
    u = await res.json() as Record<string, unknown>;
  } catch (err) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting user email from external provider', {}, err);
  }
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  const claims = Object.fromEntries(Object.entries({
    iss: ep.profile, sub: s(u.id_str), name: s(u.name), picture: s(u.profile_image_url_https), preferred_username: s(u.screen_name),
    user_name: s(u.screen_name), full_name: s(u.name), avatar_url: s(u.profile_image_url_https), provider_id: s(u.id_str),
  }).filter(([, v]) => v !== ''));
  return { accessToken: access.oauth_token, user: { claims, emails: s(u.email) ? [{ email: s(u.email), verified: true, primary: true }] : [] } };
}
