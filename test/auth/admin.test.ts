// auth.admin.* with the service_role key: users CRUD, pagination, generate_link, and refusal for other keys.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

let p: Project;
before(async () => { p = await authProject(); });

describe('auth.admin', () => {
  it('createUser, getUserById, updateUserById, deleteUser', async () => {
    const admin = client(p, p.serviceKey).auth.admin;
    const email = newEmail();
    const { data, error } = await admin.createUser({ email, password: PASSWORD, email_confirm: true, user_metadata: { a: 1 }, app_metadata: { plan: 'gold' } });
    assert.equal(error, null);
    const id = data.user!.id;
    assert.ok(data.user!.email_confirmed_at);
    assert.equal(data.user!.app_metadata.plan, 'gold');
    assert.equal(data.user!.app_metadata.provider, 'email');

    const { error: signInError } = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(signInError, null);

    const got = await admin.getUserById(id);
    assert.equal(got.data.user!.email, email);
    // Users live in the project's database: its owner sees them with SQL, as with psql.
    assert.deepEqual(await sql(p, `select email from auth.users where id = '${id}'`), [{ email }]);
    const audit = await sql(p, `select payload->>'action' as action from auth.audit_log_entries where payload->>'actor_id' = '${id}' order by created_at`);
    assert.deepEqual(audit.map((r) => r.action), ['user_signedup', 'login']);

    const session = (await client(p).auth.signInWithPassword({ email, password: PASSWORD })).data.session!;
    const upd = await admin.updateUserById(id, { user_metadata: { b: 2 }, ban_duration: '24h' });
    assert.equal(upd.error, null);
    assert.deepEqual(upd.data.user!.user_metadata, { a: 1, b: 2 });
    assert.ok(upd.data.user!.banned_until);
    const banned = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(banned.error?.code, 'user_banned');
    const me = await authHttp(p, 'GET', '/user', { token: session.access_token });
    assert.deepEqual([me.status, me.body], [403, { code: 'user_banned', message: 'User is banned' }]);
    const r = await authHttp(p, 'POST', '/token?grant_type=refresh_token', { body: { refresh_token: session.refresh_token } });
    assert.deepEqual([r.status, r.body], [400, { code: 'user_banned', message: 'Invalid Refresh Token: User Banned' }]);
    await admin.updateUserById(id, { ban_duration: 'none' });
    assert.equal((await client(p).auth.signInWithPassword({ email, password: PASSWORD })).error, null);

    const dup = await admin.createUser({ email, password: PASSWORD });
    assert.equal(dup.error?.status, 422);
    assert.equal(dup.error?.code, 'email_exists');
    assert.equal(dup.error?.message, 'A user with this email address has already been registered');

    const del = await admin.deleteUser(id);
    assert.equal(del.error, null);
    const gone = await admin.getUserById(id);
    assert.equal(gone.error?.status, 404);
    assert.equal(gone.error?.code, 'user_not_found');
    // Users live in the project's database: SQL sees the change.
    assert.deepEqual(await sql(p, `select count(*)::int as n from auth.users where id = '${id}'`), [{ n: 0 }]);
  });

  it('soft delete keeps the row but removes the identity and sign-in', async () => {
    const admin = client(p, p.serviceKey).auth.admin;
    const email = newEmail();
    const { data } = await admin.createUser({ email, password: PASSWORD, email_confirm: true });
    assert.equal((await admin.deleteUser(data.user!.id, true)).error, null);
    const got = await admin.getUserById(data.user!.id);
    assert.ok(got.data.user!.deleted_at);
    assert.equal((await client(p).auth.signInWithPassword({ email, password: PASSWORD })).error?.code, 'invalid_credentials');
  });

  it('listUsers pages as GoTrue (Link and X-Total-Count)', async () => {
    const q = await authProject();
    const admin = client(q, q.serviceKey).auth.admin;
    for (let i = 0; i < 5; i++) await admin.createUser({ email: newEmail(), password: PASSWORD });
    const { data, error } = await admin.listUsers({ page: 1, perPage: 2 });
    assert.equal(error, null);
    assert.equal(data.users.length, 2);
    assert.equal((data as { total: number }).total, 5);
    assert.equal((data as { nextPage: number | null }).nextPage, 2);
    assert.equal((data as { lastPage: number }).lastPage, 3);
    const last = await admin.listUsers({ page: 3, perPage: 2 });
    assert.equal(last.data.users.length, 1);
    const raw = await authHttp(q, 'GET', '/admin/users?page=x', { token: q.serviceKey });
    assert.equal(raw.status, 400);
    assert.equal(raw.body.code, 'validation_failed');
  });

  it('generateLink returns the link and code without sending an email', async () => {
    const admin = client(p, p.serviceKey).auth.admin;
    const email = newEmail();
    await admin.createUser({ email, password: PASSWORD, email_confirm: true });
    const { data, error } = await admin.generateLink({ type: 'magiclink', email });
    assert.equal(error, null);
    assert.equal(data.user.email, email);
    assert.equal(data.properties.verification_type, 'magiclink');
    assert.match(data.properties.action_link, /\/auth\/v1\/verify\?token=[0-9a-f]{56}&type=magiclink/);
    const { data: s, error: verifyError } = await client(p).auth.verifyOtp({ email, token: data.properties.email_otp, type: 'magiclink' });
    assert.equal(verifyError, null);
    assert.equal(s.user!.email, email);
    const out = await authHttp(p, 'GET', `/admin/outbox?email=${encodeURIComponent(email)}`, { token: p.serviceKey });
    assert.deepEqual(out.body, []);

    const byHash = await admin.generateLink({ type: 'recovery', email });
    const { error: hashError } = await client(p).auth.verifyOtp({ token_hash: byHash.data.properties!.hashed_token, type: 'recovery' });
    assert.equal(hashError, null);
  });

  it('admin endpoints refuse the anon key and user tokens', async () => {
    const anon = await authHttp(p, 'GET', '/admin/users');
    assert.equal(anon.status, 403);
    assert.deepEqual(anon.body, { code: 'not_admin', message: 'User not allowed' });
    const { error } = await client(p).auth.admin.listUsers();
    assert.equal(error?.code, 'not_admin');
    const outbox = await authHttp(p, 'GET', '/admin/outbox');
    assert.equal(outbox.status, 403);
    const bad = await authHttp(p, 'GET', '/admin/users/not-a-uuid', { token: p.serviceKey });
    assert.equal(bad.status, 404);
    assert.deepEqual(bad.body, { code: 'validation_failed', message: 'user_id must be an UUID' });
    const missing = await authHttp(p, 'GET', '/admin/users/00000000-0000-4000-8000-000000000000', { token: p.serviceKey });
    assert.deepEqual(missing.body, { code: 'user_not_found', message: 'User not found' });
    const noEmail = await authHttp(p, 'POST', '/admin/users', { token: p.serviceKey, body: { password: PASSWORD } });
    assert.equal(noEmail.status, 400);
    assert.equal(noEmail.body.message, 'Cannot create a user without either an email or phone');
    const badBan = await authHttp(p, 'POST', '/admin/users', { token: p.serviceKey, body: { email: newEmail(), ban_duration: 'forever' } });
    assert.equal(badBan.status, 400);
    assert.equal(badBan.body.code, 'validation_failed');
  });
});
