// Stage 3: a plan becomes one SQL statement (text + $n parameters). Rows, page count, optional total count and
// the response GUCs come back in one row, as PostgREST's main query does. Knows nothing of HTTP.
import pg from 'pg';
import type { Filter, LogicTree, Operation, OrderTerm } from './request.ts';
import type { MutationPlan, PlanItem, ReadNode, Relationship, RpcPlan } from './plan.ts';
import type { Func, Table } from './schema-cache.ts';
import { ident, qi, SqlBuilder, type CompiledSql } from './sql.ts';

// JSON path keys and column names inside select lists are written as escaped literals rather than
// parameters: a grouped select (aggregates) must repeat the exact same expression in GROUP BY.
const lit = (s: string) => pg.escapeLiteral(s);

export interface ReadOptions {
  /** exact → a count(*) of the filtered set in the same statement. */
  count: boolean;
  /** nulls=stripped output. */
  stripNulls: boolean;
  /** Singular output (function returning one composite or scalar). */
  single?: boolean;
  /** text/csv: the first row as JSON (for the header), a newline, then each row in record text format. */
  csv?: boolean;
  /** application/geo+json: a FeatureCollection of the rows (PostGIS). */
  geojson?: boolean;
}

const OPERATORS: Record<string, string> = {
  eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', like: 'like', ilike: 'ilike', match: '~', imatch: '~*',
  cs: '@>', cd: '<@', ov: '&&', sl: '<<', sr: '>>', nxr: '&<', nxl: '&>', adj: '-|-', isdistinct: 'is distinct from',
};
const FTS_FN: Record<string, string> = { fts: 'to_tsquery', plfts: 'plainto_tsquery', phfts: 'phraseto_tsquery', wfts: 'websearch_to_tsquery' };

function fieldSql(alias: string, name: string, json: { arrow: string; key: string }[], table?: Table): string {
  const computed = table?.computed?.[name];
  let s = computed && !table!.columns.some((c) => c.name === name) ? `${qi(computed.schema, computed.name)}(${alias})` : `${alias}.${ident(name)}`;
  for (const j of json) s += j.arrow + (/^-?\d+$/.test(j.key) ? j.key : lit(j.key));
  return s;
}

export function filterSql(b: SqlBuilder, alias: string, f: Filter, table: Table): string {
  const col = fieldSql(alias, f.field.name, f.field.json, table);
  const o: Operation = f.operation;
  let s: string;
  switch (o.op) {
    case 'is': {
      const v = String(o.value);
      s = `${col} is ${v === 'not_null' ? 'not null' : v}`;
      break;
    }
    case 'in':
      s = `${col} = any(${b.param(o.value)})`;
      break;
    case 'fts': case 'plfts': case 'phfts': case 'wfts': {
      const lang = o.lang ? `${b.param(o.lang)}::regconfig, ` : '';
      const isVector = f.field.json.length === 0 && table.columns.find((c) => c.name === f.field.name)?.type === 'tsvector';
      const target = isVector ? col : `to_tsvector(${lang}${col})`;
      s = `${target} @@ ${FTS_FN[o.op]}(${lang}${b.param(o.value)})`;
      break;
    }
    default: {
      let v = String(o.value);
      if (o.op === 'like' || o.op === 'ilike') v = v.replace(/\*/g, '%');
      s = o.quant ? `${col} ${OPERATORS[o.op]} ${o.quant}(${b.param(v)})` : `${col} ${OPERATORS[o.op]} ${b.param(v)}`;
    }
  }
  return o.negated ? `not ${s}` : s;
}

/** A logic tree; its leaves that name an embed (`embed.not.is.null`) test that embed's lateral join. */
export function treeSql(b: SqlBuilder, alias: string, t: LogicTree, table: Table, embeds?: Map<Filter, ReadNode>): string {
  const leaf = (f: Filter) => {
    const embed = embeds?.get(f);
    if (!embed) return filterSql(b, alias, f, table);
    return `${presence(embed)} is ${(f.operation.value === 'null') !== f.operation.negated ? '' : 'not '}null`;
  };
  const parts = t.children.map((c) => (c.kind === 'filter' ? leaf(c.filter) : treeSql(b, alias, c, table, embeds)));
  const s = `(${parts.join(t.kind === 'and' ? ' and ' : ' or ')})`;
  return t.negated ? `not ${s}` : s;
}

const childAlias = (n: ReadNode) => ident(`${n.table.name}_${n.id}`);
const lateralAlias = (n: ReadNode) => ident(`pgrst_${n.id}`);
/** The value of an embed's lateral join that is null when the embed found no row. A spread has no body of its
 *  own, so its lateral carries a marker column. */
const presence = (n: ReadNode) => `${lateralAlias(n)}.${n.spread ? '"pgrst_n"' : '"body"'}`;

/** The condition joining an embedded node (aliased `child`) to its parent (aliased `parent`). */
function joinCondition(rel: Relationship, child: string, parent: string, n: ReadNode): string[] {
  if (rel.junction) {
    const j = rel.junction;
    const ja = ident(`${j.table.name}_j${n.id}`);
    const conds = [
      ...j.parentPairs.map(([p, jc]) => `${ja}.${ident(jc)} = ${parent}.${ident(p)}`),
      ...j.childPairs.map(([jc, c]) => `${ja}.${ident(jc)} = ${child}.${ident(c)}`),
    ];
    return [`exists (select 1 from ${qi(j.table.schema, j.table.name)} as ${ja} where ${conds.join(' and ')})`];
  }
  return rel.pairs.map(([p, c]) => `${child}.${ident(c)} = ${parent}.${ident(p)}`);
}

function fromSql(n: ReadNode, alias: string, parent?: string): string {
  if (n.rel?.func && parent) return `${qi(n.rel.func.schema, n.rel.func.name)}(${parent}) as ${alias}`;
  return `${qi(n.table.schema, n.table.name)} as ${alias}`;
}

/**
 * A column a spread lifts into its parent: `col` names it in the spread's lateral, `alias` in the output. Aggregates
 * inside a to-one spread are hoisted (PostgREST does the same): the spread passes the raw values up and the
 * nearest node that is not a to-one spread applies `agg`, grouped with its other columns. `source` is the table
 * column a plain entry shows (for ordering by it).
 */
interface Lifted { col: string; alias: string; agg?: string; aggCast?: string; source?: string }

/** Whether a node passes its aggregates up to the node it is spread into. */
const hoists = (n: ReadNode) => n.spread && !!n.rel?.toOne;
/** The lateral column carrying the raw value of a hoisted aggregate (unique in the whole tree). */
const hoistCol = (n: ReadNode, index: number) => `pgrst_h${n.id}_${index}`;

function lifted(n: ReadNode): Lifted[] {
  const out: Lifted[] = [];
  n.items.forEach((i, index) => {
    if (i.kind === 'embed') {
      if (i.node.spread) out.push(...lifted(i.node));
      else if (i.node.items.length) out.push({ col: i.node.name, alias: i.node.name });
    } else if (i.kind === 'count' && hoists(n)) out.push({ col: hoistCol(n, index), alias: i.alias, agg: 'count', aggCast: i.cast });
    else if (i.kind === 'column' && i.aggregate && hoists(n)) out.push({ col: hoistCol(n, index), alias: i.alias, agg: i.aggregate, aggCast: i.aggCast });
    else out.push({ col: i.alias, alias: i.alias, source: i.kind === 'column' && !i.json.length ? i.name : undefined });
  });
  return out;
}

/** Whether a node groups its rows: its own aggregates, or aggregates hoisted from its to-one spreads. */
function grouped(n: ReadNode): boolean {
  if (hoists(n)) return false;
  return n.hasAggregates || n.items.some((i) => i.kind === 'embed' && i.node.spread && lifted(i.node).some((l) => l.agg));
}

/** The select list entries of one item; `group` also gets the expressions a grouped node groups by. */
function itemSql(n: ReadNode, alias: string, i: PlanItem, index: number, group?: string[]): string[] {
  switch (i.kind) {
    case 'count':
      // Hoisted into the parent: a marker that is null when the spread found no row, counted there.
      if (hoists(n)) return [`1 as ${ident(hoistCol(n, index))}`];
      return [`${i.cast ? `count(*)::${i.cast}` : 'count(*)'} as ${ident(i.alias)}`];
    case 'column': {
      let e = fieldSql(alias, i.name, i.json, n.table);
      if (i.cast) e = `(${e})::${i.cast}`;
      if (i.aggregate && hoists(n)) return [`${e} as ${ident(hoistCol(n, index))}`];
      if (i.aggregate) {
        e = `${i.aggregate}(${e})`;
        if (i.aggCast) e = `(${e})::${i.aggCast}`;
      } else group?.push(e);
      return [`${e} as ${ident(i.alias)}`];
    }
    case 'embed': {
      const la = lateralAlias(i.node);
      if (i.node.spread) {
        return lifted(i.node).map((l) => {
          const e = `${la}.${ident(l.col)}`;
          // A spread that hoists passes raw values on; the node applying the aggregates groups by the rest.
          if (hoists(n)) return `${e} as ${ident(l.col)}`;
          if (!l.agg) { group?.push(e); return `${e} as ${ident(l.alias)}`; }
          const agg = `${l.agg}(${e})`;
          return `${l.aggCast ? `(${agg})::${l.aggCast}` : agg} as ${ident(l.alias)}`;
        });
      }
      // An empty embed (`clients()`) only filters (`clients=not.is.null`): it is not part of the output.
      if (!i.node.items.length) return [];
      let body = i.node.rel!.toOne ? `${la}."body"` : `coalesce(${la}."body", '[]')`;
      // An embed is a grouping key of a grouped node; json has no equality, jsonb has.
      if (group) { body = `(${body})::jsonb`; group.push(body); }
      return [`${body} as ${ident(i.node.name)}`];
    }
  }
}

function orderSql(n: ReadNode, alias: string, t: OrderTerm): string {
  let e: string;
  const target = n.relOrder.get(t);
  // A grouped node orders by a spread column through the spread's lateral (a grouping key), as PostgREST does.
  const viaLateral = target && grouped(n) && target.spread && !t.field.json.length
    ? lifted(target).find((l) => !l.agg && l.source === t.field.name) : undefined;
  if (target && viaLateral) e = `${lateralAlias(target)}.${ident(viaLateral.col)}`;
  else if (target) {
    const x = ident(`${target.table.name}_o${target.id}`);
    const conds = target.rel!.func ? [] : joinCondition(target.rel!, x, alias, target);
    e = `(select ${fieldSql(x, t.field.name, t.field.json, target.table)} from ${fromSql(target, x, alias)}${conds.length ? ` where ${conds.join(' and ')}` : ''} limit 1)`;
  } else e = fieldSql(alias, t.field.name, t.field.json, n.table);
  return `${e}${t.dir ? ` ${t.dir}` : ''}${t.nulls ? ` nulls ${t.nulls}` : ''}`;
}

export interface SelectParts { limit?: number; offset?: number; countOnly?: boolean }

/**
 * SELECT for one node: its columns, a LATERAL join per embed, the join to its parent, filters, logic trees,
 * grouping when aggregates are used, order, limit and offset.
 */
export function nodeSql(b: SqlBuilder, n: ReadNode, alias: string, from: string, parent?: string, parts: SelectParts = {}): string {
  const where: string[] = [];
  const joins: string[] = [];
  if (n.rel && parent && !n.rel.func) where.push(...joinCondition(n.rel, alias, parent, n));
  for (const i of n.items) {
    if (i.kind !== 'embed') continue;
    const c = i.node;
    const wanted = !parts.countOnly || c.join === 'inner' || c.nullFilter || c.inTree;
    if (!wanted) continue;
    const ca = childAlias(c);
    const inner = nodeSql(b, c, ca, fromSql(c, ca, alias), alias, { limit: c.limit, offset: c.offset });
    const la = lateralAlias(c);
    let sub: string;
    if (c.spread && c.rel!.toOne) sub = `select "pgrst_s".*, 1 as "pgrst_n" from (${inner}) as "pgrst_s"`;
    else if (c.spread) {
      // To-many spread: each lifted column becomes an array, in the embed's order; no rows → empty arrays.
      const cols = lifted(c).map((l) => `coalesce(json_agg("pgrst_s".${ident(l.col)}), '[]') as ${ident(l.col)}`);
      sub = `select ${[...cols, 'case when count(*) > 0 then 1 end as "pgrst_n"'].join(', ')} from (${inner}) as "pgrst_s"`;
    } else if (c.rel!.toOne) sub = `select row_to_json("pgrst_t") as "body" from (${inner}) as "pgrst_t"`;
    else sub = `select json_agg("pgrst_t") as "body" from (${inner}) as "pgrst_t"`;
    joins.push(`${c.spread && c.rel!.toOne && c.join === 'inner' ? 'inner' : 'left'} join lateral (${sub}) as ${la} on true`);
    if (c.join === 'inner' || c.nullFilter === 'not_null') where.push(`${presence(c)} is not null`);
    else if (c.nullFilter === 'null') where.push(`${presence(c)} is null`);
  }
  for (const f of n.filters) where.push(filterSql(b, alias, f, n.table));
  for (const t of n.trees) where.push(treeSql(b, alias, t, n.table, n.treeEmbeds));
  const group = grouped(n) ? [] as string[] : undefined;
  const cols = parts.countOnly ? ['1'] : n.items.flatMap((i, index) => itemSql(n, alias, i, index, group));
  let sql = `select ${cols.length ? cols.join(', ') : ''} from ${from}`;
  if (joins.length) sql += ' ' + joins.join(' ');
  if (where.length) sql += ` where ${where.join(' and ')}`;
  if (parts.countOnly) return sql;
  if (group?.length) sql += ` group by ${group.join(', ')}`;
  if (n.order.length) sql += ` order by ${n.order.map((t) => orderSql(n, alias, t)).join(', ')}`;
  if (parts.limit !== undefined) sql += ` limit ${b.param(parts.limit)}`;
  if (parts.offset) sql += ` offset ${b.param(parts.offset)}`;
  return sql;
}

// The response GUCs, and the project's schema version read in the same statement (the hot path's only way to
// learn whether the schema cache it planned with is current).
const GUCS = `nullif(current_setting('response.headers', true), '') as response_headers, ` +
  `nullif(current_setting('response.status', true), '') as response_status, ` +
  `(select version::text from _loam.schema_state) as schema_version`;

function bodySql(opts: ReadOptions): string {
  // Resolved through the search path (extensions is on it), as PostgREST calls it.
  if (opts.geojson) return `json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(ST_AsGeoJSON("pgrst_t")::json), '[]'))::text`;
  if (opts.csv) {
    return `coalesce((array_agg(row_to_json("pgrst_t")))[1]::text, '') || E'\\n' || ` +
      `coalesce(string_agg(substring("pgrst_t"::text, 2, length("pgrst_t"::text) - 2), E'\\n'), '')`;
  }
  const row = opts.stripNulls ? 'json_strip_nulls(row_to_json("pgrst_t"))' : '"pgrst_t"';
  if (opts.single) return `coalesce((json_agg(${row})->0)::text, 'null')`;
  return `coalesce(json_agg(${row}), '[]')::text`;
}

/** GET/HEAD on a table or view. */
export function readSql(root: ReadNode, range: { limit?: number; offset?: number }, opts: ReadOptions): CompiledSql {
  const b = new SqlBuilder();
  const alias = ident(root.table.name);
  const from = `${qi(root.table.schema, root.table.name)} as ${alias}`;
  const main = nodeSql(b, root, alias, from, undefined, range);
  const total = opts.count ? `(select count(*) from (${nodeSql(b, root, alias, from, undefined, { countOnly: true })}) as "pgrst_c")` : 'null::bigint';
  const text = `select ${total} as total_result_set, count("pgrst_t") as page_total, ${bodySql(opts)} as body, ${GUCS} from (${main}) as "pgrst_t"`;
  return { text, params: b.params };
}

/** The query PostgREST explains for count=planned: the filtered set, without paging. */
export function countPlanSql(root: ReadNode): CompiledSql {
  const b = new SqlBuilder();
  const alias = ident(root.table.name);
  const text = nodeSql(b, root, alias, `${qi(root.table.schema, root.table.name)} as ${alias}`, undefined, { countOnly: true });
  return { text, params: b.params };
}

// ---- writes -----------------------------------------------------------------------------------------

export interface WriteOptions extends ReadOptions { representation: boolean; returnPk: boolean }

const INSERTED = `nullif(current_setting('pgrst.inserted', true), '')::int`;
const insertedCounter = (op: '+' | '-') => `set_config('pgrst.inserted', (coalesce(${INSERTED}, 0) ${op} 1)::text, true)`;

function mutationStatement(b: SqlBuilder, m: MutationPlan, root: ReadNode, returning: string): string {
  const t = m.table;
  const target = qi(t.schema, t.name);
  const alias = ident(t.name);
  const cols = m.columns.map((c) => ident(c.name));
  switch (m.kind) {
    case 'insert': case 'upsert': {
      if (m.rows.length === 0 && !m.columns.length) return `select ${alias}.* from ${target} as ${alias} where false`;
      if (!m.columns.length) {
        if (m.rows.length > 1) return `insert into ${target} as ${alias} select * from ${target} where false returning ${returning}`;
        return `insert into ${target} as ${alias} default values returning ${returning}`;
      }
      let source: string;
      if (m.missingDefault) {
        const exprs = m.columns.map((c) => `case when "pgrst_el" ? ${b.param(c.name)} then "pgrst_rec".${ident(c.name)} else ${c.default ?? 'null'} end`);
        source = `select ${exprs.join(', ')} from jsonb_array_elements(${b.param(JSON.stringify(m.rows))}::jsonb) as "pgrst_el", ` +
          `lateral jsonb_populate_record(null::${target}, "pgrst_el") as "pgrst_rec"`;
      } else {
        source = `select ${cols.map((c) => `"pgrst_body".${c}`).join(', ')} from json_populate_recordset(null::${target}, ${b.param(JSON.stringify(m.rows))}::json) as "pgrst_body"`;
      }
      const merge = !!m.onConflict?.length && m.resolution === 'merge-duplicates';
      // An upsert counts its rows in a transaction-local setting: +1 for each source row, -1 for each one that
      // updates instead; what is left is the number inserted (200 rather than 201 when nothing was).
      if (merge) source = `select * from (${source}) as "pgrst_src" where ${insertedCounter('+')} <> '0'`;
      let sql = `insert into ${target} as ${alias} (${cols.join(', ')}) ${source}`;
      if (m.onConflict?.length) {
        const conflict = `(${m.onConflict.map(ident).join(', ')})`;
        if (m.resolution === 'ignore-duplicates') sql += ` on conflict ${conflict} do nothing`;
        else if (merge) sql += ` on conflict ${conflict} do update set ${cols.map((c) => `${c} = excluded.${c}`).join(', ')} where ${insertedCounter('-')} <> '-1'`;
      }
      return `${sql} returning ${returning}`;
    }
    case 'update': {
      // Before the filters: they add parameters, which a statement that does not use them must not be sent.
      if (!m.columns.length) return `select ${alias}.* from ${target} as ${alias} where false`;
      const where = mutationWhere(b, root, alias, t);
      const w = where.length ? ` where ${where.join(' and ')}` : '';
      return `update ${target} as ${alias} set ${cols.map((c) => `${c} = "pgrst_body".${c}`).join(', ')} ` +
        `from (select * from json_populate_record(null::${target}, ${b.param(JSON.stringify(m.rows[0]))}::json)) as "pgrst_body"${w} returning ${returning}`;
    }
    case 'delete': {
      const where = mutationWhere(b, root, alias, t);
      return `delete from ${target} as ${alias}${where.length ? ` where ${where.join(' and ')}` : ''} returning ${returning}`;
    }
  }
}

/** The WHERE of PATCH / DELETE. With limit/offset (a limited update or delete) the rows are picked by ctid
 *  in a subquery that applies the filters, the order and the range. */
function mutationWhere(b: SqlBuilder, root: ReadNode, alias: string, t: Table): string[] {
  if (root.limit === undefined && root.offset === undefined) {
    return [...root.filters.map((f) => filterSql(b, alias, f, t)), ...root.trees.map((x) => treeSql(b, alias, x, t))];
  }
  const x = ident(`${t.name}_limited`);
  const inner = [...root.filters.map((f) => filterSql(b, x, f, t)), ...root.trees.map((tr) => treeSql(b, x, tr, t))];
  let sub = `select ${x}.ctid from ${qi(t.schema, t.name)} as ${x}${inner.length ? ` where ${inner.join(' and ')}` : ''}`;
  if (root.order.length) sub += ` order by ${root.order.map((o) => orderSql(root, x, o)).join(', ')}`;
  if (root.limit !== undefined) sub += ` limit ${b.param(root.limit)}`;
  if (root.offset) sub += ` offset ${b.param(root.offset)}`;
  return [`${alias}.ctid = any(array(${sub}))`];
}

/** INSERT / UPSERT / UPDATE / DELETE in a CTE; the outer select renders the returned rows with `select=`. */
export function writeSql(m: MutationPlan, root: ReadNode, opts: WriteOptions): CompiledSql {
  const b = new SqlBuilder();
  const alias = ident(m.table.name);
  const returning = opts.representation || opts.returnPk ? `${alias}.*` : '1';
  const cte = mutationStatement(b, m, root, returning);
  let body = `''`;
  let from = `"pgrst_source"`;
  if (opts.representation) {
    const read: ReadNode = { ...root, filters: [], trees: [], order: root.order };
    from = `(${nodeSql(b, read, alias, `"pgrst_source" as ${alias}`)}) as "pgrst_t"`;
    body = bodySql(opts);
  } else if (opts.returnPk && m.table.pk.length) {
    const pk = m.table.pk.map((c) => `${ident(c)}`).join(', ');
    from = `(select ${pk} from "pgrst_source") as "pgrst_t"`;
    body = `coalesce(json_agg("pgrst_t"), '[]')::text`;
  }
  const inserted = m.resolution === 'merge-duplicates' && m.onConflict?.length ? INSERTED : 'null::int';
  const text = `with "pgrst_source" as (${cte}) select null::bigint as total_result_set, count(*) as page_total, ${body} as body, ${GUCS}, ${inserted} as response_inserted from ${from}`;
  return { text, params: b.params };
}

// ---- functions --------------------------------------------------------------------------------------

export function rpcColumnsTable(f: Func, cache?: Table): Table {
  if (cache) return cache;
  const outs = f.params.filter((p) => p.mode === 'o' || p.mode === 't' || p.mode === 'b');
  return {
    schema: f.schema, name: f.name, kind: 'f', comment: null, pk: [], uniques: [], insertable: false,
    columns: outs.map((p) => ({ name: p.name, type: p.type, nullable: true, default: null, generated: false })),
  };
}

/** The function call as a FROM item: arguments are read from one JSON parameter with json_to_record. */
function callSql(b: SqlBuilder, r: RpcPlan, alias: string): string {
  const f = r.func;
  const fn = qi(f.schema, f.name);
  const ins = f.params.filter((p) => p.mode === 'i' || p.mode === 'b' || p.mode === 'v');
  if (r.single) {
    const t = ins[0].type;
    const v = r.single.value;
    const param = b.param(t === 'json' || t === 'jsonb' ? JSON.stringify(v) : v);
    return `${fn}(${param}::${t}) as ${alias}`;
  }
  const given = ins.filter((p) => p.name in r.args);
  if (!given.length) return `${fn}() as ${alias}`;
  const args: Record<string, unknown> = {};
  for (const p of given) {
    const v = r.args[p.name];
    args[p.name] = p.mode === 'v' && !Array.isArray(v) ? [v] : v;
  }
  const record = given.map((p) => `${ident(p.name)} ${p.type}`).join(', ');
  const call = given.map((p) => `${p.mode === 'v' ? 'variadic ' : ''}${ident(p.name)} := "pgrst_args".${ident(p.name)}`).join(', ');
  return `json_to_record(${b.param(JSON.stringify(args))}::json) as "pgrst_args"(${record}), lateral ${fn}(${call}) as ${alias}`;
}

export function rpcSql(r: RpcPlan, root: ReadNode | undefined, range: { limit?: number; offset?: number }, opts: ReadOptions): CompiledSql {
  const b = new SqlBuilder();
  const f = r.func;
  if (f.returnsVoid) {
    const text = `select null::bigint as total_result_set, count(*) as page_total, '' as body, ${GUCS} from (select from ${callSql(b, r, '"pgrst_call"')}) as "pgrst_t"`;
    return { text, params: b.params };
  }
  if (!root) {
    // A scalar (or set of scalars): the value itself is the body.
    const value = ident(f.name);
    const agg = f.returnsSet ? `coalesce(json_agg(${value}), '[]')::text` : `coalesce((json_agg(${value})->0)::text, 'null')`;
    const text = `select null::bigint as total_result_set, count(*) as page_total, ${agg} as body, ${GUCS} from ${callSql(b, r, value)}`;
    return { text, params: b.params };
  }
  const alias = ident(f.name);
  const source = `(select "pgrst_call".* from ${callSql(b, r, '"pgrst_call"')}) as ${alias}`;
  const main = nodeSql(b, root, alias, source, undefined, range);
  const total = opts.count ? `(select count(*) from (${nodeSql(b, root, alias, source, undefined, { countOnly: true })}) as "pgrst_c")` : 'null::bigint';
  const text = `select ${total} as total_result_set, count("pgrst_t") as page_total, ${bodySql(opts)} as body, ${GUCS} from (${main}) as "pgrst_t"`;
  return { text, params: b.params };
}
