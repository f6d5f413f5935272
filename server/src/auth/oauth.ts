// Sign-in with OAuth / OpenID Connect providers, as GoTrue does it: GET /authorize?provider=… sends the browser to
// the provider, GET /callback comes back with a code, which becomes a session (implicit: tokens in the redirect's
// fragment) or a PKCE code (`?code=`, exchanged at /token?grant_type=pkce). POST /token?grant_type=id_token signs
// in with an ID token the app got from the provider itself (verified against the provider's JWKS). Identity
// linking: GET /user/identities/authorize starts the same flow for the signed-in user, DELETE
// /user/identities/{id} unlinks. The provider's metadata, tokens and ID token checks (state, nonce, PKCE to the
// provider, signature, issuer, audience) are openid-client's and jose's; the accounts are SQL (0009-auth-oauth.sql).
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { createRemoteJWKSet, customFetch as joseFetch, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { guardedFetch } from '../project/keyring.ts';
import type { AuthConfig } from './config.ts';
import { allowedRedirect } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, OAuthFlowError, toAuthError, validation } from './errors.ts';
import { bool, ctx, pkce, str, type Ctx, type Params } from './params.ts';
import { isUuid, issuer, tokenResponse, userCaller, type SessionData } from './session.ts';
import { isOAuth2Provider, oauth2AuthorizeUrl, oauth2Endpoints, oauth2Exchange, pickEmail } from './oauth-providers.ts';

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
  const oauth2 = isOAuth2Provider(name);
  const issuerOf = oauth2 ? (cfg: AuthConfig) => oauth2Endpoints(cfg, name).api : name && Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!name || !issuerOf) throw validation(`Unsupported provider: Provider ${name ?? ''} could not be found`);
  const get = (k: string) => cfg[`external_${name}_${k}`];
  if (get('enabled') !== true) throw validation('Unsupported provider: provider is not enabled');
  const clientIds = String(get('client_id') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!clientIds.length) throw validation('Unsupported provider: missing OAuth client ID');
  const secret = String(get('secret') ?? '');
  if (!secret) throw validation('Unsupported provider: missing OAuth secret');
  const iss = issuerOf(cfg);
  if (!iss) throw validation(`Unsupported provider: unable to find URL for the ${name} provider`);
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

/** The provider's authorization URL for a new flow (its id is the OAuth state). */
async function authorizeUrl(req: Request, c: Ctx, linkingTargetId: string | null): Promise<string> {
  const pr = provider(c.cfg, query(req, 'provider'));
  const challenge = pkce({ code_challenge: query(req, 'code_challenge'), code_challenge_method: query(req, 'code_challenge_method') });
  const scopes = (query(req, 'scopes') ?? '').split(/[ ,]+/).filter(Boolean);
  if (pr.oauth2) {
    const flow = await authCall<string>(c.p, 'select auth.oauth_start($1)', [{
      provider: pr.name, pkce: challenge ?? null, referrer: allowedRedirect(c.cfg, query(req, 'redirect_to')), nonce: null,
      code_verifier: null, linking_target_id: linkingTargetId,
    }]);
    return oauth2AuthorizeUrl(c.cfg, pr.name, { clientId: pr.clientIds[0], redirectUri: callbackUrl(c), state: flow, scopes });
  }
  const config = await providerConfig(pr);
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = await authCall<string>(c.p, 'select auth.oauth_start($1)', [{
    provider: pr.name, pkce: challenge ?? null, referrer: allowedRedirect(c.cfg, query(req, 'redirect_to')), nonce,
    code_verifier: verifier, linking_target_id: linkingTargetId,
  }]);
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: callbackUrl(c), scope: [...new Set(['openid', 'email', 'profile', ...scopes])].join(' '), state, nonce,
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
oauth.get('/callback', async (req, res) => {
  const c = await ctx(req, res);
  const target = { base: c.cfg.site_url };
  try {
    await callback(req, res, c, target);
  } catch (err) {
    const e = toAuthError(err);
    if (e.status >= 500) console.error(err);
    const error = e instanceof OAuthFlowError ? e.error
      : e.code === 'signup_disabled' || e.code === 'user_banned' ? 'access_denied' : OAUTH_ERRORS[e.status] ?? 'server_error';
    const fields: Record<string, string> = { error, error_description: e.message, ...(e instanceof OAuthFlowError ? {} : { error_code: e.code }) };
    const url = new URL(withParams(target.base, fields, 'search'));
    url.hash = new URLSearchParams({ ...fields, sb: '' }).toString();
    res.redirect(302, url.href);
  }
});

async function callback(req: Request, res: Response, c: Ctx, target: { base: string }): Promise<void> {
  const state = query(req, 'state');
  if (!isUuid(state)) throw new AuthError(400, 'bad_oauth_state', 'OAuth state parameter missing');
  const flow = await authCall(c.p, 'select auth.oauth_flow($1)', [state]);
  target.base = flow.referrer || c.cfg.site_url;
  const providerError = query(req, 'error');
  if (providerError) throw new OAuthFlowError(providerError, query(req, 'error_description') ?? providerError);
  const pr = provider(c.cfg, flow.provider);
  if (pr.oauth2) return oauth2Callback(req, res, c, pr, state, target);
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

/** The callback of a non-OIDC provider (oauth-providers.ts): code → token → user API → the same sign-in. */
async function oauth2Callback(req: Request, res: Response, c: Ctx, pr: Provider, state: string, target: { base: string }): Promise<void> {
  const code = query(req, 'code');
  if (!code) throw new AuthError(400, 'bad_oauth_callback', 'OAuth callback with missing authorization code missing');
  const got = await oauth2Exchange(c.cfg, pr.name, { clientId: pr.clientIds[0], secret: pr.secret, redirectUri: callbackUrl(c), code });
  if (typeof got.user.claims.sub !== 'string' || !got.user.claims.sub) {
    throw new AuthError(500, 'unexpected_failure', 'Error getting user profile from external provider');
  }
  const { email, verified } = pickEmail(got.user.emails);
  const claims: Record<string, unknown> = { ...got.user.claims, email, email_verified: verified, phone_verified: false };
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
    ({ payload: claims } = await jwtVerify(idToken, jwks(jwksUri), { issuer: config.serverMetadata().issuer }));
  } catch {
    throw new OAuthFlowError('invalid request', 'Bad ID token');
  }
  const aud = ([] as unknown[]).concat(decodeJwt(idToken).aud ?? []);
  if (!aud.some((a) => pr.clientIds.includes(String(a)))) {
    throw new OAuthFlowError('invalid request', `Unacceptable audience in id_token: [${aud.join(' ')}]`);
  }
  if (!pr.skipNonce) {
    const nonce = str(b, 'nonce');
    const tokenNonce = typeof claims.nonce === 'string' && claims.nonce ? claims.nonce : '';
    if (Boolean(tokenNonce) !== Boolean(nonce)) {
      throw new OAuthFlowError('invalid request', 'Passed nonce and nonce in id_token should either both exist or not.');
    }
    if (nonce && crypto.createHash('sha256').update(nonce).digest('hex') !== tokenNonce) throw new OAuthFlowError('invalid nonce', 'Nonces mismatch');
  }
  return authCall<SessionData>(c.p, 'select auth.oauth_signin($1)', [{ ...signinParams(c, pr, claims), linking_target_id: linkingTargetId }]);
}

const jwksSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function jwks(uri: string) {
  let set = jwksSets.get(uri);
  if (!set) {
    if (jwksSets.size >= 200) jwksSets.delete(jwksSets.keys().next().value!);
    set = createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000, [joseFetch]: guardedFetch as never });
    jwksSets.set(uri, set);
  }
  return set;
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
