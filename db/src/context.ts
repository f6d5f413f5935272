// The request context: one parameterised statement that sets, transaction-locally, the settings PostgREST sets
// (role, request.jwt.claims, request.method, request.path, request.headers), so policies written for Supabase
// work. REST, GraphQL, auth, storage and the tests all build it here.
import type pg from 'pg';
import { withPooledClient } from './pools.ts';
import { dbRole, type ApiRole } from './roles.ts';

export interface RequestContext {
  role: string;
  claims: Record<string, unknown>;
  method?: string;
  path?: string;
  headers?: Record<string, string | string[] | undefined>;
  /** Further transaction-local settings, e.g. `search_path`. */
  settings?: Record<string, string>;
}

/** The context of platform code acting as one of a project's API roles (auth, the storage sweep, the email
 *  worker): the project's own role, with only the role claim. */
export const apiRoleContext = (project: { ref: string }, role: ApiRole): RequestContext =>
  ({ role: dbRole(project, role), claims: { role } });

function contextPairs(ctx: RequestContext): [string, string][] {
  const pairs: [string, string][] = [
    ['role', ctx.role],
    ['request.jwt.claims', JSON.stringify(ctx.claims)],
    ['request.method', ctx.method ?? 'POST'],
    ['request.path', ctx.path ?? '/'],
    ['request.headers', JSON.stringify(ctx.headers ?? {})],
  ];
  for (const [k, v] of Object.entries(ctx.settings ?? {})) pairs.push([k, v]);
  return pairs;
}

/** The settings as one parameterised statement — values never appear in statement text, where pg_stat_activity and
 *  the server log would show them. Its text depends only on the number of settings, so it is a prepared statement. */
export function contextStatement(ctx: RequestContext): { name: string; text: string; values: string[] } {
  const pairs = contextPairs(ctx);
  const text = 'select ' + pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ');
  return { name: `loam_context_${pairs.length}`, text, values: pairs.flat() };
}

export interface TxOptions {
  readOnly?: boolean;
  /** A statement sent right behind the context (e.g. SCHEMA_VERSION_SQL), as the request's role; `onContext` gets
   *  its first row. */
  alsoQuery?: string;
  onContext?: (row: Record<string, unknown>) => void;
}

/** BEGIN, the context (and `alsoQuery`), then `fn`, then COMMIT (or ROLLBACK on error or when asked). The opening
 *  statements are written without waiting for each other: on a pipelined pool they cost one round trip. */
export async function withContext<T>(
  pool: pg.Pool, ctx: RequestContext, fn: (client: pg.PoolClient) => Promise<T>, opts: TxOptions & { rollback?: boolean } = {},
): Promise<T> {
  return withPooledClient(pool, async (client, markBroken) => {
    const rollback = () => client.query('rollback').catch(markBroken);
    const opening = await Promise.allSettled([
      client.query(opts.readOnly ? 'begin read only' : 'begin'),
      client.query(contextStatement(ctx)),
      opts.alsoQuery ? client.query(opts.alsoQuery) : undefined,
    ]);
    const failed = opening.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) {
      await rollback();
      throw failed.reason;
    }
    if (opts.onContext) opts.onContext((opening[2] as PromiseFulfilledResult<pg.QueryResult | undefined>).value?.rows[0] ?? {});
    try {
      const result = await fn(client);
      await client.query(opts.rollback ? 'rollback' : 'commit');
      return result;
    } catch (err) {
      await rollback();
      throw err;
    }
  });
}
