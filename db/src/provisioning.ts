// What happens to a project's database on its server: create (roles, clone of the template, hand-over, CONNECT
// rules), pause, restore, drop, password change. Every step is idempotent, so a job that runs twice does no harm.
//
// The privilege layout (SECURITY.md has the why): a project owns everything in its database, and every role
// that ever runs SQL there is the project's own —
//   <ref>                 LOGIN, the owner: owns public, auth, storage; the user's psql login
//   <ref>_mgmt            LOGIN, the platform acting as the owner (SQL endpoint, template migrations)
//   <ref>_authenticator   LOGIN NOINHERIT, the data plane; it can only switch to the three API roles below
//   <ref>_anon, <ref>_authenticated, <ref>_service_role (BYPASSRLS)   NOLOGIN, what requests run as
// The API roles inherit the privileges of the cluster-wide `anon`, `authenticated` and `service_role` (so
// policies and grants written for Supabase apply), but on PostgreSQL 16+ without the SET option: nobody in a
// project can become a role another project also uses. The only superuser statements run inside a project
// database are the hand-over's ALTER … OWNER and GRANT/REVOKE, which execute no code a tenant can define.
import type pg from 'pg';
import { config } from './config.ts';
import { closeProjectPools, controlPool, withClient, type ServerAddress } from './pools.ts';
import { templateDatabaseName } from './migrate.ts';
import { API_ROLES, projectRoles } from './roles.ts';
import { scramVerifier } from './scram.ts';

export interface ProjectRuntime {
  id: string;
  ref: string;
  status: string;
  database_server_id: string | null;
  db_name: string;
  owner_role: string;
  mgmt_role: string;
  mgmt_password: string;
  api_role: string;
  api_password: string;
  db_pass_verifier: string;
  jwt_secret: string | null;
  jwt_secret_created_at: Date | null;
  template_version: number | null;
  privilege_layout: number;
  deleted: boolean;
  /** `shared` (every API) or `frontend` (a site, no database APIs): platform.backend_types. */
  backend_type: string;
}

/** Bumped when the hand-over below changes, so `loam migrate` re-runs it on older project databases. */
export const PRIVILEGE_LAYOUT = 1;

const ident = (c: pg.ClientBase, name: string) => c.escapeIdentifier(name);

/** Creates or updates a role. Passwords travel as SCRAM verifiers, so no statement text holds a password. */
async function ensureRole(c: pg.ClientBase, role: string, attrs: string, password?: string) {
  const r = ident(c, role);
  await c.query(`do $$ begin create role ${r} nologin; exception when duplicate_object then null; end $$`);
  const secret = password === undefined ? '' : ` password ${c.escapeLiteral(password.startsWith('SCRAM-SHA-256$') ? password : scramVerifier(password))}`;
  await c.query(`alter role ${r} with ${attrs}${secret}`);
}

async function serverVersion(c: pg.ClientBase): Promise<number> {
  return Number((await c.query('show server_version_num')).rows[0].server_version_num);
}

/** The project's cluster-level pieces: its six roles and their memberships. Runs in the `postgres` database. */
export async function ensureProjectRoles(c: pg.ClientBase, p: ProjectRuntime) {
  const r = projectRoles(p.ref);
  const id = (name: string) => ident(c, name);
  // Connection limits: max_connections is shared by every project on the server, so no one project's logins
  // may take them all. (A role cannot lift its own limit.) The management login serves one small pool per process.
  await ensureRole(c, r.owner, `login inherit connection limit ${config.ownerConnectionLimit}`, p.db_pass_verifier);
  await ensureRole(c, r.mgmt, 'login inherit connection limit 20', p.mgmt_password);
  await ensureRole(c, r.authenticator, `login noinherit connection limit ${config.apiConnectionLimit}`, p.api_password);
  // INHERIT from the cluster-wide role without SET needs PostgreSQL 16; on 15 the grant also lets the project
  // role `set role anon`, which SECURITY.md shows reaches nothing of another project's.
  const inheritOnly = (await serverVersion(c)) >= 160000 ? ' with inherit true, set false' : '';
  for (const api of API_ROLES) {
    await ensureRole(c, r[api], `nologin inherit${api === 'service_role' ? ' bypassrls' : ''}`);
    await c.query(`grant ${api} to ${id(r[api])}${inheritOnly}`);
  }
  const apiRoles = API_ROLES.map((a) => id(r[a])).join(', ');
  await c.query(`grant ${apiRoles} to ${id(r.authenticator)}`);
  // The owner may become its API roles in its own database, to try its policies as a request would run.
  await c.query(`grant ${apiRoles} to ${id(r.owner)}`);
  await c.query(`grant ${id(r.owner)} to ${id(r.mgmt)}`);
  // The platform's own login acts as the owner from its first statement, so what it creates is the owner's.
  await c.query(`alter role ${id(r.mgmt)} set role = ${c.escapeLiteral(r.owner)}`);
  // The layout before per-project API roles: the owner was a member of the cluster-wide roles themselves.
  const { rows } = await c.query(`select b.rolname from pg_auth_members m join pg_roles b on b.oid = m.roleid
    where m.member = to_regrole($1) and b.rolname in ('anon', 'authenticated', 'service_role', 'loam_storage_admin')`, [r.owner]);
  for (const { rolname } of rows) await c.query(`revoke ${id(rolname)} from ${id(r.owner)}`);
}

/** The hand-over, inside the project's database as administrator: schemas and what the template put in them
 *  become the owner's; the storage lookups that must see past RLS become the project service role's. Only
 *  ALTER … OWNER, GRANT and REVOKE, with the search path pinned to pg_catalog, so no operator, cast, trigger
 *  or function a tenant defined can run here, even in a database the tenant has used for years. */
function handOverSql(c: pg.ClientBase, p: ProjectRuntime): string {
  const r = projectRoles(p.ref);
  const owner = ident(c, r.owner);
  const keep = [r.owner, ...API_ROLES.map((a) => r[a])].map((n) => c.escapeLiteral(n)).join(', ');
  return `set local search_path = pg_catalog, pg_temp;
do $$
declare o record;
begin
  for o in select n.nspname from pg_namespace n where n.nspname in ('public', 'auth', 'storage', 'realtime', 'extensions', 'graphql_public', 'pgrst')
             and pg_get_userbyid(n.nspowner) not in (${keep}) loop
    execute format('alter schema %I owner to ${owner}', o.nspname);
  end loop;
  -- Tables, views and free-standing sequences; a sequence that belongs to a table follows its table.
  for o in select c.oid::regclass as name, c.relkind from pg_class c
             where c.relnamespace in ('auth'::regnamespace, 'storage'::regnamespace, to_regnamespace('realtime'), to_regnamespace('pgrst'))
               and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
               and pg_get_userbyid(c.relowner) not in (${keep})
               and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                          and d.objid = c.oid and d.deptype in ('a', 'i')))
             order by c.relkind = 'S' loop
    execute format('alter %s %s owner to ${owner}',
      case o.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'materialized view'
                     when 'f' then 'foreign table' else 'table' end, o.name);
  end loop;
  for o in select p.oid::regprocedure as name, p.prokind from pg_proc p
             where p.pronamespace in ('auth'::regnamespace, 'storage'::regnamespace, to_regnamespace('realtime'))
               and pg_get_userbyid(p.proowner) not in (${keep}) loop
    execute format('alter %s %s owner to ${owner}', case o.prokind when 'p' then 'procedure' when 'a' then 'aggregate' else 'function' end, o.name);
  end loop;
  -- Enums, domains and free-standing composite types (a table's row type follows its table).
  for o in select t.oid::regtype as name from pg_type t
             where t.typnamespace in ('auth'::regnamespace, 'storage'::regnamespace, to_regnamespace('realtime'))
               and t.typtype in ('e', 'd', 'c')
               and (t.typtype <> 'c' or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
               and t.typelem = 0 and pg_get_userbyid(t.typowner) not in (${keep}) loop
    execute format('alter type %s owner to ${owner}', o.name);
  end loop;
  for o in select pubname from pg_publication where pubname in ('supabase_realtime', 'supabase_realtime_messages_publication') and pg_get_userbyid(pubowner) not in (${keep}) loop
    execute format('alter publication %I owner to ${owner}', o.pubname);
  end loop;
  -- Definer functions of the storage API run as the project's service role: with BYPASSRLS they see every
  -- bucket, and a cast or trigger the owner hangs on storage tables runs with no more than the project's rights.
  for o in select p.oid::regprocedure as name from pg_proc p
             where p.pronamespace = '_loam'::regnamespace and p.proname like 'storage\\_%' loop
    execute format('alter function %s owner to %I', o.name, ${c.escapeLiteral(r.service_role)});
  end loop;
end $$;
-- The DDL event trigger's function bumps the schema version for whoever changes the schema: it runs as
-- loam_internal, which may update that one row and nothing else.
grant usage on schema _loam to loam_internal;
grant select, update on _loam.schema_state to loam_internal;
alter function _loam.schema_changed() owner to loam_internal;
-- Template migrations of this database run as the owner, which records them.
grant select, insert, update on _loam.migrations, _loam.settings to ${owner};`;
}

/** Cluster roles, the database and the hand-over; CONNECT is granted last, so nobody gets in before it is done.
 *  Used for a new project and, by `loam migrate`, to bring an older database to the current layout. */
export async function secureProjectDatabase(address: ServerAddress, p: ProjectRuntime): Promise<void> {
  const r = projectRoles(p.ref);
  await withClient(address, 'postgres', async (c) => {
    await ensureProjectRoles(c, p);
    await c.query(`revoke all on database ${ident(c, p.db_name)} from public`);
  });
  await withClient(address, p.db_name, async (c) => {
    await c.query('begin');
    await c.query(handOverSql(c, p));
    await c.query(`alter default privileges for role ${ident(c, r.owner)} in schema public grant all on tables to anon, authenticated, service_role;
      alter default privileges for role ${ident(c, r.owner)} in schema public grant all on sequences to anon, authenticated, service_role;
      alter default privileges for role ${ident(c, r.owner)} in schema public grant all on functions to anon, authenticated, service_role`);
    await c.query('commit');
  });
  await withClient(address, 'postgres', async (c) => {
    const db = ident(c, p.db_name);
    // The layout before per-project logins let one shared `authenticator` into every project database.
    if ((await c.query(`select 1 from pg_roles where rolname = 'authenticator'`)).rowCount) {
      await c.query(`revoke all on database ${db} from authenticator`);
    }
    await c.query(`grant connect on database ${db} to ${ident(c, r.authenticator)}, ${ident(c, r.owner)}, ${ident(c, r.mgmt)}`);
    await c.query(`grant create, temporary on database ${db} to ${ident(c, r.owner)}`);
  });
  await controlPool().query('select platform_private.set_privilege_layout($1, $2)', [p.id, PRIVILEGE_LAYOUT]);
}

/** Returns the template version of the new database. */
export async function createProjectDatabase(address: ServerAddress, p: ProjectRuntime): Promise<number> {
  await withClient(address, 'postgres', async (c) => {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [p.db_name]);
    if (!rowCount) {
      // wal_log copies the (small) template through the WAL; file_copy would force two checkpoints, whose cost
      // grows with every other project's dirty pages — about 3x slower measured on a busy server.
      // Born closed: a new database grants CONNECT to PUBLIC, so until that is revoked nobody may connect at all.
      await c.query(`create database ${ident(c, p.db_name)} template ${ident(c, templateDatabaseName())} strategy wal_log
        allow_connections false`).catch((err) => { if (err.code !== '42P04') throw err; });
    }
    await c.query(`revoke all on database ${ident(c, p.db_name)} from public`);
    await c.query(`alter database ${ident(c, p.db_name)} with allow_connections true`);
  });
  await secureProjectDatabase(address, p);
  return withClient(address, p.db_name, async (c) => {
    const { rows } = await c.query('select coalesce(max(version), 0) as v from _loam.migrations');
    return Number(rows[0].v);
  });
}

export async function setConnectionsAllowed(address: ServerAddress, p: ProjectRuntime, allowed: boolean): Promise<void> {
  await withClient(address, 'postgres', async (c) => {
    await c.query(`alter database ${ident(c, p.db_name)} with allow_connections ${allowed}`);
    if (!allowed) await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [p.db_name]);
  });
  if (!allowed) await closeProjectPools(p.db_name);
}

/** Drops the database and the project's roles. A role another project's owner granted something to (which any
 *  owner can do, to any role name) has its privileges in that database revoked first, so no tenant can keep
 *  another project's roles alive. */
export async function dropProjectDatabase(address: ServerAddress, p: ProjectRuntime): Promise<void> {
  await closeProjectPools(p.db_name);
  const r = projectRoles(p.ref);
  const roles = [r.authenticator, r.mgmt, r.functions, r.owner, ...API_ROLES.map((a) => r[a])];
  await withClient(address, 'postgres', async (c) => {
    // WITH (FORCE) does not end a session that uses a logical slot (realtime's): ending it drops its temporary slot.
    await c.query('select pg_terminate_backend(active_pid, 5000) from pg_replication_slots where database = $1 and active_pid is not null', [p.db_name]);
    await c.query(`drop database if exists ${ident(c, p.db_name)} with (force)`);
    const { rows } = await c.query(`select distinct d.datname from pg_shdepend s join pg_database d on d.oid = s.dbid
      where s.refclassid = 'pg_authid'::regclass and s.refobjid in (select oid from pg_roles where rolname = any($1))`, [roles]);
    const existing = (await c.query('select rolname from pg_roles where rolname = any($1)', [roles])).rows.map((x) => x.rolname);
    for (const { datname } of existing.length ? rows : []) {
      // A database that cannot be reached (paused) keeps its grants; the role drop below then says so.
      await withClient(address, datname, (db) =>
        db.query(`set search_path = pg_catalog, pg_temp; drop owned by ${existing.map((n) => ident(db, n)).join(', ')}`))
        .catch(() => {});
    }
    for (const role of roles) await c.query(`drop role if exists ${ident(c, role)}`);
  });
}

/** Sets the owner login's password and ends its sessions: one opened with a leaked password does not outlive
 *  the rotation. (Loam itself never logs in as the owner: only people and their apps do.) */
export async function setOwnerPassword(address: ServerAddress, p: ProjectRuntime, verifier: string): Promise<void> {
  await withClient(address, 'postgres', async (c) => {
    await c.query(`alter role ${ident(c, p.owner_role)} with password ${c.escapeLiteral(verifier)}`);
    await c.query('select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [p.owner_role]);
  });
}

/** Drops a project's database (not its roles) and makes it again from the template: a preview branch's reset.
 *  Returns the template version of the new database. */
export async function recreateProjectDatabase(address: ServerAddress, p: ProjectRuntime): Promise<number> {
  await closeProjectPools(p.db_name);
  await withClient(address, 'postgres', async (c) => {
    await c.query('select pg_terminate_backend(active_pid, 5000) from pg_replication_slots where database = $1 and active_pid is not null', [p.db_name]);
    await c.query(`drop database if exists ${ident(c, p.db_name)} with (force)`);
  });
  return createProjectDatabase(address, p);
}
