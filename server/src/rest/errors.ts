// PostgREST's error shape and codes: `{code, message, details, hint}` with its HTTP statuses, and the one
// mapping from a Postgres error (SQLSTATE) to that shape (including `RAISE SQLSTATE 'PGRST'` and `PTnnn`).
import { isDatabaseUnavailable } from '../../../db/src/pg-errors.ts';
import { ResultTooLargeError } from '../../../db/src/pools.ts';
import { DECODE_FAILURES, JwtError } from '../project/jwt.ts';

export class RestError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly hint: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, details: unknown = null, hint: unknown = null, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.hint = hint;
    this.headers = headers;
  }
  body() {
    return { code: this.code, details: this.details ?? null, hint: this.hint ?? null, message: this.message };
  }
}

const E = (status: number, code: string, message: string, details: unknown = null, hint: unknown = null) =>
  new RestError(status, code, message, details, hint);

export const restErrors = {
  parse: (message: string, details: string) => E(400, 'PGRST100', message, details),
  rpcMethod: (method: string) => E(405, 'PGRST101', `Cannot use the ${method} method on RPC`),
  invalidBody: (message: string) => E(400, 'PGRST102', message),
  range: (details: string) => E(416, 'PGRST103', 'Requested range not satisfiable', details),
  putFilters: () => E(405, 'PGRST105', "Filters must include all and only primary key columns with 'eq' operators"),
  schema: (schema: string, exposed: string[]) =>
    E(406, 'PGRST106', `Invalid schema: ${schema}`, null, `Only the following schemas are exposed: ${exposed.join(', ')}`),
  mediaType: (types: string[]) => E(406, 'PGRST107', `None of these media types are available: ${types.join(', ')}`),
  notEmbedded: (resource: string) => E(400, 'PGRST108', `'${resource}' is not an embedded resource in this request`, null,
    `Verify that '${resource}' is included in the 'select' query parameter.`),
  gucHeaders: () => E(500, 'PGRST111', 'response.headers guc must be a JSON array composed of objects with a single key and a string value'),
  gucStatus: () => E(500, 'PGRST112', 'response.status guc must be a valid status code'),
  putLimit: () => E(400, 'PGRST114', 'limit/offset querystring parameters are not allowed for PUT'),
  putPk: () => E(400, 'PGRST115', 'Payload values do not match URL in primary key column(s)'),
  singular: (n: number) => E(406, 'PGRST116', 'Cannot coerce the result to a single JSON object', `The result contains ${n} rows`),
  method: (method: string) => E(405, 'PGRST117', `Unsupported HTTP method: ${method}`),
  relatedOrder: (origin: string, target: string) => E(400, 'PGRST118', `A related order on '${target}' is not possible`,
    `'${origin}' and '${target}' do not form a many-to-one or one-to-one relationship`),
  embedFilter: (target: string) => E(400, 'PGRST120', `Bad operator on the '${target}' embedded resource`,
    'Only is null or not is null filters are allowed on embedded resources'),
  invalidPrefs: (prefs: string[]) => E(400, 'PGRST122', 'Invalid preferences given with handling=strict', `Invalid preferences: ${prefs.join(', ')}`),
  aggregatesOff: () => E(400, 'PGRST123', 'Use of aggregate functions is not allowed'),
  maxAffected: (n: number) => E(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', `The query affects ${n} rows`),
  path: () => E(404, 'PGRST125', 'Invalid path specified in request URL'),
  notImplemented: (details: string) => E(400, 'PGRST127', 'Feature not implemented', details),
  maxAffectedRpc: () => E(400, 'PGRST128', 'Function must return SETOF or TABLE when max-affected preference is used with handling=strict'),
  noRelationship: (parent: string, child: string, hint: string | undefined, schema: string) => E(400, 'PGRST200',
    `Could not find a relationship between '${parent}' and '${child}' in the schema cache`,
    `Searched for a foreign key relationship between '${parent}' and '${child}${hint ? `' using the hint '${hint}` : ''}' in the schema '${schema}', but no matches were found.`),
  ambiguousRelationship: (parent: string, child: string, details: unknown[], hint: string) => E(300, 'PGRST201',
    `Could not embed because more than one relationship was found for '${parent}' and '${child}'`, details,
    `Try changing '${child}' to one of the following: ${hint}. Find the desired relationship in the 'details' key.`),
  duplicateAlias: (name: string) => E(400, '42712', `table name "${name}" specified more than once`),
  noFunction: (message: string, details: string, hint: string | null) => E(404, 'PGRST202', message, details, hint),
  ambiguousFunction: (list: string) => E(300, 'PGRST203', `Could not choose the best candidate function between: ${list}`, null,
    'Try renaming the parameters or the function itself in the database so function overloading can be resolved'),
  noColumn: (rel: string, col: string) => E(400, 'PGRST204', `Could not find the '${col}' column of '${rel}' in the schema cache`),
  noTable: (schema: string, rel: string, hint: string | null) =>
    E(404, 'PGRST205', `Could not find the table '${schema}.${rel}' in the schema cache`, null, hint),
  schemaCache: () => E(503, 'PGRST002', 'Could not query the database for the schema cache. Retrying.'),
  // PostgREST's code for a database it cannot reach.
  databaseUnavailable: () => new RestError(503, 'PGRST000', 'Could not connect with the database', null,
    'The database is not available right now: try again shortly', { 'Retry-After': '5' }),
  // Loam's own (PostgREST has no result cap): the response would pass LOAM_MAX_RESULT_BYTES. A 4xx, since the
  // caller can fix it by reading less (a limit, a Range, fewer columns).
  resultTooLarge: (message: string) => E(400, 'PGRSTL01', message, null,
    'Use limit/offset or a Range header, or select fewer columns'),
};

/** PostgREST's rendering of JWT failures (Error.hs, JwtError): PGRST301 when the token cannot be decoded or
 *  verified, PGRST303 when its claims are invalid, all 401 with WWW-Authenticate. A role the data plane does
 *  not serve is what PostgREST reports when Postgres refuses to switch to it: 22023, 401. */
export function jwtRestError(err: JwtError): RestError {
  if (err.reason === 'role') return new RestError(401, '22023', err.message, null, null, { 'WWW-Authenticate': 'Bearer' });
  const details = err.reason === 'bad_signature' ? 'None of the keys was able to decode the JWT' : null;
  return new RestError(401, DECODE_FAILURES.has(err.reason) ? 'PGRST301' : 'PGRST303', err.message, details, null,
    // The message can quote a claim the caller chose (a role): a header value holds visible ASCII only.
    { 'WWW-Authenticate': `Bearer error="invalid_token", error_description=${JSON.stringify(err.message).replace(/[^\x20-\x7e]/g, '?')}` });
}

interface PgErr { code?: string; message: string; detail?: string; hint?: string; severity?: string }

/** PostgREST's SQLSTATE → HTTP status table. `authed`: the role is not anon (42501 → 403 rather than 401). */
export function pgStatus(code: string, message: string, authed: boolean): number {
  const p2 = code.slice(0, 2);
  switch (code) {
    case '23503': case '23505': return 409;
    case '25006': return 405;
    case '21000': return message.endsWith('requires a WHERE clause') ? 400 : 500;
    case '22023': return message.startsWith('role') && message.endsWith('does not exist') ? 401 : 400;
    case '53400': return 500;
    // PostgREST answers class 54 with 500; these two are a statement or value too big or too deep for
    // Postgres, which only the request makes so (a huge indexed value, a deeply nested filter or body).
    case '54000': case '54001': return 400;
    case '57P01': return 503;
    case 'P0001': return 400;
    case '42883': return message.startsWith('function xmlagg(') ? 406 : 404;
    case '42P01': return 404;
    case '42P17': return 500;
    case '42501': return authed ? 403 : 401;
  }
  switch (p2) {
    case '08': return 503;
    case '0L': case '0P': case '28': return 403;
    case '09': case '25': case '2D': case '38': case '39': case '3B': case '40': case '54': case '55': case '57':
    case '58': case 'F0': case 'HV': case 'P0': case 'XX': return 500;
    case '53': return 503;
  }
  if (p2 === 'PT') {
    const n = Number(code.slice(2));
    return Number.isInteger(n) && n >= 100 && n <= 599 ? n : 500;
  }
  return 400;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

/** Maps a Postgres error to PostgREST's response. Errors that are not from Postgres are returned as they are. */
export function fromPgError(err: unknown, authed: boolean): unknown {
  if (err instanceof ResultTooLargeError) return restErrors.resultTooLarge(err.message);
  if (err instanceof RestError || typeof err !== 'object' || err === null) return err;
  const unavailable = isDatabaseUnavailable(err);
  if (!('severity' in err)) return unavailable ? restErrors.databaseUnavailable() : err;
  const e = err as PgErr;
  const code = e.code ?? 'XX000';
  if (code === 'PGRST') return raisedPgrst(e);
  // A server going down or not yet up (57P02, 57P03) is PostgREST's 503 as 57P01 is, not its 57 class's 500.
  const status = unavailable ? 503 : pgStatus(code, e.message, authed);
  const headers: Record<string, string> = {};
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  return new RestError(status, code, e.message, e.detail ?? null, e.hint ?? null, headers);
}

// `RAISE SQLSTATE 'PGRST' USING message = '{"code":..,"message":..}', detail = '{"status":..,"headers":{..}}'`
function raisedPgrst(e: PgErr): RestError {
  const m = parseJson(e.message) as Record<string, unknown> | undefined;
  if (!m || typeof m !== 'object' || typeof m.code !== 'string' || typeof m.message !== 'string') {
    return new RestError(500, 'PGRST121', 'Could not parse JSON in the "RAISE SQLSTATE \'PGRST\'" error',
      `Invalid JSON value for MESSAGE: '${e.message}'`,
      "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.");
  }
  const detHint = "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.";
  if (e.detail === undefined) {
    return new RestError(500, 'PGRST121', 'Could not parse JSON in the "RAISE SQLSTATE \'PGRST\'" error', 'DETAIL is missing in the RAISE statement', detHint);
  }
  const d = parseJson(e.detail) as Record<string, unknown> | undefined;
  if (!d || typeof d !== 'object' || typeof d.status !== 'number' || typeof d.headers !== 'object' || d.headers === null) {
    return new RestError(500, 'PGRST121', 'Could not parse JSON in the "RAISE SQLSTATE \'PGRST\'" error', `Invalid JSON value for DETAIL: '${e.detail}'`, detHint);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers as Record<string, unknown>)) headers[k] = String(v);
  return new RestError(d.status, m.code, m.message, m.details ?? null, m.hint ?? null, headers);
}
