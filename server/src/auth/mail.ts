// Auth emails: one-time codes and their hashes (GoTrue's scheme, so links and codes work as with Supabase),
// the project's templates, and the job that sends an email once it is in the project's outbox.
import crypto from 'node:crypto';
import { controlPool } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { config } from '../../../db/src/config.ts';
import type { AuthConfig } from './config.ts';
import { issuer } from './session.ts';

export type EmailKind = 'confirmation' | 'recovery' | 'magic_link' | 'invite' | 'email_change' | 'reauthentication';

export function otp(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += crypto.randomInt(10);
  return s;
}

/** SHA-224 of email + code, hex: what GoTrue stores and what links carry. */
export const tokenHash = (email: string, code: string) => crypto.createHash('sha224').update(email + code).digest('hex');

export const PKCE_PREFIX = 'pkce_';

export interface OneTimeToken { code: string; hash: string; linkToken: string }

export function newToken(cfg: AuthConfig, email: string, pkce: boolean): OneTimeToken {
  const code = otp(cfg.mailer_otp_length);
  const hash = tokenHash(email.toLowerCase(), code);
  return { code, hash, linkToken: pkce ? PKCE_PREFIX + hash : hash };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Fills `{{ .Name }}` placeholders (the Go template names Supabase templates use). */
function render(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, name: string) => (name in vars ? escape(vars[name]) : m));
}

export interface EmailArgs {
  kind: EmailKind;
  /** verification type in the link */
  type: string;
  email: string;
  newEmail?: string;
  token: OneTimeToken;
  redirectTo: string;
}

export function renderEmail(p: ProjectRuntime, cfg: AuthConfig, a: EmailArgs): { subject: string; body: string } {
  const link = `${issuer(p)}/verify?token=${encodeURIComponent(a.token.linkToken)}&type=${a.type}&redirect_to=${encodeURIComponent(a.redirectTo)}`;
  const vars = {
    ConfirmationURL: link, Token: a.token.code, TokenHash: a.token.hash, SiteURL: cfg.site_url,
    Email: a.email, NewEmail: a.newEmail ?? '', RedirectTo: a.redirectTo,
  };
  return {
    subject: render(String(cfg[`mailer_subjects_${a.kind}`] ?? ''), vars),
    body: render(String(cfg[`mailer_templates_${a.kind}_content`] ?? ''), vars),
  };
}

export const smtpConfigured = (cfg: AuthConfig) => Boolean(cfg.smtp_host) || Boolean(config.smtpUrl);

/** Queues the sending of an outbox email. Without SMTP nothing is queued: the email waits in the outbox. */
export async function queueEmail(p: ProjectRuntime, cfg: AuthConfig, emailId: number | null | undefined): Promise<void> {
  if (!emailId || !smtpConfigured(cfg)) return;
  await controlPool().query(
    `select graphile_worker.add_job('auth_email__send', json_build_object('ref', $1::text, 'email_id', $2::bigint),
       job_key := 'auth_email:' || $1 || ':' || $2, max_attempts := 5)`, [p.ref, emailId]);
}
