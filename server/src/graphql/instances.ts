// One PostGraphile instance per active project: built on first use (concurrent first requests share the
// build), kept in an LRU of LOAM_GRAPHQL_CACHE_SIZE projects, rebuilt when the project's schema version moves
// (DDL made any way), and on eviction released together with the pool it used, so an evicted project holds
// no connection. (PostGraphile's release() does not end pools it was given; we own the pool and end it.)
// It exposes the schemas REST exposes (the project's `db_schema` setting, rest/settings.ts): a change of that
// setting notifies every process (project changed → evict), and the schema check compares it too.
import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import { postgraphile, type PostGraphileInstance } from 'postgraphile';
import { grafserv, type NodeGrafserv } from 'postgraphile/grafserv/node';
import { apiRoleContext, withContext } from '../../../db/src/context.ts';
import { onProjectChanged, type ProjectRuntime } from '../../../db/src/projects.ts';
import { observeSchemaVersion, onSchemaChange, readSchemaVersion } from '../../../db/src/schema-version.ts';
import { guardPool } from '../../../db/src/pools.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import { restSettings } from '../rest/settings.ts';
import { projectPreset } from './preset.ts';
import { graphqlConfig } from '../../../db/src/config.ts';

/** grafserv's plain-Node handler, called from Express (index.ts) and before Express (raw.ts) alike: the request
 *  URL must be relative to the endpoint. `next` gets requests it does not serve, and unexpected errors. */
export type GraphqlHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) => void;

/** A built schema and its HTTP handler; counted while requests use it, released once retired and idle. */
export interface Instance {
  handler: GraphqlHandler;
  /** Schema version it was built from. */
  version: string;
  /** Call when the request using it has finished. */
  done(): void;
}

interface Built {
  pgl: PostGraphileInstance;
  handler: GraphqlHandler;
  version: string;
  /** The exposed schemas it was built with (`db_schema`, comma-joined). */
  schemas: string;
  inflight: number;
  retired: boolean;
  released?: Promise<void>;
  onIdle?: () => void;
}

interface Entry {
  ref: string;
  /** Where the database is; a project moved or restored elsewhere gets a new entry. */
  location: string;
  pool: Promise<pg.Pool>;
  built: Promise<Built>;
  /** What `built` resolved to, once it has: lets a request take it without waiting on a promise. */
  ready?: Built;
  /** The schema version `built` is (being) built for. */
  target: string | undefined;
  checkedAt: number;
  checking?: Promise<void>;
  closed?: Promise<void>;
}

const entries = new Map<string, Entry>();

/** PostGraphile could not make a GraphQL schema of what the project exposes (two tables inflected to one
 *  name, say): the project's own doing, unlike a database that cannot be reached. */
export class SchemaBuildError extends Error {
  constructor(reason: string) {
    super(`The GraphQL schema of this project could not be built from its exposed schemas: ${reason}`);
  }
}

/** The schemas a project exposes: the same `db_schema` setting as REST (cached there, dropped on change). */
export async function exposedSchemas(p: ProjectRuntime): Promise<string[]> {
  return (await restSettings(p.ref)).schemas;
}

const location = (p: ProjectRuntime) => `${p.database_server_id}/${p.db_name}`;

// Reading the version needs an API role (the authenticator itself can read no table): a read-only
// transaction as anon, through the same context builder.
const readVersion = (pool: pg.Pool, p: ProjectRuntime) =>
  withContext(pool, apiRoleContext(p, 'anon'), (c) => readSchemaVersion(c), { readOnly: true });

/** PostGraphile leaves out relations, orderings and filters on columns without an index. Supabase users seldom
 *  index foreign keys, so Loam exposes them (the performance advisor's unindexed_foreign_keys lint flags the
 *  index instead); an owner who wants PostGraphile's stricter schema sets `graphql_strict_indexes = true` in the
 *  project's in-database configuration (`pgrst.config`, read as anon, as REST reads it). */
const readStrictIndexes = (pool: pg.Pool, p: ProjectRuntime) =>
  withContext(pool, apiRoleContext(p, 'anon'), async (c) => {
    const { rows } = await c.query(`select exists (select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'pgrst' and c.relname = 'config' and pg_catalog.has_table_privilege(c.oid, 'select')) as readable`);
    if (!rows[0].readable) return false;
    const r = await c.query(`select value::text as value from pgrst.config where key::text = 'graphql_strict_indexes' limit 1`);
    return r.rows[0]?.value === 'true';
  }, { readOnly: true }).catch(() => false);

async function openPool(p: ProjectRuntime): Promise<pg.Pool> {
  if (!p.database_server_id) throw new Error(`project ${p.ref} has no database server`);
  const address = await authenticatorAddress(p);
  // Guarded as every pool is (db/src/pools.ts): an error listener on each client, and the result cap.
  return guardPool(new pg.Pool({
    ...address, database: p.db_name, max: graphqlConfig().poolSize,
    idleTimeoutMillis: 10_000, allowExitOnIdle: true, application_name: 'loam graphql',
    // PostGraphile's queries are short; JIT optimisation only slows them down (as @dataplan/pg's own pool does).
    options: '-c jit_optimize_above_cost=-1',
    // Statements are written without waiting for the previous answer (db/src/context.ts withContext); each request
    // still has its connection to itself, so transactions never interleave.
    pipeline: true,
  } as pg.PoolConfig));
}

/** Counters, for tests and the bench. */
export const stats = { builds: 0, evictions: 0 };

async function build(entry: Entry, p: ProjectRuntime): Promise<Built> {
  stats.builds++;
  const pool = await entry.pool;
  // Both read before introspection: a DDL or a settings change racing the build triggers a rebuild.
  const [version, schemas, strictIndexes] = await Promise.all([readVersion(pool, p), exposedSchemas(p), readStrictIndexes(pool, p)]);
  const pgl = postgraphile(projectPreset({ pool, schemas, config: graphqlConfig(), strictIndexes }));
  try {
    await Promise.resolve(pgl.getSchema()).catch((err: { code?: unknown; message?: string }) => {
      // A Postgres error (introspection failed) is the database's; anything else is the schema's shape.
      throw typeof err?.code === 'string' ? err : new SchemaBuildError(String(err?.message ?? err));
    });
    const serv = pgl.createServ(grafserv);
    // addTo() only does `server.on('request', handler)`: take the handler itself, to call it for this project's
    // requests only. grafserv's node adapter rather than its Express one: the same handler then serves the
    // plain-Node path (raw.ts) and the Express route (GET, GraphiQL), with no Express-only request fields.
    let handler: GraphqlHandler | undefined;
    const server = { on: (_event: 'request', h: GraphqlHandler) => { handler = h; }, off: () => {} };
    await serv.addTo(server as unknown as Parameters<NodeGrafserv['addTo']>[0], false);
    await serv.ready();
    if (!handler) throw new Error('grafserv did not provide a handler');
    return { pgl, handler, version, schemas: schemas.join(','), inflight: 0, retired: false };
  } catch (err) {
    await pgl.release();
    throw err;
  }
}

function release(b: Built): Promise<void> {
  // Releases the grafserv instance too. The pool is not PostGraphile's: evict() ends it.
  b.released ??= Promise.resolve(b.pgl.release()).catch(() => {});
  return b.released;
}

/** Stops handing `b` out; releases it when its last request finishes. */
function retire(b: Built): Promise<void> {
  b.retired = true;
  if (b.inflight === 0) return release(b);
  return new Promise((resolve) => { b.onIdle = () => { void release(b).then(resolve); }; });
}

function startBuild(entry: Entry, p: ProjectRuntime, target: string | undefined): void {
  const previous = entry.built;
  entry.target = target;
  entry.ready = undefined; // requests wait for the new build rather than take the old schema meanwhile
  const built = entry.built = build(entry, p);
  built.then((b) => { if (entry.built === built) entry.ready = b; }, () => {});
  // A failed build drops the whole entry, so the next request starts over instead of failing forever. A schema
  // that cannot be built stays failed for one schema-check period first: requests in that time get the same
  // error at once instead of each paying a new introspection (a DDL that fixes it is seen after that).
  entry.built.catch((err) => {
    if (err instanceof SchemaBuildError) setTimeout(() => void evict(entry), graphqlConfig().schemaCheckMs).unref();
    else void evict(entry);
  });
  previous?.then((b) => retire(b), () => {});
}

function evict(entry: Entry): Promise<void> {
  if (entries.get(entry.ref) === entry) entries.delete(entry.ref);
  if (!entry.closed) stats.evictions++;
  entry.closed ??= (async () => {
    const b = await entry.built.catch(() => undefined);
    if (b) await retire(b);
    const pool = await entry.pool.catch(() => undefined);
    await pool?.end();
  })();
  return entry.closed;
}

function entryFor(p: ProjectRuntime): Entry {
  let entry = entries.get(p.ref);
  if (entry && entry.location !== location(p)) {
    void evict(entry);
    entry = undefined;
  }
  if (entry) {
    entries.delete(p.ref); // LRU: most recently used last
    entries.set(p.ref, entry);
    return entry;
  }
  entry = { ref: p.ref, location: location(p), pool: openPool(p), built: undefined!, target: undefined, checkedAt: Date.now() };
  entry.pool.catch(() => {});
  startBuild(entry, p, undefined);
  entries.set(p.ref, entry);
  const max = graphqlConfig().cacheSize;
  while (entries.size > max) void evict(entries.values().next().value!);
  return entry;
}

/** Re-reads the schema version (and the exposed schemas, from their cache) at most once per
 *  LOAM_GRAPHQL_SCHEMA_CHECK_MS; rebuilds when either moved. The project-changed notification already evicts
 *  on a settings change; this catches a process that missed it (its settings cache expires in 30 s). */
async function checkSchema(entry: Entry, p: ProjectRuntime, built: Built): Promise<void> {
  if (Date.now() - entry.checkedAt < graphqlConfig().schemaCheckMs) return;
  entry.checking ??= (async () => {
    try {
      const [version, schemas] = await Promise.all([readVersion(await entry.pool, p), exposedSchemas(p)]);
      observeSchemaVersion(p.ref, version); // tells REST too (and our own listener, hence checkedAt after it)
      entry.checkedAt = Date.now();
      if (version !== (entry.target ?? built.version) || schemas.join(',') !== built.schemas) startBuild(entry, p, version);
    } catch {
      // The database is unreachable: the request itself will report it.
    } finally {
      entry.checking = undefined;
    }
  })();
  await entry.checking;
}

function lease(b: Built): Instance {
  b.inflight++;
  let finished = false;
  return {
    handler: b.handler,
    version: b.version,
    done() {
      if (finished) return;
      finished = true;
      if (--b.inflight === 0 && b.retired) b.onIdle?.();
    },
  };
}

/** The hot path: the project's built instance when nothing is to be done first (no build under way, no
 *  schema check due), without a promise in between; else undefined, and the caller uses `acquire`. */
export function acquireNow(p: ProjectRuntime): Instance | undefined {
  const entry = entries.get(p.ref);
  const b = entry?.ready;
  if (!b || b.retired || entry!.location !== location(p) || Date.now() - entry!.checkedAt >= graphqlConfig().schemaCheckMs) return undefined;
  entries.delete(p.ref); // LRU: most recently used last
  entries.set(p.ref, entry!);
  return lease(b);
}

/** The project's current instance, built or rebuilt as needed. Call `done()` when the request ends. */
export async function acquire(p: ProjectRuntime): Promise<Instance> {
  for (;;) {
    const entry = entryFor(p);
    await checkSchema(entry, p, await entry.built);
    const b = await entry.built;
    if (b.retired) continue; // replaced or evicted while we waited
    return lease(b);
  }
}

// Another engine (REST) saw the schema move, or someone asked for a reload: check on the next request.
onSchemaChange((ref) => {
  const entry = entries.get(ref);
  if (entry) entry.checkedAt = 0;
});

// Pause, delete, key rotation: drop the instance and its connections (a paused database must empty).
onProjectChanged((ref) => {
  const entry = entries.get(ref);
  if (entry) void evict(entry);
});

/** Drops one project's instance and its pool (a service restart): its next request builds a new one. */
export function evictProject(ref: string): Promise<void> {
  const entry = entries.get(ref);
  return entry ? evict(entry) : Promise.resolve();
}

/** For tests and shutdown: what is cached, and a way to empty it. */
export function cachedProjects(): string[] {
  return [...entries.keys()];
}

export async function releaseAll(): Promise<void> {
  await Promise.all([...entries.values()].map(evict));
}
