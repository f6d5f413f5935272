// The per-project schema cache: tables/views with their columns and keys, foreign-key relationships and
// functions of the exposed schemas, read in one catalog query. It is keyed by the project's schema version
// (read in the request's first round trip), so DDL made any way is picked up by the next request.
import type pg from 'pg';
import { inferViewKeys, type RawPk, type RawRelation, type RawView } from './view-keys.ts';

export interface Column { name: string; type: string; nullable: boolean; default: string | null; generated: boolean }
export interface Table {
  schema: string; name: string; kind: string; comment: string | null;
  columns: Column[]; pk: string[]; uniques: string[][];
  insertable: boolean;
  /** Computed fields: functions `name(table_row)` returning one value, selectable and filterable as columns. */
  computed?: Record<string, { schema: string; name: string }>;
}
export interface ForeignKey {
  name: string; schema: string; table: string; columns: string[];
  fschema: string; ftable: string; fcolumns: string[];
  /** The referencing columns are unique on the referencing table (one-to-one); views keep their table's value. */
  unique: boolean;
}
export interface FuncParam { name: string; type: string; mode: string; hasDefault: boolean }
export interface Func {
  schema: string; name: string; params: FuncParam[]; variadic: boolean;
  returnsSet: boolean; returnType: string; returnTypeSchema: string;
  /** Set when the function returns rows of a table/view/composite type. */
  returnRelation: { schema: string; name: string } | null;
  isComposite: boolean; returnsVoid: boolean; volatility: 'i' | 's' | 'v'; comment: string | null;
  /** The planner's row estimate (`ROWS n`): a set-returning function declared `ROWS 1` embeds as to-one. */
  rows: number;
  /** Callable through /rpc: every input parameter named, or a single unnamed bytea/json/jsonb/text/xml one
   *  (PostgREST leaves other functions out of its routine cache). */
  callable: boolean;
}

/** PostgREST's in-database settings, as the project owner set them (absent: the project's own settings apply). */
export interface DbConfig {
  aggregates?: boolean;
  planEnabled?: boolean;
  txEnd?: 'commit' | 'commit-allow-override' | 'rollback' | 'rollback-allow-override';
  maxRows?: number | null;
  /** The pre-request function, quoted (`"schema"."name"`). */
  preRequest?: string;
}

export interface SchemaCache {
  version: string;
  config: DbConfig;
  schemas: string[];
  tables: Map<string, Table>;
  fks: ForeignKey[];
  funcs: Map<string, Func[]>;
}

export const key = (schema: string, name: string) => `${schema}.${name}`;

// One statement; everything comes back as one JSON value. Tables and functions are read from the exposed
// schemas; foreign keys, primary keys and views from every user schema, since a view in an exposed schema may
// show tables kept elsewhere (relationships to relations outside the exposed schemas are dropped in code).
const CATALOG_SQL = `
with rels as (
  select c.oid, n.nspname as schema, c.relname as name, c.relkind as kind, obj_description(c.oid, 'pg_class') as comment
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1::text[]) and c.relkind in ('r','v','m','f','p')
)
select json_build_object(
  'tables', (select coalesce(json_agg(json_build_object(
      'schema', r.schema, 'name', r.name, 'kind', r.kind, 'comment', r.comment,
      'insertable', r.kind in ('r','p','f') or pg_relation_is_updatable(r.oid::regclass, false) & 8 = 8,
      'columns', (select coalesce(json_agg(json_build_object(
            'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'nullable', not a.attnotnull,
            -- As PostgREST reads it: a BY DEFAULT identity defaults to its sequence, a domain to its own default.
            'default', case when a.attidentity = 'd' then format('nextval(%L)', pg_get_serial_sequence(format('%I.%I', r.schema, r.name), a.attname))
              when d.adbin is null and ty.typbasetype <> 0 then pg_get_expr(ty.typdefaultbin, 0)
              else pg_get_expr(d.adbin, d.adrelid) end, 'generated', a.attgenerated <> '' or a.attidentity = 'a')
            order by a.attnum), '[]')
          from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          join pg_type ty on ty.oid = a.atttypid
          where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped),
      'pk', (select coalesce(json_agg(a.attname order by k.i), '[]') from pg_constraint co
          cross join lateral unnest(co.conkey) with ordinality k(attnum, i)
          join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum
          where co.conrelid = r.oid and co.contype = 'p'),
      'uniques', (select coalesce(json_agg((select json_agg(a.attname) from unnest(co.conkey) k(attnum)
            join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum)), '[]')
          from pg_constraint co where co.conrelid = r.oid and co.contype in ('p','u'))
    )), '[]') from rels r),
  'fks', (select coalesce(json_agg(json_build_object(
      'name', co.conname, 'schema', n1.nspname, 'table', c1.relname,
      'columns', (select json_agg(a.attname order by k.i) from unnest(co.conkey) with ordinality k(attnum, i)
                  join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum),
      'fschema', n2.nspname, 'ftable', c2.relname,
      'fcolumns', (select json_agg(a.attname order by k.i) from unnest(co.confkey) with ordinality k(attnum, i)
                  join pg_attribute a on a.attrelid = co.confrelid and a.attnum = k.attnum),
      -- one-to-one when the referencing columns are the table's primary key or a unique key
      'unique', exists (select 1 from pg_constraint u where u.conrelid = co.conrelid and u.contype in ('p','u')
                          and u.conkey @> co.conkey and u.conkey <@ co.conkey))), '[]')
    from pg_constraint co
    join pg_class c1 on c1.oid = co.conrelid join pg_namespace n1 on n1.oid = c1.relnamespace
    join pg_class c2 on c2.oid = co.confrelid join pg_namespace n2 on n2.oid = c2.relnamespace
    where co.contype = 'f' and co.conparentid = 0 and n1.nspname not in ('pg_catalog', 'information_schema')),
  'funcs', (select coalesce(json_agg(json_build_object(
      'schema', n.nspname, 'name', p.proname, 'variadic', p.provariadic <> 0,
      'params', (select coalesce(json_agg(json_build_object('name', coalesce(p.proargnames[i], ''),
            'type', format_type(coalesce(p.proallargtypes[i], p.proargtypes[i - 1]), null),
            'mode', coalesce(p.proargmodes[i], 'i'),
            'hasDefault', (case when coalesce(p.proargmodes[i], 'i') in ('i','b','v')
              then (select count(*) from generate_series(1, i) g where coalesce(p.proargmodes[g], 'i') in ('i','b','v'))
                   > p.pronargs - p.pronargdefaults else false end)) order by i), '[]')
          from generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) i),
      'returnsSet', p.proretset, 'returnType', format_type(p.prorettype, null), 'returnTypeSchema', tn.nspname,
      'returnRelation', case when t.typrelid <> 0 then json_build_object('schema', tn.nspname, 'name', tc.relname) end,
      'isComposite', t.typrelid <> 0 or p.prorettype = 'record'::regtype,
      'returnsVoid', p.prorettype = 'void'::regtype,
      'volatility', p.provolatile, 'comment', obj_description(p.oid, 'pg_proc'), 'rows', p.prorows,
      'callable', (select case count(*) filter (where coalesce(p.proargnames[i], '') = '')
            when 0 then true when 1 then bool_and(coalesce(p.proallargtypes[i], p.proargtypes[i - 1]) in ('bytea'::regtype, 'json'::regtype, 'jsonb'::regtype, 'text'::regtype, 'xml'::regtype)) filter (where coalesce(p.proargnames[i], '') = '') else false end
          from generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) i
          where coalesce(p.proargmodes[i], 'i') in ('i', 'b', 'v'))) order by p.oid), '[]')
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    join pg_type t on t.oid = p.prorettype join pg_namespace tn on tn.oid = t.typnamespace
    left join pg_class tc on tc.oid = t.typrelid
    where n.nspname = any($1::text[]) and p.prokind = 'f'),
  -- Views (their stored rules name base columns by relation oid and attribute number), every user relation's
  -- columns, and every primary key: base tables of exposed views may live in other schemas.
  'views', (select coalesce(json_agg(json_build_object('oid', v.oid::int8, 'schema', vn.nspname, 'name', v.relname, 'rule', rw.ev_action::text)), '[]')
    from pg_rewrite rw join pg_class v on v.oid = rw.ev_class and v.relkind in ('v', 'm')
    join pg_namespace vn on vn.oid = v.relnamespace
    where rw.rulename = '_RETURN' and vn.nspname not in ('pg_catalog', 'information_schema') and vn.nspname not like 'pg\\_%'),
  'relations', (select coalesce(json_agg(json_build_object('oid', c.oid::int8, 'schema', n.nspname, 'name', c.relname,
      'cols', (select coalesce(json_object_agg(a.attnum, a.attname), '{}') from pg_attribute a
               where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped))), '[]')
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r','v','m','f','p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
      -- only needed to read view rules
      and exists (select 1 from pg_class v where v.relkind in ('v', 'm') and v.relnamespace = any(select oid from pg_namespace where nspname = any($1::text[])))),
  'pks', (select coalesce(json_agg(json_build_object('schema', n.nspname, 'table', c.relname,
      'columns', (select json_agg(a.attname order by k.i) from unnest(co.conkey) with ordinality k(attnum, i)
                  join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum))), '[]')
    from pg_constraint co join pg_class c on c.oid = co.conrelid join pg_namespace n on n.oid = c.relnamespace
    where co.contype = 'p' and n.nspname not in ('pg_catalog', 'information_schema')),
  -- The owner's in-database configuration (PostgREST's \`alter role authenticator set pgrst.*\`) is the table
  -- pgrst.config, which the owner owns; it is read (as the request's role) only when that role may read it.
  'configReadable', exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'pgrst' and c.relname = 'config' and c.relkind in ('r', 'v', 'm', 'p')
      and has_schema_privilege(n.oid, 'usage') and has_table_privilege(c.oid, 'select'))
) as cache`;

const BOOL: Record<string, boolean> = { true: true, on: true, yes: true, '1': true, false: false, off: false, no: false, '0': false };
const TX_END = ['commit', 'commit-allow-override', 'rollback', 'rollback-allow-override'];

/** `pgrst.*` values → DbConfig; values PostgREST would not accept are left out (the project's settings apply). */
export function dbConfig(raw: Record<string, string>): DbConfig {
  const out: DbConfig = {};
  const b = (k: string) => BOOL[(raw[k] ?? '').trim().toLowerCase()];
  if (b('pgrst.db_aggregates_enabled') !== undefined) out.aggregates = b('pgrst.db_aggregates_enabled');
  if (b('pgrst.db_plan_enabled') !== undefined) out.planEnabled = b('pgrst.db_plan_enabled');
  const tx = raw['pgrst.db_tx_end']?.trim().toLowerCase();
  if (tx && TX_END.includes(tx)) out.txEnd = tx as DbConfig['txEnd'];
  const max = raw['pgrst.db_max_rows']?.trim();
  if (max === '') out.maxRows = null;
  else if (max && /^\d{1,9}$/.test(max) && Number(max) > 0) out.maxRows = Number(max);
  const pre = raw['pgrst.db_pre_request']?.trim();
  const m = pre ? /^(?:("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\.)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)$/.exec(pre) : null;
  if (m) {
    const part = (x: string) => (x.startsWith('"') ? x : `"${x.toLowerCase()}"`);
    out.preRequest = m[1] ? `${part(m[1])}.${part(m[2])}` : part(m[2]);
  }
  return out;
}

export async function loadSchemaCache(client: pg.ClientBase, schemas: string[], version: string): Promise<SchemaCache> {
  const { rows } = await client.query(CATALOG_SQL, [schemas]);
  const raw = rows[0].cache as { tables: Table[]; fks: ForeignKey[]; funcs: Func[]; views: RawView[]; relations: RawRelation[]; pks: RawPk[]; configReadable: boolean };
  const config: Record<string, string> = {};
  if (raw.configReadable) {
    const r = await client.query<{ key: string; value: string }>('select key::text as key, value::text as value from pgrst.config limit 100');
    for (const { key: k, value } of r.rows) if (k && value !== null) config[k.startsWith('pgrst.') ? k : `pgrst.${k}`] = value;
  }
  const tables = new Map<string, Table>();
  for (const t of raw.tables) tables.set(key(t.schema, t.name), t);
  const exposed = (schema: string) => schemas.includes(schema);
  const fks = [...raw.fks, ...inferViewKeys(tables, raw.fks, raw.views, raw.relations, raw.pks)]
    .filter((f) => exposed(f.schema) || exposed(f.fschema));
  const funcs = new Map<string, Func[]>();
  for (const f of raw.funcs) {
    const k = key(f.schema, f.name);
    funcs.set(k, [...(funcs.get(k) ?? []), f]);
  }
  for (const f of raw.funcs) {
    const ins = f.params.filter((p) => p.mode === 'i' || p.mode === 'b' || p.mode === 'v');
    if (ins.length !== 1 || f.returnsSet || f.returnsVoid) continue;
    const type = ins[0].type.replace(/"/g, '');
    for (const t of tables.values()) {
      if (type === t.name || type === `${t.schema}.${t.name}`) (t.computed ??= {})[f.name] = { schema: f.schema, name: f.name };
    }
  }
  return { version, config: dbConfig(config), schemas, tables, fks, funcs };
}

// One cache per project; concurrent requests that see a new version share one load. `ready` holds the last
// loaded cache, so the hot path can plan without waiting for anything.
const caches = new Map<string, { version: string; value: Promise<SchemaCache> }>();
const ready = new Map<string, SchemaCache>();
const cacheKey = (ref: string, schemas: string[]) => `${ref}|${schemas.join(',')}`;

export function cachedSchema(ref: string, version: string, schemas: string[], load: () => Promise<SchemaCache>): Promise<SchemaCache> {
  const k = cacheKey(ref, schemas);
  const hit = caches.get(k);
  if (hit && hit.version === version) return hit.value;
  const value = load();
  const entry = { version, value };
  caches.set(k, entry);
  value.then((c) => { if (caches.get(k) === entry) ready.set(k, c); }, () => { if (caches.get(k) === entry) caches.delete(k); });
  return value;
}

/** The last loaded cache of a project, if any (it may be stale: callers check the version they read). */
export function peekSchema(ref: string, schemas: string[]): SchemaCache | undefined {
  return ready.get(cacheKey(ref, schemas));
}

/** The projects whose schema cache this process holds (for the services endpoint and tests). */
export function cachedSchemaProjects(): string[] {
  return [...new Set([...ready.keys()].map((k) => k.split('|')[0]))];
}

export function forgetSchema(ref: string): void {
  for (const k of [...caches.keys()]) if (k.startsWith(`${ref}|`)) caches.delete(k);
  for (const k of [...ready.keys()]) if (k.startsWith(`${ref}|`)) ready.delete(k);
}
