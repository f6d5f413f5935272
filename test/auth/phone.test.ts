// Phone auth with supabase-js: SMS codes through a local Twilio-compatible server (LOAM_TWILIO_API_URL), test
// numbers, the send SMS hook as a Postgres function, phone changes, phone MFA; GoTrue's errors; isolation.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { config } from '../../db/src/config.ts';
import { sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure } from './helpers.ts';

interface Sms { to: string; body: string; from: string; auth: string; path: string }
const sent: Sms[] = [];
let failNext = false;
const twilio = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', () => {
    const f = new URLSearchParams(data);
    if (failNext) {
      failNext = false;
      res.writeHead(400, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ code: 21211, message: "The 'To' number is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }));
    }
    sent.push({ to: f.get('To')!, body: f.get('Body')!, from: f.get('From')!, auth: req.headers.authorization ?? '', path: req.url ?? '' });
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sid: `SM${crypto.randomBytes(16).toString('hex')}`, status: 'queued' }));
  });
});

const TWILIO = { sms_provider: 'twilio', sms_twilio_account_sid: 'AC123', sms_twilio_auth_token: 'secret-token', sms_twilio_message_service_sid: 'MG456' };
const newPhone = () => `1555${crypto.randomInt(1_000_000, 9_999_999)}`;
const codeTo = (phone: string) => {
  const m = [...sent].reverse().find((s) => s.to === `+${phone}`);
  if (!m) throw new Error(`no SMS to ${phone}`);
  return /(\d{6})/.exec(m.body)![1];
};

let p: Project;
let other: Project;
before(async () => {
  await new Promise<void>((r) => twilio.listen(0, '127.0.0.1', r));
  config.twilioApiUrl = `http://127.0.0.1:${(twilio.address() as AddressInfo).port}`;
  [p, other] = await Promise.all([
    authProject({ external_phone_enabled: true, sms_max_frequency: 0, ...TWILIO, mfa_phone_enroll_enabled: true, mfa_phone_verify_enabled: true, mfa_phone_max_frequency: 0 }),
    authProject({ external_phone_enabled: true, sms_max_frequency: 0, ...TWILIO }),
  ]);
});
after(() => twilio.close());

describe('phone sign-up and sign-in', () => {
  it('signs up with phone + password, confirms with the SMS code, signs in with the password', async () => {
    const phone = newPhone();
    const c = client(p);
    const { data, error } = await c.auth.signUp({ phone: `+${phone}`, password: PASSWORD });
    assert.equal(error, null);
    assert.equal(data.session, null);
    assert.equal(data.user!.phone, phone);
    const sms = sent.at(-1)!;
    assert.equal(sms.to, `+${phone}`);
    assert.equal(sms.from, 'MG456');
    assert.equal(sms.path, '/2010-04-01/Accounts/AC123/Messages.json');
    assert.equal(sms.auth, `Basic ${Buffer.from('AC123:secret-token').toString('base64')}`);
    assert.match(sms.body, /^Your code is \d{6}$/);

    const before = await c.auth.signInWithPassword({ phone: `+${phone}`, password: PASSWORD });
    assert.equal(before.error?.code, 'phone_not_confirmed');
    assert.equal(before.error?.message, 'Phone not confirmed');

    const wrong = await c.auth.verifyOtp({ phone, token: '000000', type: 'sms' });
    assert.equal(wrong.error?.code, 'otp_expired');
    assert.equal(wrong.error?.message, 'Token has expired or is invalid');

    const v = await c.auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    assert.equal(v.error, null);
    assert.ok(v.data.user!.phone_confirmed_at);
    assert.equal(v.data.user!.identities![0].provider, 'phone');

    const s = await c.auth.signInWithPassword({ phone: `+${phone}`, password: PASSWORD });
    assert.equal(s.error, null);
    assert.equal(s.data.user!.phone, phone);
    // The code was used once.
    const again = await c.auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    assert.equal(again.error?.code, 'otp_expired');
  });

  it('resends the code of an unconfirmed number; with sms_autoconfirm a sign-up is signed in at once', async () => {
    const phone = newPhone();
    const c = client(p);
    await c.auth.signUp({ phone, password: PASSWORD });
    codeTo(phone); // the sign-up's code went out
    const r = await c.auth.resend({ type: 'sms', phone });
    assert.equal(r.error, null);
    const second = codeTo(phone);
    assert.equal((await c.auth.verifyOtp({ phone, token: second, type: 'sms' })).error, null);
    const missing = await authHttp(p, 'POST', '/resend', { body: { type: 'sms' } });
    assert.deepEqual([missing.status, missing.body.message], [400, 'Type provided requires a phone number']);

    const auto = await authProject({ external_phone_enabled: true, sms_autoconfirm: true, ...TWILIO });
    const count = sent.length;
    const { data, error } = await client(auto).auth.signUp({ phone: newPhone(), password: PASSWORD });
    assert.equal(error, null);
    assert.ok(data.session?.access_token);
    assert.ok(data.user!.phone_confirmed_at);
    assert.equal(sent.length, count, 'no SMS for an autoconfirmed sign-up');
    const again = await client(auto).auth.signUp({ phone: data.user!.phone!, password: PASSWORD });
    assert.deepEqual([again.error?.code, again.error?.message], ['user_already_exists', 'User already registered']);
  });

  it('signs in (and up) by SMS code with signInWithOtp; create_user false refuses unknown numbers', async () => {
    const phone = newPhone();
    const c = client(p);
    assert.equal((await c.auth.signInWithOtp({ phone })).error, null);
    const v = await c.auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    assert.equal(v.error, null);
    assert.equal(v.data.session!.user.phone, phone);

    const { error } = await c.auth.signInWithOtp({ phone: newPhone(), options: { shouldCreateUser: false } });
    assert.equal(error?.code, 'otp_disabled');
    assert.equal(error?.message, 'Signups not allowed for otp');
  });

  it('answers with GoTrue\'s errors for a disabled provider, a bad number and a bad channel', async () => {
    const off = await authProject();
    const c = client(off);
    assert.deepEqual([(await c.auth.signUp({ phone: newPhone(), password: PASSWORD })).error?.code,
      (await c.auth.signUp({ phone: newPhone(), password: PASSWORD })).error?.message], ['phone_provider_disabled', 'Phone signups are disabled']);
    const otp = await c.auth.signInWithOtp({ phone: newPhone() });
    assert.equal(otp.error?.message, 'Unsupported phone provider');
    const pw = await authHttp(off, 'POST', '/token?grant_type=password', { body: { phone: newPhone(), password: PASSWORD } });
    assert.deepEqual([pw.status, pw.body.code, pw.body.message], [422, 'phone_provider_disabled', 'Phone logins are disabled']);

    const bad = await authHttp(p, 'POST', '/otp', { body: { phone: '+0123' } });
    assert.deepEqual([bad.status, bad.body.code, bad.body.message], [400, 'validation_failed', 'Invalid phone number format (E.164 required)']);
    const ch = await authHttp(p, 'POST', '/otp', { body: { phone: newPhone(), channel: 'pigeon' } });
    assert.equal(ch.status, 400);
    assert.match(ch.body.message, /^Invalid channel, supported values are 'sms' or 'whatsapp'/);
  });

  it('a failed send records nothing and says why (sms_send_failed)', async () => {
    const phone = newPhone();
    failNext = true;
    const res = await authHttp(p, 'POST', '/signup', { body: { phone, password: PASSWORD } });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, 'sms_send_failed');
    assert.equal(res.body.message, "Error sending confirmation OTP to provider: The 'To' number is not a valid phone number. More information: https://www.twilio.com/docs/errors/21211");
    assert.deepEqual(await sql(p, `select id from auth.users where phone = '${phone}'`), []);
  });

  it('spaces codes to one number (sms_max_frequency) and caps SMS per hour (rate_limit_sms_sent)', async () => {
    const q = await authProject({ external_phone_enabled: true, ...TWILIO, rate_limit_sms_sent: 2 });
    const phone = newPhone();
    assert.equal((await authHttp(q, 'POST', '/otp', { body: { phone } })).status, 200);
    const again = await authHttp(q, 'POST', '/otp', { body: { phone } });
    assert.equal(again.status, 429);
    assert.equal(again.body.code, 'over_sms_send_rate_limit');
    assert.match(again.body.message, /^For security purposes, you can only request this after \d+ seconds\.$/);
    const capped = await authHttp(q, 'POST', '/otp', { body: { phone: newPhone() } });
    assert.deepEqual([capped.status, capped.body.code, capped.body.message], [429, 'over_sms_send_rate_limit', 'SMS rate limit exceeded']);
  });

  it('test numbers (sms_test_otp) get their fixed code and no SMS, until sms_test_otp_valid_until', async () => {
    const phone = newPhone();
    await configure(p, { sms_test_otp: `${phone}=424242,15550000000=111111` }); // Supabase's pattern: digits, no "+" or spaces
    const count = sent.length;
    const r = await authHttp(p, 'POST', '/otp', { body: { phone } });
    assert.equal(r.status, 200);
    assert.equal(sent.length, count);
    const v = await client(p).auth.verifyOtp({ phone, token: '424242', type: 'sms' });
    assert.equal(v.error, null);
    await configure(p, { sms_test_otp_valid_until: '2000-01-01T00:00:00Z' });
    await authHttp(p, 'POST', '/otp', { body: { phone } });
    assert.equal(sent.length, count + 1);
    await configure(p, { sms_test_otp: null, sms_test_otp_valid_until: null });
    const badCfg = await authHttp(p, 'GET', '/settings');
    assert.equal(badCfg.body.external.phone, true);
  });

  it('changes the phone of a signed-in user with a code sent to the new number (phone_change)', async () => {
    const c = client(p);
    const phone = newPhone();
    await c.auth.signInWithOtp({ phone });
    const { data } = await c.auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    await c.auth.setSession(data.session!);
    const next = newPhone();
    const u = await c.auth.updateUser({ phone: next });
    assert.equal(u.error, null);
    assert.equal(u.data.user!.phone, phone);
    const v = await c.auth.verifyOtp({ phone: next, token: codeTo(next), type: 'phone_change' });
    assert.equal(v.error, null);
    assert.equal(v.data.user!.phone, next);

    // A number another user has is refused.
    const taken = await c.auth.updateUser({ phone: next === phone ? newPhone() : phone });
    assert.equal(taken.error, null, 'the old number is free again');
    const other2 = newPhone();
    await client(p).auth.signInWithOtp({ phone: other2 });
    const dup = await c.auth.updateUser({ phone: other2 });
    assert.equal(dup.error?.code, 'phone_exists');
    assert.equal(dup.error?.message, 'A user with this phone number has already been registered');
  });
});

describe('send SMS hook (Postgres function)', () => {
  it('gets the code instead of Twilio, runs as service_role, and cannot raise its rights', async () => {
    const q = await authProject({ external_phone_enabled: true, sms_max_frequency: 0 });
    await sql(q, `
      create table public.sms_log (phone text, otp text, who text);
      create function public.send_sms(event jsonb) returns jsonb language plpgsql as $$
      begin
        if event->'sms'->>'phone' like '1555000%' then
          alter role service_role superuser;
        end if;
        insert into public.sms_log values (event->'sms'->>'phone', event->'sms'->>'otp', current_user);
        return '{}';
      end $$;
      grant insert on public.sms_log to service_role;
      grant execute on function public.send_sms(jsonb) to service_role;`);
    await configure(q, { hook_send_sms_enabled: true, hook_send_sms_uri: 'pg-functions://postgres/public/send_sms' });
    const phone = newPhone();
    const count = sent.length;
    assert.equal((await authHttp(q, 'POST', '/otp', { body: { phone } })).status, 200);
    assert.equal(sent.length, count);
    const [row] = await sql(q, `select * from public.sms_log where phone = '${phone}'`);
    assert.equal(row.who, `${q.ref}_service_role`, "the project's own service role");
    const v = await client(q).auth.verifyOtp({ phone, token: row.otp, type: 'sms' });
    assert.equal(v.error, null);

    const evil = `1555000${crypto.randomInt(1000, 9999)}`;
    const res = await authHttp(q, 'POST', '/otp', { body: { phone: evil } });
    assert.equal(res.status, 500);
    assert.equal(res.body.message, 'Error running hook URI: pg-functions://postgres/public/send_sms');
    assert.deepEqual(await sql(q, `select bool_or(rolsuper) as rolsuper from pg_roles where rolname in ('service_role', '${q.ref}_service_role')`), [{ rolsuper: false }]);
    assert.deepEqual(await sql(q, `select id from auth.users where phone = '${evil}'`), [], 'the failed send recorded nothing');
  });
});

describe('phone MFA', () => {
  it('enrolls a phone factor, challenges it by SMS and reaches aal2', async () => {
    const c = client(p);
    const phone = newPhone();
    await c.auth.signInWithOtp({ phone });
    const { data } = await c.auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    await c.auth.setSession(data.session!);
    const mfaPhone = newPhone();
    const e = await c.auth.mfa.enroll({ factorType: 'phone', phone: `+${mfaPhone}` });
    assert.equal(e.error, null);
    assert.equal(e.data!.type, 'phone');
    const ch = await c.auth.mfa.challenge({ factorId: e.data!.id });
    assert.equal(ch.error, null);
    const bad = await c.auth.mfa.verify({ factorId: e.data!.id, challengeId: ch.data!.id, code: '000000' });
    assert.equal(bad.error?.code, 'mfa_verification_failed');
    assert.equal(bad.error?.message, 'Invalid MFA Phone code entered');
    const ok = await c.auth.mfa.verify({ factorId: e.data!.id, challengeId: ch.data!.id, code: codeTo(mfaPhone) });
    assert.equal(ok.error, null);
    const claims = JSON.parse(Buffer.from(ok.data!.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.aal, 'aal2');
    assert.ok(claims.amr.some((a: { method: string }) => a.method === 'mfa/phone'));

    const off = await authHttp(other, 'POST', '/factors', { token: data.session!.access_token, body: { factor_type: 'phone', phone: mfaPhone } });
    assert.equal(off.status, 403, 'a session of one project is nothing to another');
  });

  it('is refused while mfa_phone_enroll_enabled is off', async () => {
    const c = client(other);
    const phone = newPhone();
    await c.auth.signInWithOtp({ phone });
    const { data } = await c.auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    const res = await authHttp(other, 'POST', '/factors', { token: data.session!.access_token, body: { factor_type: 'phone', phone: newPhone() } });
    assert.deepEqual([res.status, res.body.code, res.body.message], [422, 'mfa_phone_enroll_not_enabled', 'MFA enroll is disabled for Phone']);
  });
});

describe('isolation', () => {
  it("a code and a session of one project are nothing in another", async () => {
    const phone = newPhone();
    await authHttp(p, 'POST', '/otp', { body: { phone } });
    const v = await client(other).auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    assert.equal(v.error?.code, 'otp_expired');
    const ok = await client(p).auth.verifyOtp({ phone, token: codeTo(phone), type: 'sms' });
    const res = await authHttp(other, 'GET', '/user', { token: ok.data.session!.access_token });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'bad_jwt');
  });
});
