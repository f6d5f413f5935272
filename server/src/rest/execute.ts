// Stage 4: runs a request in its transaction. Round trips: (1) BEGIN + request context + schema version in one
// simple-protocol statement, (2) the schema cache load only when the version moved, (3) the one main statement,
// (4) COMMIT — or ROLLBACK when asked (tx=rollback) or when the result breaks a rule (singular, max-affected).
import type pg from 'pg';
import { withContext, type RequestContext } from '../../../db/src/context.ts';
import { projectPool } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { observeSchemaVersion, SCHEMA_VERSION_SQL } from '../../../db/src/schema-version.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import type { Identity } from '../project/keys.ts';
import { restErrors } from './errors.ts';
import { watchReloads } from './listen.ts';
import { findTable, planMutation, planRead, planRpc, type ReadNode } from './plan.ts';
import { countPlanSql, readSql, rpcColumnsTable, rpcSql, writeSql } from './query.ts';
import type { ApiRequest } from './request.ts';
import { cachedSchema, loadSchemaCache, type SchemaCache } from './schema-cache.ts';
import type { RestSettings } from './settings.ts';

export interface Result {
  status: number;
  body: string;
  pageTotal: number;
  total: number | null;
  offset: number;
  headers: Record<string, string>;
  /** Primary-key values of the first written row, for Location. */
  location?: string;
  singleObject: boolean;
}

interface MainRow { total_result_set: string | null; page_total: string; body: string; response_headers: string | null; response_status: string | null }

export async function execute(project: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings,
  httpHeaders: Record<string, string | string[] | undefined>, path: string): Promise<Result> {
  return inTransaction(project, who, req, settings, httpHeaders, path, (client, cache) => run(client, cache, req, settings));
}

/** Opens the request's transaction (context + schema version in one round trip) and hands over the cache. */
export async function inTransaction<T>(project: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings,
  httpHeaders: Record<string, string | string[] | undefined>, path: string,
  fn: (client: pg.ClientBase, cache: SchemaCache) => Promise<T>): Promise<T> {
  const address = await authenticatorAddress(project.database_server_id ?? 1);
  const pool = projectPool(address, project.db_name);
  watchReloads(project.ref, address, project.db_name);
  const ctx: RequestContext = {
    role: who.role, claims: who.claims, method: req.method, path, headers: httpHeaders,
    settings: { search_path: [...settings.schemas, ...settings.extraSearchPath].map((s) => `"${s.replace(/"/g, '""')}"`).join(', ') },
  };
  let version = '';
  const rollback = req.prefer.tx === 'rollback';
  return withContext(pool, ctx, async (client) => {
    observeSchemaVersion(project.ref, version);
    const cache = await cachedSchema(project.ref, version, settings.schemas, () => loadSchemaCache(client, settings.schemas, version));
    return fn(client, cache);
  }, {
    readOnly: req.readOnly,
    rollback,
    alsoQuery: SCHEMA_VERSION_SQL,
    onContext: (row) => { version = String(row.schema_version); },
  });
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

async function run(client: pg.ClientBase, cache: SchemaCache, req: ApiRequest, settings: RestSettings): Promise<Result> {
  const single = req.accept === 'object' || req.accept === 'object-stripped';
  const stripNulls = req.accept === 'stripped' || req.accept === 'object-stripped';
  const result: Result = { status: 200, body: '', pageTotal: 0, total: null, offset: 0, headers: {}, singleObject: single };
  let row: MainRow;
  if (req.action === 'read' || req.action === 'head') {
    const table = findTable(cache, req.schema, req.target);
    const root = planRead(cache, req, table);
    const range = pageRange(req, settings);
    let exact = req.prefer.count === 'exact';
    if (req.prefer.count === 'planned' || req.prefer.count === 'estimated') {
      const planned = await plannedCount(client, root);
      if (req.prefer.count === 'estimated' && (settings.maxRows === null || planned <= settings.maxRows)) exact = true;
      else result.total = planned;
    }
    const q = readSql(root, range, { count: exact, stripNulls });
    row = (await client.query<MainRow>(q.text, q.params)).rows[0];
    result.offset = range.offset;
  } else if (req.action === 'rpc') {
    const rpc = planRpc(cache, req);
    const f = rpc.func;
    let root: ReadNode | undefined;
    if (!f.returnsVoid && f.isComposite) {
      const table = rpcColumnsTable(f, rpc.returnTable);
      root = planRead(cache, req, table);
    }
    if (req.prefer.maxAffected !== undefined && req.prefer.handling === 'strict' && !f.returnsSet) throw restErrors.maxAffectedRpc();
    const range = f.returnsSet ? pageRange(req, settings, false) : { offset: 0 };
    const q = rpcSql(rpc, root, range, { count: req.prefer.count === 'exact' && f.returnsSet, stripNulls, single: !f.returnsSet });
    row = (await client.query<MainRow>(q.text, q.params)).rows[0];
    result.offset = range.offset;
    if (f.returnsVoid) result.status = 204;
    if (!f.returnsSet && !single) result.singleObject = false;
    if (!f.returnsSet) (result as { scalar?: boolean }).scalar = true;
  } else {
    const table = findTable(cache, req.schema, req.target);
    const mutation = planMutation(cache, req, table);
    const root = planRead(cache, req, table);
    const representation = req.prefer.return === 'representation';
    const q = writeSql(mutation, root, { representation, returnPk: req.prefer.return === 'headers-only', count: false, stripNulls, single: false });
    row = (await client.query<MainRow>(q.text, q.params)).rows[0];
    if (req.prefer.return === 'headers-only' && row.body) {
      const first = (JSON.parse(row.body) as Record<string, unknown>[])[0];
      if (first && table.pk.length) {
        result.location = `/${req.target}?` + table.pk.map((c) => `${encodeURIComponent(c)}=eq.${encodeURIComponent(String(first[c]))}`).join('&');
      }
      row.body = '';
    }
    result.status = req.action === 'insert' ? 201 : representation ? 200 : 204;
    if (!representation) row.body = '';
  }
  result.pageTotal = Number(row.page_total);
  if (row.total_result_set !== null) result.total = Number(row.total_result_set);
  result.body = row.body;
  if (req.prefer.maxAffected !== undefined && req.prefer.handling === 'strict' && req.action !== 'read' && req.action !== 'head'
      && result.pageTotal > req.prefer.maxAffected) {
    throw restErrors.maxAffected(result.pageTotal);
  }
  if (single && !(result as { scalar?: boolean }).scalar && result.pageTotal !== 1 && (result.body !== '' || req.action === 'read' || req.action === 'head' || req.action === 'rpc')) {
    throw restErrors.singular(result.pageTotal);
  }
  if (row.response_headers) result.headers = gucHeaders(row.response_headers);
  if (row.response_status) {
    const s = Number(row.response_status);
    if (!Number.isInteger(s) || s < 100 || s > 599) throw restErrors.gucStatus();
    result.status = s;
  }
  return result;
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
