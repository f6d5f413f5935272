// Stage 2: an ApiRequest is planned against the project's schema cache — the target table or function is
// found, embeds become relationships (m2o, o2m, o2o, m2m, computed), payload columns are checked. A plan holds
// references into the schema cache and request values, never SQL text.
import { restErrors } from './errors.ts';
import type { ApiRequest, Filter, LogicTree, OrderTerm, Scope, SelectItem } from './request.ts';
import { key, type Column, type ForeignKey, type Func, type SchemaCache, type Table } from './schema-cache.ts';

export type Cardinality = 'many-to-one' | 'one-to-many' | 'one-to-one' | 'many-to-many' | 'computed';
export interface Relationship {
  cardinality: Cardinality;
  /** pairs of (parent column, child column) for m2o/o2m/o2o; for m2m parent↔junction and junction↔child. */
  pairs: [string, string][];
  fk?: ForeignKey;
  junction?: { table: Table; fkParent: ForeignKey; fkChild: ForeignKey; parentPairs: [string, string][]; childPairs: [string, string][] };
  func?: Func;
  toOne: boolean;
}

export type PlanItem =
  | { kind: 'column'; name: string; json: { arrow: '->' | '->>'; key: string }[]; alias: string; cast?: string; aggregate?: string; aggCast?: string }
  | { kind: 'count'; alias: string; cast?: string }
  | { kind: 'embed'; node: ReadNode };

export interface ReadNode {
  table: Table;
  /** Key in the JSON output (the alias or the relation name). */
  name: string;
  /** Index used for SQL aliases; 0 is the root. */
  id: number;
  items: PlanItem[];
  filters: Filter[];
  trees: LogicTree[];
  order: OrderTerm[];
  /** Related orders resolved to their to-one embeds. */
  relOrder: Map<OrderTerm, ReadNode>;
  limit?: number;
  offset?: number;
  rel?: Relationship;
  join: 'inner' | 'left';
  spread: boolean;
  /** `embed=is.null` / `embed=not.is.null` filters from the parent scope. */
  nullFilter?: 'null' | 'not_null';
  /** Filters inside this node's logic trees that name one of its embeds (`or=(embed.not.is.null,…)`). */
  treeEmbeds: Map<Filter, ReadNode>;
  /** Named by a logic tree of the parent: its join is needed even when only counting. */
  inTree?: boolean;
  /** Aggregates in the select list: the other columns become GROUP BY keys. */
  hasAggregates: boolean;
}

export interface MutationPlan {
  kind: 'insert' | 'update' | 'delete' | 'upsert';
  table: Table;
  columns: Column[];
  /** The payload as an array of objects (insert/upsert) or one object (update). */
  rows: Record<string, unknown>[];
  onConflict?: string[];
  resolution?: 'merge-duplicates' | 'ignore-duplicates';
  missingDefault: boolean;
}

export interface RpcPlan {
  func: Func;
  /** Argument values by parameter name; for a single unnamed parameter, `single` is set. */
  args: Record<string, unknown>;
  single?: { value: unknown };
  returnTable?: Table;
}

export interface Plan {
  request: ApiRequest;
  read: ReadNode;
  mutation?: MutationPlan;
  rpc?: RpcPlan;
}

// ---- helpers ----------------------------------------------------------------------------------------

function similarity(a: string, b: string): number {
  const m = a.length, n = b.length;
  if (!m || !n) return 0;
  const d = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array(n).fill(0)]);
  for (let j = 1; j <= n; j++) d[0][j] = j;
  for (let i = 1; i <= m; i++) for (let j = 1; j <= n; j++) {
    d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return 1 - d[m][n] / Math.max(m, n);
}

function closest(name: string, candidates: Iterable<string>, min: number): string | undefined {
  let best: string | undefined;
  let score = min;
  for (const c of candidates) {
    const s = similarity(name, c);
    if (s >= score) { best = c; score = s; }
  }
  return best;
}

export function findTable(cache: SchemaCache, schema: string, name: string): Table {
  const t = cache.tables.get(key(schema, name));
  if (t) return t;
  const names = [...cache.tables.values()].filter((x) => x.schema === schema).map((x) => x.name);
  const guess = closest(name, names, 0.75);
  throw restErrors.noTable(schema, name, guess ? `Perhaps you meant the table '${schema}.${guess}'` : null);
}

const sameCols = (a: string[], b: string[]) => a.length === b.length && a.every((c) => b.includes(c));

interface Candidate { child: Table; rel: Relationship; label: string; self: boolean }

/** Every relationship leaving `parent`: both directions of each foreign key, junctions, computed ones. */
function allRelationships(cache: SchemaCache, parent: Table): Candidate[] {
  const out: Candidate[] = [];
  for (const fk of cache.fks) {
    const fromParent = fk.schema === parent.schema && fk.table === parent.name;
    const toParent = fk.fschema === parent.schema && fk.ftable === parent.name;
    const self = fromParent && toParent;
    if (fromParent) {
      const child = cache.tables.get(key(fk.fschema, fk.ftable));
      if (child) {
        const o2o = fk.unique;
        out.push({ child, self, label: fk.name, rel: { cardinality: o2o ? 'one-to-one' : 'many-to-one', fk, toOne: true, pairs: fk.columns.map((c, i) => [c, fk.fcolumns[i]]) } });
      }
    }
    if (toParent) {
      const child = cache.tables.get(key(fk.schema, fk.table));
      if (child) {
        const o2o = !self && fk.unique;
        out.push({ child, self, label: fk.name, rel: { cardinality: o2o ? 'one-to-one' : 'one-to-many', fk, toOne: o2o, pairs: fk.fcolumns.map((c, i) => [c, fk.columns[i]]) } });
      }
    }
  }
  // many-to-many: a junction with a key to each side, both keys part of the junction's primary key
  for (const j of cache.tables.values()) {
    const toParent = cache.fks.filter((f) => f.schema === j.schema && f.table === j.name && f.fschema === parent.schema && f.ftable === parent.name);
    if (!toParent.length) continue;
    for (const b of cache.fks) {
      if (b.schema !== j.schema || b.table !== j.name) continue;
      const child = cache.tables.get(key(b.fschema, b.ftable));
      if (!child) continue;
      for (const a of toParent) {
        if (a === b || !a.columns.every((c) => j.pk.includes(c)) || !b.columns.every((c) => j.pk.includes(c))) continue;
        out.push({
          child, self: false, label: j.name, rel: {
            cardinality: 'many-to-many', pairs: [], toOne: false,
            junction: {
              table: j, fkParent: a, fkChild: b,
              parentPairs: a.fcolumns.map((c, i) => [c, a.columns[i]] as [string, string]),
              childPairs: b.columns.map((c, i) => [c, b.fcolumns[i]] as [string, string]),
            },
          },
        });
      }
    }
  }
  return out;
}

/** Computed relationships: a function `name(parent_row)` returning rows of a table. */
function computedRelationships(cache: SchemaCache, parent: Table, name: string): Candidate[] {
  const out: Candidate[] = [];
  for (const f of cache.funcs.get(key(parent.schema, name)) ?? []) {
    const inParams = f.params.filter((p) => p.mode === 'i' || p.mode === 'b');
    if (inParams.length !== 1 || !f.returnRelation) continue;
    const argType = inParams[0].type.replace(/"/g, '');
    if (argType !== parent.name && argType !== `${parent.schema}.${parent.name}`) continue;
    const target = cache.tables.get(key(f.returnRelation.schema, f.returnRelation.name));
    if (!target) continue;
    out.push({ child: target, self: false, label: f.name, rel: { cardinality: 'computed', pairs: [], func: f, toOne: !f.returnsSet || f.rows === 1 } });
  }
  return out;
}

/** PostgREST's matching of an embed target (and `!hint`) against the relationships of `parent`. */
function matching(cache: SchemaCache, parent: Table, target: string, hint: string | undefined): Candidate[] {
  const single = (c: Candidate, side: 0 | 1, name: string) => c.rel.pairs.length === 1 && c.rel.pairs[0][side] === name;
  const computed = computedRelationships(cache, parent, target);
  if (computed.length) return computed;
  return allRelationships(cache, parent).filter((c) => {
    const isView = c.child.kind === 'v' || c.child.kind === 'm';
    const o2m = c.rel.cardinality === 'one-to-many';
    const m2o = c.rel.cardinality === 'many-to-one';
    if (c.self) {
      if (!hint) return (target === c.child.name && o2m) || (m2o && single(c, 0, target));
      return target === c.child.name && o2m && single(c, 1, hint);
    }
    if (!hint) {
      return target === c.child.name || (!isView && !!c.rel.fk && c.rel.fk.name === target) || (!isView && single(c, 0, target));
    }
    return target === c.child.name && (c.rel.fk?.name === hint || single(c, 0, hint) || single(c, 1, hint) || c.rel.junction?.table.name === hint);
  });
}

function relationshipDetail(parent: Table, r: { child: Table; rel: Relationship }) {
  const fmt = (cols: string[]) => `(${cols.join(', ')})`;
  const rel = r.rel;
  if (rel.junction) {
    const j = rel.junction;
    return {
      cardinality: 'many-to-many', embedding: `${parent.name} with ${r.child.name}`,
      relationship: `${j.table.name} using ${j.fkParent.name}${fmt(j.fkParent.columns)} and ${j.fkChild.name}${fmt(j.fkChild.columns)}`,
    };
  }
  return {
    cardinality: rel.cardinality, embedding: `${parent.name} with ${r.child.name}`,
    relationship: `${rel.fk!.name} using ${parent.name}${fmt(rel.pairs.map((p) => p[0]))} and ${r.child.name}${fmt(rel.pairs.map((p) => p[1]))}`,
  };
}

function resolveEmbed(cache: SchemaCache, parent: Table, name: string, hint: string | undefined): { child: Table; rel: Relationship } {
  const found = matching(cache, parent, name, hint);
  if (found.length === 0) throw restErrors.noRelationship(parent.name, name, hint, parent.schema);
  if (found.length > 1) {
    const details = found.map((f) => relationshipDetail(parent, f));
    const hintText = found.map((f) => `'${f.child.name}!${f.rel.junction ? f.rel.junction.table.name : f.rel.fk!.name}'`).join(', ');
    throw restErrors.ambiguousRelationship(parent.name, name, details, hintText);
  }
  return found[0];
}

// ---- reads ------------------------------------------------------------------------------------------

function planNode(cache: SchemaCache, req: ApiRequest, table: Table, select: SelectItem[], path: string, name: string,
  ids: { next: number }): ReadNode {
  const scope: Scope = req.scopes.get(path) ?? { filters: [], trees: [], order: [] };
  const node: ReadNode = {
    table, name, id: ids.next++, items: [], filters: [], trees: scope.trees, order: scope.order, relOrder: new Map(),
    limit: scope.limit, offset: scope.offset, join: 'left', spread: false, hasAggregates: false, treeEmbeds: new Map(),
  };
  const embedNames = new Set<string>();
  const laterals = new Set<string>();
  for (const item of select) {
    switch (item.kind) {
      case 'star':
        node.items.push(...table.columns.map((c) => ({ kind: 'column' as const, name: c.name, json: [], alias: c.name })));
        break;
      case 'count':
        if (!req.aggregatesEnabled) throw restErrors.aggregatesOff();
        node.items.push({ kind: 'count', alias: item.alias ?? 'count', cast: item.cast });
        node.hasAggregates = true;
        break;
      case 'column': {
        if (item.aggregate && !req.aggregatesEnabled) throw restErrors.aggregatesOff();
        const last = item.field.json.at(-1);
        const alias = item.alias ?? (item.aggregate ? item.aggregate : last ? last.key : item.field.name);
        node.items.push({ kind: 'column', name: item.field.name, json: item.field.json, alias, cast: item.cast, aggregate: item.aggregate, aggCast: item.aggCast });
        if (item.aggregate) node.hasAggregates = true;
        break;
      }
      case 'embed': {
        const { child, rel } = resolveEmbed(cache, table, item.name, item.hint);
        const outName = item.alias ?? item.name;
        const childPath = path ? `${path}.${outName}` : outName;
        const sub = planNode(cache, req, child, item.select, childPath, outName, ids);
        sub.rel = rel;
        sub.join = item.join ?? 'left';
        sub.spread = item.spread;
        // A to-many spread lifts each selected column into its parent as an array (PostgREST 13); grouping
        // inside it has no meaning there.
        if (item.spread && !rel.toOne && aggregates(sub)) {
          throw restErrors.notImplemented('Aggregates are not implemented for one-to-many or many-to-many spreads.');
        }
        // PostgREST names each embed's subquery `<parent>_<alias or name>_<depth>`: the same name twice at one
        // level is Postgres' 42712 there, and the same error here.
        const lateral = `${table.name}_${outName}_${path ? path.split('.').length + 1 : 1}`;
        if (laterals.has(lateral)) throw restErrors.duplicateAlias(lateral);
        laterals.add(lateral);
        embedNames.add(outName);
        node.items.push({ kind: 'embed', node: sub });
      }
    }
  }
  // Filters in this scope that name an embedded resource (`rel=not.is.null`) act on the embed itself.
  const embedOf = (f: Filter): ReadNode | undefined => {
    if (f.field.json.length || !embedNames.has(f.field.name) || table.columns.some((c) => c.name === f.field.name)) return undefined;
    const o = f.operation;
    if (o.op !== 'is' || (o.value !== 'null' && o.value !== 'not_null')) throw restErrors.embedFilter(f.field.name);
    const embed = node.items.find((i) => i.kind === 'embed' && i.node.name === f.field.name);
    return embed?.kind === 'embed' ? embed.node : undefined;
  };
  for (const f of scope.filters) {
    const embed = embedOf(f);
    if (embed) embed.nullFilter = (f.operation.value === 'null') !== f.operation.negated ? 'null' : 'not_null';
    else node.filters.push(f);
  }
  // The same inside logic trees: `or=(actors.not.is.null,directors.not.is.null)` is an OR across embeds.
  const walkTree = (t: LogicTree) => {
    for (const c of t.children) {
      if (c.kind !== 'filter') { walkTree(c); continue; }
      const embed = embedOf(c.filter);
      if (embed) { embed.inTree = true; node.treeEmbeds.set(c.filter, embed); }
    }
  };
  scope.trees.forEach(walkTree);
  for (const t of scope.order) {
    if (!t.relation) continue;
    const embed = node.items.find((i) => i.kind === 'embed' && i.node.name === t.relation);
    if (!embed || embed.kind !== 'embed') throw restErrors.notEmbedded(t.relation);
    if (!embed.node.rel!.toOne) throw restErrors.relatedOrder(table.name, t.relation);
    node.relOrder.set(t, embed.node);
  }
  return node;
}

/** Whether a node (or a spread inside it, whose columns it carries) uses aggregates. */
function aggregates(n: ReadNode): boolean {
  return n.hasAggregates || n.items.some((i) => i.kind === 'embed' && i.node.spread && aggregates(i.node));
}

/** Filters, orders or limits naming an embed that is not in `select` are an error (PGRST108). */
function checkScopes(req: ApiRequest, root: ReadNode) {
  const known = new Set<string>(['']);
  const walk = (n: ReadNode, path: string) => {
    for (const i of n.items) if (i.kind === 'embed') {
      const p = path ? `${path}.${i.node.name}` : i.node.name;
      known.add(p);
      walk(i.node, p);
    }
  };
  walk(root, '');
  for (const path of req.scopes.keys()) if (!known.has(path)) throw restErrors.notEmbedded(path.split('.').at(-1)!);
}

export function planRead(cache: SchemaCache, req: ApiRequest, table: Table): ReadNode {
  const root = planNode(cache, req, table, req.select, '', table.name, { next: 0 });
  checkScopes(req, root);
  return root;
}

// ---- writes -----------------------------------------------------------------------------------------

function payloadRows(req: ApiRequest): Record<string, unknown>[] {
  const b = req.body;
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (b === undefined) return [];
  if (isObj(b)) return [b];
  if (Array.isArray(b) && b.every(isObj)) return b;
  throw restErrors.invalidBody('Empty or invalid json');
}

export function planMutation(cache: SchemaCache, req: ApiRequest, table: Table): MutationPlan {
  const kind = req.action as MutationPlan['kind'];
  const rows = kind === 'delete' ? [] : payloadRows(req);
  let names: string[];
  if (req.columns) names = req.columns;
  else if (rows.length) {
    names = Object.keys(rows[0]);
    if (kind !== 'update') {
      const sig = [...names].sort().join(',');
      for (const r of rows) if (Object.keys(r).sort().join(',') !== sig) throw restErrors.invalidBody('All object keys must match');
    }
  } else names = [];
  const columns = names.map((n) => table.columns.find((c) => c.name === n) ?? (() => { throw restErrors.noColumn(table.name, n); })());
  if (kind === 'update' && rows.length > 1) throw restErrors.invalidBody('Empty or invalid json');
  const plan: MutationPlan = { kind, table, columns, rows, missingDefault: req.prefer.missing === 'default' };
  // A table without a primary key and no on_conflict: PostgREST ignores the resolution (and does not list it
  // in Preference-Applied).
  if (kind === 'insert' && req.prefer.resolution && !req.onConflict && !table.pk.length) req.prefer.resolution = undefined;
  if (kind === 'insert' && req.prefer.resolution) {
    plan.resolution = req.prefer.resolution;
    plan.onConflict = req.onConflict ?? table.pk;
  } else if (kind === 'insert' && req.onConflict) {
    plan.onConflict = req.onConflict;
  }
  if (kind === 'upsert') planPut(req, table, rows, plan);
  for (const c of plan.onConflict ?? []) if (!table.columns.some((x) => x.name === c)) throw restErrors.noColumn(table.name, c);
  return plan;
}

/** PUT: filters must be `eq` on exactly the primary key, the one payload row must carry the same values. */
function planPut(req: ApiRequest, table: Table, rows: Record<string, unknown>[], plan: MutationPlan) {
  const root = req.scopes.get('')!;
  if (root.limit !== undefined || root.offset !== undefined) throw restErrors.putLimit();
  const eqs = root.filters.filter((f) => f.operation.op === 'eq' && !f.operation.negated && !f.operation.quant && f.field.json.length === 0);
  const names = eqs.map((f) => f.field.name);
  if (!table.pk.length || eqs.length !== root.filters.length || !sameCols(names, table.pk)) throw restErrors.putFilters();
  if (rows.length !== 1) throw restErrors.invalidBody('Empty or invalid json');
  for (const f of eqs) {
    const v = rows[0][f.field.name];
    if (v === undefined || v === null || String(v) !== f.operation.value) throw restErrors.putPk();
  }
  plan.onConflict = table.pk;
  plan.resolution = 'merge-duplicates';
}

// ---- functions --------------------------------------------------------------------------------------

/** The type a POST body of this media type can feed into a function's single unnamed parameter. */
const RAW_PARAM_TYPES: Record<string, string[]> = {
  'application/json': ['json', 'jsonb'], '': ['json', 'jsonb'],
  'text/plain': ['text'], 'text/xml': ['xml'], 'application/octet-stream': ['bytea'],
};
const RAW_MEDIA: Record<string, string> = { 'text/plain': 'text', 'text/xml': 'xml', 'application/octet-stream': 'bytea' };

const inParams = (f: Func) => f.params.filter((p) => p.mode === 'i' || p.mode === 'b' || p.mode === 'v');

/** PostgREST's function lookup: the overloads whose parameters the argument names fit (every required one given,
 *  nothing unknown); when none does, a POST falls back to the overload with a single unnamed parameter of the
 *  body's media type. More than one candidate either way is ambiguous (300 PGRST203). */
export function planRpc(cache: SchemaCache, req: ApiRequest): RpcPlan {
  const all = (cache.funcs.get(key(req.schema, req.target)) ?? []).filter((f) => f.callable !== false);
  const body = req.body;
  const post = req.method === 'POST';
  let args: Record<string, unknown> = {};
  let raw: { value: unknown } | undefined;
  if (req.readOnly) {
    for (const [k, v] of req.rpcArgs) {
      if (k in args) args[k] = ([] as unknown[]).concat(args[k], v);
      else args[k] = v;
    }
  } else if (body && typeof body === 'object' && '__raw' in body) {
    raw = { value: (body as { __raw: unknown }).__raw };
  } else if (Array.isArray(body)) {
    // A CSV (or JSON array) body: its column names are the argument names, its first row the values.
    for (const row of body) if (row && typeof row === 'object') for (const k of Object.keys(row)) args[k] ??= undefined;
    if (body[0] && typeof body[0] === 'object') Object.assign(args, body[0]);
  } else if (body && typeof body === 'object') args = body as Record<string, unknown>;
  else if (body !== undefined) raw = { value: body };
  const keys = Object.keys(args);
  const rawMedia = post && !req.readOnly ? RAW_MEDIA[req.contentType] : undefined;
  const fits = (f: Func) => {
    const ps = inParams(f);
    if (!ps.length) return !keys.length && !rawMedia && !raw;
    if (raw || rawMedia) return false;
    return keys.every((k) => ps.some((p) => p.name === k)) && ps.every((p) => p.hasDefault || keys.includes(p.name));
  };
  const fallback = (f: Func) => {
    const ps = inParams(f);
    return post && !req.readOnly && ps.length === 1 && ps[0].name === '' && (RAW_PARAM_TYPES[req.contentType] ?? []).includes(ps[0].type);
  };
  const named = all.filter(fits);
  const candidates = named.length ? named : all.filter(fallback);
  if (candidates.length === 0) throw noFunction(cache, req, all, keys, rawMedia);
  if (candidates.length > 1) {
    throw restErrors.ambiguousFunction(candidates.map((f) =>
      `${f.schema}.${f.name}(${inParams(f).map((p) => `${p.name} => ${p.type}`).join(', ')})`).join(', '));
  }
  const func = candidates[0];
  const plan: RpcPlan = { func, args };
  const ps = inParams(func);
  if (!named.length) plan.single = raw ?? { value: body ?? {} };
  else if (ps.length === 1 && ps[0].name === '') plan.single = { value: args[''] };
  if (func.returnRelation) plan.returnTable = cache.tables.get(key(func.returnRelation.schema, func.returnRelation.name));
  return plan;
}

/** PGRST202 in PostgREST's words: what was searched for, and the closest function name or parameter set. */
function noFunction(cache: SchemaCache, req: ApiRequest, all: Func[], keys: string[], rawMedia: string | undefined) {
  const fn = `${req.schema}.${req.target}`;
  const listed = keys.length ? `(${keys.join(', ')})` : ' without parameters';
  const message = `Could not find the function ${fn}${rawMedia ? '' : listed} in the schema cache`;
  const searched = keys.length ? ` with parameter${keys.length > 1 ? 's' : ''} ${keys.join(', ')}` : ' without parameters';
  const json = req.method === 'POST' && !req.readOnly && RAW_PARAM_TYPES[req.contentType]?.[0] === 'json';
  const details = `Searched for the function ${fn}${rawMedia ? ` with a single unnamed ${rawMedia} parameter` : searched + (json ? ' or with a single unnamed json/jsonb parameter' : '')}, but no matches were found in the schema cache.`;
  let hint: string | null = null;
  if (!rawMedia) {
    if (!all.length) {
      const names = [...cache.funcs.values()].flat().filter((f) => f.schema === req.schema && f.callable !== false).map((f) => f.name);
      const g = closest(req.target, names, 0.75);
      if (g) hint = `Perhaps you meant to call the function ${req.schema}.${g}`;
    } else {
      const sets = all.map((f) => `(${inParams(f).map((p) => p.name).sort().join(', ')})`);
      const g = closest(`(${[...keys].sort().join(', ')})`, sets, 0.33);
      if (g) hint = `Perhaps you meant to call the function ${req.schema}.${req.target}${g}`;
    }
  }
  return restErrors.noFunction(message, details, hint);
}

export type { Column, Table, Func };
