// What branches do to databases: replay a migration history into another project (push, merge, build, reset),
// copy rows from a parent into its branch, and diff two schemas. Every connection is a project's management
// login acting as that project's owner (ownerTransaction): no superuser ever runs tenant SQL, reads a tenant's
// tables or inspects its catalog; a parent's SQL runs in the parent as the parent's owner, a branch's in the branch.
import type pg from 'pg';
import { ApiError } from '../errors.ts';
import { ENSURE_TABLE, recordMigration, runInTransaction } from './migrations.ts';
import { ownerTransaction } from './project-db.ts';

export interface Migration { version: string; name: string | null; statements: string[] | null }

export const branchErrors = {
  mergeConflict: (message: string) => new ApiError(409, 'merge_conflict', message),
  notReplayable: (version: string) => new ApiError(422, 'migration_not_replayable',
    `migration ${version} was recorded without its SQL (statements is null), so it cannot be applied elsewhere; ` +
    'repair it with `supabase migration repair` or re-apply it through /database/migrations'),
};

/** The migration history in `c`'s transaction (empty when the table does not exist), oldest first. Locks the
 *  table against concurrent writers when `lock`, so what is compared is what the transaction then extends. */
async function history(c: pg.PoolClient, lock: boolean): Promise<Migration[]> {
  if (lock) {
    await c.query(ENSURE_TABLE);
    await c.query('lock table supabase_migrations.schema_migrations in share row exclusive mode');
  } else if (!(await c.query(`select pg_catalog.to_regclass('supabase_migrations.schema_migrations') is not null as ok`)).rows[0].ok) {
    return [];
  }
  const cols = new Set((await c.query(`select attname from pg_catalog.pg_attribute
    where attrelid = 'supabase_migrations.schema_migrations'::pg_catalog.regclass and attnum > 0 and not attisdropped`)).rows.map((r) => r.attname));
  const { rows } = await c.query(`select version, ${cols.has('name') ? 'name' : 'null::text as name'},
      ${cols.has('statements') ? 'statements' : 'null::text[] as statements'}
    from supabase_migrations.schema_migrations order by pg_catalog.lpad(version, 32, '0'), version`);
  return rows as Migration[];
}

export function readHistory(ref: string): Promise<Migration[]> {
  return ownerTransaction(ref, { readOnly: true, searchPath: 'pg_catalog' }, (c) => history(c, false));
}

const same = (a: Migration, b: Migration) => JSON.stringify(a.statements ?? null) === JSON.stringify(b.statements ?? null);

/** Runs `list` in `c`'s transaction, recording each under its own version, name and statements. */
async function replay(c: pg.PoolClient, list: Migration[], createdBy: string | null): Promise<void> {
  for (const m of list) {
    if (m.statements === null) throw branchErrors.notReplayable(m.version);
    for (const statement of m.statements) await runInTransaction(c, statement);
    // recordMigration keeps one statements entry; a CLI-made entry may hold several, kept as they were.
    await recordMigration(c, { name: m.name, query: m.statements.join(';\n'), createdBy, version: m.version });
    if (m.statements.length !== 1) {
      await c.query('update supabase_migrations.schema_migrations set statements = $2 where version = $1', [m.version, m.statements]);
    }
  }
}

/** Versions present on both sides with different SQL. */
function diverging(a: Migration[], b: Migration[]): string[] {
  const byVersion = new Map(b.map((m) => [m.version, m]));
  return a.filter((m) => byVersion.has(m.version) && !same(m, byVersion.get(m.version)!)).map((m) => m.version);
}

/** Push (the MCP server's rebase): applies to the branch, in one transaction, the parent's migrations it lacks.
 *  Returns the versions applied. */
export async function pushBranch(branchRef: string, parentRef: string, createdBy: string | null): Promise<string[]> {
  const parent = await readHistory(parentRef);
  return ownerTransaction(branchRef, {}, async (c) => {
    const mine = await history(c, true);
    const clash = diverging(parent, mine);
    if (clash.length) throw branchErrors.mergeConflict(`the branch and its parent have different SQL under migration version(s) ${clash.join(', ')}`);
    const have = new Set(mine.map((m) => m.version));
    const missing = parent.filter((m) => !have.has(m.version));
    await replay(c, missing, createdBy);
    return missing.map((m) => m.version);
  });
}

/** Merge: applies to the parent, in one transaction, the branch's migrations the parent lacks. Refused (409,
 *  nothing applied) when the parent has migrations the branch lacks (push the branch first), when a version
 *  holds different SQL on each side, or when a migration fails on the parent. Returns the versions applied. */
export async function mergeBranch(branchRef: string, parentRef: string, createdBy: string | null): Promise<string[]> {
  const branch = await readHistory(branchRef);
  return ownerTransaction(parentRef, {}, async (c) => {
    const parent = await history(c, true);
    const have = new Set(branch.map((m) => m.version));
    const ahead = parent.filter((m) => !have.has(m.version)).map((m) => m.version);
    if (ahead.length) {
      throw branchErrors.mergeConflict(`the parent has migration(s) the branch lacks (${ahead.join(', ')}): ` +
        'push the branch (POST /v1/branches/{id}/push) to bring them in, then merge');
    }
    const clash = diverging(branch, parent);
    if (clash.length) throw branchErrors.mergeConflict(`the branch and its parent have different SQL under migration version(s) ${clash.join(', ')}`);
    const present = new Set(parent.map((m) => m.version));
    const missing = branch.filter((m) => !present.has(m.version));
    for (const m of missing) {
      try {
        await replay(c, [m], createdBy);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'migration_not_replayable') throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw branchErrors.mergeConflict(`migration ${m.version}${m.name ? ` (${m.name})` : ''} failed on the parent: ${message}; nothing was merged`);
      }
    }
    return missing.map((m) => m.version);
  });
}

/** Builds a branch: applies the parent's migrations the branch lacks (all of them when `only` is absent, else
 *  those), runs the seed once, and copies the parent's rows when asked: all in one branch transaction, so a
 *  job that fails and runs again starts from a clean slate. Returns the number of rows copied. */
export async function buildBranch(branchRef: string, parentRef: string, opts: { seed: string | null; withData: boolean;
  only?: Migration[]; log?: (line: string) => void }): Promise<number> {
  const source = opts.only ?? await readHistory(parentRef);
  return ownerTransaction(branchRef, { timeoutMs: BUILD_TIMEOUT_MS }, async (c) => {
    const mine = await history(c, true);
    const have = new Set(mine.map((m) => m.version));
    await replay(c, source.filter((m) => !have.has(m.version)), null);
    if (opts.seed && mine.length === 0) await runInTransaction(c, opts.seed);
    return opts.withData ? copyRows(parentRef, c, opts.log ?? (() => {})) : 0;
  });
}

const BUILD_TIMEOUT_MS = 10 * 60_000;
const BATCH_ROWS = 1000;

interface TableInfo { schema: string; name: string; columns: string[]; insertable: string[]; refs: string[] }

// The owner's own tables (ordinary, not partitions' parents) with their columns in order, what an INSERT may
// write (no generated columns), and the tables their foreign keys point at. Read as the owner, pg_catalog first.
const TABLES_SQL = `
  select n.nspname as schema, c.relname as name,
    array(select a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) from pg_catalog.pg_attribute a
          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns,
    array(select a.attname::text from pg_catalog.pg_attribute a
          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' order by a.attnum) as insertable,
    array(select distinct f.confrelid::pg_catalog.regclass::text from pg_catalog.pg_constraint f
          where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as refs
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r' and c.relowner = (select oid from pg_catalog.pg_roles where rolname = current_user)
    and n.nspname not in ('supabase_migrations', 'pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
  order by 1, 2`;

const q = (c: pg.ClientBase, schema: string, name: string) => `${c.escapeIdentifier(schema)}.${c.escapeIdentifier(name)}`;

/** Tables in an order where every table comes after those it references (cycles keep their listed order). */
function dependencyOrder(tables: TableInfo[], c: pg.ClientBase): TableInfo[] {
  const byName = new Map(tables.map((t) => [q(c, t.schema, t.name), t]));
  const done = new Set<TableInfo>(), visiting = new Set<TableInfo>(), out: TableInfo[] = [];
  const visit = (t: TableInfo) => {
    if (done.has(t) || visiting.has(t)) return;
    visiting.add(t);
    for (const r of t.refs) {
      // regclass text is quoted only where needed; normalise both spellings.
      const dep = byName.get(r) ?? [...byName.values()].find((x) => `${x.schema}.${x.name}` === r || x.name === r);
      if (dep) visit(dep);
    }
    visiting.delete(t); done.add(t); out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}

/** Copies the parent's rows into the branch's tables (those of the branch owner that exist with the same
 *  columns in the parent), batch by batch: the parent is read in one read-only snapshot as its own owner, which
 *  takes no lock that blocks its writers; rows travel as their text form and are written as the branch's owner,
 *  whose own triggers are held off while they land. Sequences follow. Returns the rows copied. */
async function copyRows(parentRef: string, branch: pg.PoolClient, log: (line: string) => void): Promise<number> {
  await branch.query('set local search_path = pg_catalog');
  const mine = (await branch.query(TABLES_SQL)).rows as TableInfo[];
  return ownerTransaction(parentRef, { readOnly: true, snapshot: true, searchPath: 'pg_catalog', timeoutMs: BUILD_TIMEOUT_MS }, async (parent) => {
    // The parent's tables by the same test, but owned by the parent's owner.
    const theirs = new Map(((await parent.query(TABLES_SQL)).rows as TableInfo[]).map((t) => [`${t.schema}.${t.name}`, t]));
    let total = 0;
    for (const t of dependencyOrder(mine, branch)) {
      const source = theirs.get(`${t.schema}.${t.name}`);
      if (!source || source.columns.join(',') !== t.columns.join(',')) {
        log(`not copied: ${t.schema}.${t.name} (missing in the parent or with other columns)`);
        continue;
      }
      const name = q(branch, t.schema, t.name);
      const triggers = (await branch.query(`select tgname from pg_catalog.pg_trigger where tgrelid = $1::pg_catalog.regclass
        and not tgisinternal and tgenabled <> 'D'`, [name])).rows.map((r) => r.tgname as string);
      for (const tg of triggers) await branch.query(`alter table ${name} disable trigger ${branch.escapeIdentifier(tg)}`);
      const cols = t.insertable.map((col) => branch.escapeIdentifier(col));
      const insert = `insert into ${name} (${cols.join(', ')}) overriding system value
        select ${cols.map((col) => `(x).${col}`).join(', ')} from (select r::${name} as x from pg_catalog.unnest($1::text[]) r) s`;
      // A cursor reads the table once, in the snapshot, a batch per fetch.
      await parent.query(`declare loam_copy no scroll cursor for select "loam copied row"::text as r from only ${name} "loam copied row"`);
      for (;;) {
        const { rows } = await parent.query(`fetch ${BATCH_ROWS} from loam_copy`);
        if (rows.length === 0) break;
        await branch.query(insert, [rows.map((r) => r.r)]);
        total += rows.length;
      }
      await parent.query('close loam_copy');
      for (const tg of triggers) await branch.query(`alter table ${name} enable trigger ${branch.escapeIdentifier(tg)}`);
    }
    // Sequences the owner owns on both sides continue where the parent's are.
    const seqSql = `select n.nspname as schema, c.relname as name from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'S' and c.relowner = (select oid from pg_catalog.pg_roles where rolname = current_user)`;
    const parentSeqs = new Set((await parent.query(seqSql)).rows.map((r) => `${r.schema}.${r.name}`));
    for (const s of (await branch.query(seqSql)).rows) {
      if (!parentSeqs.has(`${s.schema}.${s.name}`)) continue;
      const name = q(branch, s.schema, s.name);
      const [v] = (await parent.query(`select last_value::text as v, is_called from ${name}`)).rows;
      await branch.query('select pg_catalog.setval($1::pg_catalog.regclass, $2::bigint, $3)', [name, v.v, v.is_called]);
    }
    await branch.query('set local search_path = public');
    return total;
  });
}
