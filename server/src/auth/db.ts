// How auth reaches a project's database: as the project's service role (the only API role granted the auth
// tables and functions), through the project's data-plane login, one transaction per call — and one network
// round trip per call: BEGIN, the request context, the statement and COMMIT are written together on a
// pipelined connection. Values travel as parameters only: statement text (which pg_stat_activity and the server
// log show) never carries an email, a password hash or a token.
import { apiRoleContext, sendInContext, switchContext, withContext } from '../../../db/src/context.ts';
import { projectPool, withPooledClient } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';

/** pg would turn a JS array into a Postgres array literal; every auth function takes JSON instead. */
const param = (v: unknown) => (v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v);

/** One statement returning one value: the first column of the first row, or undefined. */
export async function authCall<T = any>(p: ProjectRuntime, sql: string, params: unknown[] = [],
  opts: { statementTimeoutMs?: number } = {}): Promise<T> {
  const pool = projectPool(await authenticatorAddress(p), p.db_name, { pipeline: true });
  const ctx = {
    ...apiRoleContext(p, 'service_role'),
    settings: opts.statementTimeoutMs ? { statement_timeout: String(opts.statementTimeoutMs) } : undefined,
  };
  return withPooledClient(pool, async (client, markBroken) => {
    try {
      const [r] = await sendInContext(client, ctx, [{ text: sql, values: params.map(param) }], { end: 'commit' });
      return r!.rows[0]?.[r!.fields[0].name] as T;
    } catch (err) {
      await client.query('rollback').catch(markBroken); // nothing may stay open, whatever failed
      throw err;
    }
  });
}

/** Passed to an AuthQuery: sets the request context (role, settings) again, after a tenant's function ran. */
export const RESET_CONTEXT = '-- reset context';

export type AuthQuery = <T = any>(sql: string, params?: unknown[]) => Promise<T>;

/** Several statements in one transaction as the project's service role, with work between them (an SMS sent
 *  while the code that it carries is not yet committed, as GoTrue does): any error rolls everything back. */
export async function authTransaction<R>(p: ProjectRuntime, work: (q: AuthQuery) => Promise<R>): Promise<R> {
  const pool = projectPool(await authenticatorAddress(p), p.db_name, { pipeline: true });
  const ctx = apiRoleContext(p, 'service_role');
  return withContext(pool, ctx, (client) => work(async (sql, params = []) => {
    if (sql === RESET_CONTEXT) return void (await switchContext(client, ctx)) as any;
    const r = await client.query(sql, params.map(param));
    return r.rows[0]?.[r.fields[0]?.name] as any;
  }));
}
