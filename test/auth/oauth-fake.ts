// A local server that speaks the token and user APIs of the OAuth 2.0 providers of auth/oauth-providers.ts, each
// under its own prefix, in that provider's shapes (the projects point `external_<p>_url` at `base + prefix`).
// Whoever the test puts in `next` signs in at the next authorization. Each token endpoint authenticates the client
// the way the real one does (Notion: HTTP Basic only; Kakao: the form only; others either), X checks the PKCE
// verifier, Apple answers with a form POST to the callback, Apple and LinkedIn put the user in a signed ID token.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export interface FakeUser { id: number; login: string; name: string; email: string | null; confirmed?: boolean;
  emails: { email: string; primary: boolean; verified: boolean }[] }

/** Provider → [prefix, authorization path, token path]. */
export const FAKE_ROUTES: Record<string, [string, string, string]> = {
  github: ['/gh', '/login/oauth/authorize', '/login/oauth/access_token'],
  gitlab: ['/gl', '/oauth/authorize', '/oauth/token'],
  discord: ['/dc', '/api/oauth2/authorize', '/api/oauth2/token'],
  bitbucket: ['/bb', '/site/oauth2/authorize', '/site/oauth2/access_token'],
  apple: ['/ap', '/auth/authorize', '/auth/token'],
  facebook: ['/fb', '/dialog/oauth', '/oauth/access_token'],
  x: ['/x', '/i/oauth2/authorize', '/2/oauth2/token'],
  slack_oidc: ['/sl', '/openid/connect/authorize', '/api/openid.connect.token'],
  slack: ['/sk', '/oauth/authorize', '/api/oauth.access'],
  spotify: ['/sp', '/authorize', '/api/token'],
  twitch: ['/tw', '/oauth2/authorize', '/oauth2/token'],
  notion: ['/no', '/v1/oauth/authorize', '/v1/oauth/token'],
  zoom: ['/zo', '/oauth/authorize', '/oauth/token'],
  figma: ['/fi', '/oauth', '/v1/oauth/token'],
  kakao: ['/ka', '/oauth/authorize', '/oauth/token'],
  linkedin_oidc: ['/li', '/oauth/v2/authorization', '/oauth/v2/accessToken'],
  workos: ['/wo', '/sso/authorize', '/sso/token'],
  // OAuth 1.0a: the authenticate page and the access token endpoint (the request token is /tt/oauth/request_token).
  twitter: ['/tt', '/oauth/authenticate', '/oauth/access_token'],
};

export const FAKE_SECRET = 'provider-secret';

interface Grant { provider: string; user: FakeUser; clientId: string; redirectUri: string; scope: string; challenge: string | null; nonce: string | null }

export class FakeProviders {
  server!: http.Server;
  base = '';
  next!: FakeUser;
  /** The Apple `user` form field of the next authorization (Apple sends it on a first sign-in only). */
  appleName: { firstName: string; lastName: string } | null = null;
  readonly codes = new Map<string, Grant>();
  readonly tokens = new Map<string, Grant>();
  readonly requests: string[] = [];
  /** The headers and query of user API requests, by path. */
  readonly seen = new Map<string, { headers: http.IncomingHttpHeaders; query: URLSearchParams }>();
  private key!: CryptoKey;
  jwk!: JWK;

  async start(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    this.key = privateKey as CryptoKey;
    this.jwk = { ...await exportJWK(publicKey), kid: 'fake-1', alg: 'RS256', use: 'sig' };
    this.server = http.createServer((req, res) => void this.handle(req, res).catch((err) => { console.error(err); res.writeHead(500).end(); }));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** An ID token of this server's key (Apple's issuer is `base/ap`, LinkedIn's `base/li/oauth`). */
  idToken(claims: Record<string, unknown>, accessToken?: string): Promise<string> {
    const atHash = accessToken ? crypto.createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url') : undefined;
    return new SignJWT({ ...claims, ...(atHash ? { at_hash: atHash } : {}) }).setProtectedHeader({ alg: 'RS256', kid: 'fake-1' })
      .setIssuedAt().setExpirationTime('5m').sign(this.key);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const u = new URL(req.url!, this.base);
    this.requests.push(`${req.method} ${u.pathname}`);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (['/ap/auth/keys', '/li/oauth/openid/jwks', '/fb/jwks', '/ka/jwks'].includes(u.pathname)) return json(200, { keys: [this.jwk] });
    // Facebook Limited Login's and Kakao's OpenID discovery (their ID tokens sign in with grant_type=id_token).
    if (u.pathname === '/fb/.well-known/openid-configuration' || u.pathname === '/ka/.well-known/openid-configuration') {
      const issuer = `${this.base}${u.pathname.slice(0, 3)}`;
      return json(200, { issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/dialog/oauth`, response_types_supported: ['id_token'],
        subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (u.pathname.startsWith('/tt/')) return this.twitter(req, u, res, json);
    const entry = Object.entries(FAKE_ROUTES).find(([, [prefix, auth, tok]]) => u.pathname === prefix + auth || u.pathname === prefix + tok);
    if (entry && u.pathname === entry[1][0] + entry[1][1]) return this.authorize(entry[0], u, res, json);
    if (entry && req.method === 'POST') return this.token(entry[0], req, res, json);
    const grant = this.tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!grant) return json(401, { message: 'Bad credentials' });
    this.seen.set(u.pathname, { headers: req.headers, query: u.searchParams });
    const user = grant.user;
    const primary = user.emails.find((e) => e.primary)?.email ?? user.email;
    switch (u.pathname) {
      case '/gh/api/v3/user': return json(200, { id: user.id, login: user.login, name: user.name, email: user.email, avatar_url: `https://avatars.example.com/${user.id}` });
      case '/gh/api/v3/user/emails': return json(200, user.emails);
      case '/gl/api/v4/user': return json(200, { id: user.id, username: user.login, name: user.name, email: user.email, avatar_url: `https://gl.example.com/${user.id}.png`, confirmed_at: user.confirmed ? '2024-01-01T00:00:00Z' : null });
      case '/gl/api/v4/user/emails': return json(200, user.emails.filter((e) => !e.primary).map((e, i) => ({ id: i + 1, email: e.email })));
      case '/dc/api/users/@me': return json(200, { id: String(user.id), username: user.login, discriminator: '0042', global_name: user.name, email: user.email, verified: user.confirmed === true, avatar: 'a_abc' });
      case '/bb/2.0/user': return json(200, { uuid: `{${user.id}}`, display_name: user.name, avatar: { href: `https://bb.example.com/${user.id}.png` } });
      case '/bb/2.0/user/emails': return json(200, { values: user.emails.map((e) => ({ email: e.email, is_primary: e.primary, is_confirmed: e.verified })) });
      case '/fb/me': {
        const proof = crypto.createHmac('sha256', FAKE_SECRET).update(String(req.headers.authorization).slice(7)).digest('hex');
        if (u.searchParams.get('appsecret_proof') !== proof) return json(400, { error: { message: 'Invalid appsecret_proof' } });
        const [first, last] = user.name.split(' ');
        return json(200, { id: String(user.id), email: primary, first_name: first, last_name: last, name: user.login, picture: { data: { url: `https://fb.example.com/${user.id}.jpg` } } });
      }
      case '/x/2/users/me': return json(200, { data: { id: String(user.id), name: user.name, username: user.login, confirmed_email: primary, profile_image_url: `https://x.example.com/${user.id}.jpg`, url: 'https://dee.example.com', created_at: '2020-01-02T03:04:05.000Z' } });
      case '/sk/api/openid.connect.userInfo':
      case '/sl/api/openid.connect.userInfo': return json(200, { ok: true, sub: `U${user.id}`, 'https://slack.com/user_id': `U${user.id}`, 'https://slack.com/team_id': 'T0001', email: primary, email_verified: user.confirmed === true, name: user.name, picture: `https://slack.example.com/${user.id}.png` });
      case '/sp/me': return json(200, { id: user.login, display_name: user.name, email: primary, images: [{ url: 'https://sp.example.com/small.jpg', height: 64, width: 64 }, { url: 'https://sp.example.com/large.jpg', height: 640, width: 640 }] });
      case '/tw/helix/users':
        if (req.headers['client-id'] !== grant.clientId) return json(401, { message: 'Client-Id header required' });
        return json(200, { data: [{ id: String(user.id), login: user.login, display_name: user.name, type: '', broadcaster_type: 'affiliate', description: 'hi', profile_image_url: `https://tw.example.com/${user.id}.png`, offline_image_url: '', view_count: 7, email: primary }] });
      case '/no/v1/users/me':
        if (req.headers['notion-version'] !== '2021-08-16') return json(400, { message: 'Notion-Version header required' });
        return json(200, { object: 'user', id: 'bot-1', type: 'bot', bot: { owner: { type: 'user', user: { id: `n-${user.id}`, name: user.name, avatar_url: `https://no.example.com/${user.id}.png`, person: { email: primary } } } } });
      case '/zo/v2/users/me': {
        const [first, last] = user.name.split(' ');
        return json(200, { id: `z${user.id}`, first_name: first, last_name: last, email: primary, verified: user.confirmed ? 1 : 0, login_type: '100', pic_url: `https://zo.example.com/${user.id}.png` });
      }
      case '/fi/v1/me': return json(200, { id: String(user.id), email: primary, handle: user.login, img_url: `https://fi.example.com/${user.id}.png` });
      case '/ka/v2/user/me': return json(200, { id: user.id, kakao_account: { profile: { nickname: user.login, profile_image_url: `https://ka.example.com/${user.id}.png` }, email: primary, is_email_valid: true, is_email_verified: user.confirmed === true } });
      default: return json(404, { message: 'Not Found' });
    }
  }

  private authorize(provider: string, u: URL, res: http.ServerResponse, json: (s: number, b: unknown) => void): void {
    if (u.searchParams.get('response_type') !== 'code') return json(400, { error: 'unsupported_response_type' });
    const code = crypto.randomBytes(10).toString('hex');
    this.codes.set(code, { provider, user: this.next, clientId: u.searchParams.get('client_id')!, redirectUri: u.searchParams.get('redirect_uri')!,
      scope: u.searchParams.get('scope') ?? '', challenge: u.searchParams.get('code_challenge'), nonce: u.searchParams.get('nonce') });
    if (u.searchParams.get('response_mode') === 'form_post') {
      // Apple: an HTML page whose form the browser posts to the callback.
      const fields: Record<string, string> = { code, state: u.searchParams.get('state')! };
      if (this.appleName) fields.user = JSON.stringify({ name: this.appleName, email: this.next.email });
      const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">`).join('');
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body onload="document.forms[0].submit()"><form method="post" action="${u.searchParams.get('redirect_uri')}">${inputs}</form></body></html>`);
      return;
    }
    const back = new URL(u.searchParams.get('redirect_uri')!);
    back.searchParams.set('code', code);
    back.searchParams.set('state', u.searchParams.get('state')!);
    res.writeHead(302, { location: back.href }).end();
  }

  private async token(provider: string, req: http.IncomingMessage, res: http.ServerResponse, json: (s: number, b: unknown) => void): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    // The client authenticates first (a failed attempt leaves the code usable, as at the real providers).
    const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''));
    const [bid, bsecret] = basic ? Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent) : [];
    const viaHeader = !!basic && bsecret === FAKE_SECRET;
    const viaForm = form.get('client_secret') === FAKE_SECRET;
    const allowed = provider === 'notion' ? viaHeader : provider === 'kakao' || provider === 'apple' ? viaForm : viaHeader || viaForm;
    if (!allowed) return json(401, { error: 'invalid_client' });
    const clientId = viaHeader ? bid : form.get('client_id');
    const grant = this.codes.get(form.get('code') ?? '');
    this.codes.delete(form.get('code') ?? '');
    if (!grant || grant.provider !== provider || clientId !== grant.clientId || form.get('redirect_uri') !== grant.redirectUri || form.get('grant_type') !== 'authorization_code') {
      return json(400, { error: 'bad_verification_code' });
    }
    if (grant.challenge && crypto.createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') !== grant.challenge) {
      return json(400, { error: 'invalid_grant', error_description: 'code_verifier' });
    }
    const token = `tok-${crypto.randomBytes(8).toString('hex')}`;
    this.tokens.set(token, grant);
    const user = grant.user;
    const primary = user.emails.find((e) => e.primary)?.email ?? user.email;
    const extra: Record<string, unknown> = {};
    if (provider === 'gitlab' || provider === 'x') extra.refresh_token = `r-${token}`;
    if (provider === 'apple') {
      extra.id_token = await this.idToken({ iss: `${this.base}/ap`, aud: grant.clientId, sub: `000${user.id}.apple`, email: primary,
        email_verified: 'true', is_private_email: 'false', auth_time: 1700000000 }, token);
    }
    if (provider === 'linkedin_oidc') {
      const [given, family] = user.name.split(' ');
      extra.id_token = await this.idToken({ iss: `${this.base}/li/oauth`, aud: grant.clientId, sub: `li-${user.id}`, email: primary,
        email_verified: user.confirmed ? 'true' : 'false', given_name: given, family_name: family, locale: 'en_US', picture: `https://li.example.com/${user.id}.jpg` }, token);
    }
    if (provider === 'workos') {
      const [first, last] = user.name.split(' ');
      extra.profile = { object: 'profile', id: `prof_${user.id}`, connection_id: 'conn_1', organization_id: 'org_1', connection_type: 'OktaSAML',
        email: primary, first_name: first, last_name: last, idp_id: 'idp-1', raw_attributes: {} };
    }
    // GitHub answers a form unless asked for JSON; Loam asks for JSON.
    if (!String(req.headers.accept).includes('json')) return void res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' }).end(`access_token=${token}&token_type=bearer`);
    json(200, { access_token: token, token_type: 'bearer', scope: grant.scope, ...extra });
  }

  // Twitter's OAuth 1.0a: request token (its callback kept), authenticate (back to the callback with a verifier),
  // access token, verify_credentials; every request's HMAC-SHA1 signature checked (RFC 5849), as Twitter does.
  private readonly oauth1 = new Map<string, { secret: string; callback?: string; verifier?: string; user?: FakeUser; clientId: string }>();

  /** The callback a Twitter request token was asked with. */
  twitterCallback(requestToken: string): string {
    return this.oauth1.get(requestToken)!.callback!;
  }

  private twitter(req: http.IncomingMessage, u: URL, res: http.ServerResponse, json: (s: number, b: unknown) => void): void {
    if (u.pathname === '/tt/oauth/authenticate') {
      const rt = this.oauth1.get(u.searchParams.get('oauth_token') ?? '');
      if (!rt?.callback) return json(400, { errors: [{ message: 'bad request token' }] });
      rt.verifier = crypto.randomBytes(8).toString('hex');
      rt.user = this.next;
      const back = `${rt.callback}${rt.callback.includes('?') ? '&' : '?'}oauth_token=${u.searchParams.get('oauth_token')}&oauth_verifier=${rt.verifier}`;
      return void res.writeHead(302, { location: back }).end();
    }
    const header = String(req.headers.authorization ?? '');
    const oauth: Record<string, string> = {};
    for (const m of header.matchAll(/([a-z_]+)="([^"]*)"/g)) oauth[decodeURIComponent(m[1])] = decodeURIComponent(m[2]);
    const token = oauth.oauth_token ? this.oauth1.get(oauth.oauth_token) : undefined;
    // GoTrue signs the access token request without the request token's secret (mrjones/oauth given the token only).
    const tokenSecret = u.pathname === '/tt/oauth/access_token' ? '' : token?.secret ?? '';
    const e = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const params = [...Object.entries(oauth).filter(([k]) => k !== 'oauth_signature'), ...u.searchParams.entries()]
      .map(([k, v]) => `${e(k)}=${e(v)}`).sort();
    const base = `${req.method}&${e(`${this.base}${u.pathname}`)}&${e(params.join('&'))}`;
    const want = crypto.createHmac('sha1', `${e(FAKE_SECRET)}&${e(tokenSecret)}`).update(base).digest('base64');
    if (oauth.oauth_signature !== want || oauth.oauth_signature_method !== 'HMAC-SHA1' || oauth.oauth_consumer_key !== 'twitter-client') {
      return json(401, { errors: [{ code: 32, message: 'Could not authenticate you.' }] });
    }
    const form = (o: Record<string, string>) => void res.writeHead(200, { 'content-type': 'text/html' }).end(new URLSearchParams(o).toString());
    if (u.pathname === '/tt/oauth/request_token') {
      const rt = `rt-${crypto.randomBytes(6).toString('hex')}`;
      this.oauth1.set(rt, { secret: crypto.randomBytes(6).toString('hex'), callback: oauth.oauth_callback, clientId: oauth.oauth_consumer_key });
      return form({ oauth_token: rt, oauth_token_secret: this.oauth1.get(rt)!.secret, oauth_callback_confirmed: 'true' });
    }
    if (u.pathname === '/tt/oauth/access_token') {
      if (!token?.verifier || oauth.oauth_verifier !== token.verifier) return json(401, { errors: [{ message: 'bad verifier' }] });
      this.oauth1.delete(oauth.oauth_token);
      const at = `tok-${crypto.randomBytes(6).toString('hex')}`;
      this.oauth1.set(at, { secret: crypto.randomBytes(6).toString('hex'), user: token.user, clientId: token.clientId });
      return form({ oauth_token: at, oauth_token_secret: this.oauth1.get(at)!.secret, user_id: String(token.user!.id), screen_name: token.user!.login });
    }
    if (u.pathname === '/tt/1.1/account/verify_credentials.json' && token?.user && u.searchParams.get('include_email') === 'true') {
      const user = token.user;
      return json(200, { id: user.id, id_str: String(user.id), name: user.name, screen_name: user.login,
        profile_image_url_https: `https://tt.example.com/${user.id}.png`, email: user.emails.find((m) => m.primary)?.email ?? user.email ?? '' });
    }
    json(404, { errors: [{ message: 'Sorry, that page does not exist' }] });
  }

  close(): Promise<void> {
    return new Promise((r) => { this.server.closeAllConnections(); this.server.close(() => r()); });
  }
}

export const someone = (over: Partial<FakeUser> = {}): FakeUser => {
  const id = crypto.randomInt(1, 2 ** 31);
  const email = `dev-${id}@example.com`;
  return { id, login: `dev${id}`, name: 'Dee Veloper', email, confirmed: true,
    emails: [{ email: `old-${id}@example.com`, primary: false, verified: true }, { email, primary: true, verified: true }], ...over };
};

/** `external_<p>_*` settings of every provider, pointed at the fake. */
export function providerSettings(fake: FakeProviders, providers = Object.keys(FAKE_ROUTES)): Record<string, unknown> {
  return Object.fromEntries(providers.flatMap((p) => [
    [`external_${p}_enabled`, true], [`external_${p}_client_id`, `${p}-client`], [`external_${p}_secret`, FAKE_SECRET],
    [`external_${p}_url`, `${fake.base}${FAKE_ROUTES[p][0]}`],
  ]));
}
