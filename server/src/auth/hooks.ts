// Auth hooks, one caller for all of them (GoTrue's extensibility points): custom access token, send SMS, send
// email, MFA and password verification attempts, before user created. A hook is a Postgres function of the
// project (`pg-functions://postgres/<schema>/<fn>`, run as service_role with a statement timeout — never as a
// superuser) or an HTTP endpoint (POST signed per Standard Webhooks with the hook's `v1,whsec_…` secrets,
// through guardedFetch: public addresses only, 5 s). Answers and failures are GoTrue's.
import crypto from 'node:crypto';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { FetchRefused, guardedFetch } from '../project/keyring.ts';
import type { AuthConfig } from './config.ts';
import { RESET_CONTEXT, authCall, type AuthQuery } from './db.ts';
import { AuthError } from './errors.ts';
import { queueEmail, type OneTimeToken } from './mail.ts';

export type HookName = 'custom_access_token' | 'send_sms' | 'send_email' | 'mfa_verification_attempt'
  | 'password_verification_attempt' | 'before_user_created';

/** GoTrue's names of the hooks, as sent in `metadata.name`. */
const GOTRUE_NAME: Record<HookName, string> = {
  custom_access_token: 'customize-access-token', send_sms: 'send-sms', send_email: 'send-email',
  mfa_verification_attempt: 'mfa-verification', password_verification_attempt: 'password-verification',
  before_user_created: 'before-user-created',
};

const HTTP_TIMEOUT_MS = 5000;
const PG_TIMEOUT_MS = 2000;
const PAYLOAD_LIMIT = 200 * 1024;
const PG_URI = /^pg-functions:\/\/[^/]+\/([a-z_][a-z0-9_]*)\/([a-z_][a-z0-9_]*)$/;

export const hookEnabled = (cfg: AuthConfig, name: HookName): boolean =>
  cfg[`hook_${name}_enabled` as keyof AuthConfig] === true && typeof cfg[`hook_${name}_uri` as keyof AuthConfig] === 'string';

/** GoTrue's hook metadata: who calls, when, from where. */
export const hookMetadata = (name: HookName, ip: string) =>
  ({ uuid: crypto.randomUUID(), time: new Date().toISOString(), name: GOTRUE_NAME[name], ip_address: ip });

/** An `{error: {http_code, message}}` in a hook's answer is the request's answer (GoTrue's hookserrors.Check). */
function checkHookError(out: unknown): void {
  const e = (out as { error?: { http_code?: unknown; message?: unknown } } | null)?.error;
  if (!e || typeof e !== 'object' || typeof e.message !== 'string' || !e.message) return;
  const status = typeof e.http_code === 'number' && e.http_code >= 400 && e.http_code <= 599 ? e.http_code : 500;
  throw new AuthError(status, status < 500 ? 'unknown' : 'unexpected_failure', e.message);
}

const internal = (message: string, cause?: unknown) => new AuthError(500, 'unexpected_failure', message, {}, cause);

async function pgHook(p: ProjectRuntime, uri: string, schema: string, fn: string, payload: unknown, q?: AuthQuery): Promise<unknown> {
  const call = `select ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(fn)}($1::jsonb)`;
  try {
    if (q) {
      // Inside the caller's transaction (GoTrue runs it in its own): bounded by a local statement timeout, and
      // the request context set again afterwards, whatever the function changed of it.
      const previous = await q<string>(`select current_setting('statement_timeout')`);
      await q(`select set_config('statement_timeout', $1, true)`, [String(PG_TIMEOUT_MS)]);
      const out = await q(call, [payload]);
      await q(`select set_config('statement_timeout', $1, true)`, [previous]);
      await q(RESET_CONTEXT);
      return out;
    }
    return await authCall(p, call, [payload], { statementTimeoutMs: PG_TIMEOUT_MS });
  } catch (err) {
    throw internal(`Error running hook URI: ${uri}`, err);
  }
}

function signatures(secrets: string, id: string, at: Date, body: string): string {
  return secrets.split('|').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!s.startsWith('v1,')) throw internal('Error generating signatures: invalid signature format');
    return new Webhook(s.slice(3)).sign(id, at, body);
  }).join(', ');
}

async function httpHook(uri: string, secrets: string, payload: unknown): Promise<unknown> {
  const body = JSON.stringify(payload);
  const id = crypto.randomUUID();
  const at = new Date();
  const headers = {
    'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures(secrets, id, at, body), 'accept-encoding': 'identity',
  };
  let res: Response;
  try {
    // The signal ends the connection itself when the time is up (an answer trickled byte by byte included).
    res = await guardedFetch(uri, { method: 'POST', headers, body, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (err) {
    if (err instanceof FetchRefused && /did not answer/.test(err.message)) {
      throw new AuthError(422, 'hook_timeout', `Failed to reach hook within maximum time of ${(HTTP_TIMEOUT_MS / 1000).toFixed(6)} seconds`, {}, err);
    }
    if (err instanceof FetchRefused) throw internal(`Hook URI refused: ${err.message}`, err);
    throw new AuthError(422, 'hook_timeout_after_retry', 'Failed to reach hook after maximum retries', {}, err);
  }
  switch (res.status) {
    case 204: return null;
    case 200: case 202: {
      const type = res.headers.get('content-type');
      if (!type) throw new AuthError(400, 'hook_payload_invalid_content_type', 'Invalid Content-Type: Missing Content-Type header');
      if (type.split(';')[0].trim().toLowerCase() !== 'application/json') {
        throw new AuthError(400, 'hook_payload_invalid_content_type', `Invalid JSON response. Received content-type: ${type}`);
      }
      const buf = Buffer.from(await res.arrayBuffer());
      if (buf.length > PAYLOAD_LIMIT) {
        throw new AuthError(422, 'hook_payload_over_size_limit', `Payload size exceeded size limit of ${PAYLOAD_LIMIT} bytes`);
      }
      let out: unknown;
      try { out = buf.length ? JSON.parse(buf.toString('utf8')) : null; } catch (err) { throw internal('Error unmarshaling JSON output.', err); }
      return out;
    }
    case 429: case 503: throw internal('Service currently unavailable due to hook');
    case 400: throw internal('Invalid payload sent to hook');
    case 401: throw internal('Hook requires authorization token');
    default: throw internal(`Unexpected status code returned from hook: ${res.status}`);
  }
}

/** Calls a hook with GoTrue's payload; returns its answer (an object, or null for none) or throws its error. */
export async function runHook(p: ProjectRuntime, cfg: AuthConfig, name: HookName, payload: Record<string, unknown>,
  q?: AuthQuery): Promise<Record<string, unknown> | null> {
  const uri = String(cfg[`hook_${name}_uri` as keyof AuthConfig] ?? '');
  const pgFn = PG_URI.exec(uri);
  let out: unknown;
  if (pgFn) {
    out = await pgHook(p, uri, pgFn[1], pgFn[2], payload, q);
  } else if (/^https?:\/\//.test(uri)) {
    out = await httpHook(uri, String(cfg[`hook_${name}_secrets` as keyof AuthConfig] ?? ''), payload);
  } else {
    throw internal(`Error running hook URI: ${uri}`);
  }
  checkHookError(out);
  if (out !== null && out !== undefined && (typeof out !== 'object' || Array.isArray(out))) throw internal('Error unmarshaling JSON output.');
  return (out as Record<string, unknown> | null) ?? null;
}

/** MFA and password verification attempts: a `reject` decision ends the attempt with the hook's message. */
export async function verificationAttempt(p: ProjectRuntime, cfg: AuthConfig, name: 'mfa_verification_attempt' | 'password_verification_attempt',
  ip: string, event: Record<string, unknown>): Promise<{ message: string; logout: boolean } | null> {
  if (!hookEnabled(cfg, name)) return null;
  const out = await runHook(p, cfg, name, { metadata: hookMetadata(name, ip), ...event });
  if (out?.decision !== 'reject') return null;
  const fallback = name === 'mfa_verification_attempt'
    ? 'Further MFA verification attempts will be rejected.' : 'Further password verification attempts will be rejected.';
  return { message: typeof out.message === 'string' && out.message ? out.message : fallback, logout: out.should_logout_user === true };
}

/** Before a user is created: the hook sees the would-be user and may refuse with an error. */
export async function beforeUserCreated(p: ProjectRuntime, cfg: AuthConfig, ip: string, user: Record<string, unknown>): Promise<void> {
  if (!hookEnabled(cfg, 'before_user_created')) return;
  await runHook(p, cfg, 'before_user_created', { metadata: hookMetadata('before_user_created', ip), user });
}

/** The before-user-created hook for a sign-up by email, phone or anonymously, when no user has that address or
 *  number yet (a sign-up of a known one creates nobody). The user is the one GoTrue would create. */
export async function beforeNewUser(p: ProjectRuntime, cfg: AuthConfig, ip: string,
  u: { email?: string; phone?: string; data?: Record<string, unknown>; anonymous?: boolean }): Promise<void> {
  if (!hookEnabled(cfg, 'before_user_created')) return;
  if (u.email && await authCall<boolean>(p, 'select exists (select 1 from auth.users where lower(email) = lower($1))', [u.email])) return;
  if (u.phone && await authCall<boolean>(p, 'select exists (select 1 from auth.users where phone = $1)', [u.phone])) return;
  const provider = u.email ? 'email' : u.phone ? 'phone' : 'anonymous';
  const now = new Date().toISOString();
  await beforeUserCreated(p, cfg, ip, {
    id: crypto.randomUUID(), aud: 'authenticated', role: 'authenticated', email: u.email ?? '', phone: u.phone ?? '',
    app_metadata: { provider, providers: [provider] }, user_metadata: u.data ?? {}, identities: [],
    created_at: now, updated_at: now, is_anonymous: Boolean(u.anonymous),
  });
}

export interface EmailHookData {
  user: unknown;
  /** GoTrue's email_action_type: signup, recovery, magiclink, invite, email_change, reauthentication. */
  type: string;
  token: OneTimeToken;
  redirectTo: string;
}

/** An auth email recorded in the outbox: with the send email hook on, the hook gets GoTrue's payload and Loam
 *  sends nothing itself (the outbox row is marked as handed over); else the worker sends it over SMTP. */
export async function deliverEmail(p: ProjectRuntime, cfg: AuthConfig, ip: string, emailId: number | null | undefined, d: EmailHookData): Promise<void> {
  if (!hookEnabled(cfg, 'send_email')) return queueEmail(p, cfg, emailId);
  if (!emailId) return;
  await runHook(p, cfg, 'send_email', {
    metadata: hookMetadata('send_email', ip), user: d.user,
    email_data: {
      token: d.token.code, token_hash: d.token.linkToken, redirect_to: d.redirectTo, email_action_type: d.type,
      site_url: cfg.site_url, token_new: '', token_hash_new: '',
    },
  });
  await authCall(p, `update auth.email_outbox set sent_at = now(), last_error = 'handed to the send email hook' where id = $1`, [emailId]);
}
