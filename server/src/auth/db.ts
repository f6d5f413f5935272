// How auth reaches a project's database: as service_role (the only role granted the auth tables and
// functions), through the data plane's authenticator pool, one transaction per call — and one network round
// trip per call: BEGIN, the request context, the statement and COMMIT travel together in one simple-protocol
// message, so the statement's values are inlined as escaped literals (the same technique as contextSql).
// Every auth call is a single SQL function call with a few scalar or JSON arguments, so this stays simple.
import pg from 'pg';
import { contextSql } from '../../../db/src/context.ts';
import { projectPool } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';

const BEGIN = `begin; ${contextSql({ role: 'service_role', claims: { role: 'service_role' } })}`;

function literal(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError('auth SQL argument is not a finite number');
    return `'${v}'`;
  }
  return pg.escapeLiteral(typeof v === 'string' ? v : JSON.stringify(v));
}

/** `$n` placeholders of a statement written in this folder, replaced by literals of `params`. */
export function inline(sql: string, params: unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_m, n: string) => literal(params[Number(n) - 1]));
}

const connectionLost = (err: unknown) => /^(08|57P)/.test((err as { code?: string })?.code ?? '');

/** SQL (one statement, or a few of which the last answers) returning one value: the first column of the
 *  first row, or undefined. */
export async function authCall<T = any>(p: ProjectRuntime, sql: string, params: unknown[] = []): Promise<T> {
  const pool = projectPool(await authenticatorAddress(p.database_server_id!), p.db_name);
  const client = await pool.connect();
  let broken = false;
  try {
    const results = await client.query(`${BEGIN}; ${inline(sql, params)}; commit`) as unknown as pg.QueryResult[];
    const r = results[results.length - 2];
    return r.rows[0]?.[r.fields[0].name] as T;
  } catch (err) {
    broken = connectionLost(err);
    if (!broken) await client.query('rollback').catch(() => { broken = true; });
    throw err;
  } finally {
    client.release(broken);
  }
}
