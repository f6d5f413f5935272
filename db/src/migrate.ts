// Migration runner: the control database (graphile-worker's schema, numbered migrations, then functions and
// policies re-applied), the cluster roles on every database server, and the project template with its own
// numbered migrations, which also bring existing project databases up to date.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { runMigrations } from 'graphile-worker';
import { controlDatabaseName, controlPool, controlServerAddress, withClient, type ServerAddress } from './pools.ts';
import { PRIVILEGE_LAYOUT } from './provisioning.ts';
import { SUPABASE_REGIONS } from './regions.ts';
import { serverAdminAddress } from './servers.ts';
import { config } from './config.ts';
import { isDatabaseUnavailable } from './pg-errors.ts';

const root = new URL('../../', import.meta.url).pathname;
const MIGRATION_LOCK = 7_331_001;

type Log = (line: string) => void;

export interface SqlFile { version: number; name: string; sql: string }

function readDir(dir: string, numbered: boolean): SqlFile[] {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full).filter((f) => f.endsWith('.sql')).sort().map((name) => {
    const version = numbered ? Number(/^(\d+)-/.exec(name)?.[1]) : 0;
    if (numbered && !Number.isInteger(version)) throw new Error(`${dir}/${name}: migration files are named NNNN-topic.sql`);
    return { version, name, sql: fs.readFileSync(path.join(full, name), 'utf8') };
  });
}

export const projectMigrations = () => readDir('sql/project/migrations', true);
export const templateVersion = () => Math.max(0, ...projectMigrations().map((m) => m.version));
export const templateDatabaseName = () => `${controlDatabaseName()}_template`;

async function inTransaction(client: pg.ClientBase, fn: () => Promise<void>) {
  await client.query('begin');
  try {
    await fn();
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  }
}

async function applyNumbered(client: pg.ClientBase, table: string, files: SqlFile[], where: string, log: Log): Promise<number> {
  const { rows } = await client.query(`select version from ${table}`);
  const applied = new Set(rows.map((r) => Number(r.version)));
  let current = Math.max(0, ...applied);
  for (const file of files) {
    if (applied.has(file.version)) continue;
    await inTransaction(client, async () => {
      await client.query(file.sql).catch((err) => { throw new Error(`${where} ${file.name}: ${err.message}`); });
      await client.query(`insert into ${table} (version, name) values ($1, $2)`, [file.version, file.name]);
    });
    log(`migrated ${where} to ${file.name}`);
    current = Math.max(current, file.version);
  }
  return current;
}

async function applyAll(client: pg.ClientBase, files: SqlFile[], where: string) {
  await inTransaction(client, async () => {
    for (const f of files) await client.query(f.sql).catch((err) => { throw new Error(`${where} ${f.name}: ${err.message}`); });
  });
}

/** Roles are cluster-wide: create them on a server if missing. `anon`, `authenticated` and `service_role` only
 *  carry the grants and policies of every project (their names are what Supabase SQL says); each project's
 *  own roles inherit from them (provisioning.ts). `loam_internal` owns the one definer function of the template
 *  that is not a project's (the DDL event trigger's). */
async function ensureClusterRoles(client: pg.ClientBase) {
  const create = (name: string, attrs: string) => client.query(
    `do $$ begin create role ${name} ${attrs}; exception when duplicate_object then null; end $$`);
  await create('anon', 'nologin noinherit');
  await create('authenticated', 'nologin noinherit');
  await create('service_role', 'nologin noinherit bypassrls');
  await create('loam_internal', 'nologin noinherit');
  // The shared data-plane login of earlier versions: a tenant's function could `reset role` to it and reach
  // every project. It goes once no project database grants it anything (`loam migrate` revokes those).
  await client.query(`do $$ begin
      if exists (select 1 from pg_roles where rolname = 'authenticator') then
        alter role authenticator nologin password null;
        begin drop role authenticator; exception when dependent_objects_still_exist then null; end;
      end if;
    end $$`);
  // Nobody gets into any database of a server Loam manages unless granted CONNECT explicitly: otherwise a
  // project owner's login would reach every database that still allows PUBLIC (postgres, template1, and any
  // other database on a shared server). Database owners and superusers keep their own access.
  const { rows } = await client.query(`select datname from pg_database
    where datallowconn and has_database_privilege('public', oid, 'connect')`);
  for (const { datname } of rows) await client.query(`revoke connect on database ${client.escapeIdentifier(datname)} from public`);
}

async function ensureTemplate(address: ServerAddress, log: Log): Promise<number> {
  const name = templateDatabaseName();
  await withClient(address, 'postgres', async (c) => {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) {
      // Another process starting at the same moment may create it first: Postgres says so as 42P04, or, when
      // both inserts reach pg_database together, as a unique violation (23505) on its name index.
      await c.query(`create database ${c.escapeIdentifier(name)} template template0 encoding 'UTF8'`)
        .catch((err) => { if (err.code !== '42P04' && err.code !== '23505') throw err; });
      log(`created template database ${name}`);
    }
    // Every process starting checks this at once: revoke only while still granted, and take another process's
    // simultaneous revoke (Postgres' "tuple concurrently updated" on the database's row) as done.
    const { rows: [d] } = await c.query(`select has_database_privilege('public', oid, 'connect') as open from pg_database where datname = $1`, [name]);
    if (d?.open) {
      await c.query(`revoke connect on database ${c.escapeIdentifier(name)} from public`)
        .catch((err) => { if (!/tuple concurrently updated/.test(String(err?.message))) throw err; });
    }
  });
  return migrateProjectDatabase(address, name, log);
}

/** One fingerprint of a set of SQL files: when it matches the one recorded, there is nothing to apply. */
const checksumOf = (files: SqlFile[]) =>
  crypto.createHash('sha256').update(JSON.stringify(files.map((f) => [f.name, f.sql]))).digest('hex');

/** Brings one project database (or the template) to the current template version; returns that version.
 *  Up-to-date databases are only read: no DDL, so no locks and no schema-cache reloads at every start.
 *  `address` is the administrator's only for the template, which no tenant can reach; a project database is
 *  migrated through its own management login (acting as the owner), so a trigger, cast or operator its owner
 *  planted on template tables runs with the owner's rights and nothing more. */
export async function migrateProjectDatabase(address: ServerAddress, database: string, log: Log = () => {},
  migrations: SqlFile[] = projectMigrations()): Promise<number> {
  const policies = readDir('policies/project', false);
  const checksum = checksumOf([...migrations, ...policies]);
  return withClient(address, database, async (c) => {
    // Template SQL names every object by schema; what it calls unqualified must be PostgreSQL's own, never a
    // function an owner defined in public with a better-matching signature.
    await c.query('set search_path = pg_catalog, pg_temp');
    const { rows: [state] } = await c.query(`select to_regclass('_loam.settings') is not null as ready`);
    if (state.ready) {
      const { rows: [row] } = await c.query(`select (select value from _loam.settings where key = 'applied_sql_checksum') as checksum,
        (select coalesce(max(version), 0) from _loam.migrations) as version`);
      if (row.checksum === checksum) return Number(row.version);
    }
    await c.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      if (!state.ready) {
        await c.query(`create schema if not exists _loam;
          create table if not exists _loam.migrations (version integer primary key, name text not null, applied_at timestamptz not null default now());
          create table if not exists _loam.settings (key text primary key, value text not null);
          comment on schema _loam is 'Loam bookkeeping: the template version this database is migrated to.'`);
      }
      const version = await applyNumbered(c, '_loam.migrations', migrations, database, log);
      await applyAll(c, policies, database);
      await c.query(`insert into _loam.settings (key, value) values ('applied_sql_checksum', $1)
        on conflict (key) do update set value = excluded.value`, [checksum]);
      return version;
    } finally {
      await c.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  });
}

export async function migrate(log: Log = () => {}): Promise<void> {
  const pool = controlPool();
  await runMigrations({ pgPool: pool, logger: undefined });
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const db = client.escapeIdentifier(controlDatabaseName());
    await client.query(`do $$ begin create role loam_api nologin; exception when duplicate_object then null; end $$;
      grant loam_api to current_user;
      revoke connect on database ${db} from public`);
    await client.query(`create schema if not exists platform_private;
      create table if not exists platform_private.migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`);
    await applyNumbered(client, 'platform_private.migrations', readDir('sql/platform/migrations', true), 'control database', log);
    // Re-applying functions and policies takes exclusive locks on platform tables; skipped when no SQL file
    // changed since the last run, or every process start (a test run starts dozens) would deadlock with the
    // requests other processes are serving.
    const shared = [...readDir('sql/platform/functions', false), ...readDir('policies/platform', false)];
    const checksum = checksumOf([...readDir('sql/platform/migrations', true), ...shared]);
    const { rows: [applied] } = await client.query(`select value from platform_private.settings where key = 'applied_sql_checksum'`);
    if (applied?.value !== checksum) {
      await applyAll(client, shared, 'control database');
      await client.query(`insert into platform_private.settings (key, value) values ('applied_sql_checksum', $1)
        on conflict (key) do update set value = excluded.value`, [checksum]);
    }
    await ensureDefaultServer(client);
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  await prepareServers(log);
}

async function ensureDefaultServer(client: pg.ClientBase) {
  const region = config.region;
  const address = controlServerAddress();
  const publicHost = config.dbPublicHost || (address.host === '127.0.0.1' ? 'localhost' : address.host);
  await client.query(`insert into platform.regions (id, name) values ($1, $1) on conflict do nothing`, [region]);
  // Supabase's clients only take its region codes: each exists, placed on the default region's servers until an
  // operator registers a server of its own there.
  await client.query(`insert into platform.regions (id, name, placed_in)
      select code, name, $1 from unnest($2::text[], $3::text[]) as t(code, name) on conflict (id) do nothing`,
    [region, Object.keys(SUPABASE_REGIONS), Object.values(SUPABASE_REGIONS).map(([name]) => name)]);
  await client.query(
    `with s as (
       insert into platform.database_servers (name, region, public_host, public_port, is_default)
       values ('default', $1, $2, $3, true)
       on conflict (name) do update set public_host = excluded.public_host, public_port = excluded.public_port
       returning id)
     insert into platform_private.database_server_credentials (server_id, admin_url) select id, null from s
     on conflict do nothing`,
    [region, publicHost, address.port]);
  // Point-in-time restore of the default server, when the operator configured its WAL archive (db/README.md).
  if (config.pitrWalArchiveDir || config.pitrBaseBackupDir) {
    await client.query('select platform_private.set_server_pitr($1, $2, $3)', ['default', config.pitrWalArchiveDir ?? null, config.pitrBaseBackupDir ?? null]);
  }
}

/** Cluster roles and the migrated template on every registered server. */
export async function prepareServers(log: Log = () => {}): Promise<number> {
  const { rows } = await controlPool().query(`select s.id, s.is_default from platform.database_servers s order by s.id`);
  let version = 0;
  for (const row of rows) {
    const address = await serverAdminAddress(row.id);
    try {
      // Roles are cluster-wide: processes starting together would update the same catalog rows at once
      // ("tuple concurrently updated"), so they take turns.
      await withClient(address, 'postgres', async (c) => {
        await c.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
        try { await ensureClusterRoles(c); } finally { await c.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {}); }
      });
      version = await ensureTemplate(address, log);
    } catch (err) {
      // One unreachable server must not keep the platform (and the projects on every other server) down;
      // it is prepared on the next start. The control database's own server is never skipped.
      if (!row.is_default && isConnectionFailure(err)) {
        log(`database server ${row.id} (${address.host}:${address.port}) is unreachable, not prepared: ${(err as Error).message}`);
        continue;
      }
      throw err;
    }
  }
  return version;
}

// A server that refuses, is shutting down, or drops the connection while it is being prepared (pg's own
// "Connection terminated unexpectedly", which carries no code).
function isConnectionFailure(err: unknown): boolean {
  return isDatabaseUnavailable(err) || (err as { code?: unknown })?.code === 'ECONNRESET';
}

/** Projects whose databases are behind the template or the privilege layout. */
export async function projectsBehind(): Promise<{ id: string; ref: string }[]> {
  const { rows } = await controlPool().query(
    `select id, ref from platform.projects where deleted_at is null and status = 'ACTIVE_HEALTHY'
       and (coalesce(template_version, 0) < $1 or privilege_layout < $2) order by id`, [templateVersion(), PRIVILEGE_LAYOUT]);
  return rows;
}
