// Accounts: sign-up, login, the current account, password change, and password reset by email.
import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import { Router } from 'express';
import { config, settings } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { errors } from '../errors.ts';
import { body, email, str } from '../validate.ts';
import { authenticate, caller, newAccessToken, rateLimit, scope, sha256 } from './session.ts';

// Login and reset-email attempts per email address per minute (shared by every API process): password guessing
// and mail bombing stop here, whether or not the account exists.
const SESSION_DAYS = 30;
// Compared against when the email is unknown, so a login takes as long whether or not the account exists.
const DUMMY_HASH = bcrypt.hashSync('loam-dummy-password', settings.bcryptRounds);

const password = (b: Record<string, unknown>, key: string) => str(b, key, { required: true, min: 8, max: 72 });

interface AccountRow { id: string; email: string; full_name: string | null; created_at: Date }
export const userJson = (a: AccountRow) => ({ id: a.id, email: a.email, full_name: a.full_name, created_at: a.created_at });

async function startSession(accountId: string): Promise<string> {
  const t = newAccessToken();
  await controlPool().query(
    `select platform_private.issue_token($1, 'session', 'session', '{}', now() + make_interval(days => $2), $3, $4)`,
    [accountId, SESSION_DAYS, t.hash, t.prefix]);
  return t.token;
}

async function account(id: string): Promise<AccountRow> {
  return (await controlPool().query('select * from platform.accounts where id = $1', [id])).rows[0];
}

export const accounts = Router();

accounts.post('/auth/signup', async (req, res) => {
  const b = body(req.body);
  const mail = email(b);
  const pass = password(b, 'password');
  const fullName = str(b, 'full_name', { max: 256 });
  const hash = await bcrypt.hash(pass, settings.bcryptRounds);
  const { rows: [a] } = await controlPool().query('select * from platform_private.create_account($1, $2, $3)', [mail, fullName ?? null, hash]);
  res.status(201).json({ token: await startSession(a.id), user: userJson(a) });
});

accounts.post('/auth/login', async (req, res) => {
  const b = body(req.body);
  const mail = str(b, 'email', { required: true, max: 320 });
  const pass = str(b, 'password', { required: true, max: 1024 });
  const { rows: [row] } = await controlPool().query(
    `select r.retry_after, l.account_id, l.password_hash from platform_private.rate_limit_hit($2, $3) r(retry_after)
     left join platform_private.login_lookup($1) l on true`, [mail, `login:${mail.trim().toLowerCase()}`, settings.accountAttemptsPerMinute]);
  if (row.retry_after > 0) throw errors.rateLimited(row.retry_after);
  const ok = await bcrypt.compare(pass, row.password_hash ?? DUMMY_HASH);
  if (!row.account_id || !ok) throw errors.invalidCredentials();
  res.json({ token: await startSession(row.account_id), user: userJson(await account(row.account_id)) });
});

accounts.get('/auth/me', authenticate, async (_req, res) => {
  res.json(userJson(await account(caller(res).accountId)));
});

// Supabase's profile endpoint (the Supabase CLI reads it after `supabase login`).
accounts.get('/profile', authenticate, async (_req, res) => {
  const a = await account(caller(res).accountId);
  res.json({ gotrue_id: a.id, primary_email: a.email, username: a.full_name ?? a.email.split('@')[0] });
});

// Changing the password is credential management: a read-only token must not be able to take over the account.
accounts.patch('/auth/password', authenticate, scope('tokens', 'write'), async (req, res) => {
  const b = body(req.body);
  const current = str(b, 'current_password', { required: true, max: 1024 });
  const next = password(b, 'new_password');
  const me = caller(res);
  const { rows: [row] } = await controlPool().query('select platform_private.password_hash($1) as hash', [me.accountId]);
  if (!(await bcrypt.compare(current, row.hash))) throw errors.invalidCredentials();
  await controlPool().query('select platform_private.set_password($1, $2, $3)',
    [me.accountId, await bcrypt.hash(next, settings.bcryptRounds), me.tokenId]);
  res.json({ message: 'Password updated' });
});

accounts.post('/auth/forgot', async (req, res) => {
  const mail = email(body(req.body));
  await rateLimit(`forgot:${mail.toLowerCase()}`, settings.accountAttemptsPerMinute);
  const token = crypto.randomBytes(24).toString('hex');
  await controlPool().query('select platform_private.request_password_reset($1, $2, $3, $4)',
    [mail, token, sha256(token), `${config.publicUrl}/v1/auth/reset?token={token}`]);
  res.json({ message: 'If an account exists for this email, a password reset token has been sent to it' });
});

accounts.post('/auth/reset', async (req, res) => {
  const b = body(req.body);
  const token = str(b, 'token', { required: true, max: 256 });
  const pass = password(b, 'password');
  const hash = await bcrypt.hash(pass, settings.bcryptRounds);
  const client = await controlPool().connect();
  try {
    await client.query('begin');
    const { rows: [{ id }] } = await client.query('select platform_private.consume_password_reset($1) as id', [sha256(token)]);
    await client.query('select platform_private.set_password($1, $2)', [id, hash]);
    await client.query('commit');
    res.json({ token: await startSession(id), user: userJson(await account(id)) });
  } catch (err) {
    await client.query('rollback');
    throw err;
  } finally {
    client.release();
  }
});
