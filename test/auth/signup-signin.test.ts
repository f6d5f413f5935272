// Sign-up, password sign-in, refresh, getUser, updateUser and sign-out through supabase-js, with autoconfirm.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

let p: Project;
before(async () => { p = await authProject({ mailer_autoconfirm: true }); });

const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

describe('email + password with autoconfirm', () => {
  it('signUp returns a session whose JWT carries GoTrue claims', async () => {
    const email = newEmail();
    const { data, error } = await client(p).auth.signUp({ email, password: PASSWORD, options: { data: { name: 'Ada' } } });
    assert.equal(error, null);
    assert.ok(data.session);
    assert.equal(data.user!.email, email);
    assert.deepEqual(data.user!.user_metadata, { name: 'Ada' });
    assert.equal(data.user!.identities![0].provider, 'email');
    const claims = decode(data.session!.access_token);
    assert.equal(claims.sub, data.user!.id);
    assert.equal(claims.role, 'authenticated');
    assert.equal(claims.aud, 'authenticated');
    assert.equal(claims.email, email);
    assert.equal(claims.aal, 'aal1');
    assert.equal(claims.is_anonymous, false);
    assert.equal(claims.amr[0].method, 'password');
    assert.ok(claims.session_id);
    assert.equal(claims.iss, `${p.url}/auth/v1`);
    assert.equal(claims.exp - claims.iat, 3600);
  });

  it('signing up twice says the user is registered', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const { error } = await client(p).auth.signUp({ email, password: PASSWORD });
    assert.equal(error?.status, 422);
    assert.equal(error?.code, 'user_already_exists');
    assert.equal(error?.message, 'User already registered');
  });

  it('simultaneous sign-ups of one address: one wins, the others are told it is registered', async () => {
    const email = newEmail();
    const results = await Promise.all(Array.from({ length: 6 }, () =>
      authHttp(p, 'POST', '/signup', { body: { email, password: PASSWORD } })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 422, 422, 422, 422, 422]);
    for (const r of results.filter((x) => x.status === 422)) assert.equal(r.body.code, 'user_already_exists');
  });

  it('signInWithPassword, getUser, refreshSession, updateUser, signOut', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const c = client(p);
    const { data: signIn, error } = await c.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(error, null);
    assert.equal(signIn.user!.email, email);

    const { data: got } = await c.auth.getUser();
    assert.equal(got.user!.id, signIn.user!.id);
    assert.ok(got.user!.last_sign_in_at);

    const { data: refreshed, error: refreshError } = await c.auth.refreshSession();
    assert.equal(refreshError, null);
    assert.notEqual(refreshed.session!.refresh_token, signIn.session!.refresh_token);
    assert.equal(decode(refreshed.session!.access_token).session_id, decode(signIn.session!.access_token).session_id);

    const { data: updated, error: updateError } = await c.auth.updateUser({ data: { plan: 'pro' }, password: 'another password 2' });
    assert.equal(updateError, null);
    assert.equal(updated.user!.user_metadata.plan, 'pro');
    const { error: oldPw } = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(oldPw?.code, 'invalid_credentials');
    const { error: newPw } = await client(p).auth.signInWithPassword({ email, password: 'another password 2' });
    assert.equal(newPw, null);

    const token = (await c.auth.getSession()).data.session!.access_token;
    const { error: outError } = await c.auth.signOut();
    assert.equal(outError, null);
    const after = await authHttp(p, 'GET', '/user', { token });
    assert.equal(after.status, 403);
    assert.equal(after.body.code, 'session_not_found');
  });

  it('wrong password and unknown email get the same answer', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const wrong = await authHttp(p, 'POST', '/token?grant_type=password', { body: { email, password: 'nope nope nope' } });
    const unknown = await authHttp(p, 'POST', '/token?grant_type=password', { body: { email: newEmail(), password: 'nope nope nope' } });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, { code: 'invalid_credentials', message: 'Invalid login credentials' });
    assert.deepEqual(unknown.body, wrong.body);
    assert.equal(wrong.headers.get('x-sb-error-code'), 'invalid_credentials');
  });

  it('updateUser refuses the same password and a weak one', async () => {
    const email = newEmail();
    const c = client(p);
    await c.auth.signUp({ email, password: PASSWORD });
    const same = await c.auth.updateUser({ password: PASSWORD });
    assert.equal(same.error?.code, 'same_password');
    assert.equal(same.error?.status, 422);
    const weak = await c.auth.updateUser({ password: 'abc' });
    assert.equal(weak.error?.code, 'weak_password');
    assert.equal(weak.error?.message, 'Password should be at least 6 characters.');
  });

  it('updateUser changes the email at once when the project autoconfirms', async () => {
    const c = client(p);
    await c.auth.signUp({ email: newEmail(), password: PASSWORD });
    const next = newEmail();
    const { data, error } = await c.auth.updateUser({ email: next });
    assert.equal(error, null);
    assert.equal(data.user!.email, next);
    const { error: signIn } = await client(p).auth.signInWithPassword({ email: next, password: PASSWORD });
    assert.equal(signIn, null);
  });
});
