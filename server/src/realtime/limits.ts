// Per-project realtime settings and limits. Defaults follow Supabase's free plan (and env overrides); a project's
// own values come from GET/PATCH /v1/projects/{ref}/config/realtime (platform.project_realtime_config).
import { envInt } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { projectCache } from '../../../db/src/projects.ts';

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

export const DEFAULT_LIMITS: RealtimeLimits = {
  max_concurrent_users: envInt('LOAM_REALTIME_MAX_CONCURRENT_USERS', 200, 1),
  max_events_per_second: envInt('LOAM_REALTIME_MAX_EVENTS_PER_SECOND', 100, 1),
  max_payload_size_in_kb: envInt('LOAM_REALTIME_MAX_PAYLOAD_SIZE_IN_KB', 256, 1),
  max_channels_per_client: envInt('LOAM_REALTIME_MAX_CHANNELS_PER_CLIENT', 100, 1),
  max_joins_per_second: envInt('LOAM_REALTIME_MAX_JOINS_PER_SECOND', 100, 1),
};

const cache = projectCache<RealtimeSettings>(async (ref) => {
  const { rows } = await controlPool().query('select * from platform_private.project_realtime_settings($1)', [ref]);
  const r = rows[0] ?? {};
  const out = { private_only: r.private_only === true } as RealtimeSettings;
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof RealtimeLimits)[]) out[k] = r[k] ?? DEFAULT_LIMITS[k];
  return out;
});

export const realtimeSettings = (ref: string): Promise<RealtimeSettings> => cache.get(ref);
export const forgetRealtimeLimits = (ref: string): void => cache.forget(ref);
