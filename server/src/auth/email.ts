// Everything that sends a one-time token by email and takes it back: POST /recover, /otp, /magiclink,
// /resend, and GET/POST /verify.
import { Router, type Request, type Response } from 'express';
import { allowedRedirect } from './config.ts';
import { authCall } from './db.ts';
import { authErrors, toAuthError, validation } from './errors.ts';
import { limitEmail, limitIp } from './limits.ts';
import { beforeNewUser, deliverEmail } from './hooks.ts';
import { PKCE_PREFIX, newToken, renderEmail, tokenHash, type EmailKind } from './mail.ts';
import { bool, ctx, email as emailParam, obj, params, pkce, redirectParam, str, type Ctx, type Params } from './params.ts';
import { phoneOtp, phoneResend, phoneVerify } from './phone.ts';
import { tokenResponse, type SessionData } from './session.ts';

export const email = Router();

const KIND: Record<string, EmailKind> = {
  recovery: 'recovery', magiclink: 'magic_link', signup: 'confirmation', invite: 'invite', email_change: 'email_change',
};

interface SendOptions {
  type: string; alsoAs?: string[]; email: string; b: Params; req: Request; createUser?: boolean; data?: unknown;
  /** The address the code is bound to, when not `email` (an email change: the new address). */
  sentTo?: string;
}

/** Renders the email(s), records token + email in one SQL call, queues the sending. */
export async function sendToken(c: Ctx, o: SendOptions) {
  const flow = pkce(o.b);
  const token = newToken(c.cfg, o.sentTo ?? o.email, Boolean(flow));
  const redirectTo = allowedRedirect(c.cfg, redirectParam(o.req, o.b));
  const emails: Record<string, unknown> = {};
  for (const type of [o.type, ...(o.alsoAs ?? [])]) {
    emails[type] = renderEmail(c.p, c.cfg, { kind: KIND[type], type, email: o.email, newEmail: o.sentTo, token, redirectTo });
  }
  await limitEmail(c.p.ref, c.cfg, o.sentTo ?? o.email);
  const r = await authCall(c.p, 'select auth.send_token($1)', [{
    email: o.email, type: o.type, token_hash: token.linkToken, emails, max_frequency: c.cfg.smtp_max_frequency,
    pkce: flow ?? null, create_user: o.createUser ?? false, data: o.data ?? null, ip: c.ip,
  }]);
  await deliverEmail(c.p, c.cfg, c.ip, r.email_id, { user: r.user, type: r.type ?? o.type, token, redirectTo });
  return { ...r, token, redirectTo };
}

function requireEmailProvider(c: Ctx) {
  if (!c.cfg.external_email_enabled) throw authErrors.emailProviderDisabled('Email logins are disabled');
}

email.post('/recover', async (req, res) => {
  const c = await ctx(req, res);
  await limitIp(c.p.ref, c.cfg, 'otp', c.ip);
  requireEmailProvider(c);
  const b = params(req);
  const raw = str(b, 'email');
  if (!raw) throw validation('Password recovery requires an email');
  await sendToken(c, { type: 'recovery', email: emailParam(raw), b, req });
  res.json({});
});

async function magicLink(req: Request, res: Response) {
  const c = await ctx(req, res);
  await limitIp(c.p.ref, c.cfg, 'otp', c.ip);
  const b = params(req);
  const raw = str(b, 'email');
  const phone = str(b, 'phone');
  if (phone) {
    if (raw) throw validation('Only an email address or phone number should be provided');
    return void res.json(await phoneOtp(c, b, phone));
  }
  if (!raw) throw validation('One of email or phone must be set');
  requireEmailProvider(c);
  const createUser = (bool(b, 'create_user') ?? true) && !c.cfg.disable_signup;
  if (createUser) await beforeNewUser(c.p, c.cfg, c.ip, { email: emailParam(raw), data: obj(b, 'data') });
  const r = await sendToken(c, { type: 'magiclink', alsoAs: ['signup'], email: emailParam(raw), b, req, createUser, data: obj(b, 'data') });
  if (r.found === false) throw authErrors.otpDisabled();
  res.json({});
}
email.post('/otp', magicLink);
email.post('/magiclink', magicLink);

email.post('/resend', async (req, res) => {
  const c = await ctx(req, res);
  await limitIp(c.p.ref, c.cfg, 'otp', c.ip);
  const b = params(req);
  const type = str(b, 'type');
  if (!type || !['signup', 'email_change', 'sms', 'phone_change'].includes(type)) {
    throw validation('Missing one of these types: signup, email_change, sms, phone_change');
  }
  const raw = str(b, 'email');
  if ((type === 'signup' || type === 'email_change') && !raw) throw validation('Type provided requires an email address');
  if (raw && str(b, 'phone')) throw validation('Only an email address or phone number should be provided.');
  if (type === 'sms' || type === 'phone_change') return void res.json(await phoneResend(c, b, type, str(b, 'phone')));
  requireEmailProvider(c);
  const addr = emailParam(raw);
  // An email change is confirmed from the new address, so its code is bound to that one.
  const sentTo = type === 'email_change'
    ? await authCall<string | undefined>(c.p, `select nullif(email_change, '') from auth.users where lower(email) = $1`, [addr])
    : undefined;
  if (type === 'email_change' && !sentTo) return void res.json({});
  await sendToken(c, { type, email: addr, sentTo, b, req });
  res.json({});
});

const VERIFY_TYPES = new Set(['signup', 'invite', 'recovery', 'magiclink', 'email_change', 'email']);

/** The redirect after a link, as GoTrue builds it: tokens (or an error) in the fragment, a PKCE code (or error)
 *  in the query. */
function withParams(base: string, query: Record<string, string>, fragment: Record<string, string>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  const hash = new URLSearchParams(Object.entries(fragment).sort(([a], [b]) => a.localeCompare(b)));
  return `${u.href.replace(/#.*$/, '')}${Object.keys(fragment).length ? '#' + hash.toString() : ''}`;
}

email.get('/verify', async (req, res) => {
  const c = await ctx(req, res);
  await limitIp(c.p.ref, c.cfg, 'verify', c.ip);
  const q = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : '');
  const type = q('type');
  const token = q('token');
  if (!type) throw validation('Verify requires a verification type');
  if (!token) throw validation('Verify requires a token or a token hash');
  const redirectTo = allowedRedirect(c.cfg, q('redirect_to') || undefined);
  const isPkce = token.startsWith(PKCE_PREFIX);
  try {
    if (!VERIFY_TYPES.has(type)) throw validation('Unsupported verification type');
    const r = await authCall(c.p, 'select auth.verify($1)', [{
      type, hashes: [token], otp_exp: c.cfg.mailer_otp_exp, pkce: isPkce, link: true, ip: c.ip, user_agent: c.userAgent,
    }]);
    if (isPkce) return void res.redirect(303, withParams(redirectTo, { code: r.code }, {}));
    const t = await tokenResponse(c.p, c.cfg, r as SessionData);
    res.redirect(303, withParams(redirectTo, {}, {
      access_token: t.access_token, expires_at: String(t.expires_at), expires_in: String(t.expires_in),
      refresh_token: t.refresh_token, sb: '', token_type: t.token_type, type,
    }));
  } catch (err) {
    const e = toAuthError(err);
    if (e.status >= 500) throw err;
    const oauth = e.status === 403 ? 'access_denied' : e.status === 400 ? 'invalid_request' : undefined;
    const fields = { ...(oauth ? { error: oauth } : {}), error_code: e.code, error_description: e.message };
    res.redirect(303, withParams(redirectTo, isPkce ? fields : {}, { ...fields, sb: '' }));
  }
});

email.post('/verify', async (req, res) => {
  const c = await ctx(req, res);
  await limitIp(c.p.ref, c.cfg, 'verify', c.ip);
  const b = params(req);
  const type = str(b, 'type');
  const token = str(b, 'token');
  const hash = str(b, 'token_hash');
  const addr = str(b, 'email');
  if (!type) throw validation('Verify requires a verification type');
  if (!token && !hash) throw validation('Verify requires a token or a token hash');
  if (token && hash) throw validation('Verify requires either a token or a token hash');
  const phone = str(b, 'phone');
  if (phone && addr) throw validation('Only an email address or phone number should be provided on verify');
  if (phone && !hash) return void res.json(await phoneVerify(c, type, phone, token));
  if (hash && (addr || phone)) throw validation('Only the token_hash and type should be provided');
  if (!VERIFY_TYPES.has(type)) throw validation('Unsupported verification type');
  let hashes: string[];
  let relatesTo: string | null = null;
  if (hash) {
    hashes = [hash, PKCE_PREFIX + hash];
  } else if (addr) {
    relatesTo = emailParam(addr);
    const h = tokenHash(relatesTo, token!);
    hashes = [h, PKCE_PREFIX + h];
  } else {
    hashes = [token!];
  }
  const r = await authCall<SessionData>(c.p, 'select auth.verify($1)', [{
    type, hashes, email: relatesTo, otp_exp: c.cfg.mailer_otp_exp, pkce: false, link: false, ip: c.ip, user_agent: c.userAgent,
  }]);
  res.json(await tokenResponse(c.p, c.cfg, r));
});
