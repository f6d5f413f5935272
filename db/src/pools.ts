// Connection pools: one to the control database, and a bounded, idle-closing set for project databases.
import pg from 'pg';

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

let control: pg.Pool | undefined;
let controlUrl = '';

export function openControlPool(url: string, max = 10): pg.Pool {
  controlUrl = url;
  control = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 });
  control.on('error', () => { /* a dropped idle connection is replaced on next use */ });
  control.on('connect', (client) => client.on('error', () => {}));
  return control;
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
  client.on('error', () => {});
  await client.connect();
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
const MAX_PROJECT_POOLS = Number(process.env.LOAM_MAX_PROJECT_POOLS || 500);

export function projectPool(address: ServerAddress, database: string, options: { max?: number; pipeline?: boolean } = {}): pg.Pool {
  // A pipelined pool (queries written without waiting for the previous answer) is its own pool.
  const key = `${address.host}:${address.port}/${database}/${address.user}${options.pipeline ? '/pipeline' : ''}`;
  let pool = projectPools.get(key);
  if (pool) {
    projectPools.delete(key);
    projectPools.set(key, pool);
    return pool;
  }
  pool = new pg.Pool({ ...address, database, max: options.max ?? 10, idleTimeoutMillis: 5_000, allowExitOnIdle: true, ...(options.pipeline ? { pipeline: true } : {}) } as pg.PoolConfig);
  pool.on('error', () => {});
  projectPools.set(key, pool);
  if (projectPools.size > MAX_PROJECT_POOLS) {
    const [oldestKey, oldest] = projectPools.entries().next().value!;
    projectPools.delete(oldestKey);
    void oldest.end();
  }
  return pool;
}

/** Ends every pool of one database, e.g. before it is dropped or paused. */
export async function closeProjectPools(database: string): Promise<void> {
  const ending: Promise<void>[] = [];
  for (const [key, pool] of projectPools) {
    if (key.split('/')[1] === database) {
      projectPools.delete(key);
      ending.push(pool.end());
    }
  }
  await Promise.all(ending);
}

export async function closeAllPools(): Promise<void> {
  const pools = [...projectPools.values()];
  projectPools.clear();
  await Promise.all(pools.map((p) => p.end()));
  if (control) {
    const c = control;
    control = undefined;
    await c.end();
  }
}
