// Row login (`POST /v1/data/{ref}/{table}/login`): a table the builder gave a password column is a user table of
// its own. The identifier and password are checked against the bcrypt hash the column's trigger stored in
// row_auth.passwords, and the answer is a project JWT, signed as auth signs sessions, whose `sub` is the row's
// primary key and whose role is the one the column names — so RLS policies read it with auth.uid()/auth.jwt().
// Like the data plane it needs one of the project's API keys; like password sign-in it is rate limited per IP.
import { Router } from 'express';
import { authConfig } from '../auth/config.ts';
import { AuthError } from '../auth/errors.ts';
import { limitIp } from '../auth/limits.ts';
import { comparePassword } from '../auth/passwords.ts';
import { issuer, ROW_LOGIN_METHOD } from '../auth/session.ts';
import { ApiError, errors } from '../errors.ts';
import { ownerTransaction } from '../management/project-db.ts';
import { LOGIN_ROLES, name, qualified, ident } from '../management/table-sql.ts';
import { isDatabaseUnavailable, isPgError } from '../../../db/src/pg-errors.ts';
import { checkProject } from '../project/resolve.ts';
import { signSession } from '../project/signing.ts';
import { identifyToken, NO_API_KEY } from '../project/keys.ts';
import { body, param, str } from '../validate.ts';

export const rowLogin = Router();

// Unknown row, row without a password and wrong password: one answer, after one bcrypt comparison each.
const invalid = () => new ApiError(400, 'invalid_credentials', 'Invalid login credentials');
// The owner's psql changes to the table or to row_auth (a renamed column, a role no login may sign) leave a
// login that cannot work: the caller is told so, the same way every time, and nothing is signed.
const misconfigured = () => new ApiError(400, 'row_login_misconfigured',
  'The login settings of this table (row_auth.logins) do not match it: the project\'s owner must fix them');

interface Found { key: string | null; hash: string | null; role: string }

// Apps call it from the browser, as they call auth: any origin, preflights answered (tokens travel in headers).
rowLogin.use('/data/:ref/:table/login', (req, res, next) => {
  res.set({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, apikey, x-client-info' });
  if (req.method === 'OPTIONS') return void res.status(204).end();
  next();
});

rowLogin.post('/data/:ref/:table/login', async (req, res) => {
  if (!req.headers.apikey) throw new ApiError(NO_API_KEY.status, 'no_api_key', NO_API_KEY.body.message);
  const ref = param(req, 'ref');
  const gate = await checkProject(ref, req.headers);
  if (!('project' in gate)) return void res.status(gate.status).set(gate.headers).json(gate.body);
  const p = gate.project;
  // The gate checks new-style keys only; a legacy JWT key must verify with this project's keys too.
  try {
    identifyToken(String(req.headers.apikey ?? ''), p);
  } catch {
    throw new ApiError(401, 'invalid_api_key', 'Invalid API key');
  }
  if (!req.is('application/json')) throw new ApiError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  const b = body(req.body);
  const identifier = str(b, 'identifier', { required: true, max: 1000 });
  const password = str(b, 'password', { required: true, max: 1000 });
  const table = name(param(req, 'table'), 'table');
  const cfg = await authConfig(ref);
  try {
    await limitIp(ref, cfg, 'token', req.ip);
  } catch (err) {
    if (err instanceof AuthError) throw new ApiError(429, 'over_request_rate_limit', 'Request rate limit reached');
    throw err;
  }
  const t = qualified(table);
  const found = await ownerTransaction<Found | undefined>(ref, { readOnly: true, searchPath: 'pg_catalog', timeoutMs: 5000 }, async (c) => {
    const { rows: [has] } = await c.query(`select to_regclass('row_auth.logins') is not null and to_regclass($1) is not null as ok`, [t]);
    if (!has.ok) return undefined;
    try {
      const { rows: [login] } = await c.query('select key_column, identifier_column, password_column, role from row_auth.logins where table_name = to_regclass($1)', [t]);
      if (!login) return undefined;
      // The row's key becomes the token's `sub`: if an API role may choose it (a table made before the key guard,
      // or the owner's grant over psql), a caller could write a row keyed as another user and sign in as them.
      const { rows: [open] } = await c.query(`select bool_or(has_column_privilege(r, $1::regclass, $2, p)) as writable
        from unnest(array['anon', 'authenticated']) r, unnest(array['INSERT', 'UPDATE']) p`, [t, login.key_column]);
      if (open.writable) throw misconfigured();
      // The identifier is compared as text, so any column type takes a string (and a malformed one finds nothing).
      const { rows: [row] } = await c.query(`select (t.${ident(login.key_column)})::text as key, p.hash
        from ${t} t left join row_auth.passwords p on p.table_name = to_regclass($1) and p.column_name = $2 and p.row_key = (t.${ident(login.key_column)})::text
        where (t.${ident(login.identifier_column)})::text = $3 limit 1`, [t, login.password_column, identifier]);
      return { key: row?.key ?? null, hash: row?.hash ?? null, role: login.role };
    } catch (err) {
      if (isPgError(err) && !isDatabaseUnavailable(err) && err.code !== '57014') throw misconfigured();
      throw err;
    }
  });
  if (!found) throw errors.notFound('Table with a password column');
  // row_auth is the owner's to edit: whatever role it names, only the builder's choices are ever signed (never
  // service_role, which bypasses RLS, nor any database role).
  if (!LOGIN_ROLES.includes(found.role)) throw misconfigured();
  const ok = await comparePassword(password, found.hash);
  if (!ok || found.key === null || !found.hash) throw invalid();
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + cfg.jwt_exp;
  const token = await signSession(p, {
    iss: issuer(p), sub: found.key, aud: 'authenticated', exp, iat, role: found.role,
    table, amr: [{ method: ROW_LOGIN_METHOD, timestamp: iat }], is_anonymous: false,
  });
  res.json({ access_token: token, token_type: 'bearer', expires_in: cfg.jwt_exp, expires_at: exp, sub: found.key, role: found.role });
});
