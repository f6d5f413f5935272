// HS256 JSON Web Tokens signed with a project's secret: the anon / service_role keys and user sessions.
// Only HS256 is accepted; `alg: none` and every other algorithm are rejected. Claims are checked as PostgREST
// checks them (validateClaims), so a token is valid or not the same way on every API of a project.
//
// Why node:crypto and not `jose`: the data plane verifies a token synchronously on every request (identify() in
// keys.ts, called by REST, GraphQL before Express, auth and storage), and jose's verify is async only; an HMAC
// compare is a dozen lines with nothing to configure wrongly (the algorithm is pinned, the comparison is
// constant-time). jose also validates claims differently from PostgREST (it accepts a future `iat`, and its
// `exp` boundary and leeway differ), so the claim rules below would be ours either way. Use jose when
// asymmetric keys (JWKS) arrive.
import crypto from 'node:crypto';

export type Claims = Record<string, unknown> & { role?: string; exp?: number; iat?: number; nbf?: number; sub?: string };

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signJwt(claims: Claims, secret: string): string {
  const payload = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${sig}`;
}

/** Why a token was refused. The first group cannot be decoded or verified (PostgREST's PGRST301); the second
 *  has claims that are invalid (PGRST303); `role` names a role the project's data plane does not serve. Each
 *  API renders a reason in its own words (rest/errors.ts, auth/errors.ts, storage/errors.ts, graphql/errors.ts). */
export type JwtFailure =
  | 'empty' | 'parts' | 'malformed' | 'unsupported_alg' | 'bad_signature'
  | 'claims_not_object' | 'claim_type' | 'expired' | 'not_yet_valid' | 'issued_in_future' | 'audience'
  | 'role';

/** The failures where the token cannot be decoded or verified at all (PGRST301), as against invalid claims. */
export const DECODE_FAILURES: ReadonlySet<JwtFailure> = new Set(['empty', 'parts', 'malformed', 'unsupported_alg', 'bad_signature']);

export class JwtError extends Error {
  readonly reason: JwtFailure;
  /** What was at fault: the claim for `claim_type` (exp, nbf, iat, aud), the role for `role`, the algorithm for
   *  `unsupported_alg` — for APIs whose messages name it. */
  readonly detail?: string;
  /** The message is PostgREST's for this failure. */
  constructor(reason: JwtFailure, message: string, detail?: string) {
    super(message);
    this.reason = reason;
    this.detail = detail;
  }
}

/** PostgREST tolerates this much clock skew on `exp`, `nbf` and `iat` (Auth/Jwt.hs, allowedSkewSeconds). */
export const CLOCK_SKEW_SECONDS = 30;

export interface ClaimRules {
  /** Seconds since the epoch; now unless given. */
  now?: number;
  /** Tolerated clock skew for all three time claims. */
  skew?: number;
  /** Expired means expired, with no skew (signed URLs: a link's end is exact). nbf/iat keep the skew, since
   *  another API process with a clock slightly ahead may have signed it. */
  exactExpiry?: boolean;
  /** When set, a token's `aud` (if present) must be or contain it. */
  audience?: string;
}

/** Signature, algorithm and structure only: the part that is safe to cache per token (keys.ts does). */
export function decodeVerified(token: string, secret: string): Claims {
  if (token === '') throw new JwtError('empty', 'Empty JWT is sent in Authorization header');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('parts', `Expected 3 parts in JWT; got ${parts.length}`);
  let header: { alg?: unknown };
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', 'JWT cryptographic operation failed');
  }
  if (header?.alg !== 'HS256') throw new JwtError('unsupported_alg', 'Wrong or unsupported encoding algorithm', String(header?.alg));
  const expected = crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new JwtError('bad_signature', 'No suitable key or wrong key type');
  }
  // Only a payload that is signed is parsed: nobody without the secret gets to feed the JSON parser claims.
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('claims_not_object', 'Parsing claims failed');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new JwtError('claims_not_object', 'Parsing claims failed');
  return claims as Claims;
}

/** PostgREST's claim checks (Auth/Jwt.hs checkForErrors), in its order: `exp`, `nbf`, `iat` must be numbers
 *  when present (a string `exp` would otherwise read as "never expires"), `exp` not past, `nbf` and `iat` not
 *  in the future, each with the clock skew; `aud` a string or an array of strings, matching `audience` when one
 *  is configured. `null` counts as absent, as in PostgREST. Cheap enough to run on every request. */
export function validateClaims(claims: Claims, rules: ClaimRules = {}): void {
  const now = Math.floor(rules.now ?? Date.now() / 1000);
  const skew = rules.skew ?? CLOCK_SKEW_SECONDS;
  const time = (name: 'exp' | 'nbf' | 'iat'): number | undefined => {
    const v = claims[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new JwtError('claim_type', `The JWT '${name}' claim must be a number`, name);
    return v;
  };
  const exp = time('exp');
  if (exp !== undefined && (rules.exactExpiry ? exp <= now : now - skew > exp)) throw new JwtError('expired', 'JWT expired');
  const nbf = time('nbf');
  if (nbf !== undefined && now + skew < nbf) throw new JwtError('not_yet_valid', 'JWT not yet valid');
  const iat = time('iat');
  if (iat !== undefined && now + skew < iat) throw new JwtError('issued_in_future', 'JWT issued at future');
  const aud = claims.aud;
  if (aud !== undefined && aud !== null) {
    const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? aud as string[] : undefined;
    if (!list) throw new JwtError('claim_type', "The JWT 'aud' claim must be a string or an array of strings", 'aud');
    // PostgREST: an empty array matches; so does any audience when none is configured.
    if (rules.audience !== undefined && list.length > 0 && !list.includes(rules.audience)) throw new JwtError('audience', 'JWT not in audience');
  }
}

/** Verifies signature, algorithm and claims; returns the claims. */
export function verifyJwt(token: string, secret: string, rules: ClaimRules = {}): Claims {
  const claims = decodeVerified(token, secret);
  validateClaims(claims, rules);
  return claims;
}

/** The project's anon and service_role keys: deterministic for a given secret, so they can be shown any time. */
export function projectKeys(ref: string, secret: string, secretCreatedAt: Date): { anon: string; service_role: string } {
  const iat = Math.floor(secretCreatedAt.getTime() / 1000);
  const exp = iat + 10 * 365 * 24 * 3600;
  const key = (role: string) => signJwt({ iss: 'supabase', ref, role, iat, exp }, secret);
  return { anon: key('anon'), service_role: key('service_role') };
}
