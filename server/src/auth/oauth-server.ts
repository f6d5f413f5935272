// The project's auth as an OAuth 2.1 / OpenID Connect provider for other apps, as GoTrue's OAuth server does it:
// client registration (dynamic, RFC 7591, and the admin's CRUD), GET /oauth/authorize (authorization code with
// PKCE S256) sending the browser to the site's consent page, the consent API the signed-in user answers
// (supabase-js auth.oauth.*), POST /oauth/token (authorization_code, refresh_token; client_secret_basic,
// client_secret_post or none), /oauth/userinfo, the user's grants, and the discovery documents. Access tokens are
// the project's own session JWTs (plus client_id and scope claims), so they work on its REST API under RLS.
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { signSession } from '../project/signing.ts';
import { allowedRedirect, type AuthConfig } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, OAuthFlowError, authErrors, validation } from './errors.ts';
import { limitIpFixed } from './limits.ts';
import { ctx, params, type Ctx, type Params } from './params.ts';
import { isUuid, issuer, requireAdmin, tokenResponse, userCaller, type SessionData } from './session.ts';

export const oauthServer = Router();

const SCOPES = ['openid', 'profile', 'email', 'phone', 'offline_access'];
const DEFAULT_SCOPE = 'email';
const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'];

interface Client {
  client_id: string; client_type: 'public' | 'confidential'; token_endpoint_auth_method: string;
  redirect_uris: string[]; grant_types: string[]; client_name?: string; client_uri?: string; logo_uri?: string;
  registration_type: string; client_secret_hash?: string | null;
}

function enabled(cfg: AuthConfig): void {
  if (!cfg.oauth_server_enabled) throw new AuthError(404, 'feature_disabled', 'OAuth server is disabled');
}

async function serverCtx(req: Request, res: Response): Promise<Ctx> {
  const c = await ctx(req, res);
  enabled(c.cfg);
  return c;
}

const base = (p: ProjectRuntime) => issuer(p).replace(/\/+$/, '');

// ------------------------------------------------------------------------------------------------- discovery

function discovery(p: ProjectRuntime, cfg: AuthConfig) {
  const iss = base(p);
  return {
    issuer: iss, authorization_endpoint: `${iss}/oauth/authorize`, token_endpoint: `${iss}/oauth/token`,
    jwks_uri: `${iss}/.well-known/jwks.json`, userinfo_endpoint: `${iss}/oauth/userinfo`,
    ...(cfg.oauth_server_enabled && cfg.oauth_server_allow_dynamic_registration ? { registration_endpoint: `${iss}/oauth/clients/register` } : {}),
    scopes_supported: SCOPES, response_types_supported: ['code'], response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'], subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'HS256', 'ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    claims_supported: ['sub', 'aud', 'iss', 'exp', 'iat', 'auth_time', 'nonce', 'email', 'email_verified', 'phone_number',
      'phone_number_verified', 'name', 'picture', 'preferred_username', 'updated_at'],
    code_challenge_methods_supported: ['S256'],
  };
}

oauthServer.get('/.well-known/openid-configuration', async (req, res) => {
  const c = await ctx(req, res);
  res.set('Cache-Control', 'public, max-age=600').json(discovery(c.p, c.cfg));
});

oauthServer.get('/.well-known/oauth-authorization-server', async (req, res) => {
  const c = await serverCtx(req, res);
  res.set('Cache-Control', 'public, max-age=600').json(discovery(c.p, c.cfg));
});

// ---------------------------------------------------------------------------------------------- registration

const bad = (message: string) => validation(message);

function strField(b: Params, key: string): string {
  const v = b[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' || v.includes('\0')) throw authErrors.badJson('Invalid JSON body');
  return v;
}

function listField(b: Params, key: string): string[] | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.includes('\0'))) throw new AuthError(400, 'bad_json', 'Invalid JSON body');
  return v as string[];
}

function redirectUriProblem(uri: string): string | undefined {
  if (!uri) return 'redirect URI cannot be empty';
  let u: URL;
  try { u = new URL(uri); } catch { return 'invalid URL format'; }
  const scheme = u.protocol.replace(/:$/, '');
  if (!scheme || !u.host) return 'must have scheme and host';
  if (['javascript', 'data', 'file', 'vbscript', 'about', 'blob'].includes(scheme.toLowerCase())) return `scheme '${scheme}' is not allowed for security reasons`;
  if (scheme === 'http' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)) return 'HTTP scheme only allowed for localhost';
  if (uri.includes('#')) return 'fragment not allowed in redirect URI';
  return undefined;
}

function checkRedirectUris(uris: string[] | undefined, required: boolean): void {
  if (required && (!uris || uris.length === 0)) throw bad('redirect_uris is required');
  if (!uris || uris.length === 0) throw bad('redirect_uris cannot be empty');
  if (uris.length > 10) throw bad('redirect_uris cannot exceed 10 items');
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw bad(`invalid redirect_uri '${uri}': ${problem}`);
  }
}

function checkGrantTypes(types: string[]): void {
  if (types.length === 0) throw bad('grant_types cannot be empty');
  if (types.some((t) => t !== 'authorization_code' && t !== 'refresh_token')) throw bad("grant_types must only contain 'authorization_code' and/or 'refresh_token'");
}

function checkUri(name: string, v: string): void {
  if (!v) return;
  if (v.length > 2048) throw bad(`${name} cannot exceed 2048 characters`);
  try { new URL(v); } catch { throw bad(`${name} must be a valid URL`); }
}

const secretHash = (secret: string) => crypto.createHash('sha256').update(secret).digest('base64url');

async function register(c: Ctx, b: Params, registrationType: 'dynamic' | 'manual') {
  const redirectUris = listField(b, 'redirect_uris');
  const grantTypes = listField(b, 'grant_types');
  const clientName = strField(b, 'client_name');
  const clientUri = strField(b, 'client_uri');
  const logoUri = strField(b, 'logo_uri');
  let clientType = strField(b, 'client_type');
  let method = strField(b, 'token_endpoint_auth_method');
  checkRedirectUris(redirectUris, true);
  if (grantTypes && grantTypes.length) checkGrantTypes(grantTypes);
  if (clientName.length > 1024) throw bad('client_name cannot exceed 1024 characters');
  checkUri('client_uri', clientUri);
  checkUri('logo_uri', logoUri);
  if (clientType && clientType !== 'public' && clientType !== 'confidential') throw bad("client_type must be 'public' or 'confidential'");
  if (method && !AUTH_METHODS.includes(method)) throw bad(`token_endpoint_auth_method must be one of: [${AUTH_METHODS.join(' ')}]`);
  const inferred = method === 'none' ? 'public' : 'confidential';
  if (clientType && method && clientType !== inferred) {
    throw bad(`client_type '${clientType}' is inconsistent with token_endpoint_auth_method '${method}' (expected client_type '${inferred}')`);
  }
  clientType ||= method ? inferred : 'confidential';
  method ||= clientType === 'public' ? 'none' : 'client_secret_basic';
  const secret = clientType === 'confidential' ? crypto.randomBytes(32).toString('base64url') : undefined;
  const client = await authCall<Client>(c.p, 'select auth.oauth_client_register($1)', [{
    registration_type: registrationType, client_type: clientType, token_endpoint_auth_method: method,
    redirect_uris: redirectUris, grant_types: grantTypes?.length ? grantTypes : ['authorization_code', 'refresh_token'],
    client_name: clientName, client_uri: clientUri, logo_uri: logoUri, client_secret_hash: secret ? secretHash(secret) : null,
  }]);
  return secret ? { ...client, client_secret: secret } : client;
}

oauthServer.post('/oauth/clients/register', async (req, res) => {
  const c = await serverCtx(req, res);
  if (!c.cfg.oauth_server_allow_dynamic_registration) {
    throw new AuthError(403, 'oauth_dynamic_client_registration_disabled', 'Dynamic client registration is not enabled');
  }
  // Open to anyone: 10 registrations per 5 minutes per IP (GoTrue's default count).
  await limitIpFixed(c.p.ref, 'oauth_register', c.ip, 10, 300);
  res.status(201).json(await register(c, params(req), 'dynamic'));
});

// ------------------------------------------------------------------------------------------- admin: clients

async function adminCtx(req: Request, res: Response): Promise<Ctx> {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  enabled(c.cfg);
  return c;
}

async function loadClient(req: Request, c: Ctx): Promise<Client> {
  const id = String(req.params.client_id);
  if (!isUuid(id)) throw validation('invalid client_id format');
  const client = await authCall<Client | null>(c.p, 'select auth.oauth_client($1)', [id]);
  if (!client) throw new AuthError(404, 'oauth_client_not_found', 'OAuth client not found');
  return client;
}

const publicView = ({ client_secret_hash: _, ...client }: Client) => client;

oauthServer.post('/admin/oauth/clients', async (req, res) => {
  const c = await adminCtx(req, res);
  res.status(201).json(await register(c, params(req), 'manual'));
});

oauthServer.get('/admin/oauth/clients', async (req, res) => {
  const c = await adminCtx(req, res);
  res.json(await authCall(c.p, 'select auth.oauth_client_list()'));
});

oauthServer.get('/admin/oauth/clients/:client_id', async (req, res) => {
  const c = await adminCtx(req, res);
  res.json(publicView(await loadClient(req, c)));
});

oauthServer.put('/admin/oauth/clients/:client_id', async (req, res) => {
  const c = await adminCtx(req, res);
  const client = await loadClient(req, c);
  const b = params(req);
  const patch: Record<string, unknown> = {};
  const uris = listField(b, 'redirect_uris');
  if (uris !== undefined) { checkRedirectUris(uris, false); patch.redirect_uris = uris; }
  const grants = listField(b, 'grant_types');
  if (grants !== undefined) { checkGrantTypes(grants); patch.grant_types = grants; }
  for (const k of ['client_name', 'client_uri', 'logo_uri']) if (b[k] !== undefined && b[k] !== null) patch[k] = strField(b, k);
  if (typeof patch.client_name === 'string' && patch.client_name.length > 1024) throw bad('client_name cannot exceed 1024 characters');
  checkUri('client_uri', String(patch.client_uri ?? ''));
  checkUri('logo_uri', String(patch.logo_uri ?? ''));
  if (Object.keys(patch).length === 0) throw bad('No fields provided for update');
  res.json(await authCall(c.p, 'select auth.oauth_client_update($1, $2)', [client.client_id, patch]));
});

oauthServer.delete('/admin/oauth/clients/:client_id', async (req, res) => {
  const c = await adminCtx(req, res);
  const client = await loadClient(req, c);
  await authCall(c.p, 'select auth.oauth_client_delete($1)', [client.client_id]);
  res.status(204).end();
});

oauthServer.post('/admin/oauth/clients/:client_id/regenerate_secret', async (req, res) => {
  const c = await adminCtx(req, res);
  const client = await loadClient(req, c);
  if (client.client_type !== 'confidential') throw bad('Cannot regenerate secret for public client');
  const secret = crypto.randomBytes(32).toString('base64url');
  const updated = await authCall<Client>(c.p, 'select auth.oauth_client_update($1, $2)', [client.client_id, { client_secret_hash: secretHash(secret) }]);
  res.json({ ...updated, client_secret: secret });
});

// ------------------------------------------------------------------------------------------------ authorize

function errorRedirect(redirectUri: string, error: string, description: string, state?: string | null): string {
  const u = new URL(redirectUri);
  u.searchParams.set('error', error);
  u.searchParams.set('error_description', description);
  if (state) u.searchParams.set('state', state);
  return u.toString();
}

function successRedirect(a: { redirect_uri: string; code: string | null; state: string | null }): string {
  const u = new URL(a.redirect_uri);
  if (a.code) u.searchParams.set('code', a.code);
  if (a.state) u.searchParams.set('state', a.state);
  return u.toString();
}

const q = (req: Request, key: string): string => (typeof req.query[key] === 'string' ? (req.query[key] as string) : '');

/** The parameters checked once the redirect_uri is trusted: a problem is sent back to it (GoTrue's words). */
function authorizeProblem(a: { response_type: string; scope: string; resource: string; code_challenge: string; code_challenge_method: string }): string | undefined {
  if (a.response_type !== 'code') return 'only response_type=code is supported';
  const scopes = a.scope.split(' ').filter(Boolean);
  if (scopes.length === 0) return 'scope parameter cannot be empty';
  const unknown = scopes.find((s) => !SCOPES.includes(s));
  if (unknown) return `unsupported scope: ${unknown}`;
  if (a.resource) {
    let u: URL;
    try { u = new URL(a.resource); } catch { return 'resource must be an absolute URI'; }
    if (a.resource.includes('#')) return 'resource must not include a fragment component';
    if (u.search) return 'resource must not include a query component';
  }
  if (!a.code_challenge || !a.code_challenge_method) return 'PKCE flow requires both code_challenge and code_challenge_method';
  // OAuth 2.1 with S256 only: `plain` would hand the verifier to whoever sees the authorization request.
  if (a.code_challenge_method.toLowerCase() !== 's256') return "code_challenge_method must be 'S256'";
  if (a.code_challenge.length < 43 || a.code_challenge.length > 128) return 'code_challenge must be between 43 and 128 characters';
  return undefined;
}

oauthServer.get('/oauth/authorize', async (req, res) => {
  const c = await serverCtx(req, res);
  const clientId = q(req, 'client_id');
  const redirectUri = q(req, 'redirect_uri');
  if (!clientId) throw validation('client_id is required');
  if (!redirectUri) throw validation('redirect_uri is required');
  if (!isUuid(clientId)) throw new AuthError(400, 'oauth_client_not_found', 'invalid client_id format');
  const client = await authCall<Client | null>(c.p, 'select auth.oauth_client($1)', [clientId]);
  if (!client) throw new AuthError(400, 'oauth_client_not_found', 'invalid client_id');
  // An unregistered redirect_uri gets no redirect: it cannot be trusted with the answer.
  if (!client.redirect_uris.includes(redirectUri)) throw validation('invalid redirect_uri');
  const state = q(req, 'state');
  const a = {
    response_type: q(req, 'response_type') || 'code', scope: q(req, 'scope') || DEFAULT_SCOPE, resource: q(req, 'resource'),
    code_challenge: q(req, 'code_challenge'), code_challenge_method: q(req, 'code_challenge_method'),
  };
  const problem = authorizeProblem(a);
  if (problem) return void res.redirect(302, errorRedirect(redirectUri, 'invalid_request', problem, state));
  if (state.length > 4096 || q(req, 'nonce').length > 4096) {
    return void res.redirect(302, errorRedirect(redirectUri, 'invalid_request', 'state and nonce cannot exceed 4096 characters', state));
  }
  const path = c.cfg.oauth_server_authorization_path;
  if (!path) return void res.redirect(302, errorRedirect(redirectUri, 'server_error', 'oauth authorization path not configured', state));
  const id = await authCall<string>(c.p, 'select auth.oauth_authorize($1)', [{
    client_id: client.client_id, redirect_uri: redirectUri, scope: a.scope, state, resource: a.resource,
    code_challenge: a.code_challenge, code_challenge_method: a.code_challenge_method, nonce: q(req, 'nonce'),
  }]);
  const site = c.cfg.site_url.replace(/\/+$/, '');
  res.redirect(302, `${site}${path.startsWith('/') ? path : `/${path}`}?authorization_id=${id}`);
});

// ------------------------------------------------------------------------------------------------- consent

/** The consent API answers only pages of the site (or its allow list), as GoTrue checks the Origin header. */
function checkOrigin(req: Request, cfg: AuthConfig): void {
  const origin = req.get('origin');
  if (origin && allowedRedirect(cfg, origin) !== origin) throw validation('unauthorized request origin');
}

function signedInUser(req: Request, c: Ctx): [string, string | null] {
  const who = userCaller(req, c.p);
  return [who.userId, who.sessionId];
}

const notFound = () => new AuthError(404, 'oauth_authorization_not_found', 'authorization not found');

interface AuthorizationRow {
  error?: string; authorization_id: string; redirect_uri: string; scope: string; state: string | null; code: string | null;
  auto_approved?: boolean; client?: Record<string, unknown>; user?: Record<string, unknown>;
}

oauthServer.get('/oauth/authorizations/:authorization_id', async (req, res) => {
  const c = await serverCtx(req, res);
  checkOrigin(req, c.cfg);
  const [userId, sessionId] = signedInUser(req, c);
  const a = await authCall<AuthorizationRow>(c.p, 'select auth.oauth_authorization_for_user($1, $2, $3)', [String(req.params.authorization_id), userId, sessionId]);
  if (a.error) throw notFound();
  if (a.auto_approved) return void res.json({ redirect_url: successRedirect(a) });
  res.json({ authorization_id: a.authorization_id, redirect_uri: a.redirect_uri, client: a.client, user: a.user, scope: a.scope });
});

oauthServer.post('/oauth/authorizations/:authorization_id/consent', async (req, res) => {
  const c = await serverCtx(req, res);
  checkOrigin(req, c.cfg);
  const [userId, sessionId] = signedInUser(req, c);
  const action = params(req).action;
  if (action !== 'approve' && action !== 'deny') throw validation("action must be 'approve' or 'deny'");
  const a = await authCall<AuthorizationRow>(c.p, 'select auth.oauth_consent($1, $2, $3, $4)',
    [String(req.params.authorization_id), userId, sessionId, action === 'approve']);
  if (a.error) throw notFound();
  res.json({ redirect_url: action === 'approve' ? successRedirect(a) : errorRedirect(a.redirect_uri, 'access_denied', 'User denied the request', a.state) });
});

// --------------------------------------------------------------------------------------------------- token

const invalidCredentials = (message: string) => new AuthError(400, 'invalid_credentials', `Invalid client credentials: ${message}`);

/** GoTrue's client authentication: HTTP Basic, else client_id/client_secret in the body; the method used must be
 *  the one the client registered, the secret (constant-time compare of hashes) must match. */
async function authenticateClient(req: Request, c: Ctx, b: Params): Promise<Client> {
  let id = '', secret = '', method: string;
  const header = req.get('authorization') ?? '';
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const at = decoded.indexOf(':');
    if (at < 0) throw invalidCredentials('invalid basic auth format');
    id = decoded.slice(0, at);
    secret = decoded.slice(at + 1);
    method = 'client_secret_basic';
  } else {
    id = typeof b.client_id === 'string' ? b.client_id : '';
    secret = typeof b.client_secret === 'string' ? b.client_secret : '';
    if (!id) throw invalidCredentials('client_id is required');
    method = secret ? 'client_secret_post' : 'none';
  }
  if (!isUuid(id)) throw new AuthError(400, 'invalid_credentials', 'Invalid client_id format');
  const client = await authCall<Client | null>(c.p, 'select auth.oauth_client($1)', [id]);
  if (!client) throw new AuthError(400, 'invalid_credentials', 'Invalid client credentials');
  if (method !== client.token_endpoint_auth_method) {
    throw new AuthError(400, 'invalid_credentials', `invalid authentication method: client is registered for '${client.token_endpoint_auth_method}' but '${method}' was used`);
  }
  if (client.client_type === 'public') {
    if (secret) throw new AuthError(400, 'invalid_credentials', 'public clients must not provide client_secret');
  } else {
    if (!secret) throw new AuthError(400, 'invalid_credentials', 'confidential clients must provide client_secret');
    const want = Buffer.from(client.client_secret_hash ?? '', 'base64url');
    const got = crypto.createHash('sha256').update(secret).digest();
    if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) throw new AuthError(400, 'invalid_credentials', 'invalid client credentials');
  }
  return client;
}

const oauthError = (error: string, description: string) => new OAuthFlowError(error, description);

async function idToken(c: Ctx, s: SessionData, clientId: string, nonce: string | null, scopes: string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const u = s.user;
  const meta = u.user_metadata ?? {};
  return signSession(c.p, {
    iss: issuer(c.p), sub: u.id, aud: [clientId], exp: now + c.cfg.jwt_exp, iat: now, auth_time: now,
    ...(nonce ? { nonce } : {}),
    ...(scopes.includes('email') ? { email: u.email || undefined, email_verified: !!u.email_confirmed_at } : { email_verified: false }),
    ...(scopes.includes('phone') ? { phone_number: u.phone || undefined, phone_number_verified: !!u.phone_confirmed_at } : { phone_number_verified: false }),
    ...(scopes.includes('profile') ? { name: (meta.name as string) || u.email || undefined, picture: (meta.picture ?? meta.avatar_url) as string | undefined } : {}),
    client_id: clientId,
  });
}

oauthServer.post('/oauth/token', async (req, res) => {
  const c = await serverCtx(req, res);
  const b = params(req);
  const client = await authenticateClient(req, c, b);
  const grant = typeof b.grant_type === 'string' ? b.grant_type : '';
  if (!grant) throw oauthError('invalid_request', 'grant_type is required');
  if (!client.grant_types.includes(grant)) throw oauthError('unsupported_grant_type', `Client is not allowed to use grant type: ${grant}`);
  const text = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : '');
  let s: SessionData & { error?: string; error_description?: string; nonce?: string | null };
  if (grant === 'authorization_code') {
    if (!text('code')) throw oauthError('invalid_request', 'code is required for authorization_code grant');
    s = await authCall(c.p, 'select auth.oauth_exchange_code($1, $2, $3, $4, $5, $6, $7)',
      [text('code'), client.client_id, text('redirect_uri'), text('resource'), text('code_verifier'), c.ip, c.userAgent]);
  } else if (grant === 'refresh_token') {
    if (!text('refresh_token')) throw oauthError('invalid_request', 'refresh_token is required for refresh_token grant');
    const interval = c.cfg.refresh_token_rotation_enabled ? c.cfg.security_refresh_token_reuse_interval : 2_147_483;
    s = await authCall(c.p, 'select auth.oauth_refresh($1, $2, $3, $4, $5)',
      [text('refresh_token'), client.client_id, interval, Math.round(c.cfg.sessions_timebox), c.ip]);
    if (s.error === 'refresh_token_already_used') throw authErrors.refreshTokenAlreadyUsed();
  } else {
    throw oauthError('unsupported_grant_type', `Unsupported grant type: ${grant}`);
  }
  if (s.error) throw oauthError(s.error, s.error_description ?? s.error);
  const t = await tokenResponse(c.p, c.cfg, s);
  const scopes = (s.scope ?? '').split(' ').filter(Boolean);
  const out: Record<string, unknown> = { access_token: t.access_token, token_type: t.token_type, expires_in: t.expires_in, refresh_token: t.refresh_token };
  if (grant === 'authorization_code' && scopes.includes('openid')) out.id_token = await idToken(c, s, client.client_id, s.nonce ?? null, scopes);
  res.json(out);
});

// ----------------------------------------------------------------------------------------- userinfo, grants

oauthServer.get('/oauth/userinfo', async (req, res) => {
  const c = await serverCtx(req, res);
  const who = userCaller(req, c.p);
  const u = await authCall<Record<string, any>>(c.p, 'select auth.user_json(u) from auth.users u where u.id = $1', [who.userId]);
  if (!u) throw authErrors.userNotFound();
  const info: Record<string, unknown> = { sub: who.userId };
  const scopes = typeof who.claims.scope === 'string' ? who.claims.scope.split(' ') : [];
  if (!who.claims.client_id) return void res.json(info);
  const meta = (u.user_metadata ?? {}) as Record<string, unknown>;
  if (scopes.includes('email')) {
    if (u.email) info.email = u.email;
    if (u.email_confirmed_at) info.email_verified = true;
  }
  if (scopes.includes('profile')) {
    const name = typeof meta.name === 'string' && meta.name ? meta.name : u.email || undefined;
    if (name) info.name = name;
    const picture = meta.picture || meta.avatar_url;
    if (typeof picture === 'string' && picture) info.picture = picture;
    const username = meta.preferred_username || meta.username;
    if (typeof username === 'string' && username) info.preferred_username = username;
    if (u.updated_at) info.updated_at = Math.floor(new Date(u.updated_at).getTime() / 1000);
    info.user_metadata = meta;
  }
  if (scopes.includes('phone')) {
    if (u.phone) info.phone = u.phone;
    if (u.phone_confirmed_at) info.phone_verified = true;
  }
  res.json(info);
});

oauthServer.get('/user/oauth/grants', async (req, res) => {
  const c = await serverCtx(req, res);
  res.json(await authCall(c.p, 'select auth.oauth_grants($1)', [userCaller(req, c.p).userId]));
});

oauthServer.delete('/user/oauth/grants', async (req, res) => {
  const c = await serverCtx(req, res);
  const who = userCaller(req, c.p);
  const clientId = q(req, 'client_id');
  if (!clientId) throw validation('client_id query parameter is required');
  if (!isUuid(clientId)) throw validation('invalid client_id format');
  await authCall(c.p, 'select auth.oauth_revoke_grant($1, $2, $3)', [who.userId, clientId, c.ip]);
  res.status(204).end();
});
