// MFA with TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, as GoTrue and authenticator apps use):
// POST /factors (enroll, with an otpauth:// URI and its QR code), /factors/{id}/challenge, /factors/{id}/verify
// (the session reaches aal2), DELETE /factors/{id}; and the admin's view of a user's factors.
import crypto from 'node:crypto';
import { Router, type Request } from 'express';
import { authCall, authTransaction } from './db.ts';
import { hookEnabled, verificationAttempt } from './hooks.ts';
import { otp } from './mail.ts';
import { channelParam, sendSms, validatePhone } from './phone.ts';
import { AuthError, authErrors, validation } from './errors.ts';
import { ctx, params, str, type Ctx } from './params.ts';
import { QrTooLong, qrSvg } from './qr.ts';
import { isUuid, requireAdmin, tokenResponse, userCaller, type SessionData, type UserCaller } from './session.ts';

export const mfa = Router();

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32(bytes: Buffer): string {
  let bits = 0, value = 0, out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) { out += BASE32[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(s: string): Buffer {
  let bits = 0, value = 0;
  const out: number[] = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
  }
  return Buffer.from(out);
}

/** The 6-digit TOTP code of `secret` (base32) for the 30-second step containing `atSeconds`. */
export function totp(secret: string, atSeconds = Date.now() / 1000): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atSeconds / 30)));
  const h = crypto.createHmac('sha1', unbase32(secret)).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A code from the previous, current or next step is accepted (clock skew), compared in constant time. */
function totpValid(secret: string, code: string): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  const now = Date.now() / 1000;
  return [-30, 0, 30].some((skew) => crypto.timingSafeEqual(Buffer.from(totp(secret, now + skew)), Buffer.from(code)));
}

function factorId(req: Request): string {
  const id = String(req.params.factor_id);
  if (!isUuid(id)) throw new AuthError(404, 'mfa_factor_not_found', 'Factor not found');
  return id;
}

function member(req: Request, c: Ctx): UserCaller {
  const who = userCaller(req, c.p);
  if (who.claims.is_anonymous === true) throw new AuthError(403, 'no_authorization', 'Anonymous user not allowed to perform these actions');
  return who;
}

mfa.post('/factors', async (req, res) => {
  const c = await ctx(req, res);
  const who = member(req, c);
  const b = params(req);
  const type = str(b, 'factor_type');
  if (type === 'phone') {
    if (c.cfg.mfa_phone_enroll_enabled !== true) throw new AuthError(422, 'mfa_phone_enroll_not_enabled', 'MFA enroll is disabled for Phone');
    const raw = str(b, 'phone');
    if (!raw) throw validation('Phone number required to enroll Phone factor');
    const phone = validatePhone(raw);
    return void res.json(await authCall(c.p, 'select auth.mfa_enroll_phone($1, $2, $3, $4, $5)',
      [who.userId, who.sessionId, str(b, 'friendly_name') ?? '', phone, c.ip]));
  }
  if (type === 'webauthn') throw new AuthError(422, 'mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn');
  if (type !== 'totp') throw validation('factor_type needs to be totp, phone, or webauthn');
  const issuer = str(b, 'issuer') || new URL(c.cfg.site_url).host;
  const secret = base32(crypto.randomBytes(20));
  const account = String(who.claims.email ?? '');
  const label = encodeURIComponent(issuer) + ':' + encodeURIComponent(account);
  const uri = `otpauth://totp/${label}?algorithm=SHA1&digits=6&issuer=${encodeURIComponent(issuer)}&period=30&secret=${secret}`;
  // The QR code first: a URI no QR code can hold is refused before any factor exists.
  let qr: string;
  try {
    qr = await qrSvg(uri);
  } catch (err) {
    if (err instanceof QrTooLong) throw validation('The issuer and email are too long to fit in a QR code');
    throw err;
  }
  const factor = await authCall(c.p, 'select auth.mfa_enroll($1, $2, $3, $4, $5)',
    [who.userId, who.sessionId, str(b, 'friendly_name') ?? '', secret, c.ip]);
  res.json({ ...factor, totp: { qr_code: qr, secret, uri } });
});

const factorType = (c: Ctx, who: UserCaller, id: string) =>
  authCall<string>(c.p, 'select (auth.mfa_factor($1, $2)).factor_type::text', [who.userId, id]);

const phoneVerifyDisabled = () => new AuthError(422, 'mfa_phone_verify_not_enabled', 'MFA verification is disabled for Phone');
const codeHash = (code: string) => crypto.createHash('sha256').update(code).digest('hex');

/** A phone factor's challenge: a code by SMS (the send SMS hook or Twilio, phone.ts), its hash on the challenge. */
async function phoneChallenge(c: Ctx, who: UserCaller, id: string, channel: string) {
  if (c.cfg.mfa_phone_verify_enabled !== true) throw phoneVerifyDisabled();
  const code = otp(Number(c.cfg.mfa_phone_otp_length) || 6);
  return authTransaction(c.p, async (q) => {
    const challenge = await q('select auth.mfa_challenge_phone($1, $2, $3, $4, $5, $6)',
      [who.userId, who.sessionId, id, c.ip, codeHash(code), Number(c.cfg.mfa_phone_max_frequency) || 0]);
    const phone = await q<string>('select (auth.mfa_factor($1, $2)).phone', [who.userId, id]);
    const user = await q('select auth.user_json(u) from auth.users u where u.id = $1', [who.userId]);
    try {
      await sendSms(c, q, { user, phone, code, channel, template: c.cfg.mfa_phone_template, smsType: 'mfa' });
    } catch (err) {
      throw new AuthError(500, 'unexpected_failure', hookEnabled(c.cfg, 'send_sms') ? 'error invoking hook' : 'error sending message', {}, err);
    }
    return challenge;
  });
}

mfa.post('/factors/:factor_id/challenge', async (req, res) => {
  const c = await ctx(req, res);
  const who = member(req, c);
  const id = factorId(req);
  if (await factorType(c, who, id) === 'phone') return void res.json(await phoneChallenge(c, who, id, channelParam(params(req))));
  res.json(await authCall(c.p, 'select auth.mfa_challenge($1, $2, $3, $4)', [who.userId, who.sessionId, id, c.ip]));
});

/** The MFA verification attempt hook: a `reject` signs the user out everywhere and ends the attempt. */
async function mfaAttempt(c: Ctx, who: UserCaller, id: string, type: string, valid: boolean): Promise<void> {
  const rejected = await verificationAttempt(c.p, c.cfg, 'mfa_verification_attempt', c.ip, { user_id: who.userId, factor_id: id, factor_type: type, valid });
  if (!rejected) return;
  await authCall(c.p, 'delete from auth.sessions where user_id = $1', [who.userId]);
  throw new AuthError(403, 'mfa_verification_rejected', rejected.message);
}

mfa.post('/factors/:factor_id/verify', async (req, res) => {
  const c = await ctx(req, res);
  const who = member(req, c);
  const id = factorId(req);
  const b = params(req);
  const challenge = str(b, 'challenge_id');
  const code = str(b, 'code') ?? '';
  if (!isUuid(challenge)) throw new AuthError(422, 'mfa_factor_not_found', 'MFA factor with the provided challenge ID not found');
  if (await factorType(c, who, id) === 'phone') {
    if (c.cfg.mfa_phone_verify_enabled !== true) throw phoneVerifyDisabled();
    const ch = await authCall<{ otp_code: string | null }>(c.p, 'select auth.mfa_phone_challenge($1, $2, $3, $4)', [who.userId, who.sessionId, id, challenge]);
    const valid = Boolean(ch.otp_code) && crypto.timingSafeEqual(Buffer.from(codeHash(code)), Buffer.from(ch.otp_code!));
    await mfaAttempt(c, who, id, 'phone', valid);
    if (!valid) throw new AuthError(422, 'mfa_verification_failed', 'Invalid MFA Phone code entered');
    const s = await authCall<SessionData>(c.p, 'select auth.mfa_phone_verified($1, $2, $3, $4, $5)', [who.userId, who.sessionId, id, challenge, c.ip]);
    return void res.json(await tokenResponse(c.p, c.cfg, s));
  }
  const secret = await authCall<string>(c.p, 'select auth.mfa_challenge_secret($1, $2, $3, $4)', [who.userId, who.sessionId, id, challenge]);
  const valid = totpValid(secret, code);
  await mfaAttempt(c, who, id, 'totp', valid);
  if (!valid) throw new AuthError(422, 'mfa_verification_failed', 'Invalid TOTP code entered');
  const s = await authCall<SessionData>(c.p, 'select auth.mfa_verified($1, $2, $3, $4, $5)', [who.userId, who.sessionId, id, challenge, c.ip]);
  res.json(await tokenResponse(c.p, c.cfg, s));
});

mfa.delete('/factors/:factor_id', async (req, res) => {
  const c = await ctx(req, res);
  const who = member(req, c);
  res.json(await authCall(c.p, 'select auth.mfa_unenroll($1, $2, $3, false, $4)', [who.userId, who.sessionId, factorId(req), c.ip]));
});

function adminUserId(req: Request): string {
  const id = String(req.params.user_id);
  if (!isUuid(id)) throw authErrors.userIdNotUuid();
  return id;
}

mfa.get('/admin/users/:user_id/factors', async (req, res) => {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  const user = await authCall(c.p, 'select auth.admin_get_user($1)', [adminUserId(req)]);
  res.json(user.factors ?? []);
});

mfa.delete('/admin/users/:user_id/factors/:factor_id', async (req, res) => {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  res.json(await authCall(c.p, 'select auth.mfa_unenroll($1, null, $2, true, $3)', [adminUserId(req), factorId(req), c.ip]));
});
