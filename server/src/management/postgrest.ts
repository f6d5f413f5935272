// A project's REST API settings (Supabase's `GET/PATCH /v1/projects/{ref}/postgrest`): exposed schemas, extra
// search path, max_rows — plus Loam's aggregates switch and data-plane rate limit. Stored in the control database.
import { Router } from 'express';
import { errors } from '../errors.ts';
import { body, bool, param, str } from '../validate.ts';
import { DEFAULT_RATE_LIMIT, forgetRestSettings } from '../rest/settings.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const postgrest = Router();
postgrest.use('/projects/:ref/postgrest', authenticate, scope('projects'));

interface Row { db_schema: string; db_extra_search_path: string; max_rows: number | null; aggregates_enabled: boolean; rate_limit_per_minute: number | null }

const json = (r: Row) => ({
  db_schema: r.db_schema,
  db_extra_search_path: r.db_extra_search_path,
  max_rows: r.max_rows,
  db_pool: null,
  // Supabase's response has it (the CLI's decoder requires the key); Loam's data plane has no acquisition queue.
  db_pool_acquisition_timeout: null,
  db_aggregates_enabled: r.aggregates_enabled,
  rate_limit_per_minute: r.rate_limit_per_minute ?? DEFAULT_RATE_LIMIT,
});

const SCHEMA_LIST = /^\s*[A-Za-z_][A-Za-z0-9_$]*(\s*,\s*[A-Za-z_][A-Za-z0-9_$]*)*\s*$/;
const HIDDEN = new Set(['_loam', 'pg_catalog', 'information_schema', 'pg_toast']);

function intIn(b: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw errors.invalidBody(`${key} must be an integer between ${min} and ${max}`);
  return v;
}

postgrest.get('/projects/:ref/postgrest', async (req, res) => {
  const [row] = await callerQuery<Row>(res, 'select * from platform.rest_config($1)', [param(req, 'ref')]);
  res.json(json(row));
});

postgrest.patch('/projects/:ref/postgrest', async (req, res) => {
  const b = body(req.body);
  const schema = str(b, 'db_schema', { max: 1000 });
  if (schema !== undefined) {
    if (!SCHEMA_LIST.test(schema)) throw errors.invalidBody('db_schema must be a comma-separated list of schema names');
    const bad = schema.split(',').map((s) => s.trim()).find((s) => HIDDEN.has(s));
    if (bad) throw errors.invalidBody(`db_schema cannot expose the schema "${bad}"`);
  }
  const extra = str(b, 'db_extra_search_path', { max: 1000 });
  if (extra !== undefined && extra.trim() !== '' && !SCHEMA_LIST.test(extra)) {
    throw errors.invalidBody('db_extra_search_path must be a comma-separated list of schema names');
  }
  const setMax = 'max_rows' in b;
  const maxRows = b.max_rows === null ? null : intIn(b, 'max_rows', 1, 1_000_000);
  const aggregates = bool(b, 'db_aggregates_enabled');
  const rate = intIn(b, 'rate_limit_per_minute', 1, 10_000_000);
  const [row] = await callerQuery<Row>(res, 'select * from platform.update_rest_config($1, $2, $3, $4, $5, $6, $7)',
    [param(req, 'ref'), schema?.trim() ?? null, extra ?? null, setMax, maxRows ?? null, aggregates ?? null, rate ?? null]);
  // Other processes hear of the change through the project-changed notification; this one applies it at once.
  forgetRestSettings(param(req, 'ref'));
  res.json(json(row));
});
