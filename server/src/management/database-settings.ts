// A project's database settings in Supabase's shapes: Postgres parameters (applied per database with
// `ALTER DATABASE … SET` where Postgres allows it), the connection clients should use (`pooler`), read-only mode,
// billing add-ons (self-hosting has none) and saved SQL snippets.
import { Router, type Response } from 'express';
import pg from 'pg';
import { withClient } from '../../../db/src/pools.ts';
import { applyReadonly } from '../../../db/src/readonly.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { errors } from '../errors.ts';
import { body, param, str } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { findProject, projectJson } from './projects.ts';

// The parameters Supabase's API accepts, with the JSON type it uses for each.
const SETTINGS: Record<string, 'string' | 'integer' | 'boolean' | string[]> = {
  effective_cache_size: 'string', logical_decoding_work_mem: 'string', maintenance_work_mem: 'string',
  track_activity_query_size: 'string', max_connections: 'integer', max_locks_per_transaction: 'integer',
  max_parallel_maintenance_workers: 'integer', max_parallel_workers: 'integer', max_parallel_workers_per_gather: 'integer',
  max_replication_slots: 'integer', max_slot_wal_keep_size: 'string', max_standby_archive_delay: 'string',
  max_standby_streaming_delay: 'string', max_wal_size: 'string', max_wal_senders: 'integer', max_worker_processes: 'integer',
  session_replication_role: ['origin', 'replica', 'local'], shared_buffers: 'string', statement_timeout: 'string',
  track_commit_timestamp: 'boolean', wal_keep_size: 'string', wal_sender_timeout: 'string', work_mem: 'string',
  checkpoint_timeout: 'string', hot_standby_feedback: 'boolean',
};

type Admin = pg.ClientBase;

/** Runs `fn` on the project's server as administrator, in the postgres database. Only catalog reads and
 *  `ALTER DATABASE/ROLE … SET` of validated names with literal values: nothing a tenant owns is touched. */
async function onServer<T>(res: Response, ref: string, fn: (c: Admin, p: Record<string, any>) => Promise<T>): Promise<T> {
  const p = await findProject(res, ref);
  if (!p.database_server_id) throw errors.projectUnavailable(p.status);
  return withClient(await serverAdminAddress(p.database_server_id), 'postgres', (c) => fn(c, p));
}

/** The project database's own settings (Supabase's names only), typed as Supabase's API types them. */
async function overrides(c: Admin, dbName: string): Promise<Record<string, unknown>> {
  const { rows } = await c.query<{ name: string; value: string }>(`select split_part(kv, '=', 1) as name, substr(kv, strpos(kv, '=') + 1) as value
    from pg_db_role_setting s, unnest(s.setconfig) kv
    where s.setrole = 0 and s.setdatabase = (select oid from pg_database where datname = $1)`, [dbName]);
  const out: Record<string, unknown> = {};
  for (const { name, value } of rows) {
    const type = SETTINGS[name];
    if (!type) continue;
    out[name] = type === 'integer' ? Number(value) : type === 'boolean' ? ['on', 'true', '1', 'yes'].includes(value) : value;
  }
  return out;
}

/** Validated `name → value` pairs of a PUT body; everything Postgres cannot set per database refused by name. */
async function wanted(c: Admin, raw: unknown, perDatabase: string[]): Promise<Map<string, string>> {
  const b = body(raw);
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(b)) {
    if (name === 'restart_database') continue; // nothing to restart: per-database settings apply to new sessions
    const type = SETTINGS[name];
    if (!type) throw errors.invalidPostgresConfig(`"${name}" is not a Postgres setting the API accepts; known: ${Object.keys(SETTINGS).join(', ')}`);
    if (Array.isArray(type) ? !type.includes(value as string)
      : type === 'integer' ? !Number.isSafeInteger(value) : typeof value !== type) {
      throw errors.invalidPostgresConfig(`${name} must be ${Array.isArray(type) ? `one of ${type.join(', ')}` : `a${type === 'integer' ? 'n' : ''} ${type}`}`);
    }
    if (typeof value === 'string' && (value.length > 64 || value.includes('\0'))) throw errors.invalidPostgresConfig(`${name} is not a valid value`);
    out.set(name, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
  }
  const names = [...out.keys()];
  const { rows } = await c.query<{ name: string; context: string }>('select name, context from pg_settings where name = any ($1)', [names]);
  const known = new Set(rows.map((r) => r.name));
  const refused = [...rows.filter((r) => r.context !== 'user'),
    ...names.filter((n) => !known.has(n)).map((name) => ({ name, context: 'unknown to this server' }))];
  if (refused.length) {
    throw errors.invalidPostgresConfig(`${refused.map((r) => r.name).sort().join(', ')} cannot be set for one project's database: `
      + `${refused.length > 1 ? 'they are' : 'it is'} server-wide or superuser-only (${[...new Set(refused.map((r) => r.context))].join(', ')}). `
      + `Per-database settings Loam applies: ${perDatabase.join(', ')}`);
  }
  return out;
}

export const databaseSettings = Router();
databaseSettings.use('/projects/:ref', authenticate);
const db = scope('database');

/** The Postgres settings set for the project's database, and the server's major version. */
export const postgresSettings = (res: Response, ref: string) => onServer(res, ref, async (c, p) => ({
  settings: await overrides(c, p.ref),
  major: Math.floor(Number((await c.query(`select current_setting('server_version_num') as v`)).rows[0].v) / 10000),
}));

databaseSettings.get('/projects/:ref/config/database/postgres', db, async (req, res) => {
  res.json(await onServer(res, param(req, 'ref'), (c, p) => overrides(c, p.ref)));
});

databaseSettings.put('/projects/:ref/config/database/postgres', db, async (req, res) => {
  res.json(await onServer(res, param(req, 'ref'), async (c, p) => {
    const { rows } = await c.query<{ name: string }>(`select name from pg_settings where context = 'user' and name = any ($1) order by name`, [Object.keys(SETTINGS)]);
    const perDatabase = rows.map((r) => r.name);
    const set = await wanted(c, req.body, perDatabase);
    const database = c.escapeIdentifier(p.ref);
    await c.query('begin');
    try {
      // PUT replaces: what the body leaves out goes back to the server's value.
      for (const name of perDatabase) {
        const value = set.get(name);
        await c.query(value === undefined ? `alter database ${database} reset ${name}` : `alter database ${database} set ${name} = ${c.escapeLiteral(value)}`);
      }
      await c.query('commit');
    } catch (err) {
      await c.query('rollback').catch(() => {});
      // Postgres checks each value (units, ranges) and says what is wrong with it.
      if (err instanceof Error && (err as { code?: string }).code?.startsWith('22')) throw errors.invalidPostgresConfig(err.message);
      throw err;
    }
    return overrides(c, p.ref);
  }));
});

/** The connection clients should use. Loam has no pooler in front of Postgres: the project's own login, direct,
 *  in session mode; with TLS where the server offers it. */
async function connection(res: Response, ref: string) {
  const tls = await onServer(res, ref, async (c) => (await c.query(`select current_setting('ssl') = 'on' as on`)).rows[0].on as boolean);
  const { database } = projectJson(await findProject(res, ref));
  const url = `postgresql://${ref}:[YOUR-PASSWORD]@${database.host}:${database.port}/${ref}${tls ? '?sslmode=require' : ''}`;
  return { tls, url, host: database.host, port: database.port };
}

databaseSettings.get('/projects/:ref/config/database/pooler', db, async (req, res) => {
  const ref = param(req, 'ref');
  const { tls, url, host, port } = await connection(res, ref);
  res.json([{
    identifier: ref, database_type: 'PRIMARY', is_using_scram_auth: true,
    db_user: ref, db_host: host, db_port: port, db_name: ref,
    connection_string: url, connectionString: url,
    default_pool_size: null, max_client_conn: null, pool_mode: 'session', ssl: tls,
  }]);
});

// Supabase's older PgBouncer view of the same thing: no PgBouncer, the direct session-mode connection.
databaseSettings.get('/projects/:ref/config/database/pgbouncer', db, async (req, res) => {
  res.json({ pool_mode: 'session', connection_string: (await connection(res, param(req, 'ref'))).url });
});

databaseSettings.patch('/projects/:ref/config/database/pooler', db, async (req, res) => {
  const b = body(req.body);
  await findProject(res, param(req, 'ref'));
  const mode = str(b, 'pool_mode');
  if (mode !== undefined && mode !== 'session') {
    throw errors.invalidPoolerConfig('Loam has no transaction pooler: clients connect to Postgres directly, in session mode');
  }
  if (b.default_pool_size !== undefined && b.default_pool_size !== null) {
    throw errors.invalidPoolerConfig('Loam has no pooler whose pool size could be set: default_pool_size must be null');
  }
  res.json({ default_pool_size: null, pool_mode: 'session' });
});

// Self-hosting has no add-ons to buy: an honest empty list, in the shape `supabase config push` reads.
databaseSettings.get('/projects/:ref/billing/addons', scope('projects'), async (req, res) => {
  await findProject(res, param(req, 'ref'));
  res.json({ selected_addons: [], available_addons: [] });
});

databaseSettings.get('/projects/:ref/readonly', db, async (req, res) => {
  const [n] = await callerQuery<{ readonly: boolean; readonly_override_until: Date | null }>(res,
    'select readonly, readonly_override_until from platform.project_network($1)', [param(req, 'ref')]);
  const override = !!n.readonly_override_until && n.readonly_override_until > new Date();
  res.json({ enabled: n.readonly, override_enabled: override, override_active_until: override ? n.readonly_override_until!.toISOString() : '' });
});

databaseSettings.post('/projects/:ref/readonly/temporary-disable', db, async (req, res) => {
  const ref = param(req, 'ref');
  await callerQuery(res, 'select from platform.disable_readonly_temporarily($1)', [ref]);
  await applyReadonly(ref);
  res.status(201).end();
});

// Snippets ---------------------------------------------------------------------------------------------------

interface SnippetRow {
  id: string; name: string; description: string | null; visibility: string; sql: string; favorite: boolean;
  inserted_at: Date; updated_at: Date; project_id: string; project_name: string; owner_number: string; owner_name: string;
  updated_by_number: string; updated_by_name: string;
}

function snippetJson(s: SnippetRow) {
  const owner = { id: Number(s.owner_number), username: s.owner_name };
  return {
    id: s.id, inserted_at: s.inserted_at, updated_at: s.updated_at, type: 'sql', visibility: s.visibility,
    name: s.name, description: s.description, project: { id: Number(s.project_id), name: s.project_name },
    owner, updated_by: { id: Number(s.updated_by_number), username: s.updated_by_name }, favorite: s.favorite,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

databaseSettings.get('/snippets', authenticate, db, async (req, res) => {
  const ref = typeof req.query.project_ref === 'string' && req.query.project_ref ? req.query.project_ref : null;
  const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw errors.invalidBody('limit must be an integer from 1 to 1000');
  const offset = req.query.cursor === undefined ? 0 : Number(req.query.cursor);
  if (!Number.isInteger(offset) || offset < 0) throw errors.invalidBody('cursor is not one this API returned');
  const sortBy = req.query.sort_by ?? 'inserted_at', order = req.query.sort_order ?? 'desc';
  if (sortBy !== 'name' && sortBy !== 'inserted_at') throw errors.invalidBody('sort_by must be name or inserted_at');
  if (order !== 'asc' && order !== 'desc') throw errors.invalidBody('sort_order must be asc or desc');
  if (ref) await findProject(res, ref);
  const rows = await callerQuery<SnippetRow>(res, 'select * from platform.snippets($1)', [ref]);
  const key = (s: SnippetRow) => (sortBy === 'name' ? s.name : s.inserted_at.toISOString());
  rows.sort((a, b) => key(a).localeCompare(key(b)) * (order === 'asc' ? 1 : -1));
  const page = rows.slice(offset, offset + limit);
  res.json({ data: page.map(snippetJson), ...(offset + limit < rows.length ? { cursor: String(offset + limit) } : {}) });
});

databaseSettings.get('/snippets/:id', authenticate, db, async (req, res) => {
  const id = param(req, 'id');
  if (!UUID.test(id)) throw errors.snippetNotFound();
  const [s] = await callerQuery<SnippetRow>(res, 'select * from platform.snippets(null, $1)', [id]);
  if (!s) throw errors.snippetNotFound();
  res.json(fullSnippet(s));
});

const fullSnippet = (s: SnippetRow) => ({ ...snippetJson(s), content: { schema_version: '1.0', sql: s.sql, favorite: s.favorite } });

function visibilityOf(b: Record<string, unknown>): string | undefined {
  const visibility = str(b, 'visibility');
  if (visibility !== undefined && visibility !== 'user' && visibility !== 'project') throw errors.invalidBody('visibility must be user or project');
  return visibility;
}

// Loam's own: saving a snippet (Supabase's dashboard does this through an internal API).
databaseSettings.post('/snippets', authenticate, db, async (req, res) => {
  const b = body(req.body);
  const ref = str(b, 'project_ref', { required: true, max: 64 });
  const name = str(b, 'name', { required: true, min: 1, max: 256 });
  const sql = str(b, 'sql', { required: true, max: 1_000_000 });
  const description = str(b, 'description', { max: 1024 });
  const visibility = visibilityOf(b);
  const [{ id }] = await callerQuery<{ id: string }>(res, 'select platform.create_snippet($1, $2, $3, $4, $5) as id',
    [ref, name, sql, description ?? null, visibility ?? null]);
  const [s] = await callerQuery<SnippetRow>(res, 'select * from platform.snippets(null, $1)', [id]);
  res.status(201).json(fullSnippet(s));
});

// Loam's own (Supabase's /v1/snippets only lists and reads): rename or edit, and delete. The SQL functions decide
// who may (update_snippet / delete_snippet: the snippet's owner, or an Administrator for a shared one; never a
// Read-only member); a snippet the caller cannot see is not found, whatever the id.
databaseSettings.patch('/snippets/:id', authenticate, db, async (req, res) => {
  const id = param(req, 'id');
  if (!UUID.test(id)) throw errors.snippetNotFound();
  const b = body(req.body);
  const name = str(b, 'name', { min: 1, max: 256 });
  const sql = str(b, 'sql', { max: 1_000_000 });
  const description = str(b, 'description', { max: 1024 });
  const visibility = visibilityOf(b);
  if (name === undefined && sql === undefined && description === undefined && visibility === undefined) {
    throw errors.invalidBody('nothing to change: give name, sql, description or visibility');
  }
  await callerQuery(res, 'select platform.update_snippet($1, $2, $3, $4, $5)', [id, name ?? null, sql ?? null, description ?? null, visibility ?? null]);
  const [s] = await callerQuery<SnippetRow>(res, 'select * from platform.snippets(null, $1)', [id]);
  res.json(fullSnippet(s));
});

databaseSettings.delete('/snippets/:id', authenticate, db, async (req, res) => {
  const id = param(req, 'id');
  if (!UUID.test(id)) throw errors.snippetNotFound();
  await callerQuery(res, 'select platform.delete_snippet($1)', [id]);
  res.json({ message: 'ok' });
});
