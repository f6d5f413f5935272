// Stage 4: runs a request in its transaction.
// Hot path (the schema cache of the project is loaded): the request is planned first, then BEGIN + request
// context + schema-version read, the main statement and COMMIT are written to a pipelined connection together —
// one network round trip for a read. If the version read shows the cache was stale, a read is simply run again
// on the slow path; a write keeps its result (Postgres ran it against the real schema) and the cache reloads.
// Writes that must inspect their result before committing (singular, max-affected, tx=rollback) wait for it
// and then commit or roll back: two round trips.
// Slow path (no cache yet, or a stale one): withContext, reading the version with the context, reloading the
// cache in the same transaction when it moved.
import crypto from 'node:crypto';
import type pg from 'pg';
import { queryInContext, sendInContext, withContext, type RequestContext } from '../../../db/src/context.ts';

import { closedByResultCap, isConnectionError, projectPool, ResultTooLargeError, withPooledClient } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { observeSchemaVersion, SCHEMA_VERSION_SQL } from '../../../db/src/schema-version.ts';
import { dbRole } from '../../../db/src/roles.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import type { Identity } from '../project/keys.ts';
import { RestError, restErrors } from './errors.ts';
import { watchReloads } from './listen.ts';
import { sharedConnection } from './shared.ts';
import { findTable, planMutation, planRead, planRpc, type ReadNode } from './plan.ts';
import { countPlanSql, readSql, rpcColumnsTable, rpcSql, writeSql } from './query.ts';
import type { ApiRequest } from './request.ts';
import { cachedSchema, loadSchemaCache, peekSchema, type SchemaCache } from './schema-cache.ts';
import type { RestSettings } from './settings.ts';
import type { CompiledSql } from './sql.ts';

export interface Result {
  status: number;
  body: string;
  pageTotal: number;
  total: number | null;
  offset: number;
  headers: Record<string, string>;
  /** The body is already text/csv. */
  csv?: boolean;
  /** The body is a query plan: sent as it is, with only its Content-Type. */
  plan?: boolean;
  /** Primary-key filter of the first written row, for Location. */
  location?: string;
}

interface MainRow {
  total_result_set: string | null; page_total: string; body: string; response_headers: string | null; response_status: string | null; schema_version: string;
  /** Upserts only: how many rows were inserted rather than updated. */
  response_inserted?: number | null;
}

/** A planned request: its one statement, and how to turn the statement's row into a Result (or an error). */
interface Prepared {
  query: CompiledSql;
  finish(row: MainRow): Result;
  /** Whether the result must be seen before deciding commit or rollback. */
  inspect: boolean;
  /** A read-only transaction: GET/HEAD, and functions declared STABLE or IMMUTABLE whatever the method (as
   *  PostgREST runs them). */
  readOnly: boolean;
  /** End the transaction with ROLLBACK (Prefer: tx=rollback, or the owner's pgrst.db_tx_end). */
  rollback: boolean;
  /** `select <pre-request function>()`, run after the context and before the statement. */
  preRequest?: string;
}

/** The project's settings with the owner's in-database configuration over them; merged once per schema load. */
const merged = new WeakMap<SchemaCache, { base: RestSettings; value: RestSettings }>();
export function withDbConfig(cache: SchemaCache, settings: RestSettings): RestSettings {
  const hit = merged.get(cache);
  if (hit && hit.base === settings) return hit.value;
  const c = cache.config;
  const value: RestSettings = {
    ...settings,
    aggregates: c.aggregates ?? settings.aggregates,
    planEnabled: c.planEnabled ?? settings.planEnabled,
    maxRows: c.maxRows !== undefined ? c.maxRows : settings.maxRows,
  };
  merged.set(cache, { base: settings, value });
  return value;
}

/** Commit or roll back, as PostgREST decides with db-tx-end: without it, Prefer: tx decides; `…-allow-override`
 *  lets Prefer: tx choose; otherwise the setting decides and a tx preference is not applied. */
function endsInRollback(cache: SchemaCache, req: ApiRequest): boolean {
  const end = cache.config.txEnd;
  if (!end) return req.prefer.tx === 'rollback';
  if (end.endsWith('allow-override') && req.prefer.tx) return req.prefer.tx === 'rollback';
  if (req.prefer.tx) {
    req.prefer.invalid.push(`tx=${req.prefer.tx}`);
    req.prefer.tx = undefined;
    if (req.prefer.handling === 'strict') throw restErrors.invalidPrefs(req.prefer.invalid);
  }
  return end.startsWith('rollback');
}

export function requestContext(project: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings,
  httpHeaders: Record<string, string | string[] | undefined>, path: string): RequestContext {
  return {
    role: dbRole(project, who.role), claims: who.claims, method: req.method, path, headers: httpHeaders,
    settings: {
      search_path: [...settings.schemas, ...settings.extraSearchPath].map((s) => `"${s.replace(/"/g, '""')}"`).join(', '),
      // `Prefer: timezone=…` (checked by checkTimezone): timestamps are rendered in it, as PostgREST does.
      ...(req.prefer.timezone !== undefined ? { timezone: req.prefer.timezone } : {}),
    },
  };
}

async function poolFor(project: ProjectRuntime): Promise<pg.Pool> {
  const address = await authenticatorAddress(project);
  watchReloads(project.ref, address, project.db_name);
  return projectPool(address, project.db_name, { pipeline: true });
}

export async function execute(project: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings,
  httpHeaders: Record<string, string | string[] | undefined>, path: string): Promise<Result> {
  const pool = await poolFor(project);
  if (req.prefer.timezone !== undefined) await checkTimezone(project, pool, req);
  const ctx = requestContext(project, who, req, settings, httpHeaders, path);
  const cached = peekSchema(project.ref, settings.schemas);
  if (req.plan) return explain(pool, project.ref, ctx, req, settings);
  const needsClient = req.prefer.count === 'planned' || req.prefer.count === 'estimated';
  // The hot path, when this process already knows the project's schema (see the module comment).
  if (cached && !needsClient) {
    let prepared: Prepared | undefined;
    try {
      prepared = prepare(cached, req, settings);
    } catch (err) {
      // A planning error may come from a stale cache (a table created a moment ago): the slow path decides.
      if (!(err instanceof RestError)) throw err;
    }
    if (prepared) {
      let out: Outcome | undefined;
      try {
        out = await pipelined(project, pool, ctx, req, prepared, cached.version);
      } catch (err) {
        // Planned against a cache a DDL has just outdated (a column's type changed, a table went): the
        // transaction rolled back, so the slow path runs it again against the schema it reads.
        if (!mayBeStaleSchema(err)) throw err;
      }
      if (out) {
        const fresh = out.version === cached.version;
        if (!fresh) observeSchemaVersion(project.ref, out.version);
        if (fresh || !req.readOnly) return out.result();
      }
    }
  }
  let rollback = false;
  return inTransaction(pool, project.ref, ctx, req, settings, async (client, cache) => {
    let planned: number | undefined;
    if (needsClient && (req.action === 'read' || req.action === 'head')) {
      planned = await plannedCount(client, planRead(cache, req, findTable(cache, req.schema, req.target)));
    }
    const p = prepare(cache, req, settings, planned);
    rollback = p.rollback;
    if (p.preRequest) await client.query(p.preRequest);
    const row = (await client.query<MainRow>(p.query.text, p.query.params)).rows[0];
    return p.finish(row);
  }, () => rollback);
}

/** `Accept: application/vnd.pgrst.plan`: EXPLAIN of the statement the request would run, in a transaction that
 *  is always rolled back (ANALYZE executes it). */
async function explain(pool: pg.Pool, ref: string, ctx: RequestContext, req: ApiRequest, settings: RestSettings): Promise<Result> {
  const plan = req.plan!;
  return inTransaction(pool, ref, ctx, req, settings, async (client, cache) => {
    // As PostgREST with db-plan-enabled off: the plan media type is simply not offered.
    if (!withDbConfig(cache, settings).planEnabled) throw restErrors.mediaType([plan.mime]);
    const q = prepare(cache, req, settings).query;
    const opts = [`format ${plan.format}`, ...plan.options].join(', ');
    const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(`explain (${opts}) ${q.text}`, q.params);
    const body = plan.format === 'json' ? JSON.stringify(rows[0]['QUERY PLAN']) : rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    return { status: 200, body, pageTotal: 0, total: null, offset: 0, headers: { 'Content-Type': `${plan.mime}; charset=utf-8` }, plan: true };
  }, () => true);
}

// The time zone names of each database server (pg_timezone_names), read once per process: PostgREST accepts exactly these
// in `Prefer: timezone`, and ignores any other value (or rejects it with handling=strict).
const zoneNames = new Map<string, Promise<Set<string>>>();

async function checkTimezone(project: ProjectRuntime, pool: pg.Pool, req: ApiRequest): Promise<void> {
  const server = String(project.database_server_id ?? 1);
  let names = zoneNames.get(server);
  if (!names) {
    names = pool.query<{ name: string }>('select name from pg_timezone_names').then((r) => new Set(r.rows.map((x) => x.name)));
    zoneNames.set(server, names);
    names.catch(() => zoneNames.delete(server));
  }
  const tz = req.prefer.timezone!;
  if ((await names).has(tz)) return;
  req.prefer.timezone = undefined;
  req.prefer.invalid.push(`timezone=${tz}`);
  if (req.prefer.handling === 'strict') throw restErrors.invalidPrefs(req.prefer.invalid);
}

/** The slow path's transaction: context and version in one round trip, the cache (re)loaded when needed. */
export async function inTransaction<T>(pool: pg.Pool, ref: string, ctx: RequestContext, req: ApiRequest, settings: RestSettings,
  fn: (client: pg.ClientBase, cache: SchemaCache) => Promise<T>, rollback: () => boolean = () => req.prefer.tx === 'rollback'): Promise<T> {
  let version = '';
  return withContext(pool, ctx, async (client) => {
    observeSchemaVersion(ref, version);
    const cache = await cachedSchema(ref, version, settings.schemas, () => loadSchemaCache(client, settings.schemas, version));
    return fn(client, cache);
  }, {
    readOnly: req.readOnly,
    // Read when the transaction ends: `fn` decides it (the owner's db_tx_end is known once the cache is).
    get rollback() { return rollback(); },
    alsoQuery: SCHEMA_VERSION_SQL,
    onContext: (row) => { version = String(row.schema_version); },
  });
}

/** `fn` in a transaction as the caller, with the current schema cache (the OpenAPI document reads what the
 *  caller's role may see this way). */
export async function asCaller<T>(project: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings,
  fn: (client: pg.ClientBase, cache: SchemaCache) => Promise<T>): Promise<T> {
  const pool = await poolFor(project);
  return inTransaction(pool, project.ref, requestContext(project, who, req, settings, {}, '/'), req, settings, fn);
}

// Statement shapes seen often become named prepared statements (parsed and planned once per connection, as
// PostgREST prepares its statements); one-off shapes stay unnamed so odd traffic cannot pile up server state.
const seen = new Map<string, number | string>();
const HOT_AFTER = 3;
// The schema version is part of the name: a statement prepared before DDL keeps the parameter types it was
// parsed with, so after a schema change the next use gets a fresh statement.
function statementName(text: string, version: string): string | undefined {
  if (text.length > 8000) return undefined;
  const k = `${version}:${text}`;
  const hit = seen.get(k);
  if (typeof hit === 'string') return hit;
  const n = (hit ?? 0) + 1;
  if (seen.size > 5000) seen.clear();
  if (n <= HOT_AFTER) {
    seen.set(k, n);
    return undefined;
  }
  const name = 'pgrst_' + crypto.createHash('sha1').update(k).digest('base64url').slice(0, 20);
  seen.set(k, name);
  return name;
}

// Errors a statement planned from an outdated schema cache can meet; after one, the slow path decides.
const STALE_SCHEMA_CODES = new Set(['0A000', '42703', '42883', '42P01', '42804', '42846', '22P02']);
const mayBeStaleSchema = (err: unknown) => STALE_SCHEMA_CODES.has(String((err as { code?: unknown })?.code));

async function pipelined(project: ProjectRuntime, pool: pg.Pool, ctx: RequestContext, req: ApiRequest, p: Prepared, cacheVersion: string): Promise<Outcome> {
  // Reads only: a write's COMMIT waits for its WAL flush, which would hold up every batch queued behind it,
  // while writes on separate pool connections share flushes (group commit).
  if (!p.inspect && p.readOnly) {
    const address = await authenticatorAddress(project);
    const shared = sharedConnection(address, project.db_name);
    if (shared) {
      shared.inflight++;
      try {
        await shared.ready;
        return await batch(shared.client, ctx, req, p, cacheVersion);
      } catch (err) {
        if (isConnectionError(err)) shared.dead = true;
        // Queued behind another request's oversized read, whose connection the result cap closed: this read
        // did nothing wrong, and runs again on a pool connection (below).
        if (err instanceof ResultTooLargeError || !closedByResultCap(shared.client)) throw err;
      } finally {
        shared.inflight--;
        shared.lastUsed = Date.now();
      }
    }
  }
  return withPooledClient(pool, (client) => batch(client, ctx, req, p, cacheVersion));
}

interface Outcome { version: string; result: () => Result }

/** The context and the statement (which also reads the schema version) in one round trip: as one implicit
 *  transaction when nothing must happen between them, else BEGIN, the context, the pre-request function, the
 *  statement and — unless the result must be inspected — the end of the transaction, written together. After an
 *  error Postgres answers the rest with 25P02 and turns COMMIT into ROLLBACK, so nothing is kept. */
async function batch(client: pg.ClientBase, ctx: RequestContext, req: ApiRequest, p: Prepared, cacheVersion: string): Promise<Outcome> {
  const endNow = !p.inspect;
  const end = p.rollback ? 'rollback' : 'commit';
  const main = { name: statementName(p.query.text, cacheVersion), text: p.query.text, values: p.query.params };
  let row: MainRow;
  // Context and statement as one implicit transaction, answered once (db/src/context.ts), unless something must
  // run between them or the transaction must end in ROLLBACK.
  const once = endNow && !p.rollback && !p.preRequest ? queryInContext(client, ctx, main, { readOnly: p.readOnly }) : undefined;
  if (once) {
    row = (await once).rows[0] as MainRow;
    return { version: String(row.schema_version), result: () => p.finish(row) };
  }
  try {
    const [, mainResult] = await sendInContext(client, ctx, [p.preRequest, main], { readOnly: p.readOnly, end: endNow ? end : undefined });
    row = mainResult!.rows[0] as MainRow;
  } catch (err) {
    if (!endNow) await client.query('rollback');
    throw err;
  }
  const version = String(row.schema_version);
  if (endNow) return { version, result: () => p.finish(row) };
  let result: Result;
  try {
    result = p.finish(row);
  } catch (err) {
    await client.query('rollback');
    throw err;
  }
  await client.query(end);
  return { version, result: () => result };
}

function pageRange(req: ApiRequest, settings: RestSettings, allowMax = true): { limit?: number; offset: number } {
  const root = req.scopes.get('')!;
  let offset = root.offset ?? 0;
  let limit = root.limit;
  if (req.range) {
    offset += req.range.offset;
    if (req.range.limit !== undefined) limit = limit === undefined ? req.range.limit : Math.min(limit, req.range.limit);
  }
  if (allowMax && settings.maxRows !== null) limit = limit === undefined ? settings.maxRows : Math.min(limit, settings.maxRows);
  return { limit, offset };
}

async function plannedCount(client: pg.ClientBase, root: ReadNode): Promise<number> {
  const q = countPlanSql(root);
  const { rows } = await client.query(`explain (format json) ${q.text}`, q.params);
  return Number(rows[0]['QUERY PLAN'][0].Plan['Plan Rows']);
}

/** Plans the request and builds its statement; `finish` applies PostgREST's rules to the returned row. */
function prepare(cache: SchemaCache, req: ApiRequest, projectSettings: RestSettings, planned?: number): Prepared {
  const settings = withDbConfig(cache, projectSettings);
  req.aggregatesEnabled = settings.aggregates;
  const rollback = endsInRollback(cache, req);
  const single = req.accept === 'object' || req.accept === 'object-stripped';
  const stripNulls = req.accept === 'stripped' || req.accept === 'object-stripped';
  const strictMax = req.prefer.maxAffected !== undefined && req.prefer.handling === 'strict';
  let query: CompiledSql;
  let offset = 0;
  let status = 200;
  let scalar = false;
  let readOnly = req.readOnly;
  let location: ((body: string) => string | undefined) | undefined;
  const isRead = req.action === 'read' || req.action === 'head';
  let representation = true;
  let countRows = false;
  // text/csv is rendered by the statement itself, as PostgREST does (each row in Postgres' record text format).
  let csv = req.accept === 'csv';
  let upsert: string | undefined;
  if (isRead) {
    const table = findTable(cache, req.schema, req.target);
    const root = planRead(cache, req, table);
    const range = pageRange(req, settings);
    let exact = req.prefer.count === 'exact';
    if (planned !== undefined && req.prefer.count === 'estimated' && (settings.maxRows === null || planned <= settings.maxRows)) exact = true;
    query = readSql(root, range, { count: exact, stripNulls, csv, geojson: req.accept === 'geojson' });
    offset = range.offset;
  } else if (req.action === 'rpc') {
    const rpc = planRpc(cache, req);
    const f = rpc.func;
    let root: ReadNode | undefined;
    if (!f.returnsVoid && f.isComposite) root = planRead(cache, req, rpcColumnsTable(f, rpc.returnTable));
    if (strictMax && !f.returnsSet) throw restErrors.maxAffectedRpc();
    const range = f.returnsSet ? pageRange(req, settings, false) : { offset: 0 };
    const rpcCsv = csv && !!root && f.returnsSet;
    query = rpcSql(rpc, root, range, { count: req.prefer.count === 'exact' && f.returnsSet, stripNulls, single: !f.returnsSet, csv: rpcCsv, geojson: req.accept === 'geojson' && !!root && f.returnsSet });
    if (!rpcCsv) csv = false;
    offset = range.offset;
    if (f.returnsVoid) status = 204;
    scalar = !f.returnsSet;
    // A function returning one value: its total is its one row, whichever count was asked for.
    countRows = scalar && !!req.prefer.count;
    if (f.volatility !== 'v') readOnly = true;
  } else {
    const table = findTable(cache, req.schema, req.target);
    const mutation = planMutation(cache, req, table);
    const root = planRead(cache, req, table);
    representation = req.prefer.return === 'representation';
    const headersOnly = req.prefer.return === 'headers-only';
    query = writeSql(mutation, root, { representation, returnPk: headersOnly, count: false, stripNulls, single: false, csv: csv && representation, geojson: req.accept === 'geojson' && representation });
    if (!representation) csv = false;
    status = req.action === 'insert' ? 201 : representation ? 200 : 204;
    upsert = mutation.resolution === 'merge-duplicates' && !!mutation.onConflict?.length ? req.action : undefined;
    // As PostgREST: a write's total is the number of rows it touched, for count=exact and count=estimated.
    countRows = req.prefer.count === 'exact' || req.prefer.count === 'estimated';
    if (headersOnly && table.pk.length) {
      location = (body) => {
        const first = (JSON.parse(body || '[]') as Record<string, unknown>[])[0];
        return first ? `/${req.target}?` + table.pk.map((c) => `${encodeURIComponent(c)}=eq.${encodeURIComponent(String(first[c]))}`).join('&') : undefined;
      };
    }
  }
  const inspect = !readOnly && (single || strictMax);
  return {
    query, inspect, readOnly, rollback,
    preRequest: cache.config.preRequest ? `select ${cache.config.preRequest}()` : undefined,
    finish(row) {
      const result: Result = { status, body: row.body, pageTotal: Number(row.page_total), total: planned ?? null, offset, headers: {} };
      if (csv) { result.body = csvHeader(row.body); result.csv = true; }
      if (row.total_result_set !== null) result.total = Number(row.total_result_set);
      else if (countRows) result.total = result.pageTotal;
      // An upsert that only updated: 200 (POST with merge-duplicates, and PUT) instead of 201.
      if (upsert === 'insert' && !(Number(row.response_inserted ?? 0) > 0)) result.status = 200;
      if (upsert === 'upsert' && representation && Number(row.response_inserted ?? 0) > 0) result.status = 201;
      if (location) { result.location = location(row.body); result.body = ''; }
      if (!representation) result.body = '';
      if (strictMax && !isRead && result.pageTotal > req.prefer.maxAffected!) throw restErrors.maxAffected(result.pageTotal);
      if (single && !scalar && result.pageTotal !== 1 && (representation || isRead)) throw restErrors.singular(result.pageTotal);
      if (row.response_headers) result.headers = gucHeaders(row.response_headers);
      if (row.response_status) {
        const s = Number(row.response_status);
        if (!Number.isInteger(s) || s < 100 || s > 599) throw restErrors.gucStatus();
        result.status = s;
      }
      return result;
    },
  };
}

/** The statement sends the first row as JSON, a newline, then the CSV rows: the header is the first row's keys
 *  (unquoted, as PostgREST writes them; empty when there is no row). */
function csvHeader(body: string): string {
  const nl = body.indexOf('\n');
  const first = body.slice(0, nl);
  return (first ? Object.keys(JSON.parse(first) as object).join(',') : '') + body.slice(nl);
}

function gucHeaders(text: string): Record<string, string> {
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { throw restErrors.gucHeaders(); }
  if (!Array.isArray(parsed)) throw restErrors.gucHeaders();
  const out: Record<string, string> = {};
  for (const o of parsed) {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw restErrors.gucHeaders();
    const entries = Object.entries(o);
    if (entries.length !== 1 || typeof entries[0][1] !== 'string') throw restErrors.gucHeaders();
    out[entries[0][0]] = entries[0][1] as string;
  }
  return out;
}
