// HS256 JSON Web Tokens signed with a project's secret: the anon / service_role keys and user sessions.
// Only HS256 is accepted; `alg: none` and every other algorithm are rejected.
import crypto from 'node:crypto';

export type Claims = Record<string, unknown> & { role?: string; exp?: number; iat?: number; sub?: string };

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signJwt(claims: Claims, secret: string): string {
  const payload = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${sig}`;
}

export type JwtFailure = 'malformed' | 'bad_signature' | 'unsupported_alg' | 'expired';

export class JwtError extends Error {
  readonly reason: JwtFailure;
  constructor(reason: JwtFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Verifies signature and expiry; returns the claims. `leewaySeconds` tolerates small clock skew on `exp`. */
export function verifyJwt(token: string, secret: string, nowSeconds = Date.now() / 1000, leewaySeconds = 30): Claims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed', `Expected 3 parts in JWT; got ${parts.length}`);
  let header: { alg?: string };
  let claims: Claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', 'JWT cryptographic operation failed');
  }
  if (header?.alg !== 'HS256') throw new JwtError('unsupported_alg', 'Wrong or unsupported encoding algorithm');
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new JwtError('malformed', 'JWT claims are not an object');
  const expected = crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new JwtError('bad_signature', 'No suitable key or wrong key type');
  }
  if (typeof claims.exp === 'number' && claims.exp + leewaySeconds < nowSeconds) throw new JwtError('expired', 'JWT expired');
  return claims;
}

/** The project's anon and service_role keys: deterministic for a given secret, so they can be shown any time. */
export function projectKeys(ref: string, secret: string, secretCreatedAt: Date): { anon: string; service_role: string } {
  const iat = Math.floor(secretCreatedAt.getTime() / 1000);
  const exp = iat + 10 * 365 * 24 * 3600;
  const key = (role: string) => signJwt({ iss: 'supabase', ref, role, iat, exp }, secret);
  return { anon: key('anon'), service_role: key('service_role') };
}
