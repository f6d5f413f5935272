// Rate limits per project, per IP address or email address, counted in the control database so that every
// API process shares them. Windows follow GoTrue: 5 minutes for request limits, an hour for sign-ins of
// anonymous users and for emails.
import { controlPool } from '../../../db/src/pools.ts';
import type { AuthConfig } from './config.ts';
import { AuthError, authErrors } from './errors.ts';

type Kind = 'token' | 'verify' | 'otp' | 'anonymous';
const RULES: Record<Kind, { limit: keyof AuthConfig; window: number }> = {
  token: { limit: 'rate_limit_token_refresh', window: 300 },
  verify: { limit: 'rate_limit_verify', window: 300 },
  otp: { limit: 'rate_limit_otp', window: 300 },
  anonymous: { limit: 'rate_limit_anonymous_users', window: 3600 },
};

async function hit(key: string, limit: number, window: number): Promise<number> {
  const { rows } = await controlPool().query('select platform_private.rate_limit_hit($1, $2, $3) as wait', [key, limit, window]);
  return rows[0].wait;
}

export async function limitIp(ref: string, cfg: AuthConfig, kind: Kind, ip: string | undefined): Promise<void> {
  const rule = RULES[kind];
  if (await hit(`auth:${ref}:${kind}:${ip ?? '-'}`, cfg[rule.limit] as number, rule.window)) throw authErrors.overRequestRate();
}

/** Emails to one address per hour. */
export async function limitEmail(ref: string, cfg: AuthConfig, email: string): Promise<void> {
  if (await hit(`auth:${ref}:email:${email.toLowerCase()}`, cfg.rate_limit_email_sent, 3600)) throw authErrors.overEmailRate();
}

/** SMS codes sent by a project per hour (rate_limit_sms_sent; GoTrue counts per instance). */
export async function limitSms(ref: string, cfg: AuthConfig): Promise<void> {
  if (await hit(`auth:${ref}:sms`, Number(cfg.rate_limit_sms_sent), 3600)) {
    throw new AuthError(429, 'over_sms_send_rate_limit', 'SMS rate limit exceeded');
  }
}

/** A limit of its own per IP address (`limit` requests per `window` seconds), for endpoints GoTrue limits apart
 *  from the settings above: passkey sign-in options, dynamic OAuth client registration. */
export async function limitIpFixed(ref: string, name: string, ip: string | undefined, limit: number, window: number): Promise<void> {
  if (await hit(`auth:${ref}:${name}:${ip ?? '-'}`, limit, window)) throw authErrors.overRequestRate();
}
