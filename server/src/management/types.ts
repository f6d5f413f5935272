// TypeScript types of a project's schema (Supabase's `GET /v1/projects/{ref}/types/typescript`): the `Database`
// type `supabase gen types typescript` emits — Tables (Row/Insert/Update/Relationships), Views, Functions,
// Enums, CompositeTypes — and its helper types, for `createClient<Database>()`. The catalog is read by
// sql/project/typegen.sql as the project owner, read-only; the rendering is here.
import fs from 'node:fs';
import { Router } from 'express';
import { errors } from '../errors.ts';
import { loadSchemaCache, type ForeignKey } from '../rest/schema-cache.ts';
import { param } from '../validate.ts';
import { authenticate, scope } from './session.ts';
import { findProject } from './projects.ts';
import { ownerTransaction } from './project-db.ts';
import { settings } from '../../../db/src/config.ts';

const INTROSPECT = fs.readFileSync(new URL('../../../sql/project/typegen.sql', import.meta.url), 'utf8');
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export const typegen = Router();

typegen.get('/projects/:ref/types/typescript', authenticate, scope('database', 'read'), async (req, res) => {
  const raw = typeof req.query.included_schemas === 'string' ? req.query.included_schemas : 'public';
  const schemas = [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))];
  if (schemas.length === 0) schemas.push('public');
  if (schemas.length > 50 || schemas.some((s) => !SCHEMA_NAME.test(s))) throw errors.invalidPath('included_schemas must be a comma-separated list of schema names');
  const ref = param(req, 'ref');
  await findProject(res, ref);
  const catalog = await ownerTransaction(ref, { readOnly: true, timeoutMs: settings.typegenTimeoutMs, searchPath: 'pg_catalog' }, async (c) => {
    const meta = (await c.query(INTROSPECT, [schemas])).rows[0];
    // Relationships, of tables and of views, exactly as the REST engine infers them for embedding.
    const { fks } = await loadSchemaCache(c, schemas, '');
    return toCatalog(meta, fks);
  });
  res.json({ types: renderTypes(catalog) });
});

// ---- the catalog, as typegen.sql returns it ----

interface Relation { id: number; name: string; schema: string; kind: string; is_updatable: boolean }
interface Column {
  table_id: number; name: string; format: string; is_nullable: boolean; is_identity: boolean;
  identity_generation: 'ALWAYS' | 'BY DEFAULT' | null; has_default: boolean; is_generated: boolean; is_updatable: boolean;
}
interface Relationship {
  foreign_key_name: string; schema: string; relation: string; columns: string[]; is_one_to_one: boolean;
  referenced_schema: string; referenced_relation: string; referenced_columns: string[];
}
interface Arg { name: string; type_id: number; mode: 'in' | 'out' | 'inout' | 'variadic' | 'table'; has_default: boolean }
interface Fn {
  name: string; schema: string; argument_types: string; return_type_id: number; return_type: string;
  return_type_relation_id: number | null; is_set_returning_function: boolean; prorows: number | null; args: Arg[];
}
interface PgType { id: number; name: string; schema: string; format: string; enums: string[]; attributes: { name: string; type_id: number }[]; type_relation_id: number | null }
export interface Catalog { schemas: string[]; relations: Relation[]; columns: Column[]; relationships: Relationship[]; functions: Fn[]; types: PgType[] }

/** The catalog as typegen.sql returns it (oids as numbers), with the REST engine's relationships. */
function toCatalog(meta: Omit<Catalog, 'relationships'>, fks: ForeignKey[]): Catalog {
  return {
    ...meta,
    relationships: fks.map((f) => ({
      foreign_key_name: f.name, schema: f.schema, relation: f.table, columns: f.columns, is_one_to_one: f.unique,
      referenced_schema: f.fschema, referenced_relation: f.ftable, referenced_columns: f.fcolumns,
    })),
  };
}

// ---- rendering ----

const TEXT_OID = 25, JSON_OID = 114, JSONB_OID = 3802;
// PostgREST calls a function with one unnamed argument only when it is json, jsonb or text.
const SINGLE_UNNAMED_OK = new Set([JSON_OID, JSONB_OID, TEXT_OID]);
const INPUT_MODES = new Set(['in', 'inout', 'variadic']);
const q = JSON.stringify;
/** A property name, quoted only where TypeScript needs it (as the Supabase CLI's output, formatted, has them). */
const k = (name: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : q(name));
const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

/** Lines indented by two spaces per level. */
const indent = (text: string, levels = 1) => text.split('\n').map((l) => (l ? '  '.repeat(levels) + l : l)).join('\n');
const block = (lines: string[], empty = '[_ in never]: never') =>
  (lines.length ? `{\n${indent(lines.join('\n'))}\n}` : empty ? `{\n  ${empty}\n}` : '{}');
const nullable = (ts: string, isNullable: boolean) => (isNullable && ts !== 'unknown' ? `${ts} | null` : ts);

export function renderTypes(cat: Catalog): string {
  const schemas = [...cat.schemas].sort();
  const included = new Set(schemas);
  const typesById = new Map(cat.types.map((t) => [t.id, t]));
  const rowTypeIds = new Map(cat.types.filter((t) => t.type_relation_id).map((t) => [t.id, t]));
  const relationsById = new Map(cat.relations.map((r) => [r.id, r]));
  const tables = cat.relations.filter((r) => ['r', 'p', 'f'].includes(r.kind));
  const views = cat.relations.filter((r) => ['v', 'm'].includes(r.kind));
  const columnsOf = new Map<number, Column[]>();
  for (const c of cat.columns) columnsOf.set(c.table_id, [...(columnsOf.get(c.table_id) ?? []), c]);
  for (const list of columnsOf.values()) list.sort(byName);

  /** The TypeScript type of a Postgres type named `pg` (typname; arrays start with `_`), seen from `schema`. */
  function tsType(schema: string, pg: string): string {
    if (pg === 'bool') return 'boolean';
    if (['int2', 'int4', 'int8', 'float4', 'float8', 'numeric'].includes(pg)) return 'number';
    if (['bytea', 'bpchar', 'varchar', 'date', 'text', 'citext', 'time', 'timetz', 'timestamp', 'timestamptz', 'uuid', 'vector', 'interval'].includes(pg)) return 'string';
    if (pg === 'json' || pg === 'jsonb') return 'Json';
    if (pg === 'void') return 'undefined';
    if (pg === 'record') return 'Record<string, unknown>';
    if (pg.startsWith('_')) return `(${tsType(schema, pg.slice(1))})[]`;
    const pick = <T extends { schema: string }>(list: T[]) => list.find((t) => t.schema === schema) ?? list[0];
    const enumType = pick(cat.types.filter((t) => t.name === pg && t.enums.length > 0));
    if (enumType) return included.has(enumType.schema) ? `Database[${q(enumType.schema)}]["Enums"][${q(enumType.name)}]` : enumType.enums.map((v) => q(v)).join(' | ');
    const composite = pick(cat.types.filter((t) => t.name === pg && t.attributes.length > 0));
    if (composite) return included.has(composite.schema) ? `Database[${q(composite.schema)}]["CompositeTypes"][${q(composite.name)}]` : 'unknown';
    const table = pick(tables.filter((t) => t.name === pg));
    if (table) return `Database[${q(table.schema)}]["Tables"][${q(table.name)}]["Row"]`;
    const view = pick(views.filter((v) => v.name === pg));
    if (view) return `Database[${q(view.schema)}]["Views"][${q(view.name)}]["Row"]`;
    return 'unknown';
  }
  const tsOfId = (schema: string, id: number) => { const t = typesById.get(id); return t ? tsType(schema, t.name) : 'unknown'; };
  const field = (schema: string, c: Pick<Column, 'name' | 'format'>, isNullable: boolean, optional: boolean) =>
    `${k(c.name)}${optional ? '?' : ''}: ${nullable(tsType(schema, c.format), isNullable)}`;

  const relationshipsOf = (r: Relation) => cat.relationships
    .filter((x) => x.schema === r.schema && x.relation === r.name && x.referenced_schema === r.schema)
    .sort((a, b) => a.foreign_key_name.localeCompare(b.foreign_key_name) || a.referenced_relation.localeCompare(b.referenced_relation))
    .map((x) => block([
      `foreignKeyName: ${q(x.foreign_key_name)}`, `columns: ${q(x.columns)}`, `isOneToOne: ${x.is_one_to_one}`,
      `referencedRelation: ${q(x.referenced_relation)}`, `referencedColumns: ${q(x.referenced_columns)}`]));
  const relationshipList = (r: Relation) => { const list = relationshipsOf(r); return list.length ? `[\n${indent(list.join(',\n'))}\n]` : '[]'; };

  /** The name of the table, view or composite type a function's rows are, if any. */
  const returnRelationName = (fn: Fn) => {
    if (!fn.return_type_relation_id) return null;
    return relationsById.get(fn.return_type_relation_id)?.name ?? rowTypeIds.get(fn.return_type_id)?.name ?? null;
  };
  const inArgs = (fn: Fn) => fn.args.filter((a) => INPUT_MODES.has(a.mode)).sort(byName);
  // The functions PostgREST can call: no arguments, all named, or one unnamed json/jsonb/text (or a row: computed fields).
  const callable = (fn: Fn) => {
    const args = inArgs(fn);
    return args.length === 0 || args.every((a) => a.name !== '' || (a.has_default && SINGLE_UNNAMED_OK.has(a.type_id)))
      || (args.length === 1 && args[0].name === '' && (SINGLE_UNNAMED_OK.has(args[0].type_id) || rowTypeIds.has(args[0].type_id)));
  };

  function returns(schema: string, fn: Fn): string {
    const tableCols = fn.args.filter((a) => a.mode === 'table');
    if (tableCols.length) return block(tableCols.map((a) => `${k(a.name)}: ${tsOfId(schema, a.type_id)}`), '');
    const rel = fn.return_type_relation_id ? relationsById.get(fn.return_type_relation_id) : undefined;
    if (rel && rel.schema === schema) return block((columnsOf.get(rel.id) ?? []).map((c) => field(schema, c, c.is_nullable, false)), '');
    return tsOfId(schema, fn.return_type_id);
  }

  function signature(schema: string, fn: Fn): string {
    const args = inArgs(fn);
    const argsTs = args.length ? `{ ${args.map((a) => `${k(a.name)}${a.has_default ? '?' : ''}: ${tsOfId(schema, a.type_id)}`).join('; ')} }` : 'never';
    const target = returnRelationName(fn);
    const many = fn.prorows !== null && fn.prorows > 1;
    let setof = '';
    if (target) {
      const rowArg = fn.args.length === 1 ? rowTypeIds.get(fn.args[0].type_id) : undefined;
      const from = rowArg ? rowArg.format : '*';
      const oneToOne = rowArg && !fn.is_set_returning_function ? true : !many;
      setof = `\nSetofOptions: ${block([`from: ${q(from)}`, `to: ${q(target)}`, `isOneToOne: ${oneToOne}`, `isSetofReturn: ${fn.is_set_returning_function}`])}`;
    }
    const collapse = !many && target !== null;
    const ret = `${returns(schema, fn)}${fn.is_set_returning_function && !collapse ? '[]' : ''}`;
    return `{\n${indent(`Args: ${argsTs}\nReturns: ${ret}${setof}`)}\n}`;
  }

  const schemaBlock = (schema: string) => {
    const fns = cat.functions.filter((f) => f.schema === schema && callable(f)).sort((a, b) => a.name.localeCompare(b.name));
    const computed = (r: Relation) => fns.filter((f) => f.argument_types === r.name)
      .map((f) => `${k(f.name)}: ${nullable(returns(schema, f), true)}`);
    const tableLines = tables.filter((t) => t.schema === schema).sort(byName).map((t) => {
      const cols = columnsOf.get(t.id) ?? [];
      const insert = cols.map((c) => (c.identity_generation === 'ALWAYS' || c.is_generated ? `${k(c.name)}?: never`
        : field(schema, c, c.is_nullable, c.is_nullable || c.is_identity || c.has_default)));
      const update = cols.map((c) => (c.identity_generation === 'ALWAYS' || c.is_generated ? `${k(c.name)}?: never` : field(schema, c, c.is_nullable, true)));
      return `${k(t.name)}: ${block([
        `Row: ${block([...cols.map((c) => field(schema, c, c.is_nullable, false)), ...computed(t)], '')}`,
        `Insert: ${block(insert, '')}`, `Update: ${block(update, '')}`, `Relationships: ${relationshipList(t)}`])}`;
    });
    const viewLines = views.filter((v) => v.schema === schema).sort(byName).map((v) => {
      const cols = columnsOf.get(v.id) ?? [];
      const write = cols.map((c) => (c.is_updatable ? field(schema, c, true, true) : `${k(c.name)}?: never`));
      return `${k(v.name)}: ${block([
        `Row: ${block([...cols.map((c) => field(schema, c, c.is_nullable, false)), ...computed(v)], '')}`,
        ...(v.is_updatable && v.kind === 'v' ? [`Insert: ${block(write, '')}`, `Update: ${block(write, '')}`] : []),
        `Relationships: ${relationshipList(v)}`])}`;
    });
    const grouped = new Map<string, Fn[]>();
    for (const f of fns) grouped.set(f.name, [...(grouped.get(f.name) ?? []), f]);
    const fnLines = [...grouped].map(([name, list]) => `${k(name)}:\n${indent(list
      .sort((a, b) => a.argument_types.localeCompare(b.argument_types) || a.return_type.localeCompare(b.return_type))
      .map((f) => (list.length > 1 ? `| ${indent(signature(schema, f)).trimStart()}` : signature(schema, f))).join('\n'))}`);
    const enums = cat.types.filter((t) => t.schema === schema && t.enums.length).sort(byName);
    const composites = cat.types.filter((t) => t.schema === schema && t.attributes.length).sort(byName);
    return `${k(schema)}: ${block([
      `Tables: ${block(tableLines)}`,
      `Views: ${block(viewLines)}`,
      `Functions: ${block(fnLines)}`,
      `Enums: ${block(enums.map((e) => `${k(e.name)}: ${e.enums.map((v) => q(v)).join(' | ')}`))}`,
      `CompositeTypes: ${block(composites.map((t) => `${k(t.name)}: ${block(t.attributes.map((a) => `${k(a.name)}: ${nullable(tsOfId(schema, a.type_id), true)}`), '')}`))}`,
    ])}`;
  };

  // A value, not a type: its members are separated by commas.
  const values = (lines: string[]) => block(lines.map((l, i) => (i < lines.length - 1 ? `${l},` : l)), '');
  const constants = schemas.map((s) => `${k(s)}: ${values([`Enums: ${values(cat.types.filter((t) => t.schema === s && t.enums.length).sort(byName)
    .map((e) => `${k(e.name)}: [${e.enums.map((v) => q(v)).join(', ')}]`))}`])}`);

  return `export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = ${block(schemas.map(schemaBlock), '')}

${HELPERS}
export const Constants = ${values(constants)} as const
`;
}

// The helper types are the same for every schema: pick a table's Row/Insert/Update, an enum or a composite
// type by name, in `public` by default or in `{ schema }`.
const pickHelper = (name: string, part: 'Tables' | 'Enums' | 'CompositeTypes', key: string, infer?: string, withViews = false) => {
  const set = withViews ? `(DefaultSchema["Tables"] & DefaultSchema["Views"])` : `DefaultSchema["${part}"]`;
  const inSchema = withViews
    ? `(DatabaseWithoutInternals[Options["schema"]]["Tables"] & DatabaseWithoutInternals[Options["schema"]]["Views"])`
    : `DatabaseWithoutInternals[Options["schema"]]["${part}"]`;
  const get = (x: string) => (infer ? `${x} extends { ${infer}: infer T } ? T : never` : x);
  return `export type ${name}<
  Options extends keyof ${set} | { schema: keyof DatabaseWithoutInternals },
  ${key} extends Options extends { schema: keyof DatabaseWithoutInternals } ? keyof ${inSchema} : never = never,
> = Options extends { schema: keyof DatabaseWithoutInternals }
  ? ${get(`${inSchema}[${key}]`)}
  : Options extends keyof ${set}
    ? ${get(`${set}[Options]`)}
    : never
`;
};

const HELPERS = `type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

${pickHelper('Tables', 'Tables', 'TableName', 'Row', true)}
${pickHelper('TablesInsert', 'Tables', 'TableName', 'Insert')}
${pickHelper('TablesUpdate', 'Tables', 'TableName', 'Update')}
${pickHelper('Enums', 'Enums', 'EnumName')}
${pickHelper('CompositeTypes', 'CompositeTypes', 'CompositeTypeName')}`;
