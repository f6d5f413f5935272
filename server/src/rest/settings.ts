// Per-project REST settings (Supabase's `/v1/projects/{ref}/postgrest` shape): exposed schemas, extra search
// path, max rows, aggregates. Read from the control database, cached per process, dropped on project change.
import { controlPool } from '../../../db/src/pools.ts';
import { projectCache } from '../../../db/src/projects.ts';
import { settings as platformSettings } from '../../../db/src/config.ts';

export interface RestSettings {
  schemas: string[];
  extraSearchPath: string[];
  maxRows: number | null;
  aggregates: boolean;
  /** `Accept: application/vnd.pgrst.plan` answers with the plan (PostgREST's db-plan-enabled). */
  planEnabled: boolean;
  rateLimitPerMinute: number;
}

/** The data-plane rate limit of a project that has not set its own (LOAM_REST_RATE_LIMIT_PER_MINUTE): a ceiling
 *  that keeps one project from starving the others, high enough that a normal app never meets it. */
export const DEFAULT_RATE_LIMIT = platformSettings.restRateLimitPerMinute;

export const DEFAULT_SETTINGS: RestSettings = {
  schemas: ['public'], extraSearchPath: ['public', 'extensions'], maxRows: 1000, aggregates: false, planEnabled: false, rateLimitPerMinute: DEFAULT_RATE_LIMIT,
};

const split = (s: string | null | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

export function settingsFromRow(row: Record<string, unknown> | undefined): RestSettings {
  if (!row) return DEFAULT_SETTINGS;
  return {
    schemas: split(row.db_schema as string).length ? split(row.db_schema as string) : DEFAULT_SETTINGS.schemas,
    extraSearchPath: split(row.db_extra_search_path as string),
    maxRows: row.max_rows === null || row.max_rows === undefined ? null : Number(row.max_rows),
    aggregates: Boolean(row.aggregates_enabled),
    planEnabled: Boolean(row.plan_enabled),
    rateLimitPerMinute: row.rate_limit_per_minute === null || row.rate_limit_per_minute === undefined ? DEFAULT_RATE_LIMIT : Number(row.rate_limit_per_minute),
  };
}

const settings = projectCache((ref) => controlPool()
  .query(`select s.* from platform_private.project_rest_settings($1) s`, [ref])
  .then((r) => settingsFromRow(r.rows[0]))
  .catch((err: { code?: string }) => {
    // Before the settings migration (or for a project without a row) the defaults apply.
    if (err.code === '42883' || err.code === '42P01') return DEFAULT_SETTINGS;
    throw err;
  }));

export const restSettings = (ref: string): Promise<RestSettings> => settings.get(ref);
export const forgetRestSettings = (ref: string): void => settings.forget(ref);
