// Sessions as the client sees them: the access token (a JWT with GoTrue's claims, signed with the project's
// signing key in use) and the token response; and who is calling, from the Bearer token.
import type { Request } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { identify } from '../project/keys.ts';
import { JwtError, type Claims } from '../project/jwt.ts';
import { isApiKey } from '../project/keyring.ts';
import { signSession } from '../project/signing.ts';
import { projectBaseUrl } from '../project/urls.ts';
import type { AuthConfig } from './config.ts';
import { AuthError, authErrors } from './errors.ts';
import { hookEnabled, hookMetadata, runHook } from './hooks.ts';

export interface UserJson {
  id: string;
  aud: string;
  role: string;
  email: string;
  phone: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  is_anonymous: boolean;
  [k: string]: unknown;
}

/** What the session-starting SQL functions return. */
export interface SessionData {
  user: UserJson;
  session_id: string;
  refresh_token: string;
  aal: string;
  amr: { method: string; timestamp: number }[];
  /** Sessions an OAuth client obtained from the project's OAuth server (oauth-server.ts): its id and the scopes. */
  client_id?: string | null;
  scope?: string | null;
  /** The PKCE code exchange of an OAuth sign-in: the provider's tokens (GoTrue's provider_token, provider_refresh_token). */
  provider_token?: string;
  provider_refresh_token?: string;
}

export const issuer = (p: ProjectRuntime) => `${projectBaseUrl(p.ref)}/auth/v1`;

const REQUIRED_CLAIMS = ['aud', 'exp', 'iat', 'sub', 'email', 'phone', 'role', 'aal', 'session_id', 'is_anonymous'];

/** The project's custom access token hook (hooks.ts): it gets `{user_id, claims, authentication_method}` and
 *  returns `{claims}` or `{error: {http_code, message}}`, as in Supabase. */
async function customClaims(p: ProjectRuntime, cfg: AuthConfig, s: SessionData, claims: Claims, ip: string): Promise<Claims> {
  const event = { metadata: hookMetadata('custom_access_token', ip), user_id: s.user.id, claims, authentication_method: s.amr[0]?.method ?? 'password' };
  const out = await runHook(p, cfg, 'custom_access_token', event);
  if (!out || !('claims' in out)) throw new AuthError(500, 'unexpected_failure', 'output claims field is missing');
  const result = out.claims as Claims | undefined;
  const missing = REQUIRED_CLAIMS.filter((k) => result?.[k] === undefined);
  if (!result || typeof result !== 'object' || missing.length) {
    throw new AuthError(500, 'unexpected_failure', `output claims do not conform to the expected schema: \n${missing.map((k) => `- (root): ${k} is required\n`).join('')}`);
  }
  return result;
}

export async function accessToken(p: ProjectRuntime, cfg: AuthConfig, s: SessionData, ip = ''): Promise<{ token: string; exp: number }> {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + cfg.jwt_exp;
  const u = s.user;
  let claims: Claims = {
    iss: issuer(p), sub: u.id, aud: u.aud || 'authenticated', exp, iat,
    email: u.email, phone: u.phone, app_metadata: u.app_metadata, user_metadata: u.user_metadata,
    role: u.role || 'authenticated', aal: s.aal, amr: s.amr, session_id: s.session_id, is_anonymous: u.is_anonymous,
    ...(s.client_id ? { client_id: s.client_id, scope: s.scope ?? '' } : {}),
  };
  if (hookEnabled(cfg, 'custom_access_token')) claims = await customClaims(p, cfg, s, claims, ip);
  return { token: await signSession(p, claims), exp: typeof claims.exp === 'number' ? claims.exp : exp };
}

/** GoTrue's AccessTokenResponse. */
export async function tokenResponse(p: ProjectRuntime, cfg: AuthConfig, s: SessionData) {
  const { token, exp } = await accessToken(p, cfg, s);
  return { access_token: token, token_type: 'bearer', expires_in: cfg.jwt_exp, expires_at: exp, refresh_token: s.refresh_token, user: s.user,
    ...(s.provider_token ? { provider_token: s.provider_token } : {}), ...(s.provider_refresh_token ? { provider_refresh_token: s.provider_refresh_token } : {}) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);

function bearerClaims(req: Request, p: ProjectRuntime): Claims {
  // A secret key in `apikey` alone is enough for the admin API, as at Supabase (its gateway turns the key into
  // a service_role token).
  if (!/^Bearer\s+\S+/i.test(req.get('authorization') ?? '') && !isApiKey(req.get('apikey') ?? '')) throw authErrors.noAuthorization();
  return identify(req, p).claims;
}

export interface UserCaller { userId: string; sessionId: string | null; claims: Claims }

/** The `amr` method of row login's tokens (server/src/data/row-login.ts): their `sub` is a row of the owner's
 *  table, never a user of auth.users, so auth's user endpoints refuse them. */
export const ROW_LOGIN_METHOD = 'row_password';
const isRowLogin = (claims: Claims) => Array.isArray(claims.amr)
  && claims.amr.some((a: unknown) => typeof a === 'object' && a !== null && (a as { method?: unknown }).method === ROW_LOGIN_METHOD);

/** The signed-in user of a request (GoTrue's requireAuthentication). */
export function userCaller(req: Request, p: ProjectRuntime): UserCaller {
  const claims = bearerClaims(req, p);
  if (!claims.sub) throw authErrors.badJwt('invalid claim: missing sub claim');
  if (!isUuid(claims.sub)) throw authErrors.badJwt('invalid claim: sub claim must be a UUID');
  if (isRowLogin(claims)) throw authErrors.badJwt('invalid claim: a row login token is not a user session');
  const sid = claims.session_id;
  if (sid !== undefined && sid !== null && !isUuid(sid)) throw authErrors.badJwt('invalid claim: session_id claim must be a UUID');
  return { userId: claims.sub, sessionId: (sid as string | undefined) ?? null, claims };
}

/** Admin endpoints need a token of one of GoTrue's admin roles: service_role, or supabase_admin. The data plane
 *  serves no supabase_admin role (identify() refuses it once the token is verified), but a valid token with it is
 *  an admin's here, as in GoTrue; auth's own statements run as the project's service role either way. */
export function requireAdmin(req: Request, p: ProjectRuntime): void {
  let role: unknown;
  try {
    role = bearerClaims(req, p).role;
  } catch (err) {
    if (!(err instanceof JwtError && err.reason === 'role' && err.detail === 'supabase_admin')) throw err;
    role = 'supabase_admin';
  }
  if (role !== 'service_role' && role !== 'supabase_admin') throw authErrors.notAdmin();
}
