// The table builder (`/v1/projects/{ref}/tables`): tables, columns, indexes and RLS policies from JSON, without
// SQL. Each change is compiled (table-sql.ts) to plain DDL, run in the project database as its owner and recorded
// in the migration history with the SQL it ran, so psql, `supabase migration list` and `db pull` see exactly
// what the owner would have written by hand. Tables live in `public`.
import { Router, type Response } from 'express';
import type pg from 'pg';
import { isDatabaseUnavailable, isPgError } from '../../../db/src/pg-errors.ts';
import { errors } from '../errors.ts';
import { body, param, str } from '../validate.ts';
import { recordMigration } from './migrations.ts';
import { ownerTransaction } from './project-db.ts';
import { findProject } from './projects.ts';
import { authenticate, caller, scope } from './session.ts';
import {
  columnChange, columnGrantSql, columnSpec, columnSql, defaultSql, ident, indexSql, keyGuardSql, keyGuardUndoSql, literal, name, parsePolicy,
  passwordColumnSql, policySql, qualified, rowAuthSql, type ColumnChange, type ColumnSpec, type Grant, type PolicyRule,
} from './table-sql.ts';

export const tables = Router();
tables.use('/projects/:ref/tables', authenticate, scope('database'));

const MAX_COLUMNS = 200;
const MAX_POLICIES = 50;
const MAX_INDEXES = 50;

// One table as JSON, read from the catalog (so a table made or changed over psql reads the same way).
const DESCRIBE = `select c.relname as name, obj_description(c.oid, 'pg_class') as comment, c.relrowsecurity as rls_enabled,
  (select coalesce(jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
      'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity <> '',
      'primary_key', exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary and a.attnum = any (i.indkey)),
      'unique', exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisunique and i.indnkeyatts = 1 and i.indkey[0] = a.attnum),
      'references', (select r.relname from pg_constraint f join pg_class r on r.oid = f.confrelid where f.conrelid = c.oid and f.contype = 'f' and f.conkey = array[a.attnum] limit 1),
      'on_delete', (select case f.confdeltype when 'c' then 'cascade' when 'n' then 'set null' when 'r' then 'restrict' when 'a' then 'no action' else 'set default' end
        from pg_constraint f where f.conrelid = c.oid and f.contype = 'f' and f.conkey = array[a.attnum] limit 1))
    order by a.attnum), '[]') from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
  (select coalesce(jsonb_agg(pg_get_indexdef(i.indexrelid) order by i.indexrelid), '[]') from pg_index i where i.indrelid = c.oid) as indexes,
  (select coalesce(jsonb_agg(jsonb_build_object('name', p.policyname, 'command', p.cmd, 'roles', p.roles, 'using', p.qual, 'check', p.with_check)
    order by p.policyname), '[]') from pg_policies p where p.schemaname = 'public' and p.tablename = c.relname) as policies
  from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')`;

interface Login { table_name: string; key_column: string; password_column: string; identifier_column: string; role: string }

async function logins(c: pg.PoolClient): Promise<Login[]> {
  const { rows: [has] } = await c.query(`select to_regclass('row_auth.logins') is not null as ok`);
  if (!has.ok) return [];
  // row_auth is the owner's: login settings it changed over psql so that they no longer read are no logins here.
  await c.query('savepoint logins');
  try {
    const { rows } = await c.query(`select c.relname as table_name, l.key_column, l.password_column, l.identifier_column, l.role
      from row_auth.logins l join pg_class c on c.oid = l.table_name where c.relnamespace = 'public'::regnamespace`);
    await c.query('release savepoint logins');
    return rows;
  } catch (err) {
    if (!isPgError(err) || isDatabaseUnavailable(err)) throw err;
    await c.query('rollback to savepoint logins');
    return [];
  }
}

async function describe(c: pg.PoolClient, table?: string) {
  const { rows } = await c.query(`${DESCRIBE}${table === undefined ? '' : ' and c.relname = $1'} order by c.relname`, table === undefined ? [] : [table]);
  const all = await logins(c);
  for (const t of rows) {
    const login = all.find((l) => l.table_name === t.name);
    if (!login) continue;
    const col = t.columns.find((x: { name: string }) => x.name === login.password_column);
    if (col) Object.assign(col, { type: 'password', identifier: login.identifier_column, role: login.role });
  }
  return rows;
}

async function exists(c: pg.PoolClient, table: string): Promise<void> {
  const { rows: [r] } = await c.query('select to_regclass($1) is not null as ok', [qualified(table)]);
  if (!r.ok) throw errors.notFound('Table');
}

async function primaryKey(c: pg.PoolClient, table: string): Promise<{ column: string; type: string; generated: boolean }> {
  const { rows } = await c.query(`select a.attname as column, format_type(a.atttypid, a.atttypmod) as type, a.atthasdef or a.attidentity <> '' as generated
    from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
    where i.indrelid = to_regclass($1) and i.indisprimary`, [qualified(table)]);
  if (rows.length !== 1) throw errors.invalidBody(`table "${table}" must have a primary key of one column`);
  return rows[0];
}

async function columnType(c: pg.PoolClient, table: string, column: string): Promise<string | undefined> {
  const { rows } = await c.query(`select format_type(atttypid, atttypmod) as type from pg_attribute
    where attrelid = to_regclass($1) and attname = $2 and attnum > 0 and not attisdropped`, [qualified(table), column]);
  return rows[0]?.type;
}

/** The INSERT and UPDATE grants of roles other than the owner that RLS applies to: table-wide ones (`column`
 *  undefined), or those on one column (what the key guard left on a table with a login). */
async function apiWriters(c: pg.PoolClient, table: string, column?: string): Promise<Grant[]> {
  const acl = column === undefined ? 'aclexplode(t.relacl)' : 'aclexplode(at.attacl)';
  const { rows } = await c.query(`select distinct case when a.grantee = 0 then 'public' else quote_ident(r.rolname) end as grantee, a.privilege_type as privilege
    from pg_class t join pg_attribute at on at.attrelid = t.oid and at.attname = coalesce($2, at.attname) and at.attnum > 0 and not at.attisdropped
      cross join ${acl} a left join pg_roles r on r.oid = a.grantee
    where t.oid = to_regclass($1) and a.privilege_type in ('INSERT', 'UPDATE') and a.grantee <> t.relowner and not coalesce(r.rolbypassrls, false)
    order by 1, 2`, [qualified(table), column ?? null]);
  return rows;
}

/** The SQL of a new password column (after checking the table can have one), and the grants its key guard
 *  narrowed (for dropPasswordSql to give back). */
async function passwordSql(c: pg.PoolClient, table: string, cols: ColumnSpec[]): Promise<{ sql: string; grants: Grant[] }> {
  const col = cols.find((x) => x.type === 'password');
  if (!col) return { sql: '', grants: [] };
  const key = await primaryKey(c, table);
  // The key is the `sub` of the row's tokens, read by auth.uid() (a uuid), and no caller may pick it (keyGuardSql).
  if (key.type !== 'uuid' || !key.generated) {
    throw errors.invalidBody(`a table with a password column needs a uuid primary key with a default (gen_random_uuid()): it is the sub of the row's login tokens, so it must be unique in the project and chosen by the database`);
  }
  if ((await logins(c)).some((l) => l.table_name === table)) throw errors.invalidBody(`table "${table}" already has a password column`);
  const { rows: [u] } = await c.query(`select exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = to_regclass($1) and i.indisunique and i.indnkeyatts = 1 and a.attname = $2) as ok`, [qualified(table), col.identifier]);
  if (!u.ok) throw errors.invalidBody(`identifier column "${col.identifier}" must exist and be unique (or the primary key)`);
  const { rows: [crypto] } = await c.query(`select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pgcrypto'`);
  const { rows: columns } = await c.query(`select attname from pg_attribute where attrelid = to_regclass($1) and attnum > 0 and not attisdropped order by attnum`, [qualified(table)]);
  const grants = await apiWriters(c, table);
  return {
    sql: [rowAuthSql(crypto?.nspname ?? null), passwordColumnSql(table, col, key.column),
      keyGuardSql(table, key.column, columns.map((r) => r.attname), grants)].filter(Boolean).join('\n'),
    grants,
  };
}

/** Undoes a password column but for the column itself: its triggers, hashes and login, and the key guard. */
function dropPasswordSql(table: string, column: string, grants: Grant[]): string {
  const t = qualified(table);
  return [...['hash', 'store', 'clear'].map((x) => `drop trigger if exists ${ident(`${column}_${x}`)} on ${t};`),
    `delete from row_auth.passwords where table_name = ${literal(t)}::regclass and column_name = ${literal(column)};`,
    `delete from row_auth.logins where table_name = ${literal(t)}::regclass;`, keyGuardUndoSql(table, grants)].filter(Boolean).join('\n');
}

async function columnsSql(c: pg.PoolClient, cols: ColumnSpec[]): Promise<string[]> {
  const out: string[] = [];
  for (const col of cols) {
    if (col.type !== 'references') { out.push(columnSql(col)); continue; }
    const { rows: [r] } = await c.query('select to_regclass($1) is not null as ok', [qualified(col.references!)]);
    if (!r.ok) throw errors.invalidBody(`referenced table "${col.references}" does not exist`);
    out.push(columnSql(col, await primaryKey(c, col.references!)));
  }
  return out;
}

async function policiesSql(c: pg.PoolClient, table: string, rules: PolicyRule[]): Promise<string[]> {
  const out: string[] = [];
  for (const rule of rules) {
    let uuid = false;
    if (rule.column) {
      const type = await columnType(c, table, rule.column);
      if (!type) throw errors.invalidBody(`policy "${rule.text}": column "${rule.column}" does not exist`);
      uuid = type === 'uuid';
    }
    out.push(policySql(table, rule, uuid));
  }
  return out;
}

function list<T>(raw: unknown, what: string, max: number, item: (v: unknown, i: number) => T, min = 0): T[] {
  if (raw === undefined || raw === null) raw = [];
  if (!Array.isArray(raw)) throw errors.invalidBody(`${what} must be an array`);
  if (raw.length < min || raw.length > max) throw errors.invalidBody(`${what} must have ${min} to ${max} items`);
  return raw.map(item);
}

function indexSpec(raw: unknown, i: number): { columns: string[]; unique: boolean } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw errors.invalidBody(`indexes[${i}] must be an object`);
  const r = raw as Record<string, unknown>;
  if (r.unique !== undefined && typeof r.unique !== 'boolean') throw errors.invalidBody(`indexes[${i}].unique must be a boolean`);
  return { columns: list(r.columns, `indexes[${i}].columns`, 32, (v, j) => name(v, `indexes[${i}].columns[${j}]`), 1), unique: r.unique === true };
}

/** Dropping a table, with its password hashes and login settings (keyed by the table, not tied by a foreign key)
 *  from those of row_auth's tables that exist. */
function dropSql(table: string, rowAuth: { passwords: boolean; logins: boolean }): string {
  const t = qualified(table);
  return [...(['passwords', 'logins'] as const).filter((x) => rowAuth[x]).map((x) => `delete from row_auth.${x} where table_name = ${literal(t)}::regclass;`),
    `drop table ${t};`].join('\n');
}

const ROW_AUTH = `select to_regclass('row_auth.passwords') is not null as passwords, to_regclass('row_auth.logins') is not null as logins`;

/** Runs the builder's SQL as the owner and records it as one migration; `then` reads the result back. */
async function change<T>(res: Response, ref: string, label: string, build: (c: pg.PoolClient, run: (sql: string) => Promise<void>) => Promise<string | undefined>,
  then: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  await findProject(res, ref);
  return ownerTransaction(ref, { searchPath: 'pg_catalog' }, async (c) => {
    const ran: string[] = [];
    const run = async (sql: string) => { if (sql) { await c.query(sql); ran.push(sql); } };
    const rollback = await build(c, run);
    await recordMigration(c, { name: label, query: ran.join('\n'), rollback, createdBy: caller(res).accountId });
    return then(c);
  });
}

tables.get('/projects/:ref/tables', async (req, res) => {
  await findProject(res, param(req, 'ref'));
  res.json(await ownerTransaction(param(req, 'ref'), { readOnly: true, searchPath: 'pg_catalog' }, (c) => describe(c)));
});

tables.get('/projects/:ref/tables/:name', async (req, res) => {
  const table = name(param(req, 'name'), 'name');
  await findProject(res, param(req, 'ref'));
  const [t] = await ownerTransaction(param(req, 'ref'), { readOnly: true, searchPath: 'pg_catalog' }, (c) => describe(c, table));
  if (!t) throw errors.notFound('Table');
  res.json(t);
});

tables.post('/projects/:ref/tables', async (req, res) => {
  const b = body(req.body);
  const table = name(b.name, 'name');
  const comment = str(b, 'comment', { max: 10_000 });
  const cols = list(b.columns, 'columns', MAX_COLUMNS, columnSpec, 1);
  const indexes = list(b.indexes, 'indexes', MAX_INDEXES, indexSpec);
  const rules = list(b.policies, 'policies', MAX_POLICIES, parsePolicy);
  if (cols.filter((x) => x.primary_key).length > 1) throw errors.invalidBody('only one column can be the primary key');
  if (cols.filter((x) => x.type === 'password').length > 1) throw errors.invalidBody('a table can have one password column');
  const t = qualified(table);
  const [created] = await change(res, param(req, 'ref'), `create table ${table}`, async (c, run) => {
    // Like the dashboard: a table without a primary key gets an `id` — an identity bigint, or a uuid the database
    // picks if the table has a password column (the key of a login must be one, see passwordSql).
    const password = cols.some((x) => x.type === 'password');
    const defs = cols.some((x) => x.primary_key) ? []
      : [password ? 'id uuid primary key default pg_catalog.gen_random_uuid()' : 'id bigint generated by default as identity primary key'];
    defs.push(...await columnsSql(c, cols));
    await run(`create table ${t} (\n  ${defs.join(',\n  ')}\n);\nalter table ${t} enable row level security;`
      + (comment === undefined ? '' : `\ncomment on table ${t} is ${literal(comment)};`));
    await run([...cols.filter((x) => x.index).map((x) => indexSql(table, [x.name])),
      ...indexes.map((x) => indexSql(table, x.columns, x.unique))].join('\n'));
    await run((await passwordSql(c, table, cols)).sql);
    await run((await policiesSql(c, table, rules)).join('\n'));
    return dropSql(table, { passwords: password, logins: password });
  }, (c) => describe(c, table));
  res.status(201).json(created);
});

interface ColumnState { not_null: boolean; default: string | null; uniques: { constraint: string | null; index: string; def: string }[] }

const COLUMN_STATE = `select a.attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as default,
  (select coalesce(jsonb_agg(jsonb_build_object('constraint', con.conname, 'index', ic.relname, 'def', pg_get_indexdef(i.indexrelid)) order by ic.relname), '[]')
    from pg_index i join pg_class ic on ic.oid = i.indexrelid left join pg_constraint con on con.conindid = i.indexrelid and con.contype = 'u'
    where i.indrelid = a.attrelid and i.indisunique and not i.indisprimary and i.indnkeyatts = 1 and i.indkey[0] = a.attnum) as uniques
  from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where a.attrelid = to_regclass($1) and a.attname = $2 and a.attnum > 0 and not a.attisdropped`;

/** Runs one column's change; returns its undo (null once a column is dropped: its data cannot come back). */
async function alterColumn(c: pg.PoolClient, table: string, ch: ColumnChange, run: (sql: string) => Promise<void>): Promise<string[] | null> {
  const t = qualified(table);
  const col = ident(ch.name);
  const { rows: [state] } = await c.query<ColumnState>(COLUMN_STATE, [t, ch.name]);
  if (!state) throw errors.invalidBody(`column "${ch.name}" does not exist`);
  const login = (await logins(c)).find((l) => l.table_name === table);
  if (login && (ch.drop || ch.rename !== undefined || ch.unique === false)) {
    const used = [login.key_column, login.identifier_column, ...(ch.drop ? [] : [login.password_column])];
    if (used.includes(ch.name)) throw errors.invalidBody(`column "${ch.name}" is used by the table's login: drop its password column "${login.password_column}" first`);
  }
  if (ch.role !== undefined && login?.password_column !== ch.name) throw errors.invalidBody(`column "${ch.name}" is not a password column: only those take a role`);
  // As at creation: the column always reads as null, and a default would be every new row's password.
  if (login?.password_column === ch.name && (ch.not_null !== undefined || ch.unique !== undefined || ch.default !== undefined || ch.default_expression !== undefined)) {
    throw errors.invalidBody(`column "${ch.name}" is a password column: it takes no not_null, unique or default`);
  }
  if (ch.drop) {
    const password = login?.password_column === ch.name ? dropPasswordSql(table, ch.name, await apiWriters(c, table, ch.name)) : '';
    await run([password, `alter table ${t} drop column ${col};`].filter(Boolean).join('\n'));
    return null;
  }
  const undo: string[] = [];
  if (ch.role !== undefined && ch.role !== login!.role) {
    const set = (role: string) => `update row_auth.logins set role = ${literal(role)} where table_name = ${literal(t)}::regclass;`;
    await run(set(ch.role));
    undo.unshift(set(login!.role));
  }
  if (ch.not_null !== undefined && ch.not_null !== state.not_null) {
    await run(`alter table ${t} alter column ${col} ${ch.not_null ? 'set' : 'drop'} not null;`);
    undo.unshift(`alter table ${t} alter column ${col} ${ch.not_null ? 'drop' : 'set'} not null;`);
  }
  if (ch.default !== undefined || ch.default_expression !== undefined) {
    const value = defaultSql(ch);
    await run(`alter table ${t} alter column ${col} ${value === null ? 'drop default' : `set default ${value}`};`);
    undo.unshift(`alter table ${t} alter column ${col} ${state.default === null ? 'drop default' : `set default ${state.default}`};`);
  }
  if (ch.unique === true && state.uniques.length === 0) {
    await run(`alter table ${t} add unique (${col});`);
    const { rows: [u] } = await c.query<ColumnState>(COLUMN_STATE, [t, ch.name]);
    undo.unshift(`alter table ${t} drop constraint ${ident(u.uniques[0].constraint!)};`);
  }
  if (ch.unique === false) {
    for (const u of state.uniques) {
      await run(u.constraint ? `alter table ${t} drop constraint ${ident(u.constraint)};` : `drop index public.${ident(u.index)};`);
      undo.unshift(u.constraint ? `alter table ${t} add constraint ${ident(u.constraint)} unique (${col});` : `${u.def};`);
    }
  }
  if (ch.rename !== undefined && ch.rename !== ch.name) {
    await run(`alter table ${t} rename column ${col} to ${ident(ch.rename)};`);
    undo.unshift(`alter table ${t} rename column ${ident(ch.rename)} to ${col};`);
  }
  return undo;
}

// Changes a table: its columns (in the order given), new indexes, its comment, and last its name. Recorded with
// the SQL that undoes it, unless a column was dropped.
tables.patch('/projects/:ref/tables/:name', async (req, res) => {
  const table = name(param(req, 'name'), 'name');
  const b = body(req.body);
  const rename = b.name === undefined ? undefined : name(b.name, 'name');
  const comment = str(b, 'comment', { max: 10_000 });
  const changes = list(b.columns, 'columns', MAX_COLUMNS, columnChange);
  const indexes = list(b.indexes, 'indexes', MAX_INDEXES, indexSpec);
  if (rename === undefined && comment === undefined && !changes.length && !indexes.length) throw errors.invalidBody('give name, comment, columns and/or indexes');
  const [t] = await change(res, param(req, 'ref'), `alter table ${table}`, async (c, run) => {
    await exists(c, table);
    const { rows: [old] } = await c.query(`select obj_description(to_regclass($1), 'pg_class') as comment`, [qualified(table)]);
    let undo: string[] | null = [];
    for (const ch of changes) {
      const u = await alterColumn(c, table, ch, run);
      undo = u === null || undo === null ? null : [...u, ...undo];
    }
    if (indexes.length) {
      const names = async () => (await c.query(`select i.indexrelid::regclass::text as name from pg_index i where i.indrelid = to_regclass($1)`,
        [qualified(table)])).rows.map((r) => r.name as string);
      const before = await names();
      await run(indexes.map((x) => indexSql(table, x.columns, x.unique)).join('\n'));
      undo?.unshift(...(await names()).filter((n) => !before.includes(n)).map((n) => `drop index ${n};`));
    }
    if (comment !== undefined) {
      await run(`comment on table ${qualified(table)} is ${literal(comment)};`);
      undo?.unshift(`comment on table ${qualified(table)} is ${old.comment === null ? 'null' : literal(old.comment)};`);
    }
    if (rename !== undefined && rename !== table) {
      await run(`alter table ${qualified(table)} rename to ${ident(rename)};`);
      undo?.unshift(`alter table ${qualified(rename)} rename to ${ident(table)};`);
    }
    return undo?.join('\n') || undefined;
  }, (c) => describe(c, rename ?? table));
  res.json(t);
});

tables.delete('/projects/:ref/tables/:name', async (req, res) => {
  const table = name(param(req, 'name'), 'name');
  await change(res, param(req, 'ref'), `drop table ${table}`, async (c, run) => {
    await exists(c, table);
    await run(dropSql(table, (await c.query(ROW_AUTH)).rows[0]));
    return undefined;
  }, async () => undefined);
  res.json({ message: `Table ${table} dropped` });
});

tables.post('/projects/:ref/tables/:name/columns', async (req, res) => {
  const table = name(param(req, 'name'), 'name');
  const col = columnSpec(body(req.body), 0);
  const [t] = await change(res, param(req, 'ref'), `add column ${col.name} to ${table}`, async (c, run) => {
    await exists(c, table);
    if (col.primary_key) throw errors.invalidBody('a column added to a table cannot be its primary key');
    const [def] = await columnsSql(c, [col]);
    // On a table with a login, the API roles write column by column (keyGuardSql): the new column is theirs too.
    const login = col.type === 'password' ? undefined : (await logins(c)).find((l) => l.table_name === table);
    await run([`alter table ${qualified(table)} add column ${def};`, col.index ? indexSql(table, [col.name]) : '',
      login ? columnGrantSql(table, col.name, await apiWriters(c, table, login.password_column)) : ''].filter(Boolean).join('\n'));
    const password = await passwordSql(c, table, [col]);
    await run(password.sql);
    return [col.type === 'password' ? dropPasswordSql(table, col.name, password.grants) : '',
      `alter table ${qualified(table)} drop column ${ident(col.name)};`].filter(Boolean).join('\n');
  }, (c) => describe(c, table));
  res.status(201).json(t);
});

// Replaces every policy of the table with those the shorthand describes (RLS stays on: an empty list leaves the
// table readable by service_role only).
tables.put('/projects/:ref/tables/:name/policies', async (req, res) => {
  const table = name(param(req, 'name'), 'name');
  const rules = list(body(req.body).policies, 'policies', MAX_POLICIES, parsePolicy);
  if (new Set(rules.map((r) => r.text.toLowerCase())).size !== rules.length) throw errors.invalidBody('policies must not repeat');
  const [t] = await change(res, param(req, 'ref'), `policies of ${table}`, async (c, run) => {
    await exists(c, table);
    const t = qualified(table);
    // The policies it replaces, as the SQL that makes them again (expressions as the catalog prints them, with
    // every name outside pg_catalog qualified), for the rollback.
    const { rows } = await c.query(`select p.polname as name, format('create policy %I on %s as %s for %s to %s%s%s;', p.polname, $2::text,
        case when p.polpermissive then 'permissive' else 'restrictive' end,
        case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end,
        (select string_agg(case when r = 0 then 'public' else quote_ident(pg_get_userbyid(r)) end, ', ') from unnest(p.polroles) r),
        ' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', ' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')') as sql
      from pg_policy p where p.polrelid = to_regclass($1) order by p.polname`, [t, t]);
    const { rows: [rls] } = await c.query('select relrowsecurity as on from pg_class where oid = to_regclass($1)', [t]);
    await run([...rows.map((r) => `drop policy ${ident(r.name)} on ${t};`),
      `alter table ${t} enable row level security;`, ...await policiesSql(c, table, rules)].join('\n'));
    return [...rules.map((r) => `drop policy ${ident(r.text)} on ${t};`), ...rows.map((r) => r.sql),
      ...rls.on ? [] : [`alter table ${t} disable row level security;`]].join('\n') || undefined;
  }, (c) => describe(c, table));
  res.json(t);
});
