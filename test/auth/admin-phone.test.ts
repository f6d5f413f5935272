// Phone in the admin API (supabase-js' auth.admin.createUser / updateUserById with phone and phone_confirm) and
// reauthentication by SMS (GET /reauthenticate for a user with a phone and no email, then PUT /user with the
// code as `nonce`), as GoTrue does them; SMS through a local Twilio-compatible server; GoTrue's errors; one
// project's numbers, codes and users unknown to another.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { config } from '../../db/src/config.ts';
import { sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

const sent: { to: string; body: string }[] = [];
const twilio = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', () => {
    const f = new URLSearchParams(data);
    sent.push({ to: f.get('To')!, body: f.get('Body')! });
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid: `SM${crypto.randomBytes(8).toString('hex')}`, status: 'queued' }));
  });
});
const TWILIO = { sms_provider: 'twilio', sms_twilio_account_sid: 'AC1', sms_twilio_auth_token: 't', sms_twilio_message_service_sid: 'MG1' };
const newPhone = () => `1555${crypto.randomInt(1_000_000, 9_999_999)}`;
const codeTo = (phone: string) => /(\d{6})/.exec([...sent].reverse().find((s) => s.to === `+${phone}`)!.body)![1];

let p: Project;
let other: Project;
before(async () => {
  await new Promise<void>((r) => twilio.listen(0, '127.0.0.1', r));
  config.twilioApiUrl = `http://127.0.0.1:${(twilio.address() as AddressInfo).port}`;
  const settings = { external_phone_enabled: true, sms_max_frequency: 0, security_update_password_require_reauthentication: true, ...TWILIO };
  [p, other] = await Promise.all([authProject(settings), authProject(settings)]);
});
after(() => twilio.close());

const admin = (q: Project) => client(q, q.serviceKey).auth.admin;

describe('phone in the admin API', () => {
  it('createUser with a phone (and phone_confirm): the number as GoTrue stores it, its identity, signs in with the password', async () => {
    const phone = newPhone();
    const { data, error } = await admin(p).createUser({ phone: `+${phone}`, password: PASSWORD, phone_confirm: true });
    assert.equal(error, null);
    const u = data.user!;
    assert.equal(u.phone, phone);
    assert.ok(u.phone_confirmed_at);
    assert.equal(u.email, '');
    assert.deepEqual(u.app_metadata, { provider: 'phone', providers: ['phone'] });
    assert.equal(u.identities!.length, 1);
    assert.deepEqual(u.identities![0].identity_data, { sub: u.id, phone, email_verified: false, phone_verified: false });
    const s = await client(p).auth.signInWithPassword({ phone: `+${phone}`, password: PASSWORD });
    assert.equal(s.error, null);
    assert.equal(s.data.user!.id, u.id);
    // Email and phone: both identities, email first.
    const both = await admin(p).createUser({ email: newEmail(), phone: newPhone() });
    assert.deepEqual(both.data.user!.app_metadata.providers, ['email', 'phone']);
    assert.equal(both.data.user!.app_metadata.provider, 'email');
    assert.equal(both.data.user!.phone_confirmed_at, undefined);
  });

  it('GoTrue\'s errors: no email nor phone, a bad number, a number another user has', async () => {
    const phone = newPhone();
    await admin(p).createUser({ phone });
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ user_metadata: {} }, 400, 'validation_failed', 'Cannot create a user without either an email or phone'],
      [{ phone: '12ab' }, 400, 'validation_failed', 'Invalid phone number format (E.164 required)'],
      [{ phone: `+${phone}` }, 422, 'phone_exists', 'Phone number already registered by another user'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await authHttp(p, 'POST', '/admin/users', { token: p.serviceKey, apikey: p.serviceKey, body });
      assert.deepEqual([res.status, res.body.code, res.body.message], [status, code, message], JSON.stringify(body));
    }
    // A number of project A is free in project B.
    const inB = await admin(other).createUser({ phone });
    assert.equal(inB.error, null);
  });

  it('updateUserById: a phone added (identity made), changed (identity updated), confirmed; a taken number refused', async () => {
    const { data } = await admin(p).createUser({ email: newEmail(), password: PASSWORD, email_confirm: true });
    const id = data.user!.id;
    const first = newPhone();
    const r1 = await admin(p).updateUserById(id, { phone: first });
    assert.equal(r1.error, null);
    assert.equal(r1.data.user!.phone, first);
    assert.equal(r1.data.user!.phone_confirmed_at, undefined);
    assert.deepEqual(r1.data.user!.app_metadata.providers, ['email', 'phone']);
    const pi = r1.data.user!.identities!.find((i) => i.provider === 'phone')!;
    assert.deepEqual(pi.identity_data, { sub: id, phone: first, email_verified: false, phone_verified: false });
    const second = newPhone();
    const r2 = await admin(p).updateUserById(id, { phone: `+${second}`, phone_confirm: true });
    assert.equal(r2.error, null);
    assert.equal(r2.data.user!.phone, second);
    assert.ok(r2.data.user!.phone_confirmed_at);
    const phones = r2.data.user!.identities!.filter((i) => i.provider === 'phone');
    assert.equal(phones.length, 1);
    assert.equal(phones[0].identity_data!.phone, second);
    assert.equal(phones[0].identity_data!.phone_verified, true);
    // Another user's number; a bad one: nothing changes.
    const taken = newPhone();
    await admin(p).createUser({ phone: taken });
    const r3 = await authHttp(p, 'PUT', `/admin/users/${id}`, { token: p.serviceKey, apikey: p.serviceKey, body: { phone: taken, user_metadata: { x: 1 } } });
    assert.deepEqual([r3.status, r3.body.code, r3.body.message], [422, 'phone_exists', 'Phone number already registered by another user']);
    const r4 = await authHttp(p, 'PUT', `/admin/users/${id}`, { token: p.serviceKey, apikey: p.serviceKey, body: { phone: 'nope' } });
    assert.deepEqual([r4.status, r4.body.code], [400, 'validation_failed']);
    const after = await admin(p).getUserById(id);
    assert.equal(after.data.user!.phone, second);
    assert.equal(after.data.user!.user_metadata.x, undefined);
    // Project B's service key cannot change A's user.
    const foreign = await authHttp(p, 'PUT', `/admin/users/${id}`, { token: other.serviceKey, apikey: p.serviceKey, body: { phone: newPhone() } });
    assert.equal(foreign.status, 403);
    const inB = await authHttp(other, 'PUT', `/admin/users/${id}`, { token: other.serviceKey, apikey: other.serviceKey, body: { phone: newPhone() } });
    assert.equal(inB.status, 404);
  });
});

describe('reauthentication by SMS', () => {
  async function phoneUser(q: Project, confirmed = true) {
    const phone = newPhone();
    await admin(q).createUser({ phone, password: PASSWORD, phone_confirm: confirmed });
    const sb = client(q);
    if (confirmed) {
      const { error } = await sb.auth.signInWithPassword({ phone, password: PASSWORD });
      assert.equal(error, null);
    }
    return { phone, sb };
  }

  it('a user with only a phone gets the code by SMS, with the message id', async () => {
    const { phone, sb } = await phoneUser(p);
    const { error } = await sb.auth.reauthenticate();
    assert.equal(error, null);
    assert.match(codeTo(phone), /^\d{6}$/);
    const token = (await sb.auth.getSession()).data.session!.access_token;
    const raw = await authHttp(p, 'GET', '/reauthenticate', { token });
    assert.equal(raw.status, 200);
    assert.match(raw.body.message_id, /^SM/);
  });

  it('an old session must send the SMS code as nonce (GoTrue\'s errors for none and a wrong one)', async () => {
    const { phone, sb } = await phoneUser(p);
    const token = (await sb.auth.getSession()).data.session!.access_token;
    // Age the session past a day, as time would.
    await sql(p, `update auth.sessions set created_at = now() - interval '2 days' where user_id = (select id from auth.users where phone = '${phone}')`);
    const none = await authHttp(p, 'PUT', '/user', { token, body: { password: 'another fine password 2' } });
    assert.deepEqual([none.status, none.body.code, none.body.message], [400, 'reauthentication_needed', 'Password update requires reauthentication']);
    assert.equal((await authHttp(p, 'GET', '/reauthenticate', { token })).status, 200);
    const wrong = await authHttp(p, 'PUT', '/user', { token, body: { password: 'another fine password 2', nonce: '000000' } });
    assert.deepEqual([wrong.status, wrong.body.code, wrong.body.message], [422, 'reauthentication_not_valid', 'Nonce has expired or is invalid']);
    const code = codeTo(phone);
    // Project B knows neither the session nor the code.
    const atB = await authHttp(other, 'PUT', '/user', { token, body: { password: 'another fine password 2', nonce: code } });
    assert.equal(atB.status, 403);
    const ok = await authHttp(p, 'PUT', '/user', { token, body: { password: 'another fine password 2', nonce: code } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const again = await authHttp(p, 'PUT', '/user', { token, body: { password: 'a third fine password 3', nonce: code } });
    assert.equal(again.body.code, 'reauthentication_not_valid');
    const s = await client(p).auth.signInWithPassword({ phone, password: 'another fine password 2' });
    assert.equal(s.error, null);
  });

  it('an unconfirmed phone: 422 phone_not_confirmed; a user with an email still gets an email', async () => {
    const phone = newPhone();
    const { data } = await admin(p).createUser({ phone, password: PASSWORD, phone_confirm: true });
    const sb = client(p);
    await sb.auth.signInWithPassword({ phone, password: PASSWORD });
    const token = (await sb.auth.getSession()).data.session!.access_token;
    await sql(p, `update auth.users set phone_confirmed_at = null where id = '${data.user!.id}'`);
    const res = await authHttp(p, 'GET', '/reauthenticate', { token });
    assert.deepEqual([res.status, res.body.code, res.body.message], [422, 'phone_not_confirmed', 'Please verify your phone first.']);
    const before = sent.length;
    const email = newEmail();
    const withEmail = await admin(p).createUser({ email, phone: newPhone(), password: PASSWORD, email_confirm: true, phone_confirm: true });
    const sb2 = client(p);
    await sb2.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal((await sb2.auth.reauthenticate()).error, null);
    assert.equal(sent.length, before, 'no SMS to a user who has an email');
    assert.ok(withEmail.data.user);
  });
});
