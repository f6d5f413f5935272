// The auth hooks besides the custom access token one: send email (HTTP, signed per Standard Webhooks), password
// and MFA verification attempts, before user created (HTTP and Postgres function); GoTrue's answers to hooks
// that fail; hook URLs at private addresses refused.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { http as api, sql, type Project } from '../helpers/platform.ts';
import { totp } from '../../server/src/auth/mfa.ts';
import { PASSWORD, authHttp, authProject, client, configure, newEmail } from './helpers.ts';

const SECRET = 'v1,whsec_' + Buffer.from('a hook secret of enough length!!').toString('base64');

interface Call { path: string; headers: http.IncomingHttpHeaders; body: string }
const calls: Call[] = [];
/** path → what the fake hook answers. */
const answers: Record<string, { status: number; type?: string; body?: unknown }> = {};
/** When the last trickled answer's connection was closed (by Loam). */
let trickleClosed: number | undefined;
const hookServer = http.createServer((req, res) => {
  if (req.url === '/trickle') {
    // Headers at once, then a byte a second for ever: the connection is never idle, so only a bound on the whole
    // exchange ends it.
    trickleClosed = undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    const tick = setInterval(() => res.write(' '), 1000);
    res.on('close', () => { clearInterval(tick); trickleClosed = Date.now(); });
    return;
  }
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    calls.push({ path: req.url ?? '', headers: req.headers, body });
    const a = answers[req.url ?? ''] ?? { status: 200, body: {} };
    res.writeHead(a.status, a.type === undefined ? { 'content-type': 'application/json' } : a.type ? { 'content-type': a.type } : {});
    res.end(a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
  });
});
let base: string;

before(async () => {
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
});
after(() => { hookServer.close(); delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE; });

const lastCall = (path: string) => [...calls].reverse().find((c) => c.path === path);

describe('send email hook (HTTP)', () => {
  let p: Project;
  before(async () => {
    p = await authProject({ smtp_max_frequency: 0 });
    await configure(p, { hook_send_email_enabled: true, hook_send_email_uri: `${base}/send-email`, hook_send_email_secrets: SECRET });
  });

  it('gets GoTrue\'s payload, signed per Standard Webhooks, and Loam sends nothing itself', async () => {
    const email = newEmail();
    const { error } = await client(p).auth.signUp({ email, password: PASSWORD });
    assert.equal(error, null);
    const call = lastCall('/send-email')!;
    // The signature verifies with the secret (the library checks id, timestamp and body).
    const payload = new Webhook(SECRET.slice(3)).verify(call.body, call.headers as Record<string, string>) as any;
    assert.equal(payload.user.email, email);
    assert.equal(payload.email_data.email_action_type, 'signup');
    assert.match(payload.email_data.token, /^\d{6}$/);
    assert.match(payload.email_data.token_hash, /^[0-9a-f]{56}$/);
    assert.equal(payload.email_data.site_url, 'http://localhost:3000');
    assert.equal(payload.email_data.redirect_to, 'http://localhost:3000');
    assert.equal(payload.email_data.token_new, '');
    assert.equal(payload.metadata.name, 'send-email');
    const [row] = await sql(p, `select sent_at is not null as handed, last_error from auth.email_outbox where to_address = '${email}'`);
    assert.deepEqual(row, { handed: true, last_error: 'handed to the send email hook' });

    // The code the hook got confirms the address.
    const v = await client(p).auth.verifyOtp({ email, token: payload.email_data.token, type: 'signup' });
    assert.equal(v.error, null);
  });

  it('an error from the hook is the answer; bad statuses and content types get GoTrue\'s errors', async () => {
    answers['/send-email'] = { status: 200, body: { error: { http_code: 429, message: 'Mail quota reached' } } };
    let res = await authHttp(p, 'POST', '/recover', { body: { email: newEmail() } });
    assert.equal(res.status, 200, 'unknown addresses send nothing, so call no hook');
    const known = newEmail();
    await client(p, p.serviceKey).auth.admin.createUser({ email: known, password: PASSWORD, email_confirm: true });
    res = await authHttp(p, 'POST', '/recover', { body: { email: known } });
    assert.deepEqual([res.status, res.body.message], [429, 'Mail quota reached']);

    answers['/send-email'] = { status: 418, body: {} };
    res = await authHttp(p, 'POST', '/otp', { body: { email: known } });
    assert.deepEqual([res.status, res.body.code, res.body.message], [500, 'unexpected_failure', 'Unexpected status code returned from hook: 418']);

    answers['/send-email'] = { status: 200, type: 'text/html', body: '<p>ok</p>' };
    res = await authHttp(p, 'POST', '/magiclink', { body: { email: known } });
    assert.deepEqual([res.status, res.body.code, res.body.message],
      [400, 'hook_payload_invalid_content_type', 'Invalid JSON response. Received content-type: text/html']);

    answers['/send-email'] = { status: 204 };
    res = await authHttp(p, 'POST', '/otp', { body: { email: known } });
    assert.equal(res.status, 200);
    delete answers['/send-email'];
  });

  it('a hook that trickles its answer is cut at 5 s: hook_timeout, and the connection is closed', async () => {
    await configure(p, { hook_send_email_uri: `${base}/trickle` });
    try {
      const started = Date.now();
      const res = await authHttp(p, 'POST', '/signup', { body: { email: newEmail(), password: PASSWORD } });
      assert.deepEqual([res.status, res.body.code, res.body.message],
        [422, 'hook_timeout', 'Failed to reach hook within maximum time of 5.000000 seconds']);
      assert.ok(Date.now() - started < 9000, 'answered within the hook time limit');
      for (let i = 0; i < 20 && trickleClosed === undefined; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(trickleClosed !== undefined, 'Loam closed the hook connection');
    } finally {
      await configure(p, { hook_send_email_uri: `${base}/send-email` });
    }
  });

  it('a hook URL at a private address is refused (without the operator\'s allowance)', async () => {
    delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE;
    try {
      const res = await authHttp(p, 'POST', '/signup', { body: { email: newEmail(), password: PASSWORD } });
      assert.equal(res.status, 500);
      assert.match(res.body.message, /^Hook URI refused: .*private or loopback address/);
      await configure(p, { hook_send_email_uri: 'http://metadata.internal.localhost/latest' });
      const res2 = await authHttp(p, 'POST', '/signup', { body: { email: newEmail(), password: PASSWORD } });
      assert.ok([422, 500].includes(res2.status), `refused, not sent: ${res2.status}`);
    } finally {
      process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
      await configure(p, { hook_send_email_uri: `${base}/send-email` });
    }
  });
});

describe('verification attempt hooks (Postgres functions)', () => {
  let p: Project;
  before(async () => {
    p = await authProject({ mailer_autoconfirm: true });
    await sql(p, `
      create table public.attempts (user_id uuid, kind text, valid boolean);
      create function public.password_attempt(event jsonb) returns jsonb language plpgsql as $$
      declare failures int;
      begin
        insert into public.attempts values ((event->>'user_id')::uuid, 'password', (event->>'valid')::boolean);
        select count(*) into failures from public.attempts where user_id = (event->>'user_id')::uuid and kind = 'password' and not valid;
        if failures >= 2 then
          return jsonb_build_object('decision', 'reject', 'message', 'Too many attempts, try later', 'should_logout_user', true);
        end if;
        return jsonb_build_object('decision', 'continue');
      end $$;
      create function public.mfa_attempt(event jsonb) returns jsonb language plpgsql as $$
      begin
        insert into public.attempts values ((event->>'user_id')::uuid, event->>'factor_type', (event->>'valid')::boolean);
        if not (event->>'valid')::boolean then
          return '{"decision": "reject"}';
        end if;
        return '{"decision": "continue"}';
      end $$;
      grant insert, select on public.attempts to service_role;
      grant execute on function public.password_attempt(jsonb), public.mfa_attempt(jsonb) to service_role;`);
    await configure(p, {
      hook_password_verification_attempt_enabled: true, hook_password_verification_attempt_uri: 'pg-functions://postgres/public/password_attempt',
      hook_mfa_verification_attempt_enabled: true, hook_mfa_verification_attempt_uri: 'pg-functions://postgres/public/mfa_attempt',
    });
  });

  it('password: the hook sees each attempt and its reject ends the sign-in (and the user\'s sessions)', async () => {
    const email = newEmail();
    const { data } = await client(p).auth.signUp({ email, password: PASSWORD });
    const c = client(p);
    assert.equal((await c.auth.signInWithPassword({ email, password: 'wrong one' })).error?.message, 'Invalid login credentials');
    const second = await c.auth.signInWithPassword({ email, password: 'wrong again' });
    assert.equal(second.error?.code, 'invalid_credentials');
    assert.equal(second.error?.message, 'Too many attempts, try later');
    const third = await c.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(third.error?.message, 'Too many attempts, try later');
    const r = await authHttp(p, 'GET', '/user', { token: data.session!.access_token });
    assert.equal(r.status, 403, 'should_logout_user ended the sessions');
  });

  it('MFA: a reject is GoTrue\'s mfa_verification_rejected with the default message', async () => {
    const c = client(p);
    await c.auth.signUp({ email: newEmail(), password: PASSWORD });
    const e = await c.auth.mfa.enroll({ factorType: 'totp' });
    const ch = await c.auth.mfa.challenge({ factorId: e.data!.id });
    const bad = await c.auth.mfa.verify({ factorId: e.data!.id, challengeId: ch.data!.id, code: '000000' });
    assert.equal(bad.error?.code, 'mfa_verification_rejected');
    assert.equal(bad.error?.message, 'Further MFA verification attempts will be rejected.');
    const c2 = client(p);
    await c2.auth.signUp({ email: newEmail(), password: PASSWORD });
    const e2 = await c2.auth.mfa.enroll({ factorType: 'totp' });
    const ch2 = await c2.auth.mfa.challenge({ factorId: e2.data!.id });
    const ok = await c2.auth.mfa.verify({ factorId: e2.data!.id, challengeId: ch2.data!.id, code: totp(e2.data!.totp!.secret) });
    assert.equal(ok.error, null);
  });
});

describe('before user created hook', () => {
  it('HTTP: refuses sign-ups the hook rejects, with its status and message; others go through', async () => {
    const p = await authProject({ mailer_autoconfirm: true });
    await configure(p, { hook_before_user_created_enabled: true, hook_before_user_created_uri: `${base}/before-user`, hook_before_user_created_secrets: SECRET });
    answers['/before-user'] = { status: 200, body: { error: { http_code: 403, message: 'Only company addresses may sign up' } } };
    const email = newEmail();
    const { error } = await client(p).auth.signUp({ email, password: PASSWORD });
    assert.equal(error?.status, 403);
    assert.equal(error?.message, 'Only company addresses may sign up');
    const payload = JSON.parse(lastCall('/before-user')!.body);
    assert.equal(payload.user.email, email);
    assert.equal(payload.metadata.name, 'before-user-created');
    assert.deepEqual(await sql(p, `select id from auth.users where email = '${email}'`), []);
    answers['/before-user'] = { status: 200, body: {} };
    assert.equal((await client(p).auth.signUp({ email: newEmail(), password: PASSWORD })).error, null);
    delete answers['/before-user'];
  });

  it('Postgres function: a hook that fails or times out refuses the sign-up', async () => {
    const p = await authProject({ mailer_autoconfirm: true });
    await sql(p, `
      create function public.slow_hook(event jsonb) returns jsonb language sql as $$ select pg_sleep(5); select '{}'::jsonb $$;
      grant execute on function public.slow_hook(jsonb) to service_role;`);
    await configure(p, { hook_before_user_created_enabled: true, hook_before_user_created_uri: 'pg-functions://postgres/public/slow_hook' });
    const res = await authHttp(p, 'POST', '/signup', { body: { email: newEmail(), password: PASSWORD } });
    assert.deepEqual([res.status, res.body.message], [500, 'Error running hook URI: pg-functions://postgres/public/slow_hook']);
  });
});

describe('hook settings', () => {
  it('refuses URIs and secrets of the wrong form', async () => {
    const p = await authProject();
    const bad = async (body: Record<string, unknown>) => api('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: p.owner.token, body });
    let res = await bad({ hook_send_sms_uri: 'ftp://example.com/hook' });
    assert.deepEqual([res.status, res.body.message], [400, 'hook_send_sms_uri must be pg-functions://postgres/<schema>/<function> or an http(s) URL']);
    res = await bad({ hook_send_sms_secrets: 'whsec_abc' });
    assert.deepEqual([res.status, res.body.message], [400, 'hook_send_sms_secrets must be v1,whsec_<base64> secrets separated by |']);
    res = await bad({ hook_send_sms_uri: 'pg-functions://postgres/public/fn; drop table x' });
    assert.equal(res.status, 400);
  });
});
