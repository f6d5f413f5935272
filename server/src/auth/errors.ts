// Auth API errors in GoTrue's shape: `{code, error_code, msg}`, or `{code, message}` with the error code string
// for clients that send `X-Supabase-Api-Version: 2024-01-01` (supabase-js does), plus the `x-sb-error-code`
// header. Handlers throw; the one middleware here renders.
import type { ErrorRequestHandler, Request, Response } from 'express';
import { isDatabaseUnavailable, isPgError, mapPgError } from '../../../db/src/pg-errors.ts';
import { ResultTooLargeError } from '../../../db/src/pools.ts';
import { JwtError, type JwtFailure } from '../project/jwt.ts';

export class AuthError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Record<string, unknown>;
  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { cause });
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

/** GoTrue's OAuthError (id_token grant, OAuth flows): 400 `{error, error_description}`. */
export class OAuthFlowError extends AuthError {
  readonly error: string;
  constructor(error: string, description: string) {
    super(400, 'oauth_error', description);
    this.error = error;
  }
}

const e = (status: number, code: string) => (message: string) => new AuthError(status, code, message);
export const validation = e(400, 'validation_failed');

export const authErrors = {
  badJson: (detail: string) => new AuthError(400, 'bad_json', `Could not parse request body as JSON: ${detail}`),
  invalidCredentials: () => new AuthError(400, 'invalid_credentials', 'Invalid login credentials'),
  unsupportedGrant: () => new AuthError(400, 'invalid_credentials', 'unsupported_grant_type'),
  emailNotConfirmed: () => new AuthError(400, 'email_not_confirmed', 'Email not confirmed'),
  userBanned: () => new AuthError(400, 'user_banned', 'User is banned'),
  signupDisabled: () => new AuthError(422, 'signup_disabled', 'Signups not allowed for this instance'),
  emailProviderDisabled: (message: string) => new AuthError(422, 'email_provider_disabled', message),
  anonymousDisabled: () => new AuthError(422, 'anonymous_provider_disabled', 'Anonymous sign-ins are disabled'),
  weakPassword: (message: string, reasons: string[]) =>
    new AuthError(422, 'weak_password', message, { weak_password: { reasons } }),
  samePassword: () => new AuthError(422, 'same_password', 'New password should be different from the old password.'),
  refreshTokenAlreadyUsed: () => new AuthError(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used'),
  noAuthorization: () => new AuthError(401, 'no_authorization', 'This endpoint requires a valid Bearer token'),
  badJwt: (message: string) => new AuthError(403, 'bad_jwt', message),
  notAdmin: () => new AuthError(403, 'not_admin', 'User not allowed'),
  userNotFound: () => new AuthError(404, 'user_not_found', 'User not found'),
  userIdNotUuid: () => new AuthError(404, 'validation_failed', 'user_id must be an UUID'),
  otpDisabled: () => new AuthError(422, 'otp_disabled', 'Signups not allowed for otp'),
  overRequestRate: () => new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached'),
  overEmailRate: () => new AuthError(429, 'over_email_send_rate_limit', 'email rate limit exceeded'),
  notFound: () => new AuthError(404, 'not_found', 'Not found'),
  databaseUnavailable: () => new AuthError(503, 'database_unavailable', 'The database is not available right now: try again shortly'),
  resultTooLarge: (message: string) => new AuthError(400, 'result_too_large', message),
};

// GoTrue parses tokens with golang-jwt v5 and prefixes its error; these are that library's words per reason.
const GOTRUE_JWT: Record<Exclude<JwtFailure, 'empty'>, (e: JwtError) => string> = {
  parts: () => 'token is malformed: token contains an invalid number of segments',
  malformed: () => 'token is malformed: could not JSON decode header',
  unsupported_alg: (e) => `token signature is invalid: signing method ${e.detail} is invalid`,
  bad_signature: () => 'token signature is invalid: signature is invalid',
  claims_not_object: () => 'token is malformed: could not JSON decode claim',
  claim_type: (e) => `token is malformed: could not JSON decode claim: ${e.detail === 'aud' ? 'invalid type for claim' : `'${e.detail}' must be a number`}`,
  expired: () => 'token has invalid claims: token is expired',
  not_yet_valid: () => 'token has invalid claims: token is not valid yet',
  issued_in_future: () => 'token has invalid claims: token used before issued',
  audience: () => 'token has invalid claims: token has invalid audience',
  role: (e) => `token has invalid claims: ${e.message}`,
  // An API key (sb_…) is no JWT: golang-jwt finds one segment.
  api_key: () => 'token is malformed: token contains an invalid number of segments',
  legacy_disabled: () => 'token signature is invalid: signature is invalid',
  issuer: () => 'token has invalid claims: token has invalid issuer',
};

/** GoTrue's answer to a JWT it cannot use: 403 bad_jwt (an empty Bearer is no token at all: 401). */
function jwtError(err: JwtError): AuthError {
  if (err.reason === 'empty') return authErrors.noAuthorization();
  return authErrors.badJwt(`invalid JWT: unable to parse or verify signature, ${GOTRUE_JWT[err.reason](err)}`);
}

export function toAuthError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof JwtError) return jwtError(err);
  if (err instanceof ResultTooLargeError) return authErrors.resultTooLarge(err.message);
  if (isDatabaseUnavailable(err)) return authErrors.databaseUnavailable();
  // Data exceptions and program limits (NUL in metadata, out-of-range or too deep values) are bad input: in
  // GoTrue's words, a failed validation.
  if (isPgError(err) && /^(22|54)/.test(err.code ?? '')) return validation(err.message);
  const mapped = mapPgError(err);
  if (mapped) return new AuthError(mapped.status, mapped.code, mapped.message);
  const x = err as { type?: string; message?: string };
  if (x?.type === 'entity.parse.failed') return authErrors.badJson(x.message ?? 'invalid JSON');
  if (x?.type === 'entity.too.large') return new AuthError(413, 'request_entity_too_large', 'Request body too large');
  // Express' own refusals of a request (a path parameter that is not valid percent-encoding, …).
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return new AuthError(status, 'validation_failed', x.message ?? 'Bad request');
  return new AuthError(500, 'unexpected_failure', 'Unexpected failure, please check server logs for more information');
}

const API_VERSION = '2024-01-01';
const versioned = (req: Request) => (req.get('x-supabase-api-version') ?? '') >= API_VERSION;

export function sendAuthError(req: Request, res: Response, err: AuthError): void {
  if (err instanceof OAuthFlowError) return void res.status(400).json({ error: err.error, error_description: err.message });
  res.set('x-sb-error-code', err.code);
  if (versioned(req)) {
    res.set('x-supabase-api-version', API_VERSION);
    res.status(err.status).json({ code: err.code, message: err.message, ...err.extra });
  } else {
    res.status(err.status).json({ code: err.status, error_code: err.code, msg: err.message, ...err.extra });
  }
}

export const renderAuthErrors: ErrorRequestHandler = (err, req, res, _next) => {
  const auth = toAuthError(err);
  if (auth.status >= 500) console.error(err);
  sendAuthError(req, res, auth);
};
