// Rate limits (429 as GoTrue, shared through the control database) and isolation between projects.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { http, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

let a: Project;
let b: Project;
before(async () => { [a, b] = await Promise.all([authProject({ mailer_autoconfirm: true }), authProject({ mailer_autoconfirm: true })]); });

describe('rate limits', () => {
  it('token requests per IP: 429 over_request_rate_limit past rate_limit_token_refresh', async () => {
    const q = await authProject({ mailer_autoconfirm: true, rate_limit_token_refresh: 3 });
    const codes = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await authHttp(q, 'POST', '/token?grant_type=password', { body: { email: newEmail(), password: PASSWORD } })).status);
    }
    assert.deepEqual(codes, [400, 400, 400, 429, 429]);
    const res = await authHttp(q, 'POST', '/token?grant_type=password', { body: { email: newEmail(), password: PASSWORD } });
    assert.deepEqual(res.body, { code: 'over_request_rate_limit', message: 'Request rate limit reached' });
    // Another project's budget is its own.
    const other = await authHttp(a, 'POST', '/token?grant_type=password', { body: { email: newEmail(), password: PASSWORD } });
    assert.equal(other.status, 400);
  });

  it('sign-ups and OTP per IP past rate_limit_otp', async () => {
    const q = await authProject({ mailer_autoconfirm: true, rate_limit_otp: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await authHttp(q, 'POST', '/signup', { body: { email: newEmail(), password: PASSWORD } })).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    const { error } = await client(q).auth.signInWithOtp({ email: newEmail() });
    assert.equal(error?.status, 429);
    assert.equal(error?.code, 'over_request_rate_limit');
  });

  it('emails per address past rate_limit_email_sent', async () => {
    const q = await authProject({ rate_limit_email_sent: 2, smtp_max_frequency: 0 });
    const email = newEmail();
    await client(q).auth.signUp({ email, password: PASSWORD });
    assert.equal((await client(q).auth.resend({ type: 'signup', email })).error, null);
    const { error } = await client(q).auth.resend({ type: 'signup', email });
    assert.equal(error?.status, 429);
    assert.equal(error?.code, 'over_email_send_rate_limit');
    assert.equal(error?.message, 'email rate limit exceeded');
    // Another address is not affected.
    assert.equal((await client(q).auth.signUp({ email: newEmail(), password: PASSWORD })).error, null);
  });

  it('verify per IP past rate_limit_verify', async () => {
    const q = await authProject({ rate_limit_verify: 1 });
    const body = { type: 'email', email: newEmail(), token: '123456' };
    assert.equal((await authHttp(q, 'POST', '/verify', { body })).status, 403);
    assert.equal((await authHttp(q, 'POST', '/verify', { body })).status, 429);
  });
});

describe('projects are isolated', () => {
  it("a user's access token from project A is refused by project B", async () => {
    const { data } = await client(a).auth.signUp({ email: newEmail(), password: PASSWORD });
    const token = data.session!.access_token;
    const res = await http('GET', `/project/${b.ref}/auth/v1/user`, { token, headers: { apikey: b.anonKey } });
    assert.equal(res.status, 403);
    assert.equal(res.body.error_code, 'bad_jwt');
    const { error } = await client(b).auth.getUser(token);
    assert.equal(error?.status, 403);
  });

  it("project A's keys are refused by project B", async () => {
    const res = await http('POST', `/project/${b.ref}/auth/v1/signup`, {
      token: a.anonKey, headers: { apikey: a.anonKey }, body: { email: newEmail(), password: PASSWORD },
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.message, 'Invalid API key');
    const admin = await http('GET', `/project/${b.ref}/auth/v1/admin/users`, { token: a.serviceKey });
    assert.equal(admin.status, 403);
    assert.equal(admin.body.error_code, 'bad_jwt');
    const { error } = await createForeign().auth.admin.listUsers();
    assert.ok(error);
  });

  it("project A's refresh token and email are unknown to project B", async () => {
    const email = newEmail();
    const { data } = await client(a).auth.signUp({ email, password: PASSWORD });
    const r = await authHttp(b, 'POST', '/token?grant_type=refresh_token', { body: { refresh_token: data.session!.refresh_token } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'refresh_token_not_found');
    const { error } = await client(b).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(error?.code, 'invalid_credentials');
  });
});

function createForeign() {
  // B's URL with A's service key: what a misconfigured app would do.
  return client({ ...b, anonKey: a.serviceKey }, a.serviceKey);
}
