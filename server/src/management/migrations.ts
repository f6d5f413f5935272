// A project's migration history (Supabase's `/v1/projects/{ref}/database/migrations`): apply SQL as the owner
// and record it in `supabase_migrations.schema_migrations`, the table the Supabase CLI keeps (`migration list`,
// `db push` and `migration repair` read and write the same rows over psql). Both live in the project's database,
// owned by the project owner, so what the CLI does over psql and what this API does agree.
import { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import { errors } from '../errors.ts';
import { body, param, str } from '../validate.ts';
import { authenticate, caller, scope } from './session.ts';
import { findProject } from './projects.ts';
import { ownerTransaction } from './project-db.ts';

export const migrations = Router();
migrations.use('/projects/:ref/database/migrations', authenticate, scope('database'));

// The CLI's own statements (create if missing, add columns if missing), so a table the CLI made first is
// reused as it is. The hosted API's extra columns (rollback, created_by, idempotency_key) are added the same way.
export const ENSURE_TABLE = `create schema if not exists supabase_migrations;
  create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
  alter table supabase_migrations.schema_migrations add column if not exists statements text[];
  alter table supabase_migrations.schema_migrations add column if not exists name text;
  alter table supabase_migrations.schema_migrations add column if not exists rollback text[];
  alter table supabase_migrations.schema_migrations add column if not exists created_by text;
  alter table supabase_migrations.schema_migrations add column if not exists idempotency_key text`;

const VERSION = /^\d{1,32}$/;
const MAX_SQL = 1_000_000;

function version(value: string | undefined, what: string): string {
  if (!value || !VERSION.test(value)) throw errors.invalidPath(`${what} must be a string of digits (e.g. 20250312000000)`);
  return value;
}

async function exists(c: pg.PoolClient): Promise<boolean> {
  const { rows } = await c.query(`select to_regclass('supabase_migrations.schema_migrations') is not null as ok`);
  return rows[0].ok;
}

/** A migration's columns, reading only those this table has (a table the CLI made has three). */
async function columns(c: pg.PoolClient): Promise<Set<string>> {
  const { rows } = await c.query(`select attname from pg_catalog.pg_attribute
    where attrelid = 'supabase_migrations.schema_migrations'::regclass and attnum > 0 and not attisdropped`);
  return new Set(rows.map((r) => r.attname));
}

/** Runs migration SQL in the caller's transaction, refusing SQL that ends it (COMMIT, ROLLBACK): what came
 *  after would escape the all-or-nothing promise, so the request fails and records nothing. */
export async function runInTransaction(c: pg.PoolClient, sql: string): Promise<void> {
  const xid = 'select pg_catalog.txid_current()::text as x';
  const before = (await c.query(xid)).rows[0].x;
  await c.query({ text: sql, queryMode: 'simple' } as pg.QueryConfig);
  if ((await c.query(xid)).rows[0].x !== before) {
    throw errors.invalidBody('A migration cannot end its own transaction (COMMIT or ROLLBACK): it runs in one transaction already');
  }
}

migrations.get('/projects/:ref/database/migrations', async (req, res) => {
  await findProject(res, param(req, 'ref'));
  const rows = await ownerTransaction(param(req, 'ref'), { readOnly: true }, async (c) => (await exists(c))
    ? (await c.query(`select version, coalesce(name, '') as name from supabase_migrations.schema_migrations order by version`)).rows
    : []);
  res.json(rows.map((r) => (r.name ? r : { version: r.version })));
});

/** Timestamps as the CLI names migrations (UTC, YYYYMMDDHHMMSS), moved past the newest recorded one. */
const NEXT_VERSION = `select greatest(to_char(now() at time zone 'utc', 'YYYYMMDDHH24MISS')::numeric,
    coalesce((select max(version::numeric) + 1 from supabase_migrations.schema_migrations where version ~ '^\\d{1,32}$'), 0))::text as v`;

async function apply(req: Request, res: Response, upsert: boolean): Promise<void> {
  const b = body(req.body);
  const query = str(b, 'query', { required: true, min: 1, max: MAX_SQL });
  const name = str(b, 'name', { max: 1000 }) ?? null;
  const rollback = str(b, 'rollback', { max: MAX_SQL });
  const key = req.get('idempotency-key') ?? null;
  if (key !== null && (key.length < 1 || key.length > 256)) throw errors.invalidBody('Idempotency-Key must be 1 to 256 characters');
  const ref = param(req, 'ref');
  await findProject(res, ref);
  const entry = await ownerTransaction(ref, {}, async (c) => {
    await c.query(ENSURE_TABLE);
    // A key already recorded: POST tracks it once (nothing runs again); PUT replaces that entry.
    const [prior] = key === null ? [] : (await c.query(
      'select version, name from supabase_migrations.schema_migrations where idempotency_key = $1', [key])).rows;
    if (prior && !upsert) return prior;
    await runInTransaction(c, query);
    return recordMigration(c, { name, query, rollback, createdBy: caller(res).accountId, key, version: prior?.version });
  });
  res.json(entry);
}

/** Records SQL already run in `c`'s transaction as the next migration (or as `version`, replacing it), so
 *  Loam's own generated SQL (the table builder) lands in the same history the CLI reads. */
export async function recordMigration(c: pg.PoolClient, m: { name: string | null; query: string; rollback?: string;
  createdBy: string | null; key?: string | null; version?: string }): Promise<{ version: string; name: string | null }> {
  await c.query(ENSURE_TABLE);
  const v = m.version ?? (await c.query(NEXT_VERSION)).rows[0].v;
  await c.query(`insert into supabase_migrations.schema_migrations
      (version, name, statements, rollback, created_by, idempotency_key) values ($1, $2, $3, $4, $5, $6)
    on conflict (version) do update set name = excluded.name, statements = excluded.statements,
      rollback = excluded.rollback, created_by = excluded.created_by, idempotency_key = excluded.idempotency_key`,
  [v, m.name, [m.query], m.rollback === undefined ? null : [m.rollback], m.createdBy, m.key ?? null]);
  return { version: v, name: m.name };
}

migrations.post('/projects/:ref/database/migrations', (req, res) => apply(req, res, false));
migrations.put('/projects/:ref/database/migrations', (req, res) => apply(req, res, true));

// Rolls back every migration at or after `gte`, newest first: runs its recorded rollback SQL (if any) and
// removes it from the history, all in one transaction.
migrations.delete('/projects/:ref/database/migrations', async (req, res) => {
  const gte = version(typeof req.query.gte === 'string' ? req.query.gte : undefined, 'gte');
  const ref = param(req, 'ref');
  await findProject(res, ref);
  const removed = await ownerTransaction(ref, {}, async (c) => {
    if (!(await exists(c))) return [];
    const cols = await columns(c);
    const { rows } = await c.query(`select version, ${cols.has('rollback') ? 'rollback' : 'null::text[] as rollback'}
      from supabase_migrations.schema_migrations where version ~ '^\\d{1,32}$' and version::numeric >= $1::numeric
      order by version::numeric desc`, [gte]);
    for (const r of rows) {
      for (const statement of r.rollback ?? []) await runInTransaction(c, statement);
      await c.query('delete from supabase_migrations.schema_migrations where version = $1', [r.version]);
    }
    return rows.map((r) => r.version as string);
  });
  res.json({ message: `Rolled back ${removed.length} migration(s)`, versions: removed });
});

migrations.get('/projects/:ref/database/migrations/:version', async (req, res) => {
  const v = version(param(req, 'version'), 'version');
  await findProject(res, param(req, 'ref'));
  const row = await ownerTransaction(param(req, 'ref'), { readOnly: true }, async (c) => {
    if (!(await exists(c))) return undefined;
    const cols = await columns(c);
    const col = (n: string, type: string) => (cols.has(n) ? n : `null::${type} as ${n}`);
    return (await c.query(`select version, ${col('name', 'text')}, ${col('statements', 'text[]')}, ${col('rollback', 'text[]')},
        ${col('created_by', 'text')}, ${col('idempotency_key', 'text')}
      from supabase_migrations.schema_migrations where version = $1`, [v])).rows[0];
  });
  if (!row) throw errors.notFound('Migration');
  res.json(Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)));
});

migrations.patch('/projects/:ref/database/migrations/:version', async (req, res) => {
  const v = version(param(req, 'version'), 'version');
  const b = body(req.body);
  const name = str(b, 'name', { max: 1000 });
  const rollback = str(b, 'rollback', { max: MAX_SQL });
  await findProject(res, param(req, 'ref'));
  const found = await ownerTransaction(param(req, 'ref'), {}, async (c) => {
    if (!(await exists(c))) return false;
    await c.query(ENSURE_TABLE);
    const { rowCount } = await c.query(`update supabase_migrations.schema_migrations
      set name = coalesce($2, name), rollback = coalesce($3, rollback) where version = $1`,
    [v, name ?? null, rollback === undefined ? null : [rollback]]);
    return rowCount === 1;
  });
  if (!found) throw errors.notFound('Migration');
  res.json({ message: 'Migration updated' });
});
