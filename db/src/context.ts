// The request context: one parameterised statement that sets, transaction-locally, the settings PostgREST sets
// (role, request.jwt.claims, request.method, request.path, request.headers), so policies written for Supabase
// work. REST, GraphQL, auth, storage and the tests all build it here.
import pg from 'pg';
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
function contextStatement(ctx: RequestContext, readOnly = false): { name: string; text: string; values: string[] } {
  const pairs = contextPairs(ctx);
  if (readOnly) pairs.push(['transaction_read_only', 'on']);
  const text = 'select ' + pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ');
  return { name: `loam_context_${pairs.length}`, text, values: pairs.flat() };
}

/**
 * A statement in the request context as ONE implicit transaction: Bind/Execute of the context statement, then the
 * statement, then a single Sync — Postgres runs everything before a Sync as one transaction and commits it there
 * (or rolls it back after an error), so the context's transaction-local settings hold for the statement and are
 * gone after it, with no BEGIN or COMMIT. One answer (one flush, one wake-up of each side) instead of four. A
 * read-only one has `transaction_read_only` in its context: as read-only as BEGIN READ ONLY (Postgres refuses a
 * switch back to read-write after the first query). It fails closed: should the context fail, Postgres skips
 * the statement up to the Sync.
 * The context statement must already be prepared on the connection: this query sends no Parse of it, so pg's
 * record of which statements a connection has parsed stays true.
 */
class InContext extends pg.Query {
  #context: { name: string; values: string[] };
  #main = false; // past the context's own answer (its row and CommandComplete)
  constructor(context: { name: string; values: string[] }, statement: pg.QueryConfig) {
    super({ ...statement, queryMode: 'extended' } as pg.QueryConfig); // the extended protocol, even without parameters
    this.#context = context;
  }
  prepare(connection: PgConnection): void {
    connection.bind({ statement: this.#context.name, values: this.#context.values });
    connection.execute({});
    base.prepare.call(this, connection);
  }
  handleRowDescription(msg: unknown): void {
    this.#main = true;
    base.handleRowDescription.call(this, msg);
  }
  handleDataRow(msg: unknown): void {
    if (this.#main) base.handleDataRow.call(this, msg);
  }
  handleCommandComplete(msg: unknown, connection: PgConnection): void {
    if (this.#main) base.handleCommandComplete.call(this, msg, connection);
  }
}
interface PgConnection { bind(c: object): void; execute(c: object): void; parsedStatements: Record<string, string> }
// What pg's Query does with each message, which InContext calls once the context's answer is behind it.
const base = pg.Query.prototype as unknown as {
  prepare(c: PgConnection): void; handleRowDescription(m: unknown): void; handleDataRow(m: unknown): void;
  handleCommandComplete(m: unknown, c: PgConnection): void;
};

const connectionOf = (client: pg.ClientBase) => (client as unknown as { connection: PgConnection }).connection;

/** A statement in the request context, committed unless it fails, in one round trip and one answer (see
 *  InContext); undefined when the context statement is not prepared on this connection yet — it is then
 *  prepared (sent ahead on the wire, harmlessly run in a transaction of its own) and the caller takes the usual
 *  way this time. */
export function queryInContext(client: pg.ClientBase, ctx: RequestContext, statement: pg.QueryConfig,
  opts: { readOnly: boolean }): Promise<pg.QueryResult> | undefined {
  const context = contextStatement(ctx, opts.readOnly);
  if (connectionOf(client).parsedStatements[context.name] === undefined) {
    client.query(context).catch(() => {});
    return undefined;
  }
  return new Promise((resolve, reject) => {
    const callback = (err: Error | null, res: pg.QueryResult) => (err ? reject(err) : resolve(res));
    client.query(new InContext(context, { ...statement, callback } as pg.QueryConfig));
  });
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
