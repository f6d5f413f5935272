// GraphQL errors as Loam serves them: every error carries a stable `extensions.code`; a Postgres error keeps
// its SQLSTATE as the code (as PostgREST's `code`); in production, errors that are not the caller's (lost
// connections, bugs) are masked so no internal detail leaks.
import type { ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { isSafeError } from 'postgraphile/grafast';
import { isDatabaseUnavailable } from '../../../db/src/pg-errors.ts';
import { ResultTooLargeError } from '../../../db/src/pools.ts';
import type { JwtError } from '../project/jwt.ts';

export const CODES = {
  parse: 'GRAPHQL_PARSE_FAILED',
  validation: 'GRAPHQL_VALIDATION_FAILED',
  unauthenticated: 'UNAUTHENTICATED',
  internal: 'INTERNAL_SERVER_ERROR',
  unavailable: 'SERVICE_UNAVAILABLE',
  schemaBuild: 'SCHEMA_BUILD_FAILED',
  badRequest: 'BAD_REQUEST',
  resultTooLarge: 'RESULT_TOO_LARGE',
} as const;

/** The message of a database that cannot be reached, in every GraphQL response that reports one. */
export const UNAVAILABLE_MESSAGE = 'The database is not available right now: try again shortly';

interface PgErrorLike { code: string; severity: string; message: string; detail?: string; hint?: string }

function pgError(err: unknown): PgErrorLike | undefined {
  const e = err as Partial<PgErrorLike> | null;
  return e && typeof e === 'object' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string'
    ? e as PgErrorLike : undefined;
}

// SQLSTATE classes that describe the server, not the request: connection loss, resources, operator action,
// system and internal errors. Everything else (constraint, permission, data, the user's own RAISE) is the
// caller's business and is shown as Postgres says it.
const INTERNAL_CLASSES = new Set(['08', '53', '55', '57', '58', 'F0', 'XX']);

const rebuild = (error: GraphQLError, message: string, extensions: Record<string, unknown>) => new GraphQLError(message, {
  nodes: error.nodes, source: error.source, positions: error.positions, path: error.path,
  originalError: error.originalError, extensions,
});

/** grafserv's `maskError`: shapes every execution error. */
export function makeMaskError(production: boolean) {
  return (error: GraphQLError): GraphQLError => {
    const original = error.originalError;
    // Over LOAM_MAX_RESULT_BYTES: the caller's to narrow (fewer rows, `first:`), and safe to say.
    if (original instanceof ResultTooLargeError) return rebuild(error, original.message, { code: CODES.resultTooLarge });
    if (isDatabaseUnavailable(original)) return rebuild(error, UNAVAILABLE_MESSAGE, { code: CODES.unavailable });
    const pg = pgError(original);
    if (pg) {
      if (production && INTERNAL_CLASSES.has(pg.code.slice(0, 2))) {
        return rebuild(error, 'An internal error occurred', { code: CODES.internal });
      }
      return rebuild(error, pg.message, {
        code: pg.code,
        ...(pg.detail ? { details: pg.detail } : {}),
        ...(pg.hint ? { hint: pg.hint } : {}),
      });
    }
    if (!original || original instanceof GraphQLError) {
      // graphql-js' own errors (a non-null field resolved to null, a bad variable, …) are the caller's.
      return error.extensions?.code ? error : rebuild(error, error.message, { ...error.extensions, code: CODES.badRequest });
    }
    if (isSafeError(original)) {
      return rebuild(error, original.message, { code: CODES.badRequest, ...original.extensions });
    }
    if (production) return rebuild(error, 'An internal error occurred', { code: CODES.internal });
    return rebuild(error, error.message, { code: CODES.internal });
  };
}

/** Gives parse and validation errors their code (grafserv returns them as graphql-js made them). */
export function withRequestErrorCode(error: GraphQLError): GraphQLError {
  if (error.extensions?.code) return error;
  const code = error.message.startsWith('Syntax Error') ? CODES.parse : CODES.validation;
  return rebuild(error, error.message, { ...error.extensions, code });
}

const HTTP_CODES: Record<number, string> = {
  400: CODES.badRequest, 405: 'METHOD_NOT_ALLOWED', 406: 'NOT_ACCEPTABLE', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE',
};

type ServResult = { type: string; statusCode?: number; headers?: Record<string, string>; buffer?: Buffer } | null;

/** Adds `extensions.code` to the errors of a JSON error response grafserv produced (rare: parsed only then). */
export function codeHttpErrors<T extends ServResult>(result: T): T {
  if (!result || result.type !== 'buffer' || !result.buffer || (result.statusCode ?? 200) < 400) return result;
  if (!/json/.test(result.headers?.['content-type'] ?? '')) return result;
  let body: { errors?: { extensions?: Record<string, unknown> }[] };
  try {
    body = JSON.parse(result.buffer.toString('utf8'));
  } catch {
    return result;
  }
  if (!Array.isArray(body.errors) || body.errors.every((e) => e.extensions?.code)) return result;
  const code = HTTP_CODES[result.statusCode!] ?? CODES.internal;
  for (const e of body.errors) {
    const { statusCode: _status, ...rest } = e.extensions ?? {};
    e.extensions = { code, ...rest };
  }
  result.buffer = Buffer.from(JSON.stringify(body), 'utf8');
  result.headers!['content-length'] = String(result.buffer.length);
  return result;
}

/** A GraphQL-shaped error response outside of execution (bad token, unavailable schema). Plain Node calls, so
 *  the Express route and the plain-Node path (raw.ts) answer byte for byte alike. */
export function sendError(res: ServerResponse, status: number, message: string, extensions: Record<string, unknown>): void {
  sendJson(res, status, { errors: [{ message, extensions }] });
}

/** A JSON body with the headers Express' res.json() would give it. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export function sendJwtError(res: ServerResponse, err: JwtError): void {
  // The message can quote a claim the caller chose (a role): a header value holds visible ASCII only.
  res.setHeader('WWW-Authenticate', `Bearer error="invalid_token", error_description="${err.message.replace(/"/g, "'").replace(/[^\x20-\x7e]/g, '?')}"`);
  sendError(res, 401, err.message, { code: CODES.unauthenticated, reason: err.reason });
}
