// The Management API's errors: a registry of factories, and the one middleware that renders every error as
// `{ message, code }` with its status. Handlers throw; they never format errors themselves.
import type { ErrorRequestHandler } from 'express';
import { isDatabaseUnavailable, mapPgError } from '../../db/src/pg-errors.ts';
import { ResultTooLargeError } from '../../db/src/pools.ts';
import { tooDeepMessage } from './json-depth.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** More fields of the error body, after `message` and `code` (a quota's limit and reset time). */
  readonly extra: Record<string, unknown>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.extra = extra;
  }
}

export const errors = {
  invalidBody: (message: string) => new ApiError(400, 'invalid_body', message),
  jsonTooDeep: () => new ApiError(400, 'json_too_deep', tooDeepMessage()),
  invalidPath: (message: string) => new ApiError(400, 'invalid_path', message),
  unauthorized: () => new ApiError(401, 'unauthorized', 'Unauthorized: a valid access token is required'),
  invalidCredentials: () => new ApiError(401, 'invalid_credentials', 'Invalid email or password'),
  forbiddenScope: (scope: string) => new ApiError(403, 'insufficient_scope', `This access token lacks the "${scope}" scope`),
  notFound: (what = 'Resource') => new ApiError(404, 'not_found', `${what} not found`),
  projectNotFound: () => new ApiError(404, 'project_not_found', 'Project not found'),
  organizationNotFound: () => new ApiError(404, 'organization_not_found', 'Organization not found'),
  tokenNotFound: () => new ApiError(404, 'token_not_found', 'Access token not found'),
  rateLimited: (retryAfter: number) =>
    new ApiError(429, 'rate_limited', 'Too many requests: try again later', { 'Retry-After': String(retryAfter) }),
  sqlError: (message: string, sqlstate: string) => new ApiError(400, sqlstate, message),
  projectUnavailable: (status: string) => new ApiError(503, 'project_unavailable',
    status === 'INACTIVE' || status === 'PAUSING' ? 'project is paused' : `project is not available (status ${status})`),
  // The caller asked for more than one response may carry (LOAM_MAX_RESULT_BYTES): theirs to narrow, hence a 4xx.
  resultTooLarge: (message: string) => new ApiError(400, 'result_too_large', message),
  invalidPostgresConfig: (message: string) => new ApiError(400, 'invalid_postgres_config', message),
  invalidPoolerConfig: (message: string) => new ApiError(400, 'invalid_pooler_config', message),
  snippetNotFound: () => new ApiError(404, 'snippet_not_found', 'Snippet not found'),
  databaseUnavailable: () => new ApiError(503, 'database_unavailable', 'The database is not available right now: try again shortly', { 'Retry-After': '5' }),
};

/** Converts anything thrown into an ApiError: our own, a platform SQL domain error, a body parse error, or a 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ResultTooLargeError) return errors.resultTooLarge(err.message);
  if (isDatabaseUnavailable(err)) return errors.databaseUnavailable();
  const mapped = mapPgError(err);
  if (mapped) return new ApiError(mapped.status, mapped.code, mapped.message);
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.parse.failed') return errors.invalidBody('Request body is not valid JSON');
  if (e?.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'Request body is too large');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new ApiError(e.status, 'bad_request', e.message ?? 'Bad request');
  return new ApiError(500, 'internal_error', 'Internal server error');
}

export const renderErrors: ErrorRequestHandler = (err, _req, res, _next) => {
  const api = toApiError(err);
  if (api.status >= 500 && api.code === 'internal_error') console.error(err);
  res.status(api.status).set(api.headers).json({ ...api.extra, message: api.message, code: api.code });
};
