// GET <project>/rest/v1/ : the OpenAPI (Swagger 2.0) description of an exposed schema, shaped as PostgREST's
// (its "follow-privileges" mode): only the tables, views and functions the caller's role may use, with their
// columns, keys, comments, row filters and the shared parameters. Clients read `info.version` (the PostgREST
// version this API follows) from it; the Supabase CLI does so during `link`.
import type { Response } from 'express';
import pg from 'pg';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import type { Identity } from '../project/keys.ts';
import { asCaller } from './execute.ts';
import type { ApiRequest } from './request.ts';
import type { SchemaCache } from './schema-cache.ts';
import type { RestSettings } from './settings.ts';

/** The PostgREST release whose behaviour this API follows. */
export const POSTGREST_VERSION = '12.2.3';
const DOCS_VERSION = 'v12';

interface OaColumn { name: string; description: string | null; nullable: boolean; type: string; maxLength: number | null; default: string | null; enum: string[] | null }
interface OaTable { name: string; description: string | null; writable: boolean; columns: OaColumn[] }
interface OaParam { name: string; type: string; required: boolean; variadic: boolean }
interface OaFunc { name: string; description: string | null; volatility: string; params: OaParam[] }
export interface OaCatalog { description: string | null; tables: OaTable[]; funcs: OaFunc[] }

// What the caller may see, read as the caller (the privilege checks are the current role's), in one statement.
// Column types are named as PostgREST names them: catalog types without their modifier, others (and domains
// over them) in full. The search_path is the default one while it runs, so types outside `public` come
// schema-qualified, as in PostgREST's own catalog reads.
const catalogSql = (schema: string) => `set local search_path to "$user", public;
with rels as (
  select c.oid, c.relname, c.relowner,
    c.relkind in ('r','p') or (c.relkind in ('v','f') and pg_relation_is_updatable(c.oid::regclass, true) & 28 <> 0) as writable
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = ${pg.escapeLiteral(schema)} and c.relkind in ('v','r','m','f','p') and not c.relispartition
    and (pg_has_role(c.relowner, 'USAGE')
      or has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
      or has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
),
funcs as (
  select p.oid, p.proname, p.provolatile, obj_description(p.oid, 'pg_proc') as description,
    (select coalesce(json_agg(json_build_object('name', a.name, 'type', a.type::regtype::text,
        'required', a.k <= p.pronargs - p.pronargdefaults, 'variadic', a.mode = 'v') order by a.k), '[]')
      from (select coalesce(x.name, '') as name, x.type, coalesce(x.mode, 'i') as mode,
              row_number() over (order by x.i) as k
            from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargmodes, p.proargnames)
              with ordinality as x(type, mode, name, i)
            where coalesce(x.mode, 'i') in ('i', 'b', 'v')) a) as params
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = ${pg.escapeLiteral(schema)} and p.prokind = 'f' and p.prorettype <> 'trigger'::regtype
    and has_function_privilege(p.oid, 'execute')
)
select json_build_object(
  'description', (select obj_description(n.oid, 'pg_namespace') from pg_namespace n where n.nspname = ${pg.escapeLiteral(schema)}),
  'tables', (select coalesce(json_agg(json_build_object('name', r.relname, 'description', obj_description(r.oid, 'pg_class'),
      'writable', r.writable,
      'columns', (select coalesce(json_agg(json_build_object(
            'name', a.attname, 'description', col_description(r.oid, a.attnum),
            'nullable', not (a.attnotnull or (t.typtype = 'd' and t.typnotnull)),
            'type', case
              when t.typtype = 'd' and bt.typnamespace = 'pg_catalog'::regnamespace then format_type(bt.oid, null)
              when t.typtype <> 'd' and t.typnamespace = 'pg_catalog'::regnamespace then format_type(a.atttypid, null)
              else format_type(a.atttypid, a.atttypmod) end,
            'maxLength', information_schema._pg_char_max_length(information_schema._pg_truetypid(a.*, t.*), information_schema._pg_truetypmod(a.*, t.*)),
            'default', case
              when t.typbasetype <> 0 and d.adbin is null then pg_get_expr(t.typdefaultbin, 0)
              when a.attgenerated = 's' then null
              else pg_get_expr(d.adbin, d.adrelid) end,
            'enum', (select array_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = bt.oid))
            order by a.attnum), '[]')
          from pg_attribute a
          join pg_type t on t.oid = a.atttypid
          join pg_type bt on bt.oid = coalesce(nullif(t.typbasetype, 0), t.oid)
          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped)
    ) order by r.relname), '[]') from rels r),
  -- A function with unnamed parameters is callable only when it has one, of a type a raw body can carry.
  'funcs', (select coalesce(json_agg(json_build_object('name', f.proname, 'description', f.description,
      'volatility', f.provolatile, 'params', f.params) order by f.proname, f.oid), '[]')
    from funcs f
    where (select count(*) from json_array_elements(f.params) e where e->>'name' = '') = 0
       or (json_array_length(f.params) = 1
           and f.params->0->>'type' in ('bytea', 'json', 'jsonb', 'text', 'xml')))
) as catalog`;

// ---- PostgREST's mapping of Postgres types to Swagger types and formats --------------------------------

function swaggerType(t: string): string | undefined {
  switch (t) {
    case 'character varying': case 'character': case 'text': return 'string';
    case 'boolean': return 'boolean';
    case 'smallint': case 'integer': case 'bigint': return 'integer';
    case 'numeric': case 'real': case 'double precision': return 'number';
    case 'json': case 'jsonb': return undefined;
  }
  return t.endsWith('[]') ? 'array' : 'string';
}

function swaggerFormat(t: string): string {
  if (t === 'smallint' || t === 'integer') return 'int32';
  if (t === 'bigint') return 'int64';
  return t;
}

/** `items` of an array type: the element's type (none for json). */
function arrayItems(t: string): Record<string, string> | undefined {
  if (swaggerType(t) !== 'array') return undefined;
  const type = swaggerType(t.slice(0, -2));
  return type ? { type } : {};
}

/** A column default as a JSON value, when it is one: string types lose their cast and quotes. */
function parseDefault(type: string, def: string): unknown {
  let text = def;
  if (swaggerType(type) === 'string') {
    const cast = `::${type}`;
    text = `"${def.endsWith(cast) ? def.slice(0, -cast.length).replace(/^'+|'+$/g, '') : def}"`;
  }
  try { return JSON.parse(text); } catch { return undefined; }
}

/** Splits a comment into its first line (summary) and the rest (description), as PostgREST does. */
function summaryAndDescription(comment: string | null): { summary?: string; description?: string } {
  if (comment === null) return {};
  const nl = comment.indexOf('\n');
  if (nl < 0) return { summary: comment };
  const rest = comment.slice(nl).replace(/^\n+/, '');
  return { summary: comment.slice(0, nl), ...(rest ? { description: rest } : {}) };
}

const clean = <T extends Record<string, unknown>>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;

// ---- the document ---------------------------------------------------------------------------------------

/** The primary-key and foreign-key notes PostgREST appends to a column's description. */
function columnDescription(cache: SchemaCache, schema: string, table: string, c: OaColumn): string | undefined {
  const t = cache.tables.get(`${schema}.${table}`);
  const notes = ['Note:'];
  if (t?.pk.includes(c.name)) notes.push('This is a Primary Key.<pk/>');
  // A single-column foreign key leaving this column; keys to tables come before keys to views.
  const fks = cache.fks.filter((f) => f.schema === schema && f.table === table && f.columns.length === 1 && f.columns[0] === c.name);
  const isView = (s: string, n: string) => { const k = cache.tables.get(`${s}.${n}`)?.kind; return k === 'v' || k === 'm'; };
  const fk = fks.sort((a, b) => Number(isView(a.fschema, a.ftable)) - Number(isView(b.fschema, b.ftable)))[0];
  if (fk) notes.push(`This is a Foreign Key to \`${fk.ftable}.${fk.fcolumns[0]}\`.<fk table='${fk.ftable}' column='${fk.fcolumns[0]}'/>`);
  if (notes.length === 1) return c.description ?? undefined;
  return (c.description !== null ? `${c.description}\n\n` : '') + notes.join('\n');
}

function property(cache: SchemaCache, schema: string, table: string, c: OaColumn) {
  return clean({
    default: c.default !== null ? parseDefault(c.type, c.default) : undefined,
    description: columnDescription(cache, schema, table, c),
    enum: c.enum?.length ? c.enum : undefined,
    format: swaggerFormat(c.type),
    maxLength: c.maxLength ?? undefined,
    type: swaggerType(c.type),
    items: arrayItems(c.type),
  });
}

const preferParam = (values: string[]) => clean({
  name: 'Prefer', description: 'Preference', required: false, in: 'header', type: 'string',
  enum: values.length ? values : undefined,
});
const queryParam = (name: string, description: string) => ({ name, description, required: false, in: 'query', type: 'string' });

function sharedParameters(tables: OaTable[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    preferParams: preferParam([]),
    preferReturn: preferParam(['return=representation', 'return=minimal', 'return=none']),
    preferCount: preferParam(['count=none']),
    preferPost: preferParam(['return=representation', 'return=minimal', 'return=none', 'resolution=ignore-duplicates', 'resolution=merge-duplicates']),
    select: queryParam('select', 'Filtering Columns'),
    on_conflict: queryParam('on_conflict', 'On Conflict'),
    order: queryParam('order', 'Ordering'),
    range: { name: 'Range', description: 'Limiting and Pagination', required: false, in: 'header', type: 'string' },
    rangeUnit: { name: 'Range-Unit', description: 'Limiting and Pagination', required: false, in: 'header', type: 'string', default: 'items' },
    offset: queryParam('offset', 'Limiting and Pagination'),
    limit: queryParam('limit', 'Limiting and Pagination'),
  };
  for (const t of tables) {
    out[`body.${t.name}`] = { name: t.name, description: t.name, required: false, in: 'body', schema: { $ref: `#/definitions/${t.name}` } };
    for (const c of t.columns) {
      out[`rowFilter.${t.name}.${c.name}`] = clean({ name: c.name, description: c.description, required: false, in: 'query', type: 'string' });
    }
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/parameters/${name}` });

function tablePath(t: OaTable) {
  const op = clean({ tags: [t.name], ...summaryAndDescription(t.description) });
  const filters = t.columns.map((c) => ref(`rowFilter.${t.name}.${c.name}`));
  const path: Record<string, unknown> = {
    get: {
      ...op,
      parameters: [...filters, ...['select', 'order', 'range', 'rangeUnit', 'offset', 'limit', 'preferCount'].map(ref)],
      responses: {
        200: { description: 'OK', schema: { type: 'array', items: { $ref: `#/definitions/${t.name}` } } },
        206: { description: 'Partial Content' },
      },
    },
  };
  if (t.writable) {
    path.post = { ...op, parameters: [ref(`body.${t.name}`), ref('select'), ref('preferPost')], responses: { 201: { description: 'Created' } } };
    path.patch = { ...op, parameters: [...filters, ref(`body.${t.name}`), ref('preferReturn')], responses: { 204: { description: 'No Content' } } };
    path.delete = { ...op, parameters: [...filters, ref('preferReturn')], responses: { 204: { description: 'No Content' } } };
  }
  return path;
}

function functionPath(f: OaFunc) {
  const op = {
    ...clean(summaryAndDescription(f.description)),
    tags: [`(rpc) ${f.name}`],
    produces: ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped', 'application/vnd.pgrst.object+json'],
    responses: { 200: { description: 'OK' } },
  };
  const required = f.params.filter((p) => p.required).map((p) => p.name);
  const body = clean({
    description: f.description ?? undefined,
    required: required.length ? required : undefined,
    properties: Object.fromEntries(f.params.map((p) => [p.name, clean({ format: swaggerFormat(p.type), type: swaggerType(p.type), items: arrayItems(p.type) })])),
    type: 'object',
  });
  const post = { ...op, parameters: [{ in: 'body', name: 'args', required: true, schema: body }, ref('preferParams')] };
  if (f.volatility === 'v') return { post };
  // Query-string arguments: arrays and json travel as strings; a variadic one repeats (`?v=1&v=2`).
  const query = f.params.map((p) => p.variadic
    ? { in: 'query', name: p.name, required: p.required, type: swaggerType(p.type) ?? 'string', collectionFormat: 'multi',
        items: clean({ type: swaggerType(p.type.slice(0, -2)), format: swaggerFormat(p.type.slice(0, -2)) }) }
    : { in: 'query', name: p.name, required: p.required, format: swaggerFormat(p.type), type: (t => (!t || t === 'array' ? 'string' : t))(swaggerType(p.type)) });
  return { get: { ...op, parameters: query }, post };
}

export function openapiDocument(cache: SchemaCache, catalog: OaCatalog, schema: string, where: { host: string; basePath: string; scheme: string }) {
  const paths: Record<string, unknown> = {
    '/': { get: { tags: ['Introspection'], summary: 'OpenAPI description (this document)', produces: ['application/openapi+json', 'application/json'], responses: { 200: { description: 'OK' } } } },
  };
  const definitions: Record<string, unknown> = {};
  for (const t of catalog.tables) {
    paths[`/${t.name}`] = tablePath(t);
    const required = t.columns.filter((c) => !c.nullable).map((c) => c.name);
    definitions[t.name] = clean({
      description: t.description,
      required: required.length ? required : undefined,
      properties: Object.fromEntries(t.columns.map((c) => [c.name, property(cache, schema, t.name, c)])),
      type: 'object',
    });
  }
  for (const f of catalog.funcs) paths[`/rpc/${f.name}`] = functionPath(f);
  // The schema's comment gives the title (first line) and description (the rest).
  const { summary: title, description } = summaryAndDescription(catalog.description);
  const media = ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped', 'application/vnd.pgrst.object+json', 'text/csv'];
  return {
    swagger: '2.0',
    info: {
      description: catalog.description === null ? 'This is a dynamic API generated by PostgREST' : description ?? '',
      title: title ?? 'PostgREST API',
      version: POSTGREST_VERSION,
    },
    externalDocs: { description: 'PostgREST Documentation', url: `https://postgrest.org/en/${DOCS_VERSION}/references/api.html` },
    host: where.host, basePath: where.basePath, schemes: [where.scheme],
    paths, definitions, parameters: sharedParameters(catalog.tables),
    produces: media, consumes: media,
  };
}

export async function openapi(res: Response, p: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings): Promise<void> {
  const { cache, catalog } = await asCaller(p, who, req, settings, async (client, cache) => {
    const results = await client.query(catalogSql(req.schema)) as unknown as pg.QueryResult[];
    return { cache, catalog: results[1].rows[0].catalog as OaCatalog };
  });
  const http = res.req;
  const urlPath = http.originalUrl.split('?')[0];
  const doc = openapiDocument(cache, catalog, req.schema, {
    host: http.get('host') ?? 'localhost',
    basePath: urlPath.replace(/\/+$/, '') || '/',
    scheme: http.protocol === 'https' ? 'https' : 'http',
  });
  res.status(200).set('Content-Type', 'application/openapi+json; charset=utf-8');
  if (req.method === 'HEAD') { res.end(); return; }
  res.send(JSON.stringify(doc));
}
