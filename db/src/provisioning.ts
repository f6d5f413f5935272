// What happens to a project's database on its server: create (roles, clone of the template, CONNECT rules),
// pause, restore, drop, password change. Every step is idempotent, so a job that runs twice does no harm.
import type pg from 'pg';
import { closeProjectPools, withClient, type ServerAddress } from './pools.ts';
import { templateDatabaseName } from './migrate.ts';

export interface ProjectRuntime {
  id: string;
  ref: string;
  status: string;
  database_server_id: string | null;
  db_name: string;
  owner_role: string;
  mgmt_role: string;
  mgmt_password: string;
  db_pass_verifier: string;
  jwt_secret: string | null;
  jwt_secret_created_at: Date | null;
  template_version: number | null;
  deleted: boolean;
}

const ident = (c: pg.ClientBase, name: string) => c.escapeIdentifier(name);

async function createRole(c: pg.ClientBase, role: string, password: string) {
  const r = ident(c, role);
  await c.query(`do $$ begin create role ${r} login; exception when duplicate_object then null; end $$`);
  await c.query(`alter role ${r} with login inherit password ${c.escapeLiteral(password)}`);
}

/** Returns the template version of the new database. */
export async function createProjectDatabase(address: ServerAddress, p: ProjectRuntime): Promise<number> {
  await withClient(address, 'postgres', async (c) => {
    const db = ident(c, p.db_name), owner = ident(c, p.owner_role), mgmt = ident(c, p.mgmt_role);
    await createRole(c, p.owner_role, p.db_pass_verifier);
    await createRole(c, p.mgmt_role, p.mgmt_password);
    // The owner may impersonate the API roles in its own database (to try its policies); it can reach no other.
    await c.query(`grant anon, authenticated, service_role to ${owner}`);
    // Owner of storage.buckets/objects in every project database, so users can write storage policies
    // (created by the project template's storage migration).
    await c.query(`grant loam_storage_admin to ${owner}`);
    await c.query(`grant ${owner} to ${mgmt}`);
    // The platform's own login acts as the owner from its first statement, so what it creates is the owner's.
    await c.query(`alter role ${mgmt} set role = ${c.escapeLiteral(p.owner_role)}`);
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [p.db_name]);
    if (!rowCount) {
      // wal_log copies the (small) template through the WAL; file_copy would force two checkpoints, whose cost
      // grows with every other project's dirty pages — about 3x slower measured on a busy server.
      await c.query(`create database ${db} template ${ident(c, templateDatabaseName())} strategy wal_log`)
        .catch((err) => { if (err.code !== '42P04') throw err; });
    }
    await c.query(`revoke all on database ${db} from public`);
    await c.query(`grant connect on database ${db} to authenticator, ${owner}, ${mgmt}`);
    await c.query(`grant create, temporary on database ${db} to ${owner}`);
  });
  return withClient(address, p.db_name, async (c) => {
    const owner = ident(c, p.owner_role);
    await c.query(`alter schema public owner to ${owner};
      alter default privileges for role ${owner} in schema public grant all on tables to anon, authenticated, service_role;
      alter default privileges for role ${owner} in schema public grant all on sequences to anon, authenticated, service_role;
      alter default privileges for role ${owner} in schema public grant all on functions to anon, authenticated, service_role`);
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

export async function dropProjectDatabase(address: ServerAddress, p: ProjectRuntime): Promise<void> {
  await closeProjectPools(p.db_name);
  await withClient(address, 'postgres', async (c) => {
    await c.query(`drop database if exists ${ident(c, p.db_name)} with (force)`);
    for (const role of [p.mgmt_role, p.owner_role]) await c.query(`drop role if exists ${ident(c, role)}`);
  });
}

export async function setOwnerPassword(address: ServerAddress, p: ProjectRuntime, verifier: string): Promise<void> {
  await withClient(address, 'postgres', (c) =>
    c.query(`alter role ${ident(c, p.owner_role)} with password ${c.escapeLiteral(verifier)}`));
}
