// Per-token daily request quotas (the plan's `daily_requests_per_token`): platform_private.authenticate counts
// each request in the statement that resolves its token, exactly and across every API process; this module
// renders what that count means for the caller — the X-RateLimit-* headers of every response, and the 429 past
// the quota.
import type { Response } from 'express';
import { ApiError } from '../errors.ts';

/** The quota's headers: `X-RateLimit-Limit` (requests per UTC day), `-Remaining`, `-Reset` (epoch seconds). */
function quotaHeaders(quota: number, used: number, day: string): { headers: Record<string, string>; reset: Date } {
  const reset = new Date(`${day}T00:00:00Z`);
  reset.setUTCDate(reset.getUTCDate() + 1);
  return {
    reset,
    headers: {
      'X-RateLimit-Limit': String(quota),
      'X-RateLimit-Remaining': String(Math.max(0, quota - used)),
      'X-RateLimit-Reset': String(reset.getTime() / 1000),
    },
  };
}

function quotaExceeded(quota: number, day: string): ApiError {
  const { headers, reset } = quotaHeaders(quota, quota, day);
  const retryAfter = Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000));
  const resetAt = reset.toISOString();
  return new ApiError(429, 'daily_quota_exceeded',
    `This access token has used its daily quota of ${quota} requests; it resets at ${resetAt}`,
    { 'Retry-After': String(retryAfter), ...headers },
    { quota, used: quota, reset_at: resetAt });
}

/** Throws the 429 of a token past its quota; otherwise sets the quota's headers (a plan with a quota). */
export function applyQuota(res: Response, row: { daily_quota: number | null; quota_day: string; used_today: number; over_quota: boolean }): void {
  if (row.daily_quota === null) return;
  if (row.over_quota) throw quotaExceeded(row.daily_quota, row.quota_day);
  res.set(quotaHeaders(row.daily_quota, row.used_today, row.quota_day).headers);
}
