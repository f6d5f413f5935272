// Connections to a project's database on behalf of its owner (the Management API's SQL endpoint, health).
// They log in as the project's management role, whose sessions act as the owner role by default
// (`alter role … set role`), so whatever they create belongs to the owner.
import type pg from 'pg';
import { loadRuntime, type ProjectRuntime } from '../../../db/src/projects.ts';
import { projectPool } from '../../../db/src/pools.ts';
import { managementAddress } from '../../../db/src/servers.ts';
import { isDatabaseUnavailable, isPgError } from '../../../db/src/pg-errors.ts';
import { errors } from '../errors.ts';
import { settings } from '../../../db/src/config.ts';

export async function ownerPool(ref: string): Promise<{ pool: pg.Pool; project: ProjectRuntime }> {
  const project = await loadRuntime(ref);
  if (!project || project.deleted) throw errors.projectNotFound();
  if (project.status !== 'ACTIVE_HEALTHY' || !project.database_server_id) throw errors.projectUnavailable(project.status);
  const pool = projectPool(await managementAddress(project), project.db_name, { max: 3 });
  return { pool, project };
}

/** Undefined when the database answers; otherwise why not. */
export async function checkDatabase(ref: string): Promise<string | undefined> {
  try {
    const { pool } = await ownerPool(ref);
    await pool.query('select 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Runs `fn` in one transaction in the project's database as its owner, with a statement timeout and the
 *  search_path pinned (`public` for the owner's own SQL; `pg_catalog` for Loam's catalog queries, so no function
 *  or operator the owner defines in public can stand in for a built-in one); a Postgres error the SQL causes becomes a 400 with Postgres's message and SQLSTATE and
 *  nothing it did is kept. Session state is discarded before the connection goes back to the pool. `snapshot`
 *  makes it REPEATABLE READ: one snapshot for every statement (a branch's row copy reads its parent so). */
export async function ownerTransaction<T>(ref: string, opts: { readOnly?: boolean; timeoutMs?: number; searchPath?: 'public' | 'pg_catalog'; snapshot?: boolean },
  fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { pool } = await ownerPool(ref);
  const client = await pool.connect();
  try {
    // The timeouts are session settings (reset by `discard all` below), so SQL that ends the transaction
    // early (a COMMIT in a migration) does not run on without them.
    await client.query(`set statement_timeout = ${Math.floor(opts.timeoutMs ?? settings.sqlTimeoutMs)}; set lock_timeout = '10s';
      begin${opts.snapshot ? ' isolation level repeatable read' : ''}${opts.readOnly ? ' read only' : ''}; set local search_path = ${opts.searchPath ?? 'public'}`);
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    if (isPgError(err) && !isDatabaseUnavailable(err)) throw errors.sqlError(err.message, err.code!);
    throw err;
  } finally {
    await client.query('discard all').then(() => client.release(), (e) => client.release(e));
  }
}

