// Sign-in with OAuth / OpenID Connect providers, as GoTrue does it: GET /authorize?provider=… sends the browser to
// the provider, GET /callback comes back with a code, which becomes a session (implicit: tokens in the redirect's
// fragment) or a PKCE code (`?code=`, exchanged at /token?grant_type=pkce). POST /token?grant_type=id_token signs
// in with an ID token the app got from the provider itself (verified against the provider's JWKS). Identity
// linking: GET /user/identities/authorize starts the same flow for the signed-in user, DELETE
// /user/identities/{id} unlinks. The provider's metadata, tokens and ID token checks (state, nonce, PKCE to the
// provider, signature, issuer, audience) are openid-client's and jose's; the accounts are SQL (0009-auth-oauth.sql).
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { guardedFetch } from '../project/keyring.ts';
import type { AuthConfig } from './config.ts';
import { allowedRedirect } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, OAuthFlowError, toAuthError, validation } from './errors.ts';
import { bool, ctx, pkce, str, type Ctx, type Params } from './params.ts';
import { isUuid, issuer, tokenResponse, userCaller, type SessionData } from './session.ts';
import { appleIssuers, appleJwks, appleUser, atHashMatches, isOAuth2Provider, oauth2AuthorizeUrl, oauth2Endpoints, oauth2Exchange, oauth2Pkce, passThrough,
  pickEmail, remoteJwks, urlOf, type ProviderUser } from './oauth-providers.ts';
import { twitterAuthorizeUrl, twitterEndpoints, twitterExchange } from './oauth-twitter.ts';

export const oauth = Router();

/** The providers Loam signs in with, each an OpenID Connect issuer: keycloak names any issuer by
 *  `external_keycloak_url` (GoTrue's generic OIDC path); google is Google's. */
const PROVIDERS: Record<string, (cfg: AuthConfig) => string | null> = {
  keycloak: (cfg) => (typeof cfg.external_keycloak_url === 'string' && cfg.external_keycloak_url ? cfg.external_keycloak_url.replace(/\/$/, '') : null),
  google: () => 'https://accounts.google.com',
  // Azure (Microsoft Entra ID) is an OIDC issuer: its tenant's, by external_azure_url (GoTrue's default is the
  // multi-tenant `common` one, whose discovery names no single issuer).
  azure: (cfg) => (typeof cfg.external_azure_url === 'string' && cfg.external_azure_url ? cfg.external_azure_url.replace(/\/$/, '') : 'https://login.microsoftonline.com/common/v2.0'),
};

/** `oauth2`: a provider of the table in oauth-providers.ts (no discovery, no ID token). */
interface Provider { name: string; issuer: string; clientIds: string[]; secret: string; skipNonce: boolean; oauth2: boolean }

/** GoTrue's checks in its order (conf.ValidateOAuth), each an "Unsupported provider: …" for /authorize. */
function provider(cfg: AuthConfig, name: string | undefined): Provider {
  // Twitter (OAuth 1.0a, oauth-twitter.ts) goes with the table's providers: no discovery, no ID token.
  const oauth2 = isOAuth2Provider(name) || name === 'twitter';
  const issuerOf = name === 'twitter' ? (cfg: AuthConfig) => twitterEndpoints(urlOf(cfg, 'twitter')).profile
    : oauth2 ? (cfg: AuthConfig) => oauth2Endpoints(cfg, name).api : name && Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!name || !issuerOf) throw validation(`Unsupported provider: Provider ${name ?? ''} could not be found`);
  const get = (k: string) => cfg[`external_${name}_${k}`];
  if (get('enabled') !== true) throw validation('Unsupported provider: provider is not enabled');
  const clientIds = String(get('client_id') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!clientIds.length) throw validation('Unsupported provider: missing OAuth client ID');
  const secret = String(get('secret') ?? '');
  if (!secret) throw validation('Unsupported provider: missing OAuth secret');
  const iss = issuerOf(cfg);
  // A custom URL that is no URL (the tenant's setting) is the provider's missing URL, not a 500 later.
  if (!iss || (oauth2 && !URL.canParse(iss))) throw validation(`Unsupported provider: unable to find URL for the ${name} provider`);
  return { name, issuer: iss, clientIds, secret, skipNonce: get('skip_nonce_check') === true, oauth2 };
}

// Provider metadata, fetched once per issuer and client for ten minutes (bounded: at most 200 entries).
const discovered = new Map<string, { at: number; config: Promise<oidc.Configuration> }>();

function discover(pr: Provider): Promise<oidc.Configuration> {
  const key = `${pr.issuer} ${pr.clientIds[0]} ${crypto.createHash('sha256').update(pr.secret).digest('hex')}`;
  const hit = discovered.get(key);
  if (hit && Date.now() - hit.at < 600_000) return hit.config;
  if (discovered.size >= 200) discovered.delete(discovered.keys().next().value!);
  const url = new URL(pr.issuer);
  // Every request to the provider goes through guardedFetch: the URL is the tenant's, so never an address inside.
  const config = oidc.discovery(url, pr.clientIds[0], pr.secret, undefined, {
    timeout: 5, execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [], [oidc.customFetch]: guardedFetch as oidc.CustomFetch,
  }).then((c) => { c[oidc.customFetch] = guardedFetch as oidc.CustomFetch; return c; });
  config.catch(() => discovered.delete(key));
  discovered.set(key, { at: Date.now(), config });
  return config;
}

async function providerConfig(pr: Provider): Promise<oidc.Configuration> {
  try {
    return await discover(pr);
  } catch (err) {
    // openid-client wraps a failed request ("something went wrong"); the cause says what.
    const e = err as Error & { cause?: unknown };
    const why = e.cause instanceof Error ? e.cause.message : e.message;
    throw new AuthError(502, 'unexpected_failure', `Error getting the provider's OpenID configuration: ${why}`, {}, err);
  }
}

const callbackUrl = (c: Ctx) => `${issuer(c.p)}/callback`;

function query(req: Request, key: string): string | undefined {
  const v = req.query[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw validation(`${key} must be a single value`);
  if (v.includes('\0')) throw validation(`${key} must not contain NUL characters`);
  return v;
}

/** The query's parameters, the first value of a repeated one (Go's Query().Get); a NUL never reaches here
 *  (index.ts refuses `%00`). */
function queryParams(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(req.query)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[key] = first;
  }
  return out;
}

/** The provider's authorization URL for a new flow (its id is the OAuth state). */
async function authorizeUrl(req: Request, c: Ctx, linkingTargetId: string | null): Promise<string> {
  const pr = provider(c.cfg, query(req, 'provider'));
  const challenge = pkce({ code_challenge: query(req, 'code_challenge'), code_challenge_method: query(req, 'code_challenge_method') });
  const scopes = (query(req, 'scopes') ?? '').split(/[ ,]+/).filter(Boolean);
  if (pr.name === 'twitter') {
    const flow = await authCall<string>(c.p, 'select auth.oauth_start($1)', [{
      provider: pr.name, pkce: challenge ?? null, referrer: allowedRedirect(c.cfg, query(req, 'redirect_to')), nonce: null,
      code_verifier: null, linking_target_id: linkingTargetId,
    }]);
    return twitterAuthorizeUrl(urlOf(c.cfg, 'twitter'), { key: pr.clientIds[0], secret: pr.secret }, `${callbackUrl(c)}?state=${flow}`);
  }
  if (pr.oauth2) {
    // X wants PKCE from Loam too (GoTrue's RequiresPKCE): the verifier waits in the flow for the callback.
    const verifier = oauth2Pkce(pr.name) ? oidc.randomPKCECodeVerifier() : null;
    const flow = await authCall<string>(c.p, 'select auth.oauth_start($1)', [{
      provider: pr.name, pkce: challenge ?? null, referrer: allowedRedirect(c.cfg, query(req, 'redirect_to')), nonce: null,
      code_verifier: verifier, linking_target_id: linkingTargetId,
    }]);
    return oauth2AuthorizeUrl(c.cfg, pr.name, { clientId: pr.clientIds[0], redirectUri: callbackUrl(c), state: flow, scopes, extra: queryParams(req),
      codeChallenge: verifier ? await oidc.calculatePKCECodeChallenge(verifier) : undefined });
  }
  const config = await providerConfig(pr);
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = await authCall<string>(c.p, 'select auth.oauth_start($1)', [{
    provider: pr.name, pkce: challenge ?? null, referrer: allowedRedirect(c.cfg, query(req, 'redirect_to')), nonce,
    code_verifier: verifier, linking_target_id: linkingTargetId,
  }]);
  // The caller's other parameters go on (Google's access_type=offline, prompt=consent), as GoTrue passes them.
  return oidc.buildAuthorizationUrl(config, {
    ...passThrough(queryParams(req)), redirect_uri: callbackUrl(c), scope: [...new Set(['openid', 'email', 'profile', ...scopes])].join(' '), state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  }).href;
}

oauth.get('/authorize', async (req, res) => {
  const c = await ctx(req, res);
  res.redirect(302, await authorizeUrl(req, c, null));
});

/** What GoTrue keeps of a provider's claims in identity_data (and copies into user_metadata). */
function identityData(pr: Provider, claims: Record<string, unknown>): Record<string, unknown> {
  const pick = (k: string) => (claims[k] === undefined ? {} : { [k]: claims[k] });
  return {
    iss: pr.issuer, sub: claims.sub, ...pick('name'), ...pick('email'), email_verified: claims.email_verified === true,
    phone_verified: false, ...pick('picture'), ...pick('preferred_username'),
    ...(claims.name !== undefined ? { full_name: claims.name } : {}),
    ...(claims.picture !== undefined ? { avatar_url: claims.picture } : {}),
  };
}

function signinParams(c: Ctx, pr: Provider, claims: Record<string, unknown>): Params {
  if (typeof claims.sub !== 'string' || !claims.sub) throw new OAuthFlowError('invalid request', 'Missing sub claim in id_token');
  return {
    provider: pr.name, sub: claims.sub, email: typeof claims.email === 'string' ? claims.email : null,
    email_verified: claims.email_verified === true, identity_data: identityData(pr, claims),
    disable_signup: c.cfg.disable_signup, ip: c.ip, user_agent: c.userAgent,
  };
}

function withParams(base: string, values: Record<string, string>, where: 'search' | 'hash'): string {
  const url = new URL(base);
  const p = new URLSearchParams(where === 'hash' ? url.hash.slice(1) : url.search);
  for (const [k, v] of Object.entries(values)) p.set(k, v);
  url[where] = p.toString();
  return url.href;
}

// GoTrue's names for an error's HTTP status in an OAuth redirect (oauthErrorMap).
export const OAUTH_ERRORS: Record<number, string> = { 400: 'invalid_request', 401: 'unauthorized_client', 403: 'access_denied', 500: 'server_error', 503: 'temporarily_unavailable' };

// The callback answers every outcome with a redirect, as GoTrue does: to the flow's redirect_to (else the site
// URL) with the session, the PKCE code, or `error`, `error_code`, `error_description` in the query and fragment.
async function callbackRoute(req: Request, res: Response): Promise<void> {
  const c = await ctx(req, res);
  const target = { base: c.cfg.site_url, flow: false };
  try {
    await callback(req, res, c, target);
  } catch (err) {
    const e = toAuthError(err);
    if (e.status >= 500) console.error(err);
    const error = e instanceof OAuthFlowError ? e.error
      : e.code === 'signup_disabled' || e.code === 'user_banned' ? 'access_denied' : OAUTH_ERRORS[e.status] ?? 'server_error';
    const fields: Record<string, string> = { error, error_description: e.message, ...(e instanceof OAuthFlowError ? {} : { error_code: e.code }) };
    const url = new URL(withParams(target.base, fields, 'search'));
    // A state that names no usable flow: GoTrue's loadFlowState answers 303 to the site URL, the query only.
    if (!target.flow) return void res.redirect(303, url.href);
    url.hash = new URLSearchParams({ ...fields, sb: '' }).toString();
    res.redirect(302, url.href);
  }
}
// GET, or POST for providers that answer with a form (Apple's response_mode=form_post), as GoTrue routes both.
oauth.get('/callback', callbackRoute);
oauth.post('/callback', callbackRoute);

/** A callback parameter: the form's (a POST's body) before the query's, as Go's Request.Form has them. */
function callbackParams(req: Request): Record<string, string> {
  const out = queryParams(req);
  const body = req.method === 'POST' && req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body as Record<string, unknown> : {};
  for (const [key, v] of Object.entries(body)) {
    if (typeof v !== 'string') throw validation(`${key} must be a single value`);
    if (v.includes('\0')) throw validation(`${key} must not contain NUL characters`);
    out[key] = v;
  }
  return out;
}

async function callback(req: Request, res: Response, c: Ctx, target: { base: string; flow: boolean }): Promise<void> {
  const params = callbackParams(req);
  const state = params.state;
  if (!state) throw new AuthError(400, 'bad_oauth_callback', 'OAuth state parameter missing');
  if (!isUuid(state)) throw new AuthError(400, 'bad_oauth_state', 'OAuth state parameter is invalid');
  const flow = await authCall(c.p, 'select auth.oauth_flow($1)', [state]);
  target.base = flow.referrer || c.cfg.site_url;
  target.flow = true;
  const providerError = params.error;
  if (providerError) throw new OAuthFlowError(providerError, params.error_description ?? providerError);
  if (isOAuth2Provider(flow.provider) || flow.provider === 'twitter') {
    if (!params.code && flow.provider !== 'twitter') throw new AuthError(400, 'bad_oauth_callback', 'OAuth callback with missing authorization code missing');
    let pr: Provider;
    try {
      pr = provider(c.cfg, flow.provider);
    } catch (err) {
      // The provider was turned off (or half-configured) since the flow began: GoTrue's callback words.
      throw new AuthError(400, 'oauth_provider_not_supported', (err as Error).message);
    }
    if (pr.name === 'twitter') {
      const got = await twitterExchange(urlOf(c.cfg, 'twitter'), { key: pr.clientIds[0], secret: pr.secret }, params.oauth_token ?? '', params.oauth_verifier ?? '');
      return providerSignin(res, c, pr, state, { ...got, refreshToken: null }, target);
    }
    return oauth2Callback(res, c, pr, state, flow, params, target);
  }
  const pr = provider(c.cfg, flow.provider);
  const config = await providerConfig(pr);
  const current = new URL(callbackUrl(c));
  current.search = new URL(req.originalUrl, 'http://x').search;
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  let claims: Record<string, unknown>;
  try {
    tokens = await oidc.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: flow.code_verifier, expectedState: state, expectedNonce: flow.nonce, idTokenExpected: true,
    });
    const idClaims = tokens.claims()!;
    claims = { ...idClaims, ...await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub) };
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    throw new AuthError(400, 'bad_oauth_callback', `Error exchanging the code with the provider: ${e.cause instanceof Error ? e.cause.message : e.message}`, {}, err);
  }
  // GoTrue's callback: no address is an error unless the provider's email is optional.
  if ((typeof claims.email !== 'string' || !claims.email) && c.cfg[`external_${pr.name}_email_optional`] !== true) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting user email from external provider');
  }
  const r = await authCall(c.p, 'select auth.oauth_signin($1)', [{
    ...signinParams(c, pr, claims), flow_id: state, provider_token: tokens.access_token, provider_refresh_token: tokens.refresh_token ?? null,
  }]);
  await signedIn(res, c, target, r, tokens.access_token, tokens.refresh_token);
}

/** After a provider's sign-in: `?code=` for PKCE, else the session (and the provider's tokens) in the fragment. */
async function signedIn(res: Response, c: Ctx, target: { base: string }, r: { code?: string }, providerToken: string, providerRefreshToken?: string | null): Promise<void> {
  if (r.code) return void res.redirect(302, withParams(target.base, { code: r.code }, 'search'));
  const t = await tokenResponse(c.p, c.cfg, r as SessionData);
  res.redirect(302, withParams(target.base, {
    access_token: t.access_token, expires_at: String(t.expires_at), expires_in: String(t.expires_in),
    provider_token: providerToken, ...(providerRefreshToken ? { provider_refresh_token: providerRefreshToken } : {}),
    refresh_token: t.refresh_token, token_type: 'bearer',
  }, 'hash'));
}

/** The callback of a provider of the table (oauth-providers.ts): code → token → user → the same sign-in. */
async function oauth2Callback(res: Response, c: Ctx, pr: Provider, state: string, flow: { code_verifier?: string | null },
  params: Record<string, string>, target: { base: string }): Promise<void> {
  if (oauth2Pkce(pr.name) && !flow.code_verifier) throw new AuthError(400, 'oauth_invalid_state', 'OAuth PKCE code verifier missing');
  const got = await oauth2Exchange(c.cfg, pr.name, { clientId: pr.clientIds[0], secret: pr.secret, redirectUri: callbackUrl(c), code: params.code,
    codeVerifier: flow.code_verifier, callback: params });
  await providerSignin(res, c, pr, state, got, target);
}

/** A provider's user (oauth-providers.ts, oauth-twitter.ts) signs in: GoTrue's email choice, its claims. */
async function providerSignin(res: Response, c: Ctx, pr: Provider, state: string,
  got: { accessToken: string; refreshToken: string | null; user: ProviderUser }, target: { base: string }): Promise<void> {
  if (typeof got.user.claims.sub !== 'string' || !got.user.claims.sub) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting user profile from external provider');
  }
  const { email, verified } = pickEmail(got.user.emails, c.cfg[`external_${pr.name}_email_optional`] === true);
  const claims: Record<string, unknown> = { ...got.user.claims, ...(email ? { email } : {}), email_verified: verified, phone_verified: false };
  const r = await authCall(c.p, 'select auth.oauth_signin($1)', [{
    provider: pr.name, sub: claims.sub, email, email_verified: verified, identity_data: claims, flow_id: state,
    disable_signup: c.cfg.disable_signup, ip: c.ip, user_agent: c.userAgent,
    provider_token: got.accessToken, provider_refresh_token: got.refreshToken,
  }]);
  await signedIn(res, c, target, r, got.accessToken, got.refreshToken);
}

/** grant_type=id_token (supabase-js signInWithIdToken): GoTrue's checks and words. */
export async function idTokenGrant(c: Ctx, b: Params, req: Request): Promise<SessionData> {
  const idToken = str(b, 'id_token');
  if (!idToken) throw new OAuthFlowError('invalid request', 'id_token required');
  const name = str(b, 'provider');
  const iss = str(b, 'issuer');
  if (!name && (!str(b, 'client_id') || !iss)) throw new OAuthFlowError('invalid request', 'provider or client_id and issuer required');
  // linkIdentity({ provider, token }): the identity joins the signed-in user.
  let linkingTargetId: string | null = null;
  if (bool(b, 'link_identity')) {
    if (!req.get('authorization')) throw new OAuthFlowError('invalid request', 'Linking requires a valid user access token in Authorization');
    linkingTargetId = userCaller(req, c.p).userId;
  }
  const appleUrl = urlOf(c.cfg, 'apple');
  if (name === 'apple' || (!name && iss && appleIssuers(appleUrl).includes(iss))) return appleIdToken(c, b, idToken, iss, appleUrl, linkingTargetId);
  const tokenOnly = name && Object.hasOwn(ID_TOKEN_ONLY, name) ? name
    : !name ? Object.keys(ID_TOKEN_ONLY).find((n) => idTokenIssuer(c.cfg, n) === iss) : undefined;
  if (tokenOnly) return idTokenOnlyGrant(c, b, idToken, tokenOnly, linkingTargetId);
  const known = name ?? Object.keys(PROVIDERS).find((n) => PROVIDERS[n](c.cfg) === iss?.replace(/\/$/, ''));
  if (!known || !Object.hasOwn(PROVIDERS, known)) throw validation(`Custom OIDC provider "${name ?? iss}" not allowed`);
  const issuerUrl = PROVIDERS[known](c.cfg) ?? '';
  if (c.cfg[`external_${known}_enabled`] !== true) throw new AuthError(400, 'provider_disabled', `Provider (issuer "${issuerUrl}") is not enabled`);
  const pr = provider(c.cfg, known);
  const config = await providerConfig(pr);
  const jwksUri = config.serverMetadata().jwks_uri;
  if (!jwksUri) throw new AuthError(502, 'unexpected_failure', 'The provider publishes no JWKS');
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(idToken, remoteJwks(jwksUri), { issuer: config.serverMetadata().issuer }));
  } catch {
    throw new OAuthFlowError('invalid request', 'Bad ID token');
  }
  checkAudienceAndNonce(idToken, claims, pr.clientIds, pr.skipNonce, b);
  return authCall<SessionData>(c.p, 'select auth.oauth_signin($1)', [{ ...signinParams(c, pr, claims), linking_target_id: linkingTargetId }]);
}

/** Providers whose browser flow is the table's (oauth-providers.ts) but whose ID tokens sign in too (GoTrue's
 *  getProvider): Facebook Limited Login (no nonce check, as GoTrue) and Kakao, each at its issuer — with
 *  `external_<p>_url`, that URL (Loam's: GoTrue ignores the URL here) — and GoTrue's claims of each. */
const ID_TOKEN_ONLY: Record<string, { issuer: string; skipNonce: boolean; user(t: JWTPayload): ProviderUser }> = {
  facebook: {
    issuer: 'https://www.facebook.com', skipNonce: true,
    user: (t) => ({
      claims: Object.fromEntries(Object.entries({ iss: t.iss, sub: t.sub, name: t.name, picture: t.picture, provider_id: t.sub, email: t.email })
        .filter(([, v]) => typeof v === 'string' && v !== '')),
      emails: typeof t.email === 'string' && t.email ? [{ email: t.email, verified: true, primary: true }] : [],
    }),
  },
  kakao: {
    issuer: 'https://kauth.kakao.com', skipNonce: false,
    user: (t) => ({
      claims: Object.fromEntries(Object.entries({ iss: t.iss, sub: t.sub, name: t.nickname, preferred_username: t.nickname, provider_id: t.sub,
        picture: t.picture }).filter(([, v]) => typeof v === 'string' && v !== '')),
      emails: typeof t.email === 'string' && t.email ? [{ email: t.email, verified: true, primary: true }] : [],
    }),
  },
};
const idTokenIssuer = (cfg: AuthConfig, name: string) => urlOf(cfg, name)?.replace(/\/$/, '') ?? ID_TOKEN_ONLY[name].issuer;

/** signInWithIdToken for Facebook and Kakao: the issuer's discovery and keys, then GoTrue's checks in its order. */
async function idTokenOnlyGrant(c: Ctx, b: Params, idToken: string, name: string, linkingTargetId: string | null): Promise<SessionData> {
  const def = ID_TOKEN_ONLY[name];
  const iss = idTokenIssuer(c.cfg, name);
  if (c.cfg[`external_${name}_enabled`] !== true) throw new AuthError(400, 'provider_disabled', `Provider (issuer "${iss}") is not enabled`);
  const clientIds = String(c.cfg[`external_${name}_client_id`] ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  const config = await providerConfig({ name, issuer: iss, clientIds: clientIds.length ? clientIds : ['-'], secret: '', skipNonce: def.skipNonce, oauth2: false });
  const jwksUri = config.serverMetadata().jwks_uri;
  if (!jwksUri) throw new AuthError(502, 'unexpected_failure', 'The provider publishes no JWKS');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, remoteJwks(jwksUri), { issuer: config.serverMetadata().issuer }));
    const accessToken = str(b, 'access_token');
    if (accessToken && typeof payload.at_hash === 'string' && payload.at_hash && !atHashMatches(idToken, accessToken, payload.at_hash)) throw new Error('at_hash');
  } catch {
    throw new OAuthFlowError('invalid request', 'Bad ID token');
  }
  const user = def.user(payload);
  const { email, verified } = user.emails[0] ?? { email: null, verified: false };
  if (!payload.sub) throw new OAuthFlowError('invalid request', 'Missing sub claim in id_token');
  checkAudienceAndNonce(idToken, payload, clientIds, def.skipNonce, b);
  return authCall<SessionData>(c.p, 'select auth.oauth_signin($1)', [{
    provider: name, sub: payload.sub, email, email_verified: verified,
    identity_data: { ...user.claims, ...(email ? { email } : {}), email_verified: verified, phone_verified: false },
    disable_signup: c.cfg.disable_signup, ip: c.ip, user_agent: c.userAgent, linking_target_id: linkingTargetId,
  }]);
}

/** GoTrue's audience and nonce checks of an ID token, in its order and words. */
function checkAudienceAndNonce(idToken: string, claims: Record<string, unknown>, clientIds: string[], skipNonce: boolean, b: Params): void {
  const aud = ([] as unknown[]).concat(decodeJwt(idToken).aud ?? []);
  if (!aud.some((a) => clientIds.includes(String(a)))) {
    throw new OAuthFlowError('invalid request', `Unacceptable audience in id_token: [${aud.join(' ')}]`);
  }
  if (!skipNonce) {
    const nonce = str(b, 'nonce');
    const tokenNonce = typeof claims.nonce === 'string' && claims.nonce ? claims.nonce : '';
    if (Boolean(tokenNonce) !== Boolean(nonce)) {
      throw new OAuthFlowError('invalid request', 'Passed nonce and nonce in id_token should either both exist or not.');
    }
    if (nonce && crypto.createHash('sha256').update(nonce).digest('hex') !== tokenNonce) throw new OAuthFlowError('invalid nonce', 'Nonces mismatch');
  }
}

/** signInWithIdToken({ provider: 'apple' }): GoTrue reads the issuer from the token (appleid.apple.com or
 *  account.apple.com; with Loam's `external_apple_url`, that URL), verifies the signature with Apple's keys
 *  (neither issuer nor audience by the library), then the audience against `external_apple_client_id` (a list)
 *  and `external_apple_additional_client_ids`. */
async function appleIdToken(c: Ctx, b: Params, idToken: string, iss: string | undefined, appleUrl: string | null, linkingTargetId: string | null): Promise<SessionData> {
  let detected: unknown;
  try {
    detected = decodeJwt(idToken).iss;
  } catch {
    throw validation('Unable to detect issuer in ID token for Apple provider');
  }
  if (typeof detected !== 'string' || !appleIssuers(appleUrl).includes(detected)) throw validation('Detected ID token issuer is not an Apple ID token issuer');
  if (iss && iss !== detected) throw validation('Provided issuer does not match ID token issuer');
  if (c.cfg.external_apple_enabled !== true) throw new AuthError(400, 'provider_disabled', `Provider (issuer "${detected}") is not enabled`);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, remoteJwks(appleJwks(appleUrl))));
    const accessToken = str(b, 'access_token');
    if (accessToken && typeof payload.at_hash === 'string' && payload.at_hash && !atHashMatches(idToken, accessToken, payload.at_hash)) throw new Error('at_hash');
  } catch {
    throw new OAuthFlowError('invalid request', 'Bad ID token');
  }
  const list = (k: `external_${string}`) => String(c.cfg[k] ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  const user = appleUser(payload);
  const { email, verified } = user.emails[0] ?? { email: null, verified: false };
  if (!payload.sub) throw new OAuthFlowError('invalid request', 'Missing sub claim in id_token');
  checkAudienceAndNonce(idToken, payload, [...list('external_apple_client_id'), ...list('external_apple_additional_client_ids')], false, b);
  return authCall<SessionData>(c.p, 'select auth.oauth_signin($1)', [{
    provider: 'apple', sub: payload.sub, email, email_verified: verified,
    identity_data: { ...user.claims, ...(email ? { email } : {}), email_verified: verified, phone_verified: false },
    disable_signup: c.cfg.disable_signup, ip: c.ip, user_agent: c.userAgent, linking_target_id: linkingTargetId,
  }]);
}

// Identity linking (GoTrue: only with security_manual_linking_enabled).
function manualLinking(c: Ctx): void {
  if (!c.cfg.security_manual_linking_enabled) throw new AuthError(404, 'manual_linking_disabled', 'Manual linking is disabled');
}

oauth.get('/user/identities/authorize', async (req, res) => {
  const c = await ctx(req, res);
  const who = userCaller(req, c.p);
  manualLinking(c);
  const url = await authorizeUrl(req, c, who.userId);
  if (query(req, 'skip_http_redirect') === 'true') return void res.json({ url });
  res.redirect(302, url);
});

oauth.delete('/user/identities/:identity_id', async (req, res) => {
  const c = await ctx(req, res);
  const who = userCaller(req, c.p);
  manualLinking(c);
  const id = String(req.params.identity_id);
  if (!isUuid(id)) throw new AuthError(404, 'validation_failed', 'identity_id must be an UUID');
  await authCall(c.p, 'select auth.unlink_identity($1, $2, $3, $4)', [who.userId, who.sessionId, id, c.ip]);
  res.json({});
});
