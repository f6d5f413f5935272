// A project's database through the Management API: run SQL as the owner; change the owner's password.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import pg from 'pg';
import { isDatabaseUnavailable, isPgError } from '../../../db/src/pg-errors.ts';
import { errors } from '../errors.ts';
import { body, bool, str, param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { clientAddress } from './network.ts';
import { findProject } from './projects.ts';
import { ownerPool } from './project-db.ts';
import { setDatabasePassword } from './credentials.ts';
import { recordPostgresError } from '../request-log.ts';
import { settings } from '../../../db/src/config.ts';

// bigint as a JSON number when it fits (as Supabase's SQL endpoint answers), as a string when it would lose
// digits. Per query, so no other user of the pg module is affected.
const queryTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
    return pg.types.getTypeParser(oid, format);
  },
};


export const database = Router();

// A read-only query may read (scope database:read); any other needs database:write.
const queryScope: RequestHandler = (req, res, next) => scope('database', bool(body(req.body), 'read_only') ? 'read' : 'write')(req, res, next);

database.post('/projects/:ref/database/query', authenticate, queryScope,
  (req, res) => runQuery(req, res, bool(body(req.body), 'read_only') ?? false));
// Supabase's read-only endpoint: the same as `read_only: true` (one statement, in a read-only transaction).
database.post('/projects/:ref/database/query/read-only', authenticate, scope('database', 'read'), (req, res) => runQuery(req, res, true));

async function runQuery(req: Request, res: Response, readOnly: boolean) {
  const b = body(req.body);
  const sql = str(b, 'query', { required: true, min: 1, max: 1_000_000 });
  const params = b.parameters;
  if (params !== undefined && !Array.isArray(params)) throw errors.invalidBody('parameters must be an array');
  await findProject(res, param(req, "ref"));
  // The project's allowed networks and bans hold here as on its psql login.
  await callerQuery(res, 'select platform.check_database_address($1, $2)', [param(req, "ref"), clientAddress(req.ip)]);
  const { pool, project } = await ownerPool(param(req, "ref"));
  const client = await pool.connect();
  let rows: unknown[] = [];
  try {
    await client.query(`begin${readOnly ? ' read only' : ''}; set local statement_timeout = ${settings.sqlTimeoutMs}`);
    // Read-only SQL goes through the extended protocol, which takes exactly one statement: a `commit;` in the
    // text cannot end the read-only transaction and let the statements after it write.
    const result = readOnly || params?.length
      ? await client.query({ text: sql, values: params ?? [], queryMode: 'extended', types: queryTypes } as pg.QueryConfig)
      : await client.query({ text: sql, types: queryTypes });
    const results = (Array.isArray(result) ? result : [result]) as pg.QueryResult[];
    rows = results.at(-1)?.rows ?? [];
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    // A session ended under the query (the project was paused or deleted) is the database's state, not the SQL's.
    // A protocol violation here is the caller's: `parameters` that do not match the statement's placeholders.
    if (isPgError(err) && (!isDatabaseUnavailable(err) || err.code === '08P01')) {
      recordPostgresError(project.id, err);
      throw errors.sqlError(err.message + positionNote(sql, (err as { position?: string }).position), err.code!);
    }
    throw err;
  } finally {
    // Whatever session state the SQL left (settings, prepared statements, listens) goes with it.
    await client.query('discard all').then(() => client.release(), (e) => client.release(e));
  }
  res.status(201).json(rows);
}

/** Where in the SQL an error is, as psql and Supabase's SQL endpoint show it: the line, and a caret under the
 *  character (Postgres gives a 1-based character offset into the whole text). */
export function positionNote(text: string, position: string | undefined): string {
  const at = Number(position);
  if (!Number.isInteger(at) || at < 1 || at > text.length + 1) return '';
  const before = text.slice(0, at - 1);
  const lineNo = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', lineStart);
  const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).slice(0, 500);
  const prefix = `LINE ${lineNo}: `;
  return `\n${prefix}${line}\n${' '.repeat(prefix.length + Math.min(at - 1 - lineStart, 500))}^`;
}

// The project's database and its schemas (Supabase's context for tools that write SQL), as the owner sees them.
database.get('/projects/:ref/database/context', authenticate, scope('database', 'read'), async (req, res) => {
  const ref = param(req, 'ref');
  await findProject(res, ref);
  const { pool } = await ownerPool(ref);
  const { rows } = await pool.query<{ name: string }>(
    `select nspname as name from pg_catalog.pg_namespace
     where nspname !~ '^pg_' and nspname <> 'information_schema' and has_schema_privilege(oid, 'usage') order by nspname`);
  res.json({ databases: [{ name: ref, schemas: rows }] });
});

database.patch('/projects/:ref/database/password', authenticate, scope('database', 'write'), async (req, res) => {
  const password = str(body(req.body), 'password', { required: true, min: 8, max: 128 });
  // The role on the database server changes before the control database commits the new verifier, so a
  // server that cannot be reached leaves both on the old password rather than disagreeing.
  await setDatabasePassword(res, param(req, 'ref'), password);
  res.json({ message: 'Database password updated' });
});
