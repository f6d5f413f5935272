// Flows that go through an email: sign-up confirmation, password recovery, magic link / email OTP, resend,
// invite, email change — read from the outbox and verified with supabase-js, by code and by link, and PKCE.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, codeOf, configure, lastEmail, linkOf, newEmail } from './helpers.ts';

let p: Project;
before(async () => {
  p = await authProject({ site_url: 'http://app.example.com', uri_allow_list: 'http://localhost:5173/**', smtp_max_frequency: 0 });
});

/** Follows a verify link without following its redirect. */
async function follow(link: string): Promise<URL> {
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 303);
  return new URL(res.headers.get('location')!);
}

describe('sign-up with email confirmation', () => {
  it('signUp sends a confirmation; sign-in waits for it; verifyOtp with the code signs in', async () => {
    const email = newEmail();
    const { data, error } = await client(p).auth.signUp({ email, password: PASSWORD });
    assert.equal(error, null);
    assert.equal(data.session, null);
    assert.equal(data.user!.email, email);
    assert.ok(data.user!.confirmation_sent_at);

    const early = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(early.error?.code, 'email_not_confirmed');
    assert.equal(early.error?.message, 'Email not confirmed');

    const mail = await lastEmail(p, email);
    assert.equal(mail.kind, 'confirmation');
    assert.equal(mail.subject, 'Confirm your signup');
    const { data: verified, error: verifyError } = await client(p).auth.verifyOtp({ email, token: codeOf(mail), type: 'signup' });
    assert.equal(verifyError, null);
    assert.ok(verified.session);
    assert.ok(verified.user!.email_confirmed_at);

    const again = await client(p).auth.verifyOtp({ email, token: codeOf(mail), type: 'signup' });
    assert.equal(again.error?.code, 'otp_expired');
    assert.equal(again.error?.status, 403);
    assert.equal(again.error?.message, 'Token has expired or is invalid');

    const { error: signInError } = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(signInError, null);
  });

  it('the link confirms and redirects with the session in the fragment, to an allowed URL only', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD, options: { emailRedirectTo: 'http://localhost:5173/welcome' } });
    const to = await follow(linkOf(await lastEmail(p, email)));
    assert.equal(`${to.origin}${to.pathname}`, 'http://localhost:5173/welcome');
    const frag = new URLSearchParams(to.hash.slice(1));
    assert.equal(frag.get('type'), 'signup');
    assert.equal(frag.get('token_type'), 'bearer');
    const { data } = await client(p).auth.getUser(frag.get('access_token')!);
    assert.equal(data.user!.email, email);

    const other = newEmail();
    await client(p).auth.signUp({ email: other, password: PASSWORD, options: { emailRedirectTo: 'https://evil.example.net/steal' } });
    const to2 = await follow(linkOf(await lastEmail(p, other)));
    assert.equal(to2.origin, 'http://app.example.com');
  });

  it('a used or bad link redirects with the error in the fragment', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const link = linkOf(await lastEmail(p, email));
    await follow(link);
    const to = await follow(link);
    const frag = new URLSearchParams(to.hash.slice(1));
    assert.equal(frag.get('error'), 'access_denied');
    assert.equal(frag.get('error_code'), 'otp_expired');
    assert.equal(frag.get('error_description'), 'Email link is invalid or has expired');
  });

  it('a second sign-up before confirmation resends the email but keeps the first password', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const { data, error } = await client(p).auth.signUp({ email, password: 'an intruder password' });
    assert.equal(error, null);
    assert.equal(data.session, null);
    await client(p).auth.verifyOtp({ email, token: codeOf(await lastEmail(p, email)), type: 'signup' });
    assert.equal((await client(p).auth.signInWithPassword({ email, password: 'an intruder password' })).error?.code, 'invalid_credentials');
    assert.equal((await client(p).auth.signInWithPassword({ email, password: PASSWORD })).error, null);
    // Once confirmed, sign-up answers with a look-alike user and sends nothing, so it reveals no account.
    const before = await lastEmail(p, email);
    const again = await client(p).auth.signUp({ email, password: PASSWORD });
    assert.equal(again.error, null);
    assert.equal(again.data.user!.email, email);
    assert.deepEqual(again.data.user!.identities, []);
    assert.equal((await lastEmail(p, email)).id, before.id);
  });

  it('resend sends a new confirmation', async () => {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    const first = await lastEmail(p, email);
    const { error } = await client(p).auth.resend({ type: 'signup', email });
    assert.equal(error, null);
    const second = await lastEmail(p, email);
    assert.ok(second.id > first.id);
    const old = await client(p).auth.verifyOtp({ email, token: codeOf(first), type: 'signup' });
    assert.equal(old.error?.code, 'otp_expired');
    const { error: ok } = await client(p).auth.verifyOtp({ email, token: codeOf(second), type: 'signup' });
    assert.equal(ok, null);
  });
});

describe('recovery, magic link, OTP, invite', () => {
  async function confirmedUser(): Promise<string> {
    const email = newEmail();
    await client(p).auth.signUp({ email, password: PASSWORD });
    await client(p).auth.verifyOtp({ email, token: codeOf(await lastEmail(p, email)), type: 'signup' });
    return email;
  }

  it('resetPasswordForEmail + verify via the outbox + updateUser sets a new password', async () => {
    const email = await confirmedUser();
    const c = client(p);
    const { error } = await c.auth.resetPasswordForEmail(email);
    assert.equal(error, null);
    const mail = await lastEmail(p, email);
    assert.equal(mail.kind, 'recovery');
    const { data, error: verifyError } = await c.auth.verifyOtp({ email, token: codeOf(mail), type: 'recovery' });
    assert.equal(verifyError, null);
    assert.equal(data.user!.email, email);
    const { error: updateError } = await c.auth.updateUser({ password: 'brand new password 3' });
    assert.equal(updateError, null);
    const { error: signInError } = await client(p).auth.signInWithPassword({ email, password: 'brand new password 3' });
    assert.equal(signInError, null);
  });

  it('recovery for an unknown email answers the same and sends nothing', async () => {
    const res = await authHttp(p, 'POST', '/recover', { body: { email: newEmail() } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {});
  });

  it('signInWithOtp: a code for an existing user, a sign-up for a new one, refusal with shouldCreateUser false', async () => {
    const email = await confirmedUser();
    const { error } = await client(p).auth.signInWithOtp({ email });
    assert.equal(error, null);
    const mail = await lastEmail(p, email);
    assert.equal(mail.kind, 'magiclink');
    const { data, error: verifyError } = await client(p).auth.verifyOtp({ email, token: codeOf(mail), type: 'email' });
    assert.equal(verifyError, null);
    assert.equal(data.session!.user.email, email);

    const fresh = newEmail();
    await client(p).auth.signInWithOtp({ email: fresh });
    const signupMail = await lastEmail(p, fresh);
    assert.equal(signupMail.kind, 'signup');
    const { data: freshData } = await client(p).auth.verifyOtp({ email: fresh, token: codeOf(signupMail), type: 'email' });
    assert.ok(freshData.user!.email_confirmed_at);

    const refused = await client(p).auth.signInWithOtp({ email: newEmail(), options: { shouldCreateUser: false } });
    assert.equal(refused.error?.code, 'otp_disabled');
    assert.equal(refused.error?.message, 'Signups not allowed for otp');
  });

  it('inviteUserByEmail: the invitee accepts by link and sets a password', async () => {
    const admin = client(p, p.serviceKey);
    const email = newEmail();
    const { data, error } = await admin.auth.admin.inviteUserByEmail(email, { data: { team: 'blue' } });
    assert.equal(error, null);
    assert.ok(data.user!.invited_at);
    const mail = await lastEmail(p, email);
    assert.equal(mail.kind, 'invite');
    const to = await follow(linkOf(mail));
    const frag = new URLSearchParams(to.hash.slice(1));
    assert.equal(frag.get('type'), 'invite');
    const c = client(p);
    await c.auth.setSession({ access_token: frag.get('access_token')!, refresh_token: frag.get('refresh_token')! });
    const { data: updated, error: updateError } = await c.auth.updateUser({ password: PASSWORD });
    assert.equal(updateError, null);
    assert.equal(updated.user!.user_metadata.team, 'blue');
  });

  it('email change is confirmed from the new address', async () => {
    const email = await confirmedUser();
    const c = client(p);
    await c.auth.signInWithPassword({ email, password: PASSWORD });
    const next = newEmail();
    const { data, error } = await c.auth.updateUser({ email: next });
    assert.equal(error, null);
    assert.equal(data.user!.email, email);
    assert.equal(data.user!.new_email, next);
    const mail = await lastEmail(p, next);
    assert.equal(mail.kind, 'email_change');
    // resend sends a new code to the new address; the first one no longer works.
    assert.equal((await client(p).auth.resend({ type: 'email_change', email })).error, null);
    const resent = await lastEmail(p, next);
    assert.ok(resent.id > mail.id);
    assert.equal((await client(p).auth.verifyOtp({ email: next, token: codeOf(mail), type: 'email_change' })).error?.code, 'otp_expired');
    const { data: verified, error: verifyError } = await client(p).auth.verifyOtp({ email: next, token: codeOf(resent), type: 'email_change' });
    assert.equal(verifyError, null);
    assert.equal(verified.user!.email, next);
  });

  it('a code past mailer_otp_exp is refused', async () => {
    const q = await authProject({ mailer_otp_exp: 1, smtp_max_frequency: 0 });
    const email = newEmail();
    await client(q).auth.signUp({ email, password: PASSWORD });
    const mail = await lastEmail(q, email);
    await new Promise((r) => setTimeout(r, 1500));
    const { error } = await client(q).auth.verifyOtp({ email, token: codeOf(mail), type: 'signup' });
    assert.equal(error?.code, 'otp_expired');
  });

  it('smtp_max_frequency refuses a second email too soon', async () => {
    const q = await authProject({ smtp_max_frequency: 60 });
    const email = newEmail();
    await client(q).auth.signUp({ email, password: PASSWORD });
    const { error } = await client(q).auth.resend({ type: 'signup', email });
    assert.equal(error?.status, 429);
    assert.equal(error?.code, 'over_email_send_rate_limit');
    assert.match(error!.message, /^For security purposes, you can only request this after \d+ seconds\.$/);
  });
});

describe('PKCE', () => {
  it('signUp with flowType pkce: the link redirects with a code that exchangeCodeForSession turns into a session', async () => {
    const c = client(p, p.anonKey, { flowType: 'pkce' });
    const email = newEmail();
    const { error } = await c.auth.signUp({ email, password: PASSWORD, options: { emailRedirectTo: 'http://localhost:5173/cb' } });
    assert.equal(error, null);
    const link = linkOf(await lastEmail(p, email));
    assert.match(link, /token=pkce_/);
    const to = await follow(link);
    const code = to.searchParams.get('code');
    assert.ok(code);
    const { data, error: exchangeError } = await c.auth.exchangeCodeForSession(code!);
    assert.equal(exchangeError, null);
    assert.equal(data.user!.email, email);
    assert.ok(data.session!.access_token);

    const twice = await client(p, p.anonKey, { flowType: 'pkce' }).auth.exchangeCodeForSession(code!);
    assert.ok(twice.error);
  });

  it('signInWithOtp with flowType pkce: the magic link gives a code to exchange', async () => {
    const email = newEmail();
    await client(p, p.serviceKey).auth.admin.createUser({ email, password: PASSWORD, email_confirm: true });
    const c = client(p, p.anonKey, { flowType: 'pkce' });
    assert.equal((await c.auth.signInWithOtp({ email, options: { emailRedirectTo: 'http://localhost:5173/magic' } })).error, null);
    const mail = await lastEmail(p, email);
    assert.equal(mail.kind, 'magiclink');
    const to = await follow(linkOf(mail));
    assert.equal(to.pathname, '/magic');
    const { data, error } = await c.auth.exchangeCodeForSession(to.searchParams.get('code')!);
    assert.equal(error, null);
    assert.equal(data.user!.email, email);
  });

  it('a wrong verifier is refused', async () => {
    const c = client(p, p.anonKey, { flowType: 'pkce' });
    const email = newEmail();
    await c.auth.signUp({ email, password: PASSWORD });
    const to = await follow(linkOf(await lastEmail(p, email)));
    const res = await authHttp(p, 'POST', '/token?grant_type=pkce', {
      body: { auth_code: to.searchParams.get('code'), code_verifier: 'x'.repeat(50) },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 'bad_code_verifier', message: 'code challenge does not match previously saved code verifier' });
    const unknown = await authHttp(p, 'POST', '/token?grant_type=pkce', { body: { auth_code: 'nope', code_verifier: 'x'.repeat(50) } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'flow_state_not_found');
  });
});

describe('configuration reaches the API', () => {
  it('email subjects and templates are the project\'s own', async () => {
    const q = await authProject({
      mailer_subjects_recovery: 'Reset for {{ .Email }}',
      mailer_templates_recovery_content: '<p>Code {{ .Token }} at {{ .SiteURL }}; hash {{ .TokenHash }}</p>',
      site_url: 'https://shop.example.com',
    });
    const email = newEmail();
    await client(q, q.serviceKey).auth.admin.createUser({ email, password: PASSWORD, email_confirm: true });
    assert.equal((await client(q).auth.resetPasswordForEmail(email)).error, null);
    const mail = await lastEmail(q, email);
    assert.equal(mail.subject, `Reset for ${email}`);
    const m = /^<p>Code (\d{6}) at https:\/\/shop\.example\.com; hash ([0-9a-f]{56})<\/p>$/.exec(mail.body_html);
    assert.ok(m, mail.body_html);
    assert.equal((await client(q).auth.verifyOtp({ token_hash: m[2], type: 'recovery' })).error, null);
  });

  it('disable_signup refuses sign-ups', async () => {
    const q = await authProject();
    await configure(q, { disable_signup: true });
    const { error } = await client(q).auth.signUp({ email: newEmail(), password: PASSWORD });
    assert.equal(error?.status, 422);
    assert.equal(error?.code, 'signup_disabled');
    assert.equal(error?.message, 'Signups not allowed for this instance');
  });
});
