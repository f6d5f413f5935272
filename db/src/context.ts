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
function contextStatement(ctx: RequestContext): { name: string; text: string; values: string[] } {
  const pairs = contextPairs(ctx);
  const text = 'select ' + pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ');
  return { name: `loam_context_${pairs.length}`, text, values: pairs.flat() };
}

/** Changes the context inside an open transaction (realtime checks one change as each of its subscribers). */
export const switchContext = (client: pg.ClientBase, ctx: RequestContext) => client.query(contextStatement(ctx));

type Statement = pg.QueryConfig | string | undefined;

/**
 * The one way a request's SQL starts. BEGIN (read only or not), the context, `statements` and — when `end` is
 * given — COMMIT or ROLLBACK are written in one corked write, without waiting for any answer: on a pipelined
 * connection the whole transaction costs one round trip. Resolves to the statements' results in order; rejects
 * with the first error (BEGIN's or the context's before any statement's). It fails closed: should BEGIN or the
 * context fail, every statement behind them runs in an aborted transaction and fails too (25P02), and after an
 * error Postgres turns the COMMIT into ROLLBACK, so nothing is kept.
 */
export function sendInContext(client: pg.ClientBase, ctx: RequestContext, statements: Statement[] = [],
  opts: { readOnly?: boolean; end?: 'commit' | 'rollback' } = {}): Promise<(pg.QueryResult | undefined)[]> {
  // pg writes each protocol message on its own; a dozen small writes per request cost more CPU than the query.
  // One synchronous step also keeps the batch contiguous on a connection shared by several requests.
  const socket = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  socket?.cork?.();
  const sent = [
    client.query(opts.readOnly ? 'begin read only' : 'begin'),
    client.query(contextStatement(ctx)),
    ...statements.map((q) => (q === undefined ? undefined : client.query(q))),
    opts.end ? client.query(opts.end) : undefined,
  ];
  socket?.uncork?.();
  return Promise.allSettled(sent).then((settled) => {
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.slice(2, 2 + statements.length).map((x) => (x as PromiseFulfilledResult<pg.QueryResult | undefined>).value);
  });
}

export interface TxOptions {
  readOnly?: boolean;
  /** A statement sent right behind the context (e.g. SCHEMA_VERSION_SQL), as the request's role; `onContext` gets
   *  its first row before `fn` runs. */
  alsoQuery?: string;
  onContext?: (row: Record<string, unknown>) => void;
  /** End with ROLLBACK instead of COMMIT (read when `fn` has finished). */
  rollback?: boolean;
  /** Start `fn` at once: its statements follow BEGIN and the context on the wire without waiting for their answer
   *  (one round trip less). Only for an `fn` that does nothing but SQL until its first answer, since a failed
   *  context is reported only then. */
  eager?: boolean;
}

/** `fn` in a transaction with the request context, then COMMIT (or ROLLBACK on error or when asked). */
export async function withContext<T>(
  pool: pg.Pool, ctx: RequestContext, fn: (client: pg.PoolClient) => Promise<T>, opts: TxOptions = {},
): Promise<T> {
  return withPooledClient(pool, async (client, markBroken) => {
    const opened = sendInContext(client, ctx, [opts.alsoQuery], { readOnly: opts.readOnly })
      .then((results) => { opts.onContext?.(results[0]?.rows[0] ?? {}); return undefined; }, (err: unknown) => ({ err }));
    try {
      if (!opts.eager) {
        const failed = await opened;
        if (failed) throw failed.err;
      }
      let result: T;
      try {
        result = await fn(client);
      } catch (err) {
        throw (await opened)?.err ?? err;
      }
      const failed = await opened; // fn may have sent nothing
      if (failed) throw failed.err;
      await client.query(opts.rollback ? 'rollback' : 'commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch(markBroken);
      throw err;
    }
  });
}
