// Connections to a project's database on behalf of its owner (the Management API's SQL endpoint, health).
// They log in as the project's management role, whose sessions act as the owner role by default
// (`alter role … set role`), so whatever they create belongs to the owner.
import type pg from 'pg';
import { loadRuntime, type ProjectRuntime } from '../../../db/src/projects.ts';
import { projectPool } from '../../../db/src/pools.ts';
import { managementAddress } from '../../../db/src/servers.ts';
import { errors } from '../errors.ts';

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
