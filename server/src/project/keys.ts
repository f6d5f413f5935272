// Who is calling a project's data plane, as Supabase's gateway decides it: no key at all is refused (keyGate),
// then `Authorization: Bearer <jwt>` if present, else the `apikey` header, else anon. Tokens are HS256 JWTs
// signed with the project's own secret, so a key of another project fails the signature check. Only the three
// API roles can ever come out of here.
import type { IncomingHttpHeaders } from 'node:http';
import type { Request } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { decodeVerified, JwtError, validateClaims, type Claims } from './jwt.ts';

import { API_ROLES, type ApiRole } from '../../../db/src/roles.ts';

export { API_ROLES, type ApiRole };

export interface Identity {
  role: ApiRole;
  claims: Claims;
  /** The verified JWT, when one was given. */
  token?: string;
}

// Verified signatures, per token: the HMAC is the only costly step. Claims are re-checked on every request
// (validateClaims is a few comparisons), so a cached token still expires on time and a future `nbf` is never
// let in early. Only tokens with a valid signature get here, so nobody without the secret can fill the cache.
const cache = new Map<string, { secret: string; claims: Claims }>();
const CACHE_MAX = 10_000;

function verifyCached(token: string, secret: string): Claims {
  const hit = cache.get(token);
  let claims = hit && hit.secret === secret ? hit.claims : undefined;
  if (!claims) {
    claims = decodeVerified(token, secret);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(token, { secret, claims });
  }
  validateClaims(claims);
  return claims;
}

/** The token a request presents: Bearer first (a user session), then the apikey header. Node joins a repeated
 *  apikey with ', ' and keeps one Authorization, as Express' req.get read them. `Bearer` with nothing after it
 *  is an empty token (PostgREST refuses it), not a fall-back to the apikey. */
function headerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer(?:\s+(.*))?$/i.exec(auth.trim());
    if (m) return (m[1] ?? '').trim();
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
  if (token === undefined) return { role: 'anon', claims: { role: 'anon' } };
  return identifyToken(token, project);
}

/** The identity one token of the project's carries (signature cached, claims checked every time). */
export function identifyToken(token: string, project: ProjectRuntime): Identity {
  if (!project.jwt_secret) throw new JwtError('bad_signature', 'No suitable key or wrong key type');
  const claims = verifyCached(token, project.jwt_secret);
  // PostgREST renders a non-string role as JSON (`5`, `{"a":1}`) and asks Postgres to switch to it.
  const role = claims.role === undefined ? 'anon' : typeof claims.role === 'string' ? claims.role : JSON.stringify(claims.role);
  if (!(API_ROLES as readonly string[]).includes(role)) {
    // Every other role reads as one that does not exist, whether the cluster has it or not (another project's
    // owner, postgres): the data plane serves three roles, and says nothing about the others.
    throw new JwtError('role', `role "${role}" does not exist`, role);
  }
  return { role: role as ApiRole, claims, token };
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway's key check. Hosted Supabase refuses a data-plane request that carries no key at all before any
// service sees it (Kong's key-auth: `apikey` header or `?apikey=` query parameter), except the routes it leaves
// open: links opened from emails and OAuth redirects, the public storage routes (and signed URLs, whose token is
// the credential), and auth's health, settings and JWKS. OPTIONS preflights are answered before key-auth by the
// gateway's CORS plugin, so they pass too.

/** What Supabase's gateway answers a request without a key with; its CORS plugin adds the origin header to
 *  this answer too, so a browser app can read why it was refused. */
export const NO_API_KEY = {
  status: 401,
  headers: { 'Access-Control-Allow-Origin': '*' },
  body: { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' },
} as const;

// Exact paths (relative to the project) open to any method, as Kong's `auth-v1-open*` routes are.
const OPEN_EXACT = new Set([
  '/auth/v1/verify', '/auth/v1/callback', '/auth/v1/authorize',
  '/auth/v1/health', '/auth/v1/settings', '/auth/v1/.well-known/jwks.json',
  // TUS with a signed upload token (x-signature): the token is the credential, checked by storage/tus.ts.
  '/storage/v1/upload/resumable/sign',
]);

// Prefixes open to reads (GET, HEAD; PUT for a signed upload), matched on the raw path: Express routes the raw
// path too, so what is matched here is what is served. Only the lower-case spelling is open; Express would
// route `/object/PUBLIC/…` to the same public handler, which then just needs a key.
const OPEN_PREFIX: [prefix: string, methods: readonly string[]][] = [
  ['/storage/v1/object/public/', ['GET', 'HEAD']],
  ['/storage/v1/object/info/public/', ['GET', 'HEAD']],
  ['/storage/v1/render/image/public/', ['GET', 'HEAD']],
  ['/storage/v1/object/sign/', ['GET', 'HEAD']],
  ['/storage/v1/render/image/sign/', ['GET', 'HEAD']],
  ['/storage/v1/object/upload/sign/', ['PUT']],
  ['/storage/v1/upload/resumable/sign/', ['HEAD', 'PATCH', 'DELETE']],
  // GraphiQL's scripts (development only): a browser loads them without headers. They hold no project data.
  ['/graphql/v1/ruru-static/', ['GET', 'HEAD']],
];

// A dot segment, an encoded dot or a backslash: a handler that normalises its path (as WHATWG URL parsing does:
// `/ruru-static/..` becomes `/`, the GraphQL endpoint) could serve a route that is not open, so such a path
// never is.
const DOTTED = /(^|\/)\.\.?(\/|$)|%2e|\\/i;

const present = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join('') : v ?? '').trim() !== '';
// Only a Bearer token is a credential here: identify() ignores other schemes, so `Authorization: Basic …` would
// otherwise walk in as anon without any key.
const bearer = (v: string | undefined) => v !== undefined && /^\s*Bearer\b/i.test(v);

/** Whether the request may go on. `url` is the request's URL relative to the project (`/rest/v1/…?…`). A key
 *  given only as the `apikey` query parameter is moved into the `apikey` header and out of the URL (so REST does
 *  not read it as a filter); the URL to serve is returned, or undefined when the request must be refused with
 *  NO_API_KEY. */
export function keyGate(method: string, url: string, headers: IncomingHttpHeaders): string | undefined {
  if (present(headers.apikey) || bearer(headers.authorization)) return url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (q !== -1) {
    // Taken out textually: re-serialising the query would re-encode the other parameters.
    let key = '';
    const kept: string[] = [];
    for (const part of url.slice(q + 1).split('&')) {
      const eq = part.indexOf('=');
      if ((eq === -1 ? part : part.slice(0, eq)) !== 'apikey') { kept.push(part); continue; }
      if (!key && eq !== -1) {
        try { key = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' ')).trim(); } catch { key = part.slice(eq + 1).trim(); }
      }
    }
    if (key) {
      headers.apikey = key;
      return kept.length ? `${path}?${kept.join('&')}` : path;
    }
  }
  if (method === 'OPTIONS') return url;
  // Storage authenticates every request itself, as Supabase's own gateway configuration leaves it to
  // storage-api: a request without any credential gets storage-api's 400 (storage/context.ts caller()), the
  // S3 router (storage/s3/) checks SigV4, TUS and signed URLs their tokens; public routes need none.
  if (path === '/storage/v1' || path.startsWith('/storage/v1/')) return url;
  if (OPEN_EXACT.has(path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path)) return url;
  if (DOTTED.test(path)) return undefined;
  for (const [prefix, methods] of OPEN_PREFIX) {
    if (path.startsWith(prefix) && methods.includes(method)) return url;
  }
  return undefined;
}
