// JSON Web Tokens of a project: the legacy HS256 keys (anon / service_role) and sessions signed with the project's
// secret, and tokens signed with its asymmetric signing keys (ES256, RS256, EdDSA) or a trusted issuer's keys.
// `alg: none` and every algorithm a key was not made for are rejected: a key is chosen by the token's `kid` and
// must be of the algorithm the header names, so an HS256 token "signed" with a public key never verifies. Claims
// are checked as PostgREST checks them (validateClaims), so a token is valid or not the same way on every API.
//
// Keys are made, imported and exported with `jose` (keyring.ts, management/signing-keys.ts), and tokens are
// signed with it (signWith). Verification stays synchronous on node:crypto: the data plane checks a token on
// every request (identify() in keys.ts, called by REST, GraphQL before Express, auth, storage, realtime), and
// jose's verify is async only; with the key already chosen and its algorithm pinned, a signature check is one
// call. jose also validates claims differently from PostgREST (it accepts a future `iat`, and its `exp`
// boundary and leeway differ), so the claim rules below would be ours either way.
import crypto from 'node:crypto';
import { SignJWT } from 'jose';

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
  | 'role' | 'api_key' | 'legacy_disabled' | 'issuer';

/** The failures where the token cannot be decoded or verified at all (PGRST301), as against invalid claims. */
export const DECODE_FAILURES: ReadonlySet<JwtFailure> = new Set(['empty', 'parts', 'malformed', 'unsupported_alg', 'bad_signature', 'api_key', 'legacy_disabled']);

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

export type Alg = 'HS256' | 'ES256' | 'RS256' | 'EdDSA';
export const ALGS: ReadonlySet<string> = new Set<Alg>(['HS256', 'ES256', 'RS256', 'EdDSA']);

/** A key a token may be verified with: an HMAC secret for HS256, a public key for the others. `issuer` is set for
 *  a third-party issuer's key (its tokens must name it in `iss`); `thirdParty` tells the caller where it came from. */
export interface VerifyKey {
  alg: Alg;
  key: string | crypto.KeyObject;
  kid?: string;
  thirdParty?: { id: string; issuer?: string };
}

/** What the token's header says, for choosing its key. */
export interface TokenHeader { alg: string; kid?: string }

function checkSignature(k: VerifyKey, data: string, sig: Buffer): boolean {
  if (k.alg === 'HS256') {
    // Only a secret: a public key given as an HMAC secret is the algorithm-confusion attack.
    if (typeof k.key !== 'string' && k.key.type !== 'secret') return false;
    const expected = crypto.createHmac('sha256', k.key).update(data).digest();
    return sig.length === expected.length && crypto.timingSafeEqual(sig, expected);
  }
  if (typeof k.key === 'string' || k.key.type !== 'public') return false;
  try {
    if (k.alg === 'ES256') return crypto.verify('sha256', Buffer.from(data), { key: k.key, dsaEncoding: 'ieee-p1363' }, sig);
    if (k.alg === 'RS256') return crypto.verify('sha256', Buffer.from(data), { key: k.key, padding: crypto.constants.RSA_PKCS1_PADDING }, sig);
    return crypto.verify(null, Buffer.from(data), k.key, sig);
  } catch {
    return false;
  }
}

/** Signature, algorithm and structure only: the part that is safe to cache per token (keys.ts does). `keys`
 *  gives the candidate keys for the header; only those of the header's algorithm are tried. */
export function decodeVerifiedBy(token: string, keys: (h: TokenHeader) => readonly VerifyKey[]): { claims: Claims; key: VerifyKey } {
  if (token === '') throw new JwtError('empty', 'Empty JWT is sent in Authorization header');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('parts', `Expected 3 parts in JWT; got ${parts.length}`);
  let header: { alg?: unknown; kid?: unknown };
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', 'JWT cryptographic operation failed');
  }
  if (typeof header?.alg !== 'string' || !ALGS.has(header.alg)) throw new JwtError('unsupported_alg', 'Wrong or unsupported encoding algorithm', String(header?.alg));
  const alg = header.alg;
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const sig = Buffer.from(parts[2], 'base64url');
  const data = `${parts[0]}.${parts[1]}`;
  const key = keys({ alg, kid }).find((k) => k.alg === alg && checkSignature(k, data, sig));
  if (!key) throw new JwtError('bad_signature', 'No suitable key or wrong key type');
  // Only a payload that is signed is parsed: nobody without the key gets to feed the JSON parser claims.
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('claims_not_object', 'Parsing claims failed');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new JwtError('claims_not_object', 'Parsing claims failed');
  return { claims: claims as Claims, key };
}

/** An HS256 token checked against one secret (the legacy keys, storage's signed URLs). */
export function decodeVerified(token: string, secret: string): Claims {
  return decodeVerifiedBy(token, () => [{ alg: 'HS256', key: secret }]).claims;
}

/** Signs with a private key (asymmetric signing keys), naming it in the header's `kid`. */
export async function signWith(claims: Claims, alg: Alg, kid: string, key: CryptoKey | Uint8Array): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
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
