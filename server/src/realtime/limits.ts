// Per-project realtime settings and limits. Defaults follow Supabase's free plan (and env overrides); a project's
// own values come from GET/PATCH /v1/projects/{ref}/config/realtime (platform.project_realtime_config).
import { controlPool } from '../../../db/src/pools.ts';
import { projectCache } from '../../../db/src/projects.ts';
import { settings } from '../../../db/src/config.ts';

export interface RealtimeLimits {
  /** Sockets of one project over all API processes (Supabase: max_concurrent_users). */
  max_concurrent_users: number;
  /** Messages the project's clients may send per second, over all API processes (Supabase: max_events_per_second). */
  max_events_per_second: number;
  /** Largest broadcast or presence payload, in KB (Supabase: max_payload_size_in_kb). */
  max_payload_size_in_kb: number;
  /** Channels one socket may join (Supabase: max_channels_per_client). */
  max_channels_per_client: number;
  /** Channel joins of the project per second, over all API processes (Supabase: max_joins_per_second). */
  max_joins_per_second: number;
}

export interface RealtimeSettings extends RealtimeLimits {
  /** Only private channels may be joined (Supabase: private_only). */
  private_only: boolean;
}

export const DEFAULT_LIMITS: RealtimeLimits = settings.realtimeLimits;

const cache = projectCache<RealtimeSettings>(async (ref) => {
  const { rows } = await controlPool().query('select * from platform_private.project_realtime_settings($1)', [ref]);
  const r = rows[0] ?? {};
  const out = { private_only: r.private_only === true } as RealtimeSettings;
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof RealtimeLimits)[]) out[k] = r[k] ?? DEFAULT_LIMITS[k];
  return out;
});

export const realtimeSettings = (ref: string): Promise<RealtimeSettings> => cache.get(ref);
export const forgetRealtimeLimits = (ref: string): void => cache.forget(ref);

// ------------------------------------------------------------------------------------ per-second counters

const FLUSH_MS = 100;

/** A per-second count shared by every API process without a round trip per hit: while a process counts hits of
 *  a second it adds them to the control database every FLUSH_MS and learns the second's total (the other
 *  processes' hits included) from the answer. A hit is refused once the total known here plus this process'
 *  unsent hits reach the limit, so the other processes' hits count here after at most FLUSH_MS (Supabase's own
 *  counters average over seconds too). */
class SharedRate {
  second = 0;
  private known = 0;
  pending = 0;
  private flushing = false;
  private readonly key: string;
  constructor(key: string) { this.key = key; }

  hit(limit: number): boolean {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.second) { this.second = now; this.known = 0; this.pending = 0; }
    if (this.known + this.pending >= limit) return false;
    this.pending++;
    active.add(this);
    return true;
  }

  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const [second, hits] = [this.second, this.pending];
    this.pending = 0;
    try {
      const { rows } = await controlPool().query('select platform_private.realtime_rate_add($1, $2, $3) as total', [this.key, second, hits]);
      if (second === this.second) this.known = Math.max(this.known, rows[0].total);
    } catch {
      if (second === this.second) this.known += hits; // the control database is away: this process' own count
    } finally { this.flushing = false; }
  }
}

const rates = new Map<string, SharedRate>();
/** Counters with hits in the current second: flushed (and so kept up to date) until the second is over. */
const active = new Set<SharedRate>();
setInterval(() => {
  const now = Math.floor(Date.now() / 1000);
  for (const r of active) {
    if (r.second < now && !r.pending) active.delete(r);
    else void r.flush();
  }
}, FLUSH_MS).unref();

/** Counts one message of the project; false once max_events_per_second is reached over all API processes. */
export function countEvent(ref: string, limit: number): boolean {
  const key = `realtime:events:${ref}`;
  let r = rates.get(key);
  if (!r) {
    if (rates.size > 10_000) rates.clear();
    rates.set(key, (r = new SharedRate(key)));
  }
  return r.hit(limit);
}
