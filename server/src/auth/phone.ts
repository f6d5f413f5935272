// Phone auth as GoTrue does it: sign-up with phone + password, sign-in by SMS code (/otp, /verify type sms),
// password sign-in with a phone, phone changes (PUT /user, /verify type phone_change), resends, and the SMS
// sender shared with phone MFA. A code is sent inline while the transaction that records its hash is open
// (GoTrue's order): a failed send records nothing. Sending goes to the send SMS hook when it is on, else to
// Twilio (or a Twilio-compatible API at LOAM_TWILIO_API_URL). Numbers in `sms_test_otp` get their fixed code
// and no SMS.
import crypto from 'node:crypto';
import { config } from '../../../db/src/config.ts';
import { authCall, authTransaction, type AuthQuery } from './db.ts';
import { AuthError, authErrors, validation } from './errors.ts';
import { beforeNewUser, hookEnabled, hookMetadata, runHook } from './hooks.ts';
import { limitSms } from './limits.ts';
import { otp, tokenHash } from './mail.ts';
import { bool, obj, str, type Ctx, type Params } from './params.ts';
import { checkPassword, comparePassword, hashPassword } from './passwords.ts';
import { tokenResponse, type SessionData, type UserJson } from './session.ts';
import type { AuthConfig } from './config.ts';

const E164 = /^[1-9][0-9]{1,14}$/;

/** GoTrue's formatPhoneNumber + validateE164Format: "+" and spaces dropped, then 2–15 digits. */
export function validatePhone(raw: string): string {
  const phone = raw.replace(/^\+/, '').replaceAll(' ', '');
  if (!E164.test(phone)) throw validation('Invalid phone number format (E.164 required)');
  return phone;
}

const phoneDisabled = (message: string) => new AuthError(400, 'phone_provider_disabled', message);
export const INVALID_CHANNEL = "Invalid channel, supported values are 'sms' or 'whatsapp'. 'whatsapp' is only supported if Twilio or Twilio Verify is used as the provider.";

export function channelParam(b: Params): string {
  const channel = str(b, 'channel') || 'sms';
  if (channel !== 'sms' && channel !== 'whatsapp') throw validation(INVALID_CHANNEL);
  return channel;
}

/** The number's code from `sms_test_otp` ("<number>=<code>,…"), while `sms_test_otp_valid_until` has not passed. */
export function testOtp(cfg: AuthConfig, phone: string): string | undefined {
  const list = cfg.sms_test_otp;
  if (typeof list !== 'string' || !list) return undefined;
  const until = cfg.sms_test_otp_valid_until;
  if (typeof until === 'string' && until && !(Date.now() < Date.parse(until))) return undefined;
  for (const pair of list.split(',')) {
    const [num, code] = pair.split('=');
    if (code !== undefined && num.trim().replace(/^\+/, '').replaceAll(' ', '') === phone) return code.trim();
  }
  return undefined;
}

const render = (template: unknown, code: string) => String(template ?? '').replace(/\{\{\s*\.Code\s*\}\}/g, code);

const TWILIO_TIMEOUT_MS = 10_000;

/** Twilio's Messages API (GoTrue's twilio provider): the message id, or GoTrue's wording of the failure. */
async function twilio(cfg: AuthConfig, phone: string, message: string, channel: string): Promise<string> {
  const sid = String(cfg.sms_twilio_account_sid ?? '');
  const token = String(cfg.sms_twilio_auth_token ?? '');
  const from = String(cfg.sms_twilio_message_service_sid ?? '');
  if (!/^[A-Za-z0-9]+$/.test(sid) || !token || !from) throw new AuthError(422, 'sms_send_failed', 'Error sending OTP to provider: Unable to get SMS provider (sms_twilio_account_sid, sms_twilio_auth_token and sms_twilio_message_service_sid must be set)');
  const to = channel === 'whatsapp' ? `whatsapp:+${phone}` : `+${phone}`;
  const sender = channel === 'whatsapp' && E164.test(from.replace(/^\+/, '')) ? `whatsapp:${from}` : from;
  const res = await fetch(`${config.twilioApiUrl}/2010-04-01/Accounts/${sid}/Messages.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}` },
    body: new URLSearchParams({ To: to, Channel: channel, From: sender, Body: message }),
    signal: AbortSignal.timeout(TWILIO_TIMEOUT_MS), redirect: 'manual',
  });
  const text = (await res.text()).slice(0, 64 * 1024);
  let body: Record<string, unknown> = {};
  try { body = JSON.parse(text); } catch { /* reported below */ }
  if (res.status !== 200 && res.status !== 201) throw new Error(`${body.message ?? `status ${res.status}`} More information: ${body.more_info ?? ''}`);
  if (body.status === 'failed' || body.status === 'undelivered') {
    throw new Error(`twilio error: ${body.error_message ?? ''} ${body.error_code ?? ''} for message ${body.sid ?? ''}`);
  }
  return String(body.sid ?? '');
}

export interface SmsArgs { user: unknown; phone: string; code: string; channel: string; template: unknown; smsType?: string }

/** Sends a code by SMS: the send SMS hook (inside the caller's transaction when it is a Postgres function), else
 *  Twilio. Returns the provider's message id ('' for the hook). */
export async function sendSms(c: Ctx, q: AuthQuery | undefined, a: SmsArgs): Promise<string> {
  if (hookEnabled(c.cfg, 'send_sms')) {
    await runHook(c.p, c.cfg, 'send_sms', {
      metadata: hookMetadata('send_sms', c.ip), user: a.user,
      sms: { otp: a.code, phone: a.phone, ...(a.smsType ? { sms_type: a.smsType } : {}) },
    }, q);
    return '';
  }
  // Supabase's other providers are stored settings only (README "settings"): a clear 422, never a silent drop.
  if ((c.cfg.sms_provider ?? 'twilio') !== 'twilio') throw new AuthError(422, 'sms_send_failed', `Error sending OTP to provider: the SMS provider ${String(c.cfg.sms_provider)} is not available on this platform; use twilio or the send SMS hook`);
  return twilio(c.cfg, a.phone, render(a.template, a.code), a.channel);
}

interface Sent<R> { r: R; messageId: string }

/** A phone code: the number's test code or a new one; its hash recorded by `record` and the SMS sent, in one
 *  transaction. `record` returns null when there is nothing to send. */
async function sendCode<R extends { user?: UserJson }>(c: Ctx, phone: string, channel: string, kind: string,
  record: (q: AuthQuery, hash: string) => Promise<R>): Promise<Sent<R>> {
  const fixed = testOtp(c.cfg, phone);
  if (!fixed && !c.cfg.sms_autoconfirm) await limitSms(c.p.ref, c.cfg);
  const code = fixed ?? otp(Number(c.cfg.sms_otp_length) || 6);
  try {
    return await authTransaction(c.p, async (q) => {
      const r = await record(q, tokenHash(phone, code));
      if (fixed || !r.user) return { r, messageId: fixed ? 'test-otp' : '' };
      const messageId = await sendSms(c, q, { user: r.user, phone, code, channel, template: c.cfg.sms_template });
      return { r, messageId };
    });
  } catch (err) {
    if (err instanceof AuthError || (err as { severity?: unknown })?.severity) throw err;
    throw new AuthError(422, 'sms_send_failed', `Error sending ${kind} OTP to provider: ${(err as Error).message}`, {}, err);
  }
}

/** POST /signup with a phone (and a password). */
export async function phoneSignup(c: Ctx, b: Params, rawPhone: string, data: Record<string, unknown> | undefined) {
  if (!c.cfg.external_phone_enabled) throw phoneDisabled('Phone signups are disabled');
  const phone = validatePhone(rawPhone);
  const channel = channelParam(b);
  if (str(b, 'code_challenge')) throw validation('PKCE not supported for phone signups');
  const password = str(b, 'password');
  if (!password) throw validation('Signup requires a valid password');
  checkPassword(c.cfg, password);
  await beforeNewUser(c.p, c.cfg, c.ip, { phone, data });
  const base = { phone, password_hash: await hashPassword(password), data, ip: c.ip, user_agent: c.userAgent };
  if (c.cfg.sms_autoconfirm) {
    const s = await authCall<SessionData>(c.p, 'select auth.phone_signup($1)', [{ ...base, autoconfirm: true }]);
    return tokenResponse(c.p, c.cfg, s);
  }
  const { r } = await sendCode(c, phone, channel, 'confirmation', (q, hash) => q<{ user?: UserJson; obfuscated?: boolean }>(
    'select auth.phone_signup($1)', [{ ...base, autoconfirm: false, token_hash: hash, max_frequency: c.cfg.sms_max_frequency }]));
  if (r.obfuscated) {
    const now = new Date().toISOString();
    return {
      id: crypto.randomUUID(), aud: 'authenticated', role: '', email: '', phone, confirmation_sent_at: now,
      app_metadata: { provider: 'phone', providers: ['phone'] }, user_metadata: data ?? {}, identities: [],
      created_at: now, updated_at: now, is_anonymous: false,
    };
  }
  return r.user;
}

/** POST /otp with a phone: a code to sign in with (signing the number up first, unless create_user is false). */
export async function phoneOtp(c: Ctx, b: Params, rawPhone: string) {
  if (!c.cfg.external_phone_enabled) throw phoneDisabled('Unsupported phone provider');
  const phone = validatePhone(rawPhone);
  const channel = channelParam(b);
  const data = obj(b, 'data');
  const createUser = (bool(b, 'create_user') ?? true);
  if (createUser && c.cfg.disable_signup) {
    const known = await authCall<boolean>(c.p, 'select exists (select 1 from auth.users where phone = $1)', [phone]);
    if (!known) throw authErrors.signupDisabled();
  }
  if (createUser) await beforeNewUser(c.p, c.cfg, c.ip, { phone, data });
  const { r, messageId } = await sendCode(c, phone, channel, 'confirmation', async (q, hash) => {
    const out = await q<{ user?: UserJson; found?: boolean; created?: boolean }>('select auth.phone_otp($1)', [{
      phone, create_user: createUser, data, autoconfirm: c.cfg.sms_autoconfirm, token_hash: hash,
      max_frequency: c.cfg.sms_max_frequency, ip: c.ip,
    }]);
    if (out.found === false) throw authErrors.otpDisabled();
    return out;
  });
  return r.created ? {} : messageId ? { message_id: messageId } : {};
}

/** POST /resend, type sms or phone_change. */
export async function phoneResend(c: Ctx, b: Params, type: string, rawPhone: string | undefined) {
  if (!rawPhone) throw validation('Type provided requires a phone number');
  if (!c.cfg.external_phone_enabled) throw phoneDisabled('Phone logins are disabled');
  const phone = validatePhone(rawPhone);
  // A phone change's code is bound to the new number.
  const target = type === 'phone_change'
    ? await authCall<string | null>(c.p, `select nullif(phone_change, '') from auth.users where phone = $1 and deleted_at is null`, [phone])
    : phone;
  if (!target) return {};
  const { messageId } = await sendCode(c, target, 'sms', type === 'sms' ? 'confirmation' : 'phone_change', (q, hash) =>
    q<{ user?: UserJson }>('select auth.phone_resend($1)', [{ type, phone, token_hash: hash, max_frequency: c.cfg.sms_max_frequency }]));
  return messageId ? { message_id: messageId } : {};
}

/** POST /verify with a phone and a code (type sms or phone_change). */
export async function phoneVerify(c: Ctx, type: string, rawPhone: string, token: string | undefined) {
  if (type !== 'sms' && type !== 'phone_change') throw validation('Unsupported verification type');
  if (!token) throw validation('Verify requires a token or a token hash');
  const phone = validatePhone(rawPhone);
  const fixed = testOtp(c.cfg, phone);
  const s = await authCall<SessionData>(c.p, 'select auth.phone_verify($1)', [{
    type, phone, token_hash: tokenHash(phone, token), test_otp: fixed !== undefined && fixed === token,
    otp_exp: c.cfg.sms_otp_exp, ip: c.ip, user_agent: c.userAgent,
  }]);
  return tokenResponse(c.p, c.cfg, s);
}

interface PhoneLoginRow { id: string; encrypted_password: string | null; phone_confirmed: boolean; banned: boolean }

/** POST /token?grant_type=password with a phone. */
export async function phonePassword(c: Ctx, rawPhone: string, password: string,
  attempt: (userId: string, valid: boolean) => Promise<void>): Promise<SessionData> {
  if (!c.cfg.external_phone_enabled) throw new AuthError(422, 'phone_provider_disabled', 'Phone logins are disabled');
  const phone = rawPhone.replace(/^\+/, '').replaceAll(' ', '');
  const row = await authCall<PhoneLoginRow | undefined>(c.p, 'select to_jsonb(l) from auth.phone_password_lookup($1) l', [phone]);
  const ok = await comparePassword(password, row?.encrypted_password);
  if (!row || !row.encrypted_password) throw authErrors.invalidCredentials();
  await attempt(row.id, ok);
  if (!ok) throw authErrors.invalidCredentials();
  if (row.banned) throw authErrors.userBanned();
  if (!row.phone_confirmed) throw new AuthError(400, 'phone_not_confirmed', 'Phone not confirmed');
  return authCall<SessionData>(c.p, 'select auth.start_session($1, $2, $3, $4)', [row.id, 'password', c.ip, c.userAgent]);
}

/** PUT /user with a new phone: the number is checked now; the returned step records the change (at once with
 *  sms_autoconfirm, else by a code sent to the new number) and answers with the user. */
export async function preparePhoneChange(c: Ctx, userId: string, phone: string): Promise<(channel: string | undefined) => Promise<unknown>> {
  if (!c.cfg.external_phone_enabled) throw phoneDisabled('Unsupported phone provider');
  if (await authCall<boolean>(c.p, 'select exists (select 1 from auth.users where phone = $1 and id <> $2)', [phone, userId])) {
    throw new AuthError(422, 'phone_exists', 'A user with this phone number has already been registered');
  }
  return async (rawChannel) => {
    const channel = channelParam({ channel: rawChannel });
    if (c.cfg.sms_autoconfirm) {
      return authCall(c.p, 'select auth.phone_change_request($1, $2)', [userId, { phone, ip: c.ip }]);
    }
    const { r } = await sendCode(c, phone, channel, 'phone_change', async (q, hash) => ({
      user: await q<UserJson>('select auth.phone_change_request($1, $2)', [userId, {
        phone, token_hash: hash, max_frequency: c.cfg.sms_max_frequency, ip: c.ip,
      }]),
    }));
    return r.user;
  };
}

/** GET /reauthenticate of a user with a phone and no email: a code by SMS to the (confirmed) number, as GoTrue's
 *  sendPhoneConfirmation of type reauthentication; PUT /user takes it as `nonce`. */
export async function phoneReauthenticate(c: Ctx, userId: string, sessionId: string | null, phone: string, confirmed: boolean) {
  if (!confirmed) throw new AuthError(422, 'phone_not_confirmed', 'Please verify your phone first.');
  const { messageId } = await sendCode(c, phone, 'sms', 'reauthentication', (q, hash) => q<{ user?: UserJson }>(
    'select auth.phone_reauthenticate($1, $2, $3)', [userId, sessionId, { token_hash: hash, max_frequency: c.cfg.sms_max_frequency, ip: c.ip }]));
  return messageId ? { message_id: messageId } : {};
}
