// Who is calling the Management API: access-token authentication (with the shared per-account rate limit and
// the per-token daily quota, quota.ts), token scopes, and the transaction that runs a caller's SQL as role
// loam_api under RLS.
import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type pg from 'pg';
import { config } from '../../../db/src/config.ts';
import { withContext } from '../../../db/src/context.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { errors } from '../errors.ts';
import { applyQuota } from './quota.ts';

export interface Caller {
  accountId: string;
  tokenId: string;
  tokenPrefix: string;
  scopes: string[];
  kind: 'session' | 'personal';
}

export const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

/** A new access token: `sbp_` + 40 lowercase hex, the shape the Supabase CLI accepts. */
export function newAccessToken(): { token: string; hash: Buffer; prefix: string } {
  const token = `sbp_${crypto.randomBytes(20).toString('hex')}`;
  return { token, hash: sha256(token), prefix: token.slice(0, 8) };
}

export const caller = (res: Response): Caller => res.locals.caller as Caller;

// Idempotent: a request passes through several routers that each guard their routes, but its token is looked
// up — and counted against the rate limit — once.
export const authenticate: RequestHandler = async (req, res, next) => {
  if (res.locals.caller) return next();
  const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  if (!m) throw errors.unauthorized();
  const { rows } = await controlPool().query(
    'select * from platform_private.authenticate($1, $2)', [sha256(m[1]), config.rateLimitPerMinute]);
  const row = rows[0];
  if (!row) throw errors.unauthorized();
  if (!row.allowed) throw errors.rateLimited(row.retry_after);
  applyQuota(res, row);
  res.locals.caller = {
    accountId: row.account_id, tokenId: row.token_id, tokenPrefix: row.token_prefix, scopes: row.scopes, kind: row.kind,
  } satisfies Caller;
  next();
};

/** Counts one hit of `key` (per minute, in the control database, so across API processes); 429 past `limit`. */
export async function rateLimit(key: string, limit: number): Promise<void> {
  const { rows: [r] } = await controlPool().query<{ retry_after: number }>('select platform_private.rate_limit_hit($1, $2) as retry_after', [key, limit]);
  if (r.retry_after > 0) throw errors.rateLimited(r.retry_after);
}

export type Area = 'organizations' | 'projects' | 'database' | 'tokens';

/** Tokens without scopes may do anything; otherwise `read`/`write` or `<area>:read`/`<area>:write` (write implies read). */
export function allows(scopes: string[], area: Area, access: 'read' | 'write'): boolean {
  if (scopes.length === 0) return true;
  const wanted = access === 'read' ? ['read', 'write', `${area}:read`, `${area}:write`] : ['write', `${area}:write`];
  return wanted.some((s) => scopes.includes(s));
}

export function scope(area: Area, access?: 'read' | 'write'): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const needed = access ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');
    if (!allows(caller(res).scopes, area, needed)) throw errors.forbiddenScope(`${area}:${needed}`);
    next();
  };
}

/** Runs `fn` in a transaction as loam_api with the caller's account id (and token id, which audited actions
 *  record): RLS decides what it sees. */
export function asCaller<T>(res: Response, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { accountId, tokenId } = caller(res);
  return withContext(controlPool(), {
    role: 'loam_api', claims: { sub: accountId }, settings: { 'loam.account_id': accountId, 'loam.token_id': tokenId },
  }, fn);
}

/** One SQL statement as the caller; its rows. */
export async function callerQuery<T = Record<string, unknown>>(res: Response, sql: string, params: unknown[] = []): Promise<T[]> {
  return asCaller(res, async (c) => (await c.query(sql, params)).rows as T[]);
}
