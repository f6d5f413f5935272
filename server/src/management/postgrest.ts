// A project's REST API settings (Supabase's `GET/PATCH /v1/projects/{ref}/postgrest`): exposed schemas, extra
// search path, max_rows — plus Loam's aggregates and query-plan switches and data-plane rate limit. Stored in the control database.
import { Router } from 'express';
import { errors } from '../errors.ts';
import { body, bool, param, str } from '../validate.ts';
import { DEFAULT_RATE_LIMIT, forgetRestSettings } from '../rest/settings.ts';
import { ownerTransaction } from './project-db.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const postgrest = Router();
postgrest.use('/projects/:ref/postgrest', authenticate, scope('projects'));

interface Row { db_schema: string; db_extra_search_path: string; max_rows: number | null; aggregates_enabled: boolean; rate_limit_per_minute: number | null; plan_enabled: boolean }

const json = (r: Row) => ({
  db_schema: r.db_schema,
  db_extra_search_path: r.db_extra_search_path,
  max_rows: r.max_rows,
  db_pool: null,
  // Supabase's response has it (the CLI's decoder requires the key); Loam's data plane has no acquisition queue.
  db_pool_acquisition_timeout: null,
  db_aggregates_enabled: r.aggregates_enabled,
  rate_limit_per_minute: r.rate_limit_per_minute ?? DEFAULT_RATE_LIMIT,
  db_plan_enabled: r.plan_enabled,
});

/** The keys PATCH understands: Supabase's (db_pool is accepted and has no effect) and Loam's own. */
const KEYS = new Set(['db_schema', 'db_extra_search_path', 'max_rows', 'db_pool', 'db_aggregates_enabled', 'rate_limit_per_minute', 'db_plan_enabled']);

/** Exposed schemas must exist in the project's database (PostgREST would fail every request otherwise). */
async function missingSchema(ref: string, names: string[]): Promise<string | undefined> {
  const { rows } = await ownerTransaction(ref, { readOnly: true, searchPath: 'pg_catalog' }, (c) =>
    c.query<{ s: string }>('select s from unnest($1::text[]) with ordinality as u(s, i) where not exists (select 1 from pg_namespace where nspname = s) order by i', [names]));
  return rows[0]?.s;
}

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
  const unknown = Object.keys(b).find((k) => !KEYS.has(k));
  if (unknown) throw errors.invalidBody(`property ${unknown} should not exist`);
  if (b.db_pool !== undefined && b.db_pool !== null && (typeof b.db_pool !== 'number' || !Number.isInteger(b.db_pool))) throw errors.invalidBody('db_pool must be an integer');
  const schema = str(b, 'db_schema', { max: 1000 });
  if (schema !== undefined) {
    if (!SCHEMA_LIST.test(schema)) throw errors.invalidBody('db_schema must be a comma-separated list of schema names');
    const names = schema.split(',').map((s) => s.trim());
    const bad = names.find((s) => HIDDEN.has(s));
    if (bad) throw errors.invalidBody(`db_schema cannot expose the schema "${bad}"`);
    const missing = await missingSchema(param(req, 'ref'), names);
    if (missing) throw errors.invalidBody(`db_schema: the schema "${missing}" does not exist in the project's database`);
  }
  const extra = str(b, 'db_extra_search_path', { max: 1000 });
  if (extra !== undefined && extra.trim() !== '' && !SCHEMA_LIST.test(extra)) {
    throw errors.invalidBody('db_extra_search_path must be a comma-separated list of schema names');
  }
  const setMax = 'max_rows' in b;
  const maxRows = b.max_rows === null ? null : intIn(b, 'max_rows', 1, 1_000_000);
  const aggregates = bool(b, 'db_aggregates_enabled');
  const rate = intIn(b, 'rate_limit_per_minute', 1, 10_000_000);
  const plan = bool(b, 'db_plan_enabled');
  const [row] = await callerQuery<Row>(res, 'select * from platform.update_rest_config($1, $2, $3, $4, $5, $6, $7, $8)',
    [param(req, 'ref'), schema?.trim() ?? null, extra ?? null, setMax, maxRows ?? null, aggregates ?? null, rate ?? null, plan ?? null]);
  // Other processes hear of the change through the project-changed notification; this one applies it at once.
  forgetRestSettings(param(req, 'ref'));
  res.json(json(row));
});
