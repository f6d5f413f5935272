// Accounts: sign-up, login, the current account, password change, and password reset through the outbox.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { adminClient, http, signup } from '../helpers/platform.ts';

const newEmail = () => `a${crypto.randomBytes(6).toString('hex')}@example.com`;

async function resetTokenFor(email: string): Promise<string | undefined> {
  const db = await adminClient();
  try {
    const { rows } = await db.query(
      `select body_text from platform_private.email_outbox where lower(to_address) = lower($1) and kind = 'password_reset' order by id desc limit 1`,
      [email]);
    return rows[0] && /Reset token: (\S+)/.exec(rows[0].body_text)?.[1];
  } finally {
    await db.end();
  }
}

test('signup returns a session token and the user, and creates a personal organization', async () => {
  const email = newEmail();
  const res = await http('POST', '/v1/auth/signup', { body: { email, password: 'long enough', full_name: 'Ada Lovelace' } });
  assert.equal(res.status, 201);
  assert.match(res.body.token, /^sbp_[0-9a-f]{40}$/);
  assert.equal(res.body.user.email, email);
  assert.equal(res.body.user.full_name, 'Ada Lovelace');
  assert.match(res.body.user.id, /^[0-9a-f-]{36}$/);
  const orgs = await http('GET', '/v1/organizations', { token: res.body.token });
  assert.equal(orgs.status, 200);
  assert.equal(orgs.body.length, 1);
  assert.equal(orgs.body[0].name, "Ada Lovelace's Org");
  // The password is stored as a bcrypt hash, never in clear.
  const db = await adminClient();
  const { rows } = await db.query('select password_hash from platform_private.account_passwords where account_id = $1', [res.body.user.id]);
  await db.end();
  assert.match(rows[0].password_hash, /^\$2[aby]\$/);
});

test('signup rejects bad input with 400 and creates nothing', async () => {
  const email = newEmail();
  const cases: [unknown, RegExp][] = [
    [{ email, password: 'short77' }, /password must be at least 8 characters/],
    [{ email }, /password is required/],
    [{ password: 'long enough' }, /email is required/],
    [{ email: 'not-an-email', password: 'long enough' }, /email must be an email address/],
    [{ email, password: 12345678 }, /password must be a string/],
    [[1, 2], /must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    const res = await http('POST', '/v1/auth/signup', { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, 'invalid_body');
    assert.match(res.body.message, message);
  }
  const bad = await http('POST', '/v1/auth/signup', { body: '{"email": ', headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { message: 'Request body is not valid JSON', code: 'invalid_body' });
  const db = await adminClient();
  const { rowCount } = await db.query('select 1 from platform.accounts where email = $1', [email]);
  await db.end();
  assert.equal(rowCount, 0);
});

test('signup with an email already taken (any case) is 409', async () => {
  const a = await signup();
  const res = await http('POST', '/v1/auth/signup', { body: { email: a.email.toUpperCase(), password: 'another password' } });
  assert.equal(res.status, 409);
  assert.equal(res.body.code, 'email_taken');
  assert.equal(res.body.message, 'An account with this email address already exists');
});

test('login: right credentials give a token; unknown email and wrong password get the same 401', async () => {
  const a = await signup();
  const ok = await http('POST', '/v1/auth/login', { body: { email: a.email, password: a.password } });
  assert.equal(ok.status, 200);
  assert.match(ok.body.token, /^sbp_[0-9a-f]{40}$/);
  assert.notEqual(ok.body.token, a.token);
  assert.equal(ok.body.user.id, a.user.id);

  const wrongPassword = await http('POST', '/v1/auth/login', { body: { email: a.email, password: 'not the password' } });
  const unknownEmail = await http('POST', '/v1/auth/login', { body: { email: newEmail(), password: a.password } });
  assert.equal(wrongPassword.status, 401);
  assert.deepEqual(wrongPassword.body, { message: 'Invalid email or password', code: 'invalid_credentials' });
  assert.equal(unknownEmail.status, 401);
  assert.deepEqual(unknownEmail.body, wrongPassword.body);

  // Expired sessions are cleared when a new one starts.
  const db = await adminClient();
  await db.query(`update platform.access_tokens set expires_at = now() - interval '1 day' where account_id = $1 and kind = 'session'`, [a.user.id]);
  assert.equal((await http('GET', '/v1/auth/me', { token: ok.body.token })).status, 401);
  const next = await http('POST', '/v1/auth/login', { body: { email: a.email, password: a.password } });
  const { rows } = await db.query(`select count(*)::int as n from platform.access_tokens where account_id = $1 and kind = 'session'`, [a.user.id]);
  await db.end();
  assert.equal(rows[0].n, 1);
  assert.equal((await http('GET', '/v1/auth/me', { token: next.body.token })).status, 200);

  const missing = await http('POST', '/v1/auth/login', { body: { email: a.email } });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.message, 'password is required');
});

test('me needs a valid token', async () => {
  const a = await signup();
  const me = await http('GET', '/v1/auth/me', { token: a.token });
  assert.equal(me.status, 200);
  assert.deepEqual(Object.keys(me.body).sort(), ['created_at', 'email', 'full_name', 'id']);
  assert.equal(me.body.id, a.user.id);
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer sbp_' + '0'.repeat(40) }, { authorization: 'Basic abc' }]) {
    const res = await http('GET', '/v1/auth/me', { headers });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { message: 'Unauthorized: a valid access token is required', code: 'unauthorized' });
  }
});

test('profile: the account in Supabase\'s shape', async () => {
  const a = await signup();
  const res = await http('GET', '/v1/profile', { token: a.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { gotrue_id: a.user.id, primary_email: a.email, username: a.email.split('@')[0] });
  assert.equal((await http('GET', '/v1/profile')).status, 401);
});

test('password change: needs the current password, ends other sessions, keeps the caller signed in', async () => {
  const a = await signup();
  const other = (await http('POST', '/v1/auth/login', { body: { email: a.email, password: a.password } })).body.token;

  const wrong = await http('PATCH', '/v1/auth/password', { token: a.token, body: { current_password: 'nope nope', new_password: 'new password 1' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.code, 'invalid_credentials');
  const short = await http('PATCH', '/v1/auth/password', { token: a.token, body: { current_password: a.password, new_password: 'short' } });
  assert.equal(short.status, 400);
  assert.equal(short.body.message, 'new_password must be at least 8 characters');
  const noAuth = await http('PATCH', '/v1/auth/password', { body: { current_password: a.password, new_password: 'new password 1' } });
  assert.equal(noAuth.status, 401);

  const ok = await http('PATCH', '/v1/auth/password', { token: a.token, body: { current_password: a.password, new_password: 'new password 1' } });
  assert.equal(ok.status, 200);
  assert.equal((await http('GET', '/v1/auth/me', { token: a.token })).status, 200);
  assert.equal((await http('GET', '/v1/auth/me', { token: other })).status, 401);
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: a.email, password: a.password } })).status, 401);
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: a.email, password: 'new password 1' } })).status, 200);
});

test('forgot password: same answer for known and unknown emails; the token goes to the outbox', async () => {
  const a = await signup();
  const unknown = newEmail();
  const known = await http('POST', '/v1/auth/forgot', { body: { email: a.email } });
  const notKnown = await http('POST', '/v1/auth/forgot', { body: { email: unknown } });
  assert.equal(known.status, 200);
  assert.equal(notKnown.status, known.status);
  assert.deepEqual(notKnown.body, known.body);
  assert.ok(await resetTokenFor(a.email));
  assert.equal(await resetTokenFor(unknown), undefined);
  const bad = await http('POST', '/v1/auth/forgot', { body: { email: 'nope' } });
  assert.equal(bad.status, 400);
});

test('password reset: the token works once, gives a fresh session, and ends the old ones', async () => {
  const a = await signup();
  await http('POST', '/v1/auth/forgot', { body: { email: a.email } });
  const token = (await resetTokenFor(a.email))!;

  const short = await http('POST', '/v1/auth/reset', { body: { token, password: 'short' } });
  assert.equal(short.status, 400);
  assert.equal(short.body.code, 'invalid_body');

  const res = await http('POST', '/v1/auth/reset', { body: { token, password: 'reset password 1' } });
  assert.equal(res.status, 200);
  assert.match(res.body.token, /^sbp_[0-9a-f]{40}$/);
  assert.equal(res.body.user.id, a.user.id);
  assert.equal((await http('GET', '/v1/auth/me', { token: res.body.token })).status, 200);
  assert.equal((await http('GET', '/v1/auth/me', { token: a.token })).status, 401);
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: a.email, password: 'reset password 1' } })).status, 200);

  const again = await http('POST', '/v1/auth/reset', { body: { token, password: 'reset password 2' } });
  assert.equal(again.status, 400);
  assert.deepEqual(again.body, { message: 'Reset token is invalid or has expired', code: 'invalid_reset_token' });
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: a.email, password: 'reset password 2' } })).status, 401);

  const unknown = await http('POST', '/v1/auth/reset', { body: { token: 'f'.repeat(48), password: 'reset password 3' } });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.code, 'invalid_reset_token');
});

test('password reset: a token older than an hour is refused and the password stays', async () => {
  const a = await signup();
  await http('POST', '/v1/auth/forgot', { body: { email: a.email } });
  const token = (await resetTokenFor(a.email))!;
  const db = await adminClient();
  const { rows } = await db.query(
    `select extract(epoch from expires_at - created_at)::int as ttl from platform_private.password_resets where account_id = $1`, [a.user.id]);
  assert.equal(rows[0].ttl, 3600);
  await db.query(`update platform_private.password_resets set expires_at = now() - interval '1 second' where account_id = $1`, [a.user.id]);
  await db.end();
  const res = await http('POST', '/v1/auth/reset', { body: { token, password: 'reset password 1' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'invalid_reset_token');
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: a.email, password: a.password } })).status, 200);
});

test('login and reset emails are limited per email address and minute (429 with Retry-After), known or not', async () => {
  const a = await signup();
  const unknown = newEmail();
  for (const [path, body] of [
    ['/v1/auth/login', { email: a.email, password: 'guess guess' }],
    ['/v1/auth/login', { email: unknown, password: 'guess guess' }],
    ['/v1/auth/forgot', { email: a.email }],
  ] as const) {
    let limited;
    for (let i = 0; i < 25 && !limited; i++) {
      const res = await http('POST', path, { body });
      if (res.status === 429) limited = res;
      else assert.ok(res.status === 401 || res.status === 200, String(res.status));
    }
    assert.ok(limited, `${path} is limited`);
    assert.equal(limited.body.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  }
  // The right password does not get through while the address is limited; another address is unaffected.
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: a.email, password: a.password } })).status, 429);
  const b = await signup();
  assert.equal((await http('POST', '/v1/auth/login', { body: { email: b.email, password: b.password } })).status, 200);
  // Each address has one row in the shared store.
  const db = await adminClient();
  const { rows } = await db.query(`select key from platform_private.rate_limits where key = any($1) order by key`,
    [[`login:${a.email}`, `login:${unknown}`, `forgot:${a.email}`]]);
  await db.end();
  assert.deepEqual(rows.map((r) => r.key).sort(), [`forgot:${a.email}`, `login:${a.email}`, `login:${unknown}`].sort());
});
