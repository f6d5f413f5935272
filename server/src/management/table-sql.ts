// The table builder's SQL compiler: a JSON description of a table, a column or a policy shorthand becomes the
// plain DDL an owner could have typed in psql. Identifiers only through `ident`, values only through `literal`
// (DDL takes no parameters); anything else a request names is looked up in a fixed table here, never pasted.
import pg from 'pg';
import { errors } from '../errors.ts';

export const ident = (name: string) => pg.escapeIdentifier(name);
export const literal = (value: string) => pg.escapeLiteral(value);
export const qualified = (table: string) => `public.${ident(table)}`;

const TYPES: Record<string, string> = {
  text: 'text', integer: 'integer', bigint: 'bigint', numeric: 'numeric', boolean: 'boolean',
  timestamptz: 'timestamptz', date: 'date', uuid: 'uuid', jsonb: 'jsonb',
};
export const COLUMN_TYPES = [...Object.keys(TYPES), 'references', 'password'];

// The only expressions a default may be besides a literal: what the dashboard offers.
const EXPRESSIONS: Record<string, string> = {
  'now()': 'pg_catalog.now()', 'gen_random_uuid()': 'pg_catalog.gen_random_uuid()', 'auth.uid()': 'auth.uid()',
  current_date: 'current_date',
};
const ON_DELETE: Record<string, string> = { cascade: 'cascade', 'set null': 'set null', restrict: 'restrict', 'no action': 'no action' };
export const LOGIN_ROLES = ['authenticated', 'anon'];

export interface ColumnSpec {
  name: string;
  type: string;
  primary_key?: boolean;
  not_null?: boolean;
  unique?: boolean;
  index?: boolean;
  default?: string | number | boolean | null | Record<string, unknown> | unknown[];
  default_expression?: string;
  references?: string;
  on_delete?: string;
  identifier?: string;
  role?: string;
}

const MAX_NAME_BYTES = 63;
export function name(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw errors.invalidBody(`${what} must be a non-empty string`);
  if (value.includes('\0')) throw errors.invalidBody(`${what} must not contain NUL characters`);
  // Postgres would silently truncate a longer name; two such names would then collide.
  if (Buffer.byteLength(value) > MAX_NAME_BYTES) throw errors.invalidBody(`${what} must be at most ${MAX_NAME_BYTES} bytes`);
  return value;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function columnSpec(raw: unknown, i: number): ColumnSpec {
  if (!isObject(raw)) throw errors.invalidBody(`columns[${i}] must be an object`);
  const known = new Set(['name', 'type', 'primary_key', 'not_null', 'unique', 'index', 'default', 'default_expression', 'references', 'on_delete', 'identifier', 'role']);
  const extra = Object.keys(raw).find((k) => !known.has(k));
  if (extra) throw errors.invalidBody(`columns[${i}].${extra} is not a column option`);
  const col = { ...raw, name: name(raw.name, `columns[${i}].name`) } as ColumnSpec;
  if (typeof col.type !== 'string' || !COLUMN_TYPES.includes(col.type)) {
    throw errors.invalidBody(`columns[${i}].type must be one of ${COLUMN_TYPES.join(', ')}`);
  }
  for (const flag of ['primary_key', 'not_null', 'unique', 'index'] as const) {
    if (col[flag] !== undefined && typeof col[flag] !== 'boolean') throw errors.invalidBody(`columns[${i}].${flag} must be a boolean`);
  }
  if (col.default_expression !== undefined && !(col.default_expression in EXPRESSIONS)) {
    throw errors.invalidBody(`columns[${i}].default_expression must be one of ${Object.keys(EXPRESSIONS).join(', ')}`);
  }
  if (col.default !== undefined && col.default_expression !== undefined) throw errors.invalidBody(`columns[${i}]: give default or default_expression, not both`);
  if (col.type === 'references') {
    col.references = name(col.references, `columns[${i}].references`);
    if (col.on_delete !== undefined && !(col.on_delete in ON_DELETE)) throw errors.invalidBody(`columns[${i}].on_delete must be one of ${Object.keys(ON_DELETE).join(', ')}`);
  } else if (col.references !== undefined || col.on_delete !== undefined) {
    throw errors.invalidBody(`columns[${i}]: references and on_delete belong to columns of type references`);
  }
  if (col.type === 'password') {
    col.identifier = name(col.identifier, `columns[${i}].identifier`);
    // Its triggers are named after it (`<name>_hash`, `_store`, `_clear`), within Postgres's 63 bytes.
    if (Buffer.byteLength(col.name) > MAX_NAME_BYTES - 6) throw errors.invalidBody(`columns[${i}].name of a password column must be at most ${MAX_NAME_BYTES - 6} bytes`);
    if (col.role !== undefined && !LOGIN_ROLES.includes(col.role)) throw errors.invalidBody(`columns[${i}].role must be one of ${LOGIN_ROLES.join(', ')}`);
    if (col.primary_key || col.unique || col.index || col.not_null || col.default !== undefined || col.default_expression !== undefined) {
      throw errors.invalidBody(`columns[${i}]: a password column takes no primary_key, not_null, unique, index or default (it always reads as null)`);
    }
  } else if (col.identifier !== undefined || col.role !== undefined) {
    throw errors.invalidBody(`columns[${i}]: identifier and role belong to columns of type password`);
  }
  return col;
}

/** A column's definition inside `create table` / `add column`. `refType` is the referenced key's type. */
export function columnSql(col: ColumnSpec, refType?: { type: string; column: string }): string {
  const type = col.type === 'references' ? refType!.type : col.type === 'password' ? 'text' : TYPES[col.type];
  const parts = [ident(col.name), type];
  if (col.primary_key) parts.push('primary key');
  if (col.not_null && !col.primary_key) parts.push('not null');
  if (col.unique) parts.push('unique');
  if (col.default_expression !== undefined) parts.push(`default ${EXPRESSIONS[col.default_expression]}`);
  else if (col.default !== undefined && col.default !== null) {
    const text = typeof col.default === 'object' ? JSON.stringify(col.default) : String(col.default);
    parts.push(`default ${literal(text)}::${type}`);
  }
  if (col.type === 'references') {
    parts.push(`references ${qualified(col.references!)} (${ident(refType!.column)})`);
    if (col.on_delete) parts.push(`on delete ${ON_DELETE[col.on_delete]}`);
  }
  return parts.join(' ');
}

/** A column's default as PATCH sets it: a fixed expression, or a literal Postgres casts to the column's type. */
export function defaultSql(col: { default?: unknown; default_expression?: string }): string | null {
  if (col.default_expression !== undefined) return EXPRESSIONS[col.default_expression];
  if (col.default === undefined || col.default === null) return null;
  return literal(typeof col.default === 'object' ? JSON.stringify(col.default) : String(col.default));
}

// A change to one existing column (PATCH …/tables/{name} `columns`): rename, drop, not null, default, unique, and
// the role of a password column's logins.
export interface ColumnChange {
  name: string; rename?: string; drop?: boolean; not_null?: boolean; unique?: boolean;
  default?: ColumnSpec['default']; default_expression?: string; role?: string;
}

export function columnChange(raw: unknown, i: number): ColumnChange {
  if (!isObject(raw)) throw errors.invalidBody(`columns[${i}] must be an object`);
  const known = new Set(['name', 'rename', 'drop', 'not_null', 'unique', 'default', 'default_expression', 'role']);
  const extra = Object.keys(raw).find((k) => !known.has(k));
  if (extra) throw errors.invalidBody(`columns[${i}].${extra} is not a column change (use rename, drop, not_null, unique, default, default_expression, role)`);
  if (raw.role !== undefined && !LOGIN_ROLES.includes(raw.role as string)) throw errors.invalidBody(`columns[${i}].role must be one of ${LOGIN_ROLES.join(', ')}`);
  const change = { ...raw, name: name(raw.name, `columns[${i}].name`) } as ColumnChange;
  if (change.rename !== undefined) change.rename = name(change.rename, `columns[${i}].rename`);
  for (const flag of ['drop', 'not_null', 'unique'] as const) {
    if (change[flag] !== undefined && typeof change[flag] !== 'boolean') throw errors.invalidBody(`columns[${i}].${flag} must be a boolean`);
  }
  if (change.default_expression !== undefined && !(change.default_expression in EXPRESSIONS)) {
    throw errors.invalidBody(`columns[${i}].default_expression must be one of ${Object.keys(EXPRESSIONS).join(', ')}`);
  }
  if (change.default !== undefined && change.default_expression !== undefined) throw errors.invalidBody(`columns[${i}]: give default or default_expression, not both`);
  const changes = Object.keys(raw).filter((k) => k !== 'name' && !(k === 'drop' && raw.drop === false));
  if (changes.length === 0) throw errors.invalidBody(`columns[${i}] changes nothing`);
  if (change.drop && changes.length > 1) throw errors.invalidBody(`columns[${i}]: a dropped column takes no other change`);
  return change;
}

export const indexSql = (table: string, columns: string[], unique = false) =>
  `create ${unique ? 'unique ' : ''}index on ${qualified(table)} (${columns.map(ident).join(', ')});`;

// ---------------------------------------------------------------------------------------------------------------
// Password columns. The hash never lives in the table: triggers move what a write puts in the column into
// row_auth.passwords (bcrypt, by pgcrypto) and leave the column null, so every read — REST, GraphQL, `select *`
// — returns null, and no API role can read row_auth at all. Everything is owned by the project owner.

/** The schema, tables and trigger function password columns share; `crypto` is pgcrypto's schema. Idempotent. */
export function rowAuthSql(crypto: string | null): string {
  const schema = crypto ?? 'row_auth';
  return `create schema if not exists row_auth;
comment on schema row_auth is 'Password hashes and login settings of tables with password columns (the table builder). Not exposed to API roles.';
${crypto ? '' : 'create extension if not exists pgcrypto schema row_auth;\n'}create table if not exists row_auth.passwords (
  table_name regclass not null, column_name text not null, row_key text not null, hash text not null,
  primary key (table_name, column_name, row_key));
create table if not exists row_auth.logins (
  table_name regclass primary key, key_column text not null, identifier_column text not null,
  password_column text not null, role text not null default 'authenticated');
create or replace function row_auth.store_password() returns trigger language plpgsql security definer
  set search_path = pg_catalog, pg_temp as $fn$
declare
  col text := tg_argv[0];
  key_col text := tg_argv[1];
  pending jsonb := coalesce(nullif(current_setting('row_auth.pending', true), ''), '{}')::jsonb;
  slot text;
begin
  -- After the statement: what it hashed for rows it never wrote is forgotten (only this column's, so a statement
  -- nested in a trigger does not drop what its outer statement still has to store).
  if tg_level = 'STATEMENT' then
    perform set_config('row_auth.pending', (pending - array(select k from jsonb_object_keys(pending) k
      where starts_with(k, tg_relid::text || '/' || col || '/')))::text, true);
    return null;
  end if;
  -- Hashed before the write, stored after it: a row that is never written (an upsert's ON CONFLICT DO NOTHING,
  -- an insert that turns into an update the caller may not make) fires no AFTER trigger, so it cannot replace
  -- the hash of a row that exists.
  if tg_when = 'BEFORE' then
    if (to_jsonb(new) ->> col) is not null then
      slot := tg_relid::text || '/' || col || '/' || coalesce(to_jsonb(new) ->> key_col, '');
      pending := jsonb_set(pending, array[slot], to_jsonb(${ident(schema)}.crypt(to_jsonb(new) ->> col, ${ident(schema)}.gen_salt('bf', 10))));
      perform set_config('row_auth.pending', pending::text, true);
      new := jsonb_populate_record(new, jsonb_build_object(col, null));
    end if;
    return new;
  end if;
  if tg_op = 'DELETE' then
    delete from row_auth.passwords where table_name = tg_relid and column_name = col and row_key = to_jsonb(old) ->> key_col;
    return null;
  end if;
  if tg_op = 'UPDATE' and (to_jsonb(old) ->> key_col) is distinct from (to_jsonb(new) ->> key_col) then
    update row_auth.passwords set row_key = to_jsonb(new) ->> key_col
      where table_name = tg_relid and column_name = col and row_key = to_jsonb(old) ->> key_col;
  end if;
  slot := tg_relid::text || '/' || col || '/' || coalesce(to_jsonb(new) ->> key_col, '');
  if pending ? slot then
    insert into row_auth.passwords values (tg_relid, col, to_jsonb(new) ->> key_col, pending ->> slot)
      on conflict (table_name, column_name, row_key) do update set hash = excluded.hash;
    perform set_config('row_auth.pending', (pending - slot)::text, true);
  end if;
  return null;
end $fn$;
revoke all on function row_auth.store_password() from public;
comment on function row_auth.store_password() is 'Hashes what a write puts in a password column into row_auth.passwords and stores null in the column.';`;
}

/** The triggers and login settings of one password column; `key` is the table's primary key column. */
export function passwordColumnSql(table: string, col: ColumnSpec, key: string): string {
  const t = qualified(table);
  const args = `${literal(col.name)}, ${literal(key)}`;
  return `create trigger ${ident(`${col.name}_hash`)} before insert or update on ${t}
  for each row execute function row_auth.store_password(${args});
create trigger ${ident(`${col.name}_store`)} after insert or update or delete on ${t}
  for each row execute function row_auth.store_password(${args});
create trigger ${ident(`${col.name}_clear`)} after insert or update on ${t}
  for each statement execute function row_auth.store_password(${args});
insert into row_auth.logins (table_name, key_column, identifier_column, password_column, role)
  values (${literal(t)}::regclass, ${literal(key)}, ${literal(col.identifier!)}, ${literal(col.name)}, ${literal(col.role ?? 'authenticated')});`;
}

// The key of a login row is the `sub` of its tokens: a caller who could choose it (`public insert` with an `id`
// of their own, or an update of it) could log in as any auth user or any row of another login table. So the
// roles that write the table under RLS lose INSERT and UPDATE of the key column: their table-wide privileges
// become the same privileges on every other column, and the database's default picks the key.

/** A table-wide INSERT or UPDATE of a role subject to RLS; `grantee` is SQL (a quoted role, or `public`). */
export interface Grant { grantee: string; privilege: 'INSERT' | 'UPDATE' }

function byGrantee(grants: Grant[]): [string, string][] {
  const out = new Map<string, string[]>();
  for (const g of grants) out.set(g.grantee, [...out.get(g.grantee) ?? [], g.privilege.toLowerCase()]);
  return [...out].map(([grantee, privs]) => [grantee, privs.join(', ')]);
}

/** Narrows each grant to every column but `key`. */
export function keyGuardSql(table: string, key: string, columns: string[], grants: Grant[]): string {
  const t = qualified(table);
  const cols = `(${columns.filter((x) => x !== key).map(ident).join(', ')})`;
  return byGrantee(grants).map(([g, privs]) => `revoke ${privs} on ${t} from ${g};
grant ${privs.split(', ').map((p) => `${p} ${cols}`).join(', ')} on ${t} to ${g};`).join('\n');
}

/** Gives the grants back table-wide (the rollback of a password column). */
export function keyGuardUndoSql(table: string, grants: Grant[]): string {
  const t = qualified(table);
  return byGrantee(grants).map(([g, privs]) => `revoke ${privs} on ${t} from ${g};\ngrant ${privs} on ${t} to ${g};`).join('\n');
}

/** A column added to a guarded table gets the privileges the guard left on the others. */
export const columnGrantSql = (table: string, column: string, grants: Grant[]) =>
  byGrantee(grants).map(([g, privs]) => `grant ${privs.split(', ').map((p) => `${p} (${ident(column)})`).join(', ')} on ${qualified(table)} to ${g};`).join('\n');

// ---------------------------------------------------------------------------------------------------------------
// Policy shorthand: `<who> <action>` with who ∈ public | authenticated | owner, action ∈ read | insert | update |
// delete | all, and for owner `by <column>`; `owner only by <column>` means `owner all by <column>`. The policy is
// named after its shorthand, so psql's \d shows what was asked for.

const ACTIONS: Record<string, string> = { read: 'select', select: 'select', insert: 'insert', update: 'update', delete: 'delete', all: 'all', write: 'all' };
const WHO: Record<string, string> = { public: 'anon, authenticated', authenticated: 'authenticated', owner: 'authenticated' };

export interface PolicyRule { who: string; action: string; column?: string; text: string }

export function parsePolicy(raw: unknown, i: number): PolicyRule {
  if (typeof raw !== 'string') throw errors.invalidBody(`policies[${i}] must be a string`);
  const text = raw.trim().replace(/\s+/g, ' ');
  const m = /^(public|authenticated|owner) (?:(only)|(read|select|insert|update|delete|all|write))(?: by (.+))?$/i.exec(text);
  const bad = () => errors.invalidBody(`policies[${i}] "${text.slice(0, 100)}" is not a policy: use "<public|authenticated|owner> <read|insert|update|delete|all>", with "by <column>" for owner (e.g. "owner only by user_id")`);
  if (!m || Buffer.byteLength(text) > MAX_NAME_BYTES) throw bad();
  const who = m[1].toLowerCase();
  if ((who === 'owner') !== (m[4] !== undefined) || (m[2] && who !== 'owner')) throw bad();
  return { who, action: ACTIONS[(m[3] ?? 'all').toLowerCase()], column: m[4] && name(m[4], `policies[${i}] column`), text };
}

/** `uuid` says the owner column holds uuids (compared with auth.uid()); other types compare the token's sub as text. */
export function policySql(table: string, p: PolicyRule, ownerIsUuid: boolean): string {
  let cond = 'true';
  if (p.column) {
    cond = ownerIsUuid ? `${ident(p.column)} = (select auth.uid())` : `${ident(p.column)}::text = (select auth.jwt() ->> 'sub')`;
  }
  const using = p.action === 'insert' ? '' : ` using (${cond})`;
  const check = p.action === 'select' || p.action === 'delete' ? '' : ` with check (${cond})`;
  return `create policy ${ident(p.text)} on ${qualified(table)} as permissive for ${p.action} to ${WHO[p.who]}${using}${check};`;
}
