// Connection pools: one to the control database, and a bounded, idle-closing set for project databases. Every
// client Loam opens is guarded here (guardClient): an `error` listener, so a backend that goes away fails only the
// query that used it, and a cap on the bytes one query's result may bring back.
import pg from 'pg';
import { settings } from './config.ts';

// A date has no time zone: keep it the string Postgres prints rather than a Date at local midnight.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface ServerAddress {
  host: string;
  port: number;
  user: string;
  password?: string;
  ssl?: pg.ConnectionConfig['ssl'];
}

// V8 cannot hold a string longer than 2^29 - 24 UTF-16 units (~512 MiB of ASCII): a single value that long
// makes pg's protocol parser throw ERR_STRING_TOO_LONG inside a socket callback, where nothing can catch it and
// the process exits. The cap is kept well under that, whatever the setting says.
const HARD_MAX_RESULT_BYTES = 256 * 1024 * 1024;
/** Bytes one query's result may bring back over a connection (LOAM_MAX_RESULT_BYTES). */
export const maxResultBytes = Math.min(settings.maxResultBytes, HARD_MAX_RESULT_BYTES);

/** A query's result passed the cap: its connection was closed before the result was read into memory. */
export class ResultTooLargeError extends Error {
  readonly code = 'result_too_large';
  readonly limit: number;
  constructor(limit: number) {
    super(`The result is larger than ${formatBytes(limit)}, the most one request may read: ask for fewer rows or columns (paginate)`);
    this.name = 'ResultTooLargeError';
    this.limit = limit;
  }
}

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MB`;
  if (n % 1024 === 0) return `${n / 1024} kB`;
  return `${n} bytes`;
}

// Connections closed by the cap: a query that was pipelined behind the oversized one lost its connection through
// no fault of its own, and a read may then simply be run again (rest/execute.ts).
const closedForSize = new WeakSet<object>();
export const closedByResultCap = (client: object): boolean => closedForSize.has(client);

const ignore = () => { /* the query in flight (if any) gets the error; the pool drops the client */ };

interface ClientInternals {
  connection: { stream: NodeJS.ReadableStream & { destroy(err?: Error): void }; on(event: 'readyForQuery', fn: () => void): void };
  _getActiveQuery: () => { _canceledDueToError?: unknown } | null;
  _queryQueue?: unknown[];
  _sentQueryQueue?: unknown[];
}

/**
 * Counts the bytes that arrive on a connected client's socket and closes the connection once the result of the
 * query in flight passes `limit`, so the query fails with ResultTooLargeError instead of the process buffering
 * (and then failing to decode) it. The count restarts at every ReadyForQuery, which ends each query's answer —
 * pipelined ones included. Per chunk of the socket, not per row: a lookup, an addition and a comparison.
 *
 * The query in flight is given its error through pg's own `_canceledDueToError` slot (what pg uses when a row
 * fails to parse): on the close every query of the connection fails, and that one reports the cap, while
 * others pipelined behind it report the lost connection, which is what happened to them. When it is alone on
 * the connection the socket is destroyed with the error itself, so that the client's 'error' event (which
 * pool.query() reports instead of the query's own error) carries it too.
 */
export function capResultSize(client: pg.ClientBase, limit = maxResultBytes): void {
  const c = client as unknown as ClientInternals;
  const stream = c.connection.stream;
  let bytes = 0;
  c.connection.on('readyForQuery', () => { bytes = 0; });
  // Prepended: counted before pg's parser appends the chunk to a message it is still assembling.
  stream.prependListener('data', (chunk: Buffer) => {
    const query = c._getActiveQuery();
    // Nothing in flight: notifications on a LISTEN connection (graphile-worker's holds one for days), not a result.
    if (!query) return;
    bytes += chunk.length;
    if (bytes <= limit) return;
    bytes = -Infinity; // once: the connection is going
    const error = new ResultTooLargeError(limit);
    query._canceledDueToError = error;
    closedForSize.add(client);
    const alone = !c._queryQueue?.length && !c._sentQueryQueue?.length;
    stream.destroy(alone ? error : undefined);
  });
}

/** What every client Loam opens needs: an `error` listener (a terminated backend or a lost server emits
 *  'error' on the client at any time, and an EventEmitter without a listener throws it out of the event loop,
 *  stopping the process), and unless `cap` is false, the result cap. Call after connect(). */
export function guardClient(client: pg.ClientBase, opts: { cap?: boolean } = {}): void {
  // Even if it has one now: pg-pool's own listener is removed while the client is checked out.
  if (!client.listeners('error').includes(ignore)) client.on('error', ignore);
  if (opts.cap !== false) capResultSize(client);
}

/** Guards each client of `pool` as it connects (a checked-out client has no listener of pg-pool's own), and
 *  the pool itself (an idle client's error is re-emitted on the pool). */
export function guardPool<P extends pg.Pool>(pool: P): P {
  pool.on('error', () => { /* a dropped idle connection is replaced on next use */ });
  pool.on('connect', (client) => guardClient(client));
  return pool;
}

let control: pg.Pool | undefined;
let controlUrl = '';

export function openControlPool(url: string, max = 10): pg.Pool {
  controlUrl = url;
  control = guardPool(new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 }));
  return control;
}

// /health's probe of the control database: a connection of its own, so that a saturated pool does not read as
// a database that is down, and one probe a second at most however often /health is called.
let probeClient: pg.Client | undefined;
let probe: { at: number; reachable: Promise<boolean>; pending: boolean } | undefined;

async function probeControl(timeoutMs: number): Promise<boolean> {
  try {
    if (!probeClient) {
      const client = new pg.Client({ connectionString: controlUrl, connectionTimeoutMillis: timeoutMs, application_name: 'loam health' });
      client.on('error', () => { if (probeClient === client) probeClient = undefined; });
      probeClient = client;
      await client.connect();
      // It must not keep the process alive on shutdown.
      (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    }
    const client = probeClient;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs); });
    try {
      await Promise.race([client.query('select 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return true;
  } catch {
    const client = probeClient;
    probeClient = undefined;
    void client?.end().catch(() => {});
    return false;
  }
}

/** Whether the control database answers `select 1` within `timeoutMs`; the answer is reused for `cacheMs`. */
export function controlDatabaseReachable(timeoutMs = 1000, cacheMs = 1000): Promise<boolean> {
  if (probe && (probe.pending || Date.now() - probe.at < cacheMs)) return probe.reachable;
  const p = { at: Date.now(), pending: true, reachable: probeControl(timeoutMs) };
  p.reachable.finally(() => { p.pending = false; p.at = Date.now(); });
  probe = p;
  return p.reachable;
}

export function controlPool(): pg.Pool {
  if (!control) throw new Error('control pool not opened');
  return control;
}

export function controlDatabaseName(): string {
  return new URL(controlUrl).pathname.slice(1) || 'postgres';
}

/** Address of the server holding the control database, with the platform's own credentials. */
export function controlServerAddress(): ServerAddress {
  const u = new URL(controlUrl);
  const params = pg.defaults;
  return {
    host: u.hostname || 'localhost',
    port: Number(u.port || params.port || 5432),
    user: decodeURIComponent(u.username || process.env.PGUSER || process.env.USER || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : process.env.PGPASSWORD,
    ssl: u.searchParams.get('sslmode') === 'require' ? { rejectUnauthorized: false } : undefined,
  };
}

export function parseServerUrl(url: string): ServerAddress {
  const u = new URL(url);
  return {
    host: u.hostname || 'localhost',
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    ssl: u.searchParams.get('sslmode') === 'require' ? { rejectUnauthorized: false } : undefined,
  };
}

/** True when the connection itself failed (or the error is not Postgres's, so its state is unknown). */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof ResultTooLargeError) return true; // its connection was closed to stop the read
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code !== 'string' || code.startsWith('08') || code.startsWith('57P');
}

/** A pooled client for `fn`, destroyed rather than returned to the pool when its connection failed (or when
 *  `fn` calls `markBroken`, e.g. because a ROLLBACK did not go through). */
export async function withPooledClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient, markBroken: () => void) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    return await fn(client, () => { broken = true; });
  } catch (err) {
    if (isConnectionError(err)) broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** A short-lived client, for administration (provisioning, migrations): never on a request's hot path. */
export async function connect(address: ServerAddress, database: string): Promise<pg.Client> {
  const client = new pg.Client({ ...address, database });
  client.on('error', ignore);
  await client.connect();
  guardClient(client);
  return client;
}

export async function withClient<T>(address: ServerAddress, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(address, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

// Project pools close idle connections after a few seconds, so an idle project holds none; the map is an
// LRU so that thousands of projects do not mean thousands of pool objects.
const projectPools = new Map<string, pg.Pool>();

export function projectPool(address: ServerAddress, database: string, options: { max?: number; pipeline?: boolean } = {}): pg.Pool {
  // A pipelined pool (queries written without waiting for the previous answer) is its own pool.
  const key = `${address.host}:${address.port}/${database}/${address.user}${options.pipeline ? '/pipeline' : ''}`;
  let pool = projectPools.get(key);
  if (pool) {
    projectPools.delete(key);
    projectPools.set(key, pool);
    return pool;
  }
  pool = guardPool(new pg.Pool({ ...address, database, max: options.max ?? 10, idleTimeoutMillis: 5_000, allowExitOnIdle: true, ...(options.pipeline ? { pipeline: true } : {}) } as pg.PoolConfig));
  projectPools.set(key, pool);
  if (projectPools.size > settings.maxProjectPools) {
    const [oldestKey, oldest] = projectPools.entries().next().value!;
    projectPools.delete(oldestKey);
    void oldest.end();
  }
  return pool;
}

/** Ends every pool of one database, e.g. before it is dropped or paused. Idle connections close now; the pool
 *  does not wait for connections still checked out (pool.end() would, for as long as their queries run, holding
 *  up a deletion behind a request that sleeps): the caller terminates their sessions, which fails those requests
 *  alone, and each connection leaves its pool as it is released. */
export async function closeProjectPools(database: string): Promise<void> {
  for (const [key, pool] of projectPools) {
    if (key.split('/')[1] === database) {
      projectPools.delete(key);
      void pool.end().catch(() => {});
    }
  }
}

export async function closeAllPools(): Promise<void> {
  const health = probeClient;
  probeClient = undefined;
  probe = undefined;
  await health?.end().catch(() => {});
  const pools = [...projectPools.values()];
  projectPools.clear();
  await Promise.all(pools.map((p) => p.end()));
  if (control) {
    const c = control;
    control = undefined;
    await c.end();
  }
}
