// Sessions: refresh-token rotation and reuse, expired access tokens, logout scopes, anonymous sign-in.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure, lastEmail, newEmail } from './helpers.ts';

let p: Project;
before(async () => { p = await authProject({ mailer_autoconfirm: true }); });

async function signIn(q: Project = p) {
  const email = newEmail();
  await client(q).auth.signUp({ email, password: PASSWORD });
  const res = await authHttp(q, 'POST', '/token?grant_type=password', { body: { email, password: PASSWORD } });
  assert.equal(res.status, 200);
  return { email, ...res.body as { access_token: string; refresh_token: string; user: { id: string } } };
}

const refresh = (refresh_token: string, q: Project = p) =>
  authHttp(q, 'POST', '/token?grant_type=refresh_token', { body: { refresh_token } });

describe('refresh tokens', () => {
  it('rotate: each refresh gives a new token, and the old one handed back inside the reuse interval returns the current one', async () => {
    const s = await signIn();
    const r1 = await refresh(s.refresh_token);
    assert.equal(r1.status, 200);
    assert.notEqual(r1.body.refresh_token, s.refresh_token);
    // The client lost r1's answer and retries with the old token: it gets r1's token back, no new one.
    const again = await refresh(s.refresh_token);
    assert.equal(again.status, 200);
    assert.equal(again.body.refresh_token, r1.body.refresh_token);
    const r2 = await refresh(r1.body.refresh_token);
    assert.equal(r2.status, 200);
  });

  it('reuse of a revoked token outside the reuse interval revokes the whole session', async () => {
    const q = await authProject({ mailer_autoconfirm: true, security_refresh_token_reuse_interval: 0 });
    const s = await signIn(q);
    const r1 = await refresh(s.refresh_token, q);
    const r2 = await refresh(r1.body.refresh_token, q);
    assert.equal(r2.status, 200);
    await new Promise((r) => setTimeout(r, 20));
    const stolen = await refresh(s.refresh_token, q);
    assert.equal(stolen.status, 400);
    assert.deepEqual(stolen.body, { code: 'refresh_token_already_used', message: 'Invalid Refresh Token: Already Used' });
    // The family is revoked: even the newest token no longer refreshes without tripping the same check.
    const newest = await refresh(r2.body.refresh_token, q);
    assert.equal(newest.status, 400);
    assert.equal(newest.body.code, 'refresh_token_already_used');
  });

  it('sessions_timebox ends sessions by age', async () => {
    const q = await authProject({ mailer_autoconfirm: true, sessions_timebox: 1 });
    const s = await signIn(q);
    await new Promise((r) => setTimeout(r, 1200));
    const res = await refresh(s.refresh_token, q);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 'session_expired', message: 'Invalid Refresh Token: Session Expired' });
  });

  it('an unknown or malformed refresh token is refused', async () => {
    const unknown = await refresh('abcdefghijklmnopqrstuvwxyz');
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body, { code: 'refresh_token_not_found', message: 'Invalid Refresh Token: Refresh Token Not Found' });
    const short = await refresh('abc');
    assert.deepEqual(short.body, { code: 'validation_failed', message: 'Refresh token is not valid' });
  });

  it('refreshSession through supabase-js keeps the user and session', async () => {
    const c = client(p);
    const email = newEmail();
    await c.auth.signUp({ email, password: PASSWORD });
    const before = (await c.auth.getSession()).data.session!;
    const { data, error } = await c.auth.refreshSession();
    assert.equal(error, null);
    assert.equal(data.user!.email, email);
    assert.notEqual(data.session!.refresh_token, before.refresh_token);
  });
});

describe('access tokens', () => {
  it('an expired access token is refused with bad_jwt', async () => {
    const s = await signIn();
    const admin = await adminClient();
    const { rows: [{ jwt_secret }] } = await admin.query(
      `select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1`, [p.ref]);
    await admin.end();
    const claims = JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url').toString());
    const expired = signJwt({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 }, jwt_secret);
    const res = await authHttp(p, 'GET', '/user', { token: expired });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'bad_jwt');
    assert.match(res.body.message, /token is expired/);
    const { error } = await client(p).auth.getUser(expired);
    assert.equal(error?.status, 403);
  });

  it('jwt_exp from the project config sets the lifetime', async () => {
    const q = await authProject({ mailer_autoconfirm: true, jwt_exp: 600 });
    const s = await signIn(q);
    const claims = JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.exp - claims.iat, 600);
  });
});

describe('logout scopes', () => {
  async function threeSessions() {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      sessions.push((await authHttp(p, 'POST', '/token?grant_type=password', { body: { email, password: PASSWORD } })).body);
    }
    return sessions;
  }
  const alive = async (s: { access_token: string }) => (await authHttp(p, 'GET', '/user', { token: s.access_token })).status === 200;

  it('local ends only the current session', async () => {
    const [a, b, c] = await threeSessions();
    const res = await authHttp(p, 'POST', '/logout?scope=local', { token: a.access_token });
    assert.equal(res.status, 204);
    assert.deepEqual([await alive(a), await alive(b), await alive(c)], [false, true, true]);
    const r = await refresh(a.refresh_token);
    assert.equal(r.status, 400);
  });

  it('others ends every other session', async () => {
    const [a, b, c] = await threeSessions();
    assert.equal((await authHttp(p, 'POST', '/logout?scope=others', { token: a.access_token })).status, 204);
    assert.deepEqual([await alive(a), await alive(b), await alive(c)], [true, false, false]);
  });

  it('global (the default) ends them all', async () => {
    const [a, b, c] = await threeSessions();
    assert.equal((await authHttp(p, 'POST', '/logout', { token: a.access_token })).status, 204);
    assert.deepEqual([await alive(a), await alive(b), await alive(c)], [false, false, false]);
  });

  it('an unknown scope is refused', async () => {
    const [a] = await threeSessions();
    const res = await authHttp(p, 'POST', '/logout?scope=everything', { token: a.access_token });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 'validation_failed', message: 'Unsupported logout scope "everything"' });
  });

  it('signOut with scope others through supabase-js', async () => {
    const email = newEmail();
    const c1 = client(p);
    await c1.auth.signUp({ email, password: PASSWORD });
    const c2 = client(p);
    await c2.auth.signInWithPassword({ email, password: PASSWORD });
    const { error } = await c1.auth.signOut({ scope: 'others' });
    assert.equal(error, null);
    assert.equal((await c1.auth.getUser()).error, null);
    const r2 = await c2.auth.getUser();
    // supabase-js turns GoTrue's session_not_found into AuthSessionMissingError and drops the session.
    assert.equal(r2.error?.name, 'AuthSessionMissingError');
  });
});

describe('anonymous users', () => {
  it('are refused unless the project enables them', async () => {
    const { error } = await client(p).auth.signInAnonymously();
    assert.equal(error?.status, 422);
    assert.equal(error?.code, 'anonymous_provider_disabled');
    assert.equal(error?.message, 'Anonymous sign-ins are disabled');
  });

  it('signInAnonymously gives an anonymous session that can later get an email and password', async () => {
    const q = await authProject({ mailer_autoconfirm: true });
    await configure(q, { external_anonymous_users_enabled: true });
    const c = client(q);
    const { data, error } = await c.auth.signInAnonymously({ options: { data: { theme: 'dark' } } });
    assert.equal(error, null);
    assert.equal(data.user!.is_anonymous, true);
    assert.equal(data.user!.email, '');
    const claims = JSON.parse(Buffer.from(data.session!.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.is_anonymous, true);
    assert.equal(claims.role, 'authenticated');
    assert.equal(claims.amr[0].method, 'anonymous');

    const pwOnly = await c.auth.updateUser({ password: PASSWORD });
    assert.equal(pwOnly.error?.code, 'validation_failed');

    const email = newEmail();
    const { data: upgraded, error: upgradeError } = await c.auth.updateUser({ email });
    assert.equal(upgradeError, null);
    assert.equal(upgraded.user!.email, email);
    assert.equal(upgraded.user!.is_anonymous, false);
  });
});

describe('reauthentication', () => {
  it('a session older than a day needs a code from reauthenticate() to change the password', async () => {
    const q = await authProject({ mailer_autoconfirm: true, security_update_password_require_reauthentication: true, smtp_max_frequency: 0 });
    const c = client(q);
    const email = newEmail();
    const { data } = await c.auth.signUp({ email, password: PASSWORD });
    // A fresh session may change it directly.
    assert.equal((await c.auth.updateUser({ password: 'second password 2' })).error, null);

    await sql(q, `update auth.sessions set created_at = now() - interval '25 hours' where user_id = '${data.user!.id}'`);
    const refused = await c.auth.updateUser({ password: 'third password 3' });
    assert.equal(refused.error?.status, 400);
    assert.equal(refused.error?.code, 'reauthentication_needed');
    assert.equal(refused.error?.message, 'Password update requires reauthentication');

    assert.equal((await c.auth.reauthenticate()).error, null);
    const mail = await lastEmail(q, email);
    assert.equal(mail.kind, 'reauthentication');
    const code = /Enter this code: (\d+)/.exec(mail.body_html)![1];
    const wrong = await c.auth.updateUser({ password: 'third password 3', nonce: code === '000000' ? '111111' : '000000' });
    assert.equal(wrong.error?.code, 'reauthentication_not_valid');
    assert.equal(wrong.error?.message, 'Nonce has expired or is invalid');
    assert.equal((await c.auth.updateUser({ password: 'third password 3', nonce: code })).error, null);
    // The code works once.
    const reused = await c.auth.updateUser({ password: 'fourth password 4', nonce: code });
    assert.equal(reused.error?.code, 'reauthentication_not_valid');
    assert.equal((await client(q).auth.signInWithPassword({ email, password: 'third password 3' })).error, null);
  });
});
