// How auth reaches a project's database: as service_role (the only role granted the auth tables and
// functions), through the data plane's authenticator pool, one transaction per call.
import type pg from 'pg';
import { withContext } from '../../../db/src/context.ts';
import { projectPool } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';

const CONTEXT = { role: 'service_role', claims: { role: 'service_role' } };

export async function authTx<T>(p: ProjectRuntime, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const pool = projectPool(await authenticatorAddress(p.database_server_id!), p.db_name);
  return withContext(pool, CONTEXT, fn);
}

/** One SQL statement returning one value (the first column of the first row, or undefined). */
export async function authCall<T = any>(p: ProjectRuntime, sql: string, params: unknown[] = []): Promise<T> {
  return authTx(p, async (c) => {
    const { rows, fields } = await c.query(sql, params);
    return rows[0]?.[fields[0].name] as T;
  });
}
