// POST /signup: email + password (confirmation by email unless the project autoconfirms), or, with neither
// email nor phone, an anonymous user.
import crypto from 'node:crypto';
import { Router } from 'express';
import { allowedRedirect } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, authErrors, validation } from './errors.ts';
import { limitEmail, limitIp } from './limits.ts';
import { beforeNewUser, deliverEmail } from './hooks.ts';
import { phoneSignup } from './phone.ts';
import { newToken, renderEmail } from './mail.ts';
import { ctx, email as emailParam, obj, params, pkce, redirectParam, str, type Ctx } from './params.ts';
import { checkPassword, hashPassword } from './passwords.ts';
import { tokenResponse, type SessionData, type UserJson } from './session.ts';

export const signup = Router();

async function anonymous(c: Ctx, data: Record<string, unknown> | undefined) {
  if (!c.cfg.external_anonymous_users_enabled) throw authErrors.anonymousDisabled();
  await limitIp(c.p.ref, c.cfg, 'anonymous', c.ip);
  if (c.cfg.disable_signup) throw authErrors.signupDisabled();
  await beforeNewUser(c.p, c.cfg, c.ip, { data, anonymous: true });
  const s = await authCall<SessionData>(c.p, 'select auth.signup_anonymous($1)', [{ data, ip: c.ip, user_agent: c.userAgent }]);
  return tokenResponse(c.p, c.cfg, s);
}

/** What GoTrue answers when the address already has a confirmed account and confirmation is on: a user that
 *  looks new, so sign-up cannot be used to find out who has an account. */
function obfuscatedUser(email: string, data: Record<string, unknown> | undefined): UserJson {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(), aud: 'authenticated', role: 'authenticated', email, phone: '',
    confirmation_sent_at: now, app_metadata: { provider: 'email', providers: ['email'] }, user_metadata: data ?? {},
    identities: [], created_at: now, updated_at: now, is_anonymous: false,
  };
}

signup.post('/signup', async (req, res) => {
  const c = await ctx(req, res);
  const b = params(req);
  const data = obj(b, 'data');
  const rawEmail = str(b, 'email');
  const phone = str(b, 'phone');
  if (!rawEmail && !phone) return void res.json(await anonymous(c, data));

  if (rawEmail && phone) throw validation('Only an email address or phone number should be provided on signup.');
  await limitIp(c.p.ref, c.cfg, 'otp', c.ip);
  if (c.cfg.disable_signup) throw authErrors.signupDisabled();
  if (phone) return void res.json(await phoneSignup(c, b, phone, data));
  if (!c.cfg.external_email_enabled) throw new AuthError(400, 'email_provider_disabled', 'Email signups are disabled');
  const password = str(b, 'password');
  if (!password) throw validation('Signup requires a valid password');
  checkPassword(c.cfg, password);
  const email = emailParam(rawEmail);
  const flow = pkce(b);
  const autoconfirm = c.cfg.mailer_autoconfirm;
  const token = newToken(c.cfg, email, Boolean(flow));
  const redirectTo = allowedRedirect(c.cfg, redirectParam(req, b));
  if (!autoconfirm) await limitEmail(c.p.ref, c.cfg, email);
  await beforeNewUser(c.p, c.cfg, c.ip, { email, data });

  const r = await authCall(c.p, 'select auth.signup($1)', [{
    email, password_hash: await hashPassword(password), data, autoconfirm, token_hash: token.linkToken,
    email_message: renderEmail(c.p, c.cfg, { kind: 'confirmation', type: 'signup', email, token, redirectTo }),
    max_frequency: c.cfg.smtp_max_frequency, pkce: flow ?? null, ip: c.ip, user_agent: c.userAgent,
  }]);
  if (r.obfuscated) return void res.json(obfuscatedUser(email, data));
  if (r.session_id) return void res.json(await tokenResponse(c.p, c.cfg, r as SessionData));
  await deliverEmail(c.p, c.cfg, c.ip, r.email_id, { user: r.user, type: 'signup', token, redirectTo });
  res.json(r.user);
});
