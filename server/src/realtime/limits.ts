// Per-project realtime limits. Defaults follow Supabase's free plan; a project's own values come from
// GET/PATCH /v1/projects/{ref}/config/realtime when that is set (platform.realtime_config), else the defaults.
import { envInt } from '../../../db/src/config.ts';

export interface RealtimeLimits {
  /** Sockets of one project in one process (Supabase: max_concurrent_users). */
  max_concurrent_users: number;
  /** Messages a socket may send per second (Supabase: max_events_per_second). */
  max_events_per_second: number;
  /** Largest broadcast or presence payload, in KB (Supabase: max_payload_size_in_kb). */
  max_payload_size_in_kb: number;
  /** Channels one socket may join. */
  max_channels_per_client: number;
}

export const DEFAULT_LIMITS: RealtimeLimits = {
  max_concurrent_users: envInt('LOAM_REALTIME_MAX_CONCURRENT_USERS', 200, 1),
  max_events_per_second: envInt('LOAM_REALTIME_MAX_EVENTS_PER_SECOND', 100, 1),
  max_payload_size_in_kb: envInt('LOAM_REALTIME_MAX_PAYLOAD_SIZE_IN_KB', 256, 1),
  max_channels_per_client: envInt('LOAM_REALTIME_MAX_CHANNELS_PER_CLIENT', 100, 1),
};
