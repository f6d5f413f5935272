// Who is calling a project's data plane, as Supabase's gateway decides it: `Authorization: Bearer <jwt>` if
// present, else the `apikey` header, else anon. Tokens are HS256 JWTs signed with the project's own secret, so
// a key of another project fails the signature check. Only the three API roles can ever come out of here.
import type { IncomingHttpHeaders } from 'node:http';
import type { Request } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { JwtError, verifyJwt, type Claims } from './jwt.ts';

export const API_ROLES = ['anon', 'authenticated', 'service_role'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface Identity {
  role: ApiRole;
  claims: Claims;
  /** The verified JWT, when one was given. */
  token?: string;
}

const cache = new Map<string, { secret: string; claims: Claims }>();
const CACHE_MAX = 10_000;

function verifyCached(token: string, secret: string): Claims {
  const hit = cache.get(token);
  if (hit && hit.secret === secret) {
    if (typeof hit.claims.exp === 'number' && hit.claims.exp + 30 < Date.now() / 1000) {
      cache.delete(token);
      throw new JwtError('expired', 'JWT expired');
    }
    return hit.claims;
  }
  const claims = verifyJwt(token, secret);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(token, { secret, claims });
  return claims;
}

/** The token a request presents: Bearer first (a user session), then the apikey header. Node joins a repeated
 *  apikey with ', ' and keeps one Authorization, as Express' req.get read them. */
function headerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1].trim();
  }
  const apikey = headers.apikey;
  return (typeof apikey === 'string' ? apikey : apikey?.join(', '))?.trim() || undefined;
}

/** Throws JwtError for a bad, expired or foreign token, or a role outside the three API roles. */
export function identify(req: Request, project: ProjectRuntime): Identity {
  return identifyHeaders(req.headers, project);
}

/** identify() from the headers alone, for handlers that run on plain Node before Express (graphql/raw.ts). */
export function identifyHeaders(headers: IncomingHttpHeaders, project: ProjectRuntime): Identity {
  const token = headerToken(headers);
  if (!token) return { role: 'anon', claims: { role: 'anon' } };
  if (!project.jwt_secret) throw new JwtError('bad_signature', 'project has no JWT secret');
  const claims = verifyCached(token, project.jwt_secret);
  const role = claims.role ?? 'anon';
  if (!(API_ROLES as readonly unknown[]).includes(role)) {
    throw new JwtError('bad_signature', `role "${String(role)}" is not allowed`);
  }
  return { role: role as ApiRole, claims, token };
}
