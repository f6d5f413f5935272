// Storage API errors in storage-api's shape: one registry of factories, the mapping of Postgres errors, and the
// one middleware that renders `{statusCode, code, error, message}`.
//
// storage-api answers every client error with HTTP 400 and puts the meaningful status ("404", "403", "409",
// "413", "415") in the body's `statusCode` string; only a few errors use that status on the wire too (416 for a
// bad Range, 403 where a role is enforced, 500 for its own faults). supabase-js reads both, so Loam does the same.
import type { ErrorRequestHandler } from 'express';
import { JwtError, type JwtFailure } from '../project/jwt.ts';
import { isDatabaseUnavailable, isPgError } from '../../../db/src/pg-errors.ts';
import { ResultTooLargeError } from '../../../db/src/pools.ts';

export class StorageError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly error: string;
  /** The HTTP status on the wire (see above). */
  readonly httpStatus: number;
  constructor(statusCode: number, code: string, message: string, error = code, httpStatus?: number) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.error = error;
    this.httpStatus = httpStatus ?? (statusCode >= 500 ? 500 : 400);
  }
}

export const errors = {
  noSuchBucket: () => new StorageError(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found'),
  noSuchKey: () => new StorageError(404, 'NoSuchKey', 'Object not found', 'not_found'),
  invalidBucketName: () => new StorageError(400, 'InvalidBucketName', 'Bucket name invalid', 'Invalid Input'),
  invalidKey: (key: string) => new StorageError(400, 'InvalidKey', `Invalid key: ${key}`),
  invalidRequest: (message: string) => new StorageError(400, 'InvalidRequest', message),
  invalidParameter: (name: string, message?: string) =>
    new StorageError(400, 'InvalidParameter', message ?? `Invalid Parameter ${name}`),
  missingParameter: (name: string) => new StorageError(400, 'MissingParameter', `Missing Required Parameter ${name}`),
  noContent: () => new StorageError(400, 'InvalidRequest', 'No content provided'),
  accessDenied: (message = 'Access denied') => new StorageError(403, 'AccessDenied', message, 'Unauthorized'),
  alreadyExists: () => new StorageError(409, 'ResourceAlreadyExists', 'The resource already exists', 'Duplicate'),
  bucketNotEmpty: () => new StorageError(409, 'ResourceNotEmpty', 'The bucket you tried to delete is not empty'),
  entityTooLarge: (entity = 'object', limit = 'the maximum allowed size') =>
    new StorageError(413, 'EntityTooLarge', `The ${entity} exceeded ${limit}`, 'Payload too large'),
  // A project's plan's storage quota (quota.ts); storage-api has no quota, so the code is Loam's.
  quotaExceeded: (message: string) => new StorageError(413, 'QuotaExceeded', message, 'Payload too large'),
  invalidMimeType: (mime: string) =>
    new StorageError(415, 'InvalidMimeType', `mime type ${mime} is not supported`, 'invalid_mime_type'),
  invalidFileSizeLimit: () =>
    new StorageError(400, 'InvalidRequest', 'Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B'),
  invalidJwt: (message: string) => new StorageError(400, 'InvalidJWT', message),
  invalidSignature: (message = 'Invalid signature') => new StorageError(400, 'InvalidSignature', message),
  invalidRange: () => new StorageError(416, 'InvalidRange', 'invalid range provided', 'invalid_range', 416),
  featureNotEnabled: (feature: string) =>
    new StorageError(409, 'FeatureNotEnabled', `The feature ${feature} is not enabled for this resource`),
  imageProcessing: (message: string) => new StorageError(400, 'InvalidRequest', message),
  // What storage-api's request validation says of a request without the header (Fastify's error, named 'Error').
  missingAuthorization: () => new StorageError(400, 'InvalidRequest', "headers must have required property 'authorization'", 'Error'),
  routeNotFound: () => new StorageError(404, 'NotFound', 'Route not found', 'Not Found'),
  aborted: () => new StorageError(499, 'Aborted', 'Request aborted', 'Request aborted', 499),
  internal: () => new StorageError(500, 'InternalError', 'Internal server error', 'Internal'),
  // storage-api's code for database failures, with the status on the wire too: a client should retry later.
  databaseUnavailable: () => new StorageError(503, 'DatabaseError', 'The database is not available right now: try again shortly',
    'Service Unavailable', 503),
  // Over LOAM_MAX_RESULT_BYTES (a listing with a huge limit): the caller's to narrow.
  resultTooLarge: (message: string) => new StorageError(400, 'ResultTooLarge', message, 'Result too large'),
};

/** Postgres errors a caller can cause, as storage-api maps them. */
function fromPg(err: { code?: string; message: string }): StorageError | undefined {
  switch (err.code) {
    case '42501':
      return errors.accessDenied(err.message.includes('row-level security') ? 'new row violates row-level security policy' : err.message);
    case '23505':
      return errors.alreadyExists();
    case '23503':
      return new StorageError(404, 'InvalidRequest', 'The related resource does not exist');
    case '23514':
      return errors.invalidRequest(err.message);
  }
  // Data exceptions (a value Postgres cannot take: NUL byte, out of range, too long, bad format) and program
  // limits (too big or too deep) are the caller's input, never a 500.
  switch (err.code?.slice(0, 2)) {
    case '22':
    case '54':
      return errors.invalidRequest(err.message);
    default:
      return undefined;
  }
}

// storage-api verifies tokens with `jose`; these are jose's words per reason (a role the data plane does not
// serve is Postgres' refusal to switch to it, as storage-api would pass it on).
const JOSE: Record<JwtFailure, (e: JwtError) => string> = {
  empty: () => 'Invalid Compact JWS',
  parts: () => 'Invalid Compact JWS',
  malformed: () => 'Invalid Compact JWS',
  unsupported_alg: () => '"alg" (Algorithm) Header Parameter value not allowed',
  bad_signature: () => 'signature verification failed',
  claims_not_object: () => 'JWT Claims Set must be a top-level JSON object',
  claim_type: (e) => e.detail === 'aud' ? 'unexpected "aud" claim value' : `"${e.detail}" claim must be a number`,
  expired: () => '"exp" claim timestamp check failed',
  not_yet_valid: () => '"nbf" claim timestamp check failed',
  issued_in_future: () => '"iat" claim timestamp check failed (it should be in the past)',
  audience: () => 'unexpected "aud" claim value',
  role: (e) => e.message,
  api_key: () => 'Invalid Compact JWS',
  legacy_disabled: () => 'signature verification failed',
  issuer: () => 'unexpected "iss" claim value',
};
export const joseMessage = (err: JwtError): string => JOSE[err.reason](err);

export function toStorageError(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof JwtError) return errors.accessDenied(joseMessage(err));
  if (err instanceof ResultTooLargeError) return errors.resultTooLarge(err.message);
  if (isDatabaseUnavailable(err)) return errors.databaseUnavailable();
  if (isPgError(err)) return fromPg(err) ?? errors.internal();
  const e = err as { type?: string; code?: string; status?: number };
  if (e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE') return errors.aborted();
  if (e?.type === 'entity.parse.failed') return errors.invalidRequest('Body is not valid JSON');
  if (e?.type === 'entity.too.large' || e?.code === 'LIMIT_FILE_SIZE') return errors.entityTooLarge();
  if (typeof e?.code === 'string' && e.code.startsWith('LIMIT_')) return errors.invalidRequest((err as Error).message);
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return errors.invalidRequest((err as Error).message);
  return errors.internal();
}

export const renderStorageErrors: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toStorageError(err);
  if (e.code === 'InternalError') console.error(err);
  if (res.headersSent) return void res.destroy();
  // Headers a handler set for the response it meant to send (Content-Length, ETag …) do not describe this one.
  for (const h of res.getHeaderNames()) res.removeHeader(h);
  // An upload refused before its body was read: close the connection rather than read the rest of it.
  if (!req.complete) res.set('Connection', 'close');
  res.status(e.httpStatus);
  if (req.method === 'HEAD') return void res.end();
  res.json({ statusCode: String(e.statusCode), code: e.code, error: e.error, message: e.message });
};
