// The request context: one statement that sets, transaction-locally, the settings PostgREST sets (role,
// request.jwt.claims, request.method, request.path, request.headers), so policies written for Supabase work.
// REST, GraphQL, storage and the tests all build it here.
import pg from 'pg';
import { withPooledClient } from './pools.ts';

export interface RequestContext {
  role: string;
  claims: Record<string, unknown>;
  method?: string;
  path?: string;
  headers?: Record<string, string | string[] | undefined>;
  /** Further transaction-local settings, e.g. `search_path`. */
  settings?: Record<string, string>;
}

const literal = (v: string) => pg.escapeLiteral(v);

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

/** SQL text of `select set_config(...)` for the context; values are escaped literals, so it can share a
 *  simple-protocol round trip with BEGIN. */
export function contextSql(ctx: RequestContext): string {
  return 'select ' + contextPairs(ctx).map(([k, v]) => `set_config(${literal(k)}, ${literal(v)}, true)`).join(', ');
}

/** The same settings as one parameterised statement: its text depends only on the number of settings, so it can
 *  be a prepared statement (for pipelined connections, where BEGIN is sent separately at no extra round trip). */
export function contextStatement(ctx: RequestContext): { name: string; text: string; values: string[] } {
  const pairs = contextPairs(ctx);
  const text = 'select ' + pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ');
  return { name: `loam_context_${pairs.length}`, text, values: pairs.flat() };
}

export interface TxOptions {
  readOnly?: boolean;
  /** A statement sent in the same simple-protocol round trip, after the context is set (e.g. SCHEMA_VERSION_SQL),
   *  so it costs no round trip of its own and runs as the request's role; `onContext` gets its first row. */
  alsoQuery?: string;
  onContext?: (row: Record<string, unknown>) => void;
}

/** BEGIN and the context in one round trip, then `fn`, then COMMIT (or ROLLBACK on error or when asked). */
export async function withContext<T>(
  pool: pg.Pool, ctx: RequestContext, fn: (client: pg.PoolClient) => Promise<T>, opts: TxOptions & { rollback?: boolean } = {},
): Promise<T> {
  return withPooledClient(pool, async (client, markBroken) => {
    const rollback = () => client.query('rollback').catch(markBroken);
    const begun = await client.query(`${opts.readOnly ? 'begin read only' : 'begin'}; ${contextSql(ctx)}${opts.alsoQuery ? `; ${opts.alsoQuery}` : ''}`)
      .catch(async (err) => { await rollback(); throw err; });
    if (opts.onContext) opts.onContext((begun as unknown as pg.QueryResult[])[2]?.rows[0] ?? {});
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
