// Sessions as the client sees them: the access token (an HS256 JWT with GoTrue's claims, signed with the
// project's secret) and the token response; and who is calling, from the Bearer token.
import type { Request } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { identify } from '../project/keys.ts';
import { signJwt, type Claims } from '../project/jwt.ts';
import { projectBaseUrl } from '../project/urls.ts';
import type { AuthConfig } from './config.ts';
import { authErrors } from './errors.ts';

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
}

export const issuer = (p: ProjectRuntime) => `${projectBaseUrl(p.ref)}/auth/v1`;

export function accessToken(p: ProjectRuntime, cfg: AuthConfig, s: SessionData): { token: string; exp: number } {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + cfg.jwt_exp;
  const u = s.user;
  const claims: Claims = {
    iss: issuer(p), sub: u.id, aud: u.aud || 'authenticated', exp, iat,
    email: u.email, phone: u.phone, app_metadata: u.app_metadata, user_metadata: u.user_metadata,
    role: u.role || 'authenticated', aal: s.aal, amr: s.amr, session_id: s.session_id, is_anonymous: u.is_anonymous,
  };
  return { token: signJwt(claims, p.jwt_secret!), exp };
}

/** GoTrue's AccessTokenResponse. */
export function tokenResponse(p: ProjectRuntime, cfg: AuthConfig, s: SessionData) {
  const { token, exp } = accessToken(p, cfg, s);
  return { access_token: token, token_type: 'bearer', expires_in: cfg.jwt_exp, expires_at: exp, refresh_token: s.refresh_token, user: s.user };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);

function bearerClaims(req: Request, p: ProjectRuntime): Claims {
  if (!/^Bearer\s+\S+/i.test(req.get('authorization') ?? '')) throw authErrors.noAuthorization();
  return identify(req, p).claims;
}

export interface UserCaller { userId: string; sessionId: string | null; claims: Claims }

/** The signed-in user of a request (GoTrue's requireAuthentication). */
export function userCaller(req: Request, p: ProjectRuntime): UserCaller {
  const claims = bearerClaims(req, p);
  if (!claims.sub) throw authErrors.badJwt('invalid claim: missing sub claim');
  if (!isUuid(claims.sub)) throw authErrors.badJwt('invalid claim: sub claim must be a UUID');
  const sid = claims.session_id;
  if (sid !== undefined && sid !== null && !isUuid(sid)) throw authErrors.badJwt('invalid claim: session_id claim must be a UUID');
  return { userId: claims.sub, sessionId: (sid as string | undefined) ?? null, claims };
}

/** Admin endpoints need the service_role key. */
export function requireAdmin(req: Request, p: ProjectRuntime): void {
  if (bearerClaims(req, p).role !== 'service_role') throw authErrors.notAdmin();
}
