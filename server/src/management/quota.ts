// Per-token daily request quotas (the plan's `daily_requests_per_token`), counted across every API process
// without a write per request: each process keeps its tokens' counts in memory and writes them in batches (one
// statement per half second at most, sooner past FLUSH_AT requests of one token). Every request reads what is
// written of its token's count in the authentication statement it makes anyway; that plus this process's
// unwritten count decides. Within SYNC_MARGIN of the quota a request is counted in the database at once,
// conditionally (platform_private.count_token_request), so processes serialize on the token's row there.
//
// Tolerance: a process writes its count before FLUSH_AT requests of a token go unwritten, and counts at once
// from SYNC_MARGIN below the quota. While fewer than SYNC_MARGIN / FLUSH_AT processes (5) serve one token, the
// requests the others have served but not written are fewer than the margin, so no request passes the quota;
// with more, at most FLUSH_AT per process over that do. A failed batch write is kept and tried again.
import { controlPool } from '../../../db/src/pools.ts';
import { ApiError } from '../errors.ts';

const FLUSH_MS = 500;
const FLUSH_AT = 10;
const SYNC_MARGIN = 50;
const MAX_TOKENS = 100_000;

interface Pending { tokenId: string; day: string; count: number }
let pending = new Map<string, Pending>();
let timer: NodeJS.Timeout | undefined;
let flushing: Promise<void> | undefined;

const keyOf = (tokenId: string, day: string) => `${tokenId}|${day}`;
const dayString = (d: Date | string) => (typeof d === 'string' ? d.slice(0, 10) : d.toISOString().slice(0, 10));

/** Requests of this token today that this process has served and not written yet. */
export const unwritten = (tokenId: string, day: Date | string) => pending.get(keyOf(tokenId, dayString(day)))?.count ?? 0;

export function quotaExceeded(quota: number, day: string): ApiError {
  const reset = new Date(`${day}T00:00:00Z`);
  reset.setUTCDate(reset.getUTCDate() + 1);
  const retryAfter = Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000));
  const resetAt = reset.toISOString();
  return new ApiError(429, 'daily_quota_exceeded',
    `This access token has used its daily quota of ${quota} requests; it resets at ${resetAt}`,
    { 'Retry-After': String(retryAfter), 'X-RateLimit-Limit': String(quota), 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(reset.getTime() / 1000) },
    { quota, used: quota, reset_at: resetAt });
}

/** Counts one request of `tokenId`; throws the 429 when the token's quota for `day` (UTC) is used up. */
export async function countRequest(tokenId: string, quota: number | null, day: Date | string, usedToday: number): Promise<void> {
  const d = dayString(day);
  const key = keyOf(tokenId, d);
  const mine = pending.get(key)?.count ?? 0;
  if (quota !== null && usedToday + mine >= quota - SYNC_MARGIN) {
    if (usedToday + mine >= quota) throw quotaExceeded(quota, d);
    pending.delete(key);
    let allowed: boolean;
    try {
      ({ rows: [{ allowed }] } = await controlPool().query<{ allowed: boolean }>(
        'select * from platform_private.count_token_request($1, $2, $3, $4)', [tokenId, d, mine, quota]));
    } catch (err) {
      add(tokenId, d, mine); // not written: kept for the next batch
      throw err;
    }
    if (!allowed) throw quotaExceeded(quota, d);
    return;
  }
  add(tokenId, d, 1);
}

function add(tokenId: string, day: string, n: number): void {
  if (n <= 0) return;
  const key = keyOf(tokenId, day);
  const p = pending.get(key);
  if (p) p.count += n;
  else if (pending.size < MAX_TOKENS) pending.set(key, { tokenId, day, count: n });
  if ((p?.count ?? n) >= FLUSH_AT && !flushing) { clearTimeout(timer); timer = undefined; void flushQuotaCounts(); }
  else timer ??= setTimeout(() => { timer = undefined; void flushQuotaCounts(); }, FLUSH_MS).unref();
}

/** Writes the counts waiting; resolves when they are written (or kept for the next try, when the write failed). */
export function flushQuotaCounts(): Promise<void> {
  if (flushing) return flushing.then(flushQuotaCounts);
  if (!pending.size) return Promise.resolve();
  const batch = [...pending.values()];
  pending = new Map();
  flushing = controlPool().query('select platform_private.record_token_usage($1::uuid[], $2::date[], $3::integer[])',
    [batch.map((b) => b.tokenId), batch.map((b) => b.day), batch.map((b) => b.count)])
    .then(() => undefined, () => { for (const b of batch) add(b.tokenId, b.day, b.count); })
    .finally(() => {
      flushing = undefined;
      if (pending.size) timer ??= setTimeout(() => { timer = undefined; void flushQuotaCounts(); }, FLUSH_MS).unref();
    });
  return flushing;
}

export async function stopQuotaCounts(): Promise<void> {
  clearTimeout(timer);
  timer = undefined;
  await flushQuotaCounts();
}
