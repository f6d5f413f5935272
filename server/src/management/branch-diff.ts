// The SQL that takes a parent's schema to its branch's (GET /v1/branches/{id}/diff), from @pgkit/migra (a
// TypeScript port of migra): each database's catalog is read by its own owner, in a read-only transaction with
// search_path pinned to pg_catalog, so no superuser reads a tenant's catalog and no tenant object stands in for
// a built-in one during the inspection.
import type pg from 'pg';
import { Migration } from '@pgkit/migra';
import { PostgreSQL } from '@pgkit/schemainspect';
import type { Queryable } from '@pgkit/client';
import { ownerTransaction } from './project-db.ts';
import { ApiError } from '../errors.ts';

const MAX_DIFF_BYTES = 5 * 1024 * 1024;

/** The two calls schemainspect makes (oneFirst, any), on a pg client already in the right transaction. */
function queryable(c: pg.PoolClient): Queryable {
  const rows = async (q: { sql: string; values?: unknown[] }) => (await c.query(q.sql, q.values ?? [])).rows;
  const unsupported = () => { throw new Error('not used by the schema inspector'); };
  return {
    any: rows, many: rows,
    oneFirst: async (q: { sql: string; values?: unknown[] }) => Object.values((await rows(q))[0] ?? {})[0],
    query: unsupported, one: unsupported, maybeOne: unsupported, maybeOneFirst: unsupported, anyFirst: unsupported,
    get noNulls() { return unsupported(); },
  } as unknown as Queryable;
}

function inspect(ref: string): Promise<PostgreSQL> {
  return ownerTransaction(ref, { readOnly: true, searchPath: 'pg_catalog', timeoutMs: 60_000 },
    (c) => PostgreSQL.create(queryable(c)));
}

// What schemainspect's own schema filter goes through (its PROPS, not exported by the package). Migration.create
// skips that filter for inspections made beforehand, so it is applied here.
const INSPECTED = ['schemas', 'relations', 'tables', 'views', 'functions', 'selectables', 'sequences', 'constraints',
  'indexes', 'enums', 'extensions', 'privileges', 'collations', 'triggers', 'rlspolicies'] as const;

function keepSchemas(inspected: PostgreSQL, included: Set<string>): PostgreSQL {
  const bag = inspected as unknown as Record<string, Record<string, { schema?: string }>>;
  for (const prop of INSPECTED) {
    bag[prop] = Object.fromEntries(Object.entries(bag[prop] ?? {}).filter(([, v]) => included.has(v.schema ?? '')));
  }
  return inspected;
}

/** `included` schemas only (Supabase's `included_schemas`, default `public`). Privileges are compared too. */
export async function diffSchemas(parentRef: string, branchRef: string, included: string[]): Promise<string> {
  const keep = new Set(included);
  const [from, target] = await Promise.all([inspect(parentRef), inspect(branchRef)]);
  const m = await Migration.create(keepSchemas(from, keep), keepSchemas(target, keep), {});
  m.set_safety(false);
  m.add_all_changes(true);
  const parts = [m.sql];
  // Grants to each project's own roles (its owner and logins, named after its ref) differ by name only.
  const sql = parts.join('').split('\n')
    .filter((line) => !line.includes(`"${parentRef}`) && !line.includes(`"${branchRef}`)).join('\n');
  if (Buffer.byteLength(sql) > MAX_DIFF_BYTES) {
    throw new ApiError(400, 'result_too_large', `the diff is larger than ${MAX_DIFF_BYTES} bytes; narrow included_schemas`);
  }
  return sql;
}
