// The signed-in user: GET /user, PUT /user (email, password, metadata), GET /reauthenticate (a code a password
// change may require), POST /logout (scope local, others or global).
import { Router } from 'express';
import { allowedRedirect } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, authErrors, validation } from './errors.ts';
import { limitEmail } from './limits.ts';
import { deliverEmail, hookEnabled } from './hooks.ts';
import { newToken, renderEmail, tokenHash, type OneTimeToken } from './mail.ts';
import { ctx, email as emailParam, obj, params, redirectParam, str } from './params.ts';
import { checkPassword, comparePassword, hashPassword } from './passwords.ts';
import { phoneReauthenticate, preparePhoneChange, validatePhone } from './phone.ts';
import { userCaller } from './session.ts';

export const user = Router();

user.get('/user', async (req, res) => {
  const c = await ctx(req, res);
  const who = userCaller(req, c.p);
  res.json(await authCall(c.p, 'select auth.user_json(auth.caller($1, $2))', [who.userId, who.sessionId]));
});

interface StoredUser {
  email: string | null; phone: string | null; encrypted_password: string | null; is_anonymous: boolean; session_created_at: string | null;
}

const DAY_MS = 24 * 3600 * 1000;

user.put('/user', async (req, res) => {
  const c = await ctx(req, res);
  const who = userCaller(req, c.p);
  const b = params(req);
  const password = str(b, 'password');
  const rawEmail = str(b, 'email');
  const data = obj(b, 'data');
  if (obj(b, 'app_metadata')) throw new AuthError(403, 'not_admin', 'Updating app_metadata requires admin privileges');
  const rawPhone = str(b, 'phone');
  const phone = rawPhone ? validatePhone(rawPhone) : undefined;
  const current = await authCall<StoredUser>(c.p, `select to_jsonb(u) || jsonb_build_object('session_created_at',
    (select s.created_at from auth.sessions s where s.id = $2)) from auth.caller($1, $2) u`, [who.userId, who.sessionId]);

  const patch: Record<string, unknown> = { ip: c.ip };
  if (data) patch.data = data;
  if (password !== undefined) {
    if (current.is_anonymous && !current.email && !rawEmail && !current.phone && !phone) {
      throw new AuthError(422, 'validation_failed', 'Updating password of an anonymous user without an email or phone is not allowed');
    }
    // A session older than a day must prove it is still its user (a code from GET /reauthenticate).
    const stale = !current.session_created_at || Date.now() - Date.parse(current.session_created_at) > DAY_MS;
    if (c.cfg.security_update_password_require_reauthentication && stale) {
      const nonce = str(b, 'nonce');
      if (!nonce) throw new AuthError(400, 'reauthentication_needed', 'Password update requires reauthentication');
      // The code went by email, or by SMS to a user without an email (GoTrue's verifyReauthentication).
      Object.assign(patch, current.email || !current.phone
        ? { nonce_hash: tokenHash(current.email ?? '', nonce), otp_exp: c.cfg.mailer_otp_exp }
        : { nonce_hash: tokenHash(current.phone, nonce), otp_exp: c.cfg.sms_otp_exp });
    }
    checkPassword(c.cfg, password);
    if (current.encrypted_password && await comparePassword(password, current.encrypted_password)) throw authErrors.samePassword();
    patch.password_hash = await hashPassword(password);
  }
  let emailToken: { token: OneTimeToken; redirectTo: string } | undefined;
  if (rawEmail !== undefined) {
    const email = emailParam(rawEmail);
    if (email !== current.email) {
      patch.email = email;
      if (c.cfg.mailer_autoconfirm) {
        patch.email_confirm = true;
      } else {
        await limitEmail(c.p.ref, c.cfg, email);
        const token = newToken(c.cfg, email, false);
        const redirectTo = allowedRedirect(c.cfg, redirectParam(req, b));
        emailToken = { token, redirectTo };
        patch.email_token_hash = token.hash;
        patch.max_frequency = c.cfg.smtp_max_frequency;
        patch.email_message = renderEmail(c.p, c.cfg, {
          kind: 'email_change', type: 'email_change', email: current.email ?? '', newEmail: email, token, redirectTo,
        });
      }
    }
  }
  // A phone change (phone.ts) is checked before anything else changes.
  const phoneChange = phone && phone !== current.phone ? await preparePhoneChange(c, who.userId, phone) : undefined;
  const updated = await authCall(c.p, 'select auth.update_user($1, $2)', [who.userId, patch]);
  if (emailToken) await deliverEmail(c.p, c.cfg, c.ip, updated.email_id, { user: updated.user, type: 'email_change', ...emailToken });
  res.json(phoneChange ? await phoneChange(str(b, 'channel')) : updated.user);
});

const SCOPES = new Set(['global', 'local', 'others']);

user.post('/logout', async (req, res) => {
  const c = await ctx(req, res);
  const who = userCaller(req, c.p);
  const scope = typeof req.query.scope === 'string' && req.query.scope !== '' ? req.query.scope : 'global';
  if (!SCOPES.has(scope)) throw validation(`Unsupported logout scope "${scope}"`);
  await authCall(c.p, 'select auth.logout($1, $2, $3, $4)', [who.userId, who.sessionId, scope, c.ip]);
  res.status(204).end();
});

user.get('/reauthenticate', async (req, res) => {
  const c = await ctx(req, res);
  const who = userCaller(req, c.p);
  // The address now, not the token's claim: it may have changed since the token was issued.
  const now = await authCall<{ email: string | null; phone: string | null; phone_confirmed: boolean }>(c.p,
    `select jsonb_build_object('email', u.email, 'phone', u.phone, 'phone_confirmed', u.phone_confirmed_at is not null)
       from auth.caller($1, $2) u`, [who.userId, who.sessionId]);
  // No email but a phone: the code goes by SMS.
  if (!now.email && now.phone) return void res.json(await phoneReauthenticate(c, who.userId, who.sessionId, now.phone, now.phone_confirmed));
  const address = now.email ?? '';
  if (address) await limitEmail(c.p.ref, c.cfg, address);
  const token = newToken(c.cfg, address, false);
  const emailId = await authCall<number | null>(c.p, 'select auth.reauthenticate($1, $2, $3)', [who.userId, who.sessionId, {
    token_hash: token.hash, max_frequency: c.cfg.smtp_max_frequency,
    email_message: renderEmail(c.p, c.cfg, { kind: 'reauthentication', type: 'reauthentication', email: address, token, redirectTo: c.cfg.site_url }),
  }]);
  await deliverEmail(c.p, c.cfg, c.ip, emailId, {
    user: hookEnabled(c.cfg, 'send_email') ? await authCall(c.p, 'select auth.user_json(auth.caller($1, $2))', [who.userId, who.sessionId]) : null,
    type: 'reauthentication', token, redirectTo: c.cfg.site_url,
  });
  res.json({});
});
