// POST /token: grant_type password, refresh_token, pkce or id_token (oauth.ts) — each ends in a new (or rotated) session.
import { Router, type Request } from 'express';
import { authCall } from './db.ts';
import { AuthError, OAuthFlowError, authErrors, validation } from './errors.ts';
import { verificationAttempt } from './hooks.ts';
import { phonePassword } from './phone.ts';
import { web3Grant } from './web3.ts';
import { limitIp } from './limits.ts';
import { idTokenGrant } from './oauth.ts';
import { ctx, params, str, type Ctx, type Params } from './params.ts';
import { comparePassword } from './passwords.ts';
import { tokenResponse, type SessionData } from './session.ts';

export const token = Router();

interface LoginRow { id: string; encrypted_password: string | null; email_confirmed: boolean; banned: boolean }

/** The password verification attempt hook (hooks.ts): a `reject` ends the sign-in with its message, and may
 *  sign the user out everywhere. */
async function passwordAttempt(c: Ctx, userId: string, valid: boolean): Promise<void> {
  const rejected = await verificationAttempt(c.p, c.cfg, 'password_verification_attempt', c.ip, { user_id: userId, valid });
  if (!rejected) return;
  if (rejected.logout) await authCall(c.p, 'delete from auth.sessions where user_id = $1', [userId]);
  throw new AuthError(400, 'invalid_credentials', rejected.message);
}

async function password(c: Ctx, b: Params): Promise<SessionData> {
  const email = str(b, 'email');
  const phone = str(b, 'phone');
  const pw = str(b, 'password') ?? '';
  if (email && phone) throw validation('Only an email address or phone number should be provided on login.');
  if (!email && !phone) throw validation('missing email or phone');
  const attempt = (userId: string, valid: boolean) => passwordAttempt(c, userId, valid);
  if (phone) return phonePassword(c, phone, pw, attempt);
  if (!c.cfg.external_email_enabled) throw authErrors.emailProviderDisabled('Email logins are disabled');
  const row = await authCall<LoginRow | undefined>(c.p, 'select to_jsonb(l) from auth.password_lookup($1) l', [email]);
  // Unknown email and wrong password take the same time and give the same answer.
  const ok = await comparePassword(pw, row?.encrypted_password);
  if (!row || !row.encrypted_password) throw authErrors.invalidCredentials();
  await attempt(row.id, ok);
  if (!ok) throw authErrors.invalidCredentials();
  if (row.banned) throw authErrors.userBanned();
  if (!row.email_confirmed) throw authErrors.emailNotConfirmed();
  return authCall<SessionData>(c.p, 'select auth.start_session($1, $2, $3, $4)', [row.id, 'password', c.ip, c.userAgent]);
}

async function refresh(c: Ctx, b: Params): Promise<SessionData> {
  const rt = str(b, 'refresh_token') ?? '';
  if (rt.length < 12) throw validation('Refresh token is not valid');
  const interval = c.cfg.refresh_token_rotation_enabled ? c.cfg.security_refresh_token_reuse_interval : 2_147_483;
  const r = await authCall(c.p, 'select auth.refresh_first_party($1, $2, $3, $4)', [rt, interval, Math.round(c.cfg.sessions_timebox), c.ip]);
  if (r.error === 'refresh_token_already_used') throw authErrors.refreshTokenAlreadyUsed();
  // A session an OAuth client obtained refreshes at /oauth/token only (oauth-server.ts).
  if (r.error === 'invalid_client') throw new OAuthFlowError('invalid_client', r.error_description);
  return r as SessionData;
}

async function pkceGrant(c: Ctx, b: Params): Promise<SessionData> {
  const code = str(b, 'auth_code');
  const verifier = str(b, 'code_verifier');
  if (!code || !verifier) throw validation('invalid request: both auth code and code verifier should be non-empty');
  return authCall<SessionData>(c.p, 'select auth.exchange_code($1, $2, $3, $4)', [code, verifier, c.ip, c.userAgent]);
}

const grants: Record<string, (c: Ctx, b: Params, req: Request) => Promise<SessionData>> = {
  password, refresh_token: refresh, pkce: pkceGrant, id_token: idTokenGrant,
  web3: web3Grant,
};

token.post('/token', async (req: Request, res) => {
  const grant = grants[String(req.query.grant_type ?? (req.body as Params | undefined)?.grant_type ?? '')];
  if (!grant) throw authErrors.unsupportedGrant();
  const c = await ctx(req, res);
  await limitIp(c.p.ref, c.cfg, 'token', c.ip);
  res.json(await tokenResponse(c.p, c.cfg, await grant(c, params(req), req)));
});
