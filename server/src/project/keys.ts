// Who is calling a project's data plane, as Supabase's gateway decides it: no key at all is refused (keyGate),
// a key that is not the project's is refused (apiKeyGate), then `Authorization: Bearer <jwt>` if present, else
// the `apikey` header, else anon. A new API key (sb_publishable_… / sb_secret_…) is never a JWT: it is looked up
// by its hash in the project's keyring (keyring.ts) and acts as anon or service_role. JWTs are verified with the
// project's keys only (the legacy HS256 secret while not revoked, its signing keys by `kid`, its trusted
// issuers' keys), so a key or token of another project fails. Only the three API roles can ever come out of here.
import type { IncomingHttpHeaders } from 'node:http';
import type { Request } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { decodeVerifiedBy, JwtError, validateClaims, type Claims, type TokenHeader, type VerifyKey } from './jwt.ts';
import { apiKeyHash, isApiKey, keyringOf, type Keyring } from './keyring.ts';

import { API_ROLES, type ApiRole } from '../../../db/src/roles.ts';

export { API_ROLES, type ApiRole };

export interface Identity {
  role: ApiRole;
  claims: Claims;
  /** The verified JWT, when one was given. */
  token?: string;
  /** The API key (sb_…) the caller is, when it gave one instead of a JWT. */
  apiKey?: { id: string; type: 'publishable' | 'secret' };
}

// Verified signatures, per token: the signature check is the only costly step. Claims are re-checked on every
// request (validateClaims is a few comparisons), so a cached token still expires on time and a future `nbf` is
// never let in early. An entry holds for the keyring and secret it was verified with only: a reloaded keyring (a
// key revoked, an issuer removed) or a rotated secret verifies again. Only tokens with a valid signature get
// here, so nobody without a key can fill the cache.
interface Verified { keyring: Keyring; secret: string | null; claims: Claims; key: VerifyKey }
const cache = new Map<string, Verified>();
const CACHE_MAX = 10_000;

/** The keys a token of this project may be signed with, for its header. */
function candidates(h: TokenHeader, kr: Keyring, secret: string | null): VerifyKey[] {
  const byKid = h.kid === undefined ? [] : kr.keys.filter((k) => k.kid === h.kid);
  if (byKid.length) return byKid;
  // Legacy tokens carry no kid (or one that names no key): the legacy secret, while it is not revoked.
  if (h.alg === 'HS256') return kr.legacySecretValid && secret ? [{ alg: 'HS256', key: secret }] : [];
  // An asymmetric token without a known kid: the keys of its algorithm (a handful at most).
  return kr.keys.filter((k) => k.alg === h.alg && k.alg !== 'HS256');
}

function verifyCached(token: string, project: ProjectRuntime, kr: Keyring): Verified {
  const hit = cache.get(token);
  if (hit && hit.keyring === kr && hit.secret === project.jwt_secret) return hit;
  const { claims, key } = decodeVerifiedBy(token, (h) => candidates(h, kr, project.jwt_secret));
  const v: Verified = { keyring: kr, secret: project.jwt_secret, claims, key };
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(token, v);
  return v;
}

/** A JWT's signature checked with the project's keys (cached), its issuer if a trusted issuer signed it, and the
 *  legacy switch — everything but the time claims and the role, which each API checks in its own words
 *  (identifyToken below for REST, GraphQL, auth, storage and functions; realtime/authorize.ts for realtime). */
export function verifiedToken(token: string, project: ProjectRuntime): { claims: Claims; key: VerifyKey } {
  const kr = keyringOf(project);
  const { claims, key } = verifyCached(token, project, kr);
  if (key.thirdParty?.issuer !== undefined && claims.iss !== key.thirdParty.issuer) throw new JwtError('issuer', 'JWT issuer is not trusted');
  // Legacy API keys (the anon / service_role JWTs: issuer "supabase", no user) stop when the project turns them off.
  if (!kr.legacyApiKeysEnabled && key.kid === undefined && claims.iss === 'supabase' && claims.sub === undefined) {
    throw new JwtError('legacy_disabled', 'Legacy API keys are disabled');
  }
  return { claims, key };
}

/** The role a trusted issuer's token gets: its `role` claim as PostgREST reads it (none: anon), but never
 *  service_role — an outside issuer does not get to bypass the project's row-level security. */
export function thirdPartyRole(claims: Claims): ApiRole {
  const role = claims.role === undefined ? 'anon' : String(claims.role);
  if (role !== 'anon' && role !== 'authenticated') throw new JwtError('role', `role "${role}" is not allowed for third-party tokens`, role);
  return role;
}

const headerValue = (v: string | string[] | undefined) => (typeof v === 'string' ? v : v?.join(', '))?.trim() || undefined;

/** The token a request presents: Bearer first (a user session), then the apikey header. Node joins a repeated
 *  apikey with ', ' and keeps one Authorization, as Express' req.get read them. `Bearer` with nothing after it
 *  is an empty token (PostgREST refuses it), not a fall-back to the apikey. */
function headerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer(?:\s+(.*))?$/i.exec(auth.trim());
    if (m) return (m[1] ?? '').trim();
  }
  return headerValue(headers.apikey);
}

/** The token the request would be identified by (for the gate's keyring refresh), if any. */
export const bearerToken = (headers: IncomingHttpHeaders | undefined): string | undefined => headers && headerToken(headers);

/** Throws JwtError for a bad, expired or foreign token, or a role outside the three API roles. */
export function identify(req: Request, project: ProjectRuntime): Identity {
  return identifyHeaders(req.headers, project);
}

/** identify() from the headers alone, for handlers that run on plain Node before Express (graphql/raw.ts). */
export function identifyHeaders(headers: IncomingHttpHeaders, project: ProjectRuntime): Identity {
  const token = headerToken(headers);
  if (token === undefined) return { role: 'anon', claims: { role: 'anon' } };
  // supabase-js sends its key as the Bearer too when nobody is signed in: as at Supabase's gateway, an API key
  // in Authorization stands for itself only when it is the request's `apikey` as well.
  if (isApiKey(token) && headers.authorization && token !== headerValue(headers.apikey)) {
    throw new JwtError('api_key', 'Expected 3 parts in JWT; got 1');
  }
  return identifyToken(token, project);
}

/** The identity one credential of the project's carries: an API key, or a JWT (signature cached, claims
 *  checked every time). */
export function identifyToken(token: string, project: ProjectRuntime): Identity {
  const kr = keyringOf(project);
  if (isApiKey(token)) {
    const k = kr.apiKeys.get(apiKeyHash(token));
    if (!k) throw new JwtError('api_key', 'Expected 3 parts in JWT; got 1');
    return { role: k.role, claims: k.claims, apiKey: { id: k.id, type: k.type } };
  }
  const { claims, key } = verifiedToken(token, project);
  validateClaims(claims);
  if (key.thirdParty) return { role: thirdPartyRole(claims), claims, token };
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
// The gateway's check of the `apikey` itself, once the project is known (resolve.ts checkProject): a new API key
// must be one of the project's, a secret key is refused from a browser, a legacy JWT key is refused once the
// project turned legacy keys off. Supabase's gateway answers these before any service sees the request.

const INVALID_API_KEY = { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' };

/** undefined when the key may go on, else the gateway's 401 body. */
export function apiKeyGate(headers: IncomingHttpHeaders, project: ProjectRuntime): { message: string; hint?: string } | undefined {
  const apikey = headerValue(headers.apikey);
  if (apikey === undefined) return undefined;
  const kr = keyringOf(project);
  if (isApiKey(apikey)) {
    const k = kr.apiKeys.get(apiKeyHash(apikey));
    if (!k) return INVALID_API_KEY;
    // Secret keys are for servers: a request a browser makes (its User-Agent says Mozilla/…) is refused.
    if (k.type === 'secret' && /^Mozilla\//.test(headerValue(headers['user-agent']) ?? '')) {
      return { message: 'Forbidden use of secret API key in browser', hint: 'Secret API keys can only be used in a protected environment and should never be used in a browser. Use a publishable key instead.' };
    }
    return undefined;
  }
  if (!kr.legacyApiKeysEnabled) {
    return { message: 'Legacy API keys are disabled', hint: 'Your legacy API keys (anon, service_role) were disabled. Use a publishable or secret API key instead.' };
  }
  return undefined;
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
  // SAML: the IdP's metadata fetch and the browser's form post from the IdP carry no key (Kong's auth-v1-open-sso-*).
  '/auth/v1/sso/saml/acs', '/auth/v1/sso/saml/metadata',
  // The OAuth 2.1 server (auth/oauth-server.ts): the browser arrives from another app's site and that app's
  // backend or MCP client knows no key of the project; each route authenticates its caller itself.
  '/auth/v1/oauth/authorize', '/auth/v1/oauth/token', '/auth/v1/oauth/clients/register', '/auth/v1/oauth/userinfo',
  '/auth/v1/.well-known/openid-configuration', '/auth/v1/.well-known/oauth-authorization-server',
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
// otherwise walk in as anon without any key. An API key (sb_…) as the Bearer is no key for the gateway either:
// Supabase answers `No API key found in request` unless it is in `apikey` too.
const bearer = (v: string | undefined) => v !== undefined && /^\s*Bearer\b/i.test(v) && !/^\s*Bearer\s+sb_/i.test(v);

/** Whether the request may go on. `url` is the request's URL relative to the project (`/rest/v1/…?…`). A key
 *  given only as the `apikey` query parameter is moved into the `apikey` header and out of the URL (so REST does
 *  not read it as a filter); the URL to serve is returned, or undefined when the request must be refused with
 *  NO_API_KEY. */
/** Whether the request carries a key in its headers (`apikey`, or an `Authorization: Bearer`): the gate admits it
 *  as it is. */
export const headerKeyGiven = (headers: IncomingHttpHeaders): boolean => present(headers.apikey) || bearer(headers.authorization);

export function keyGate(method: string, url: string, headers: IncomingHttpHeaders): string | undefined {
  if (headerKeyGiven(headers)) return url;
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
