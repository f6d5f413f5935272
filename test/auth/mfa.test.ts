// MFA with TOTP through supabase-js: enroll (secret, otpauth URI, a QR code that scans), challenge, verify to
// aal2, AAL rules, unenroll; the admin's view; and the TOTP and QR building blocks on their own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { base32, totp } from '../../server/src/auth/mfa.ts';
import { QrTooLong, qrMatrix, qrSvg } from '../../server/src/auth/qr.ts';
import type { Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

let p: Project;
before(async () => { p = await authProject({ mailer_autoconfirm: true, site_url: 'https://app.example.com' }); });

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function signedIn() {
  const c = client(p);
  const email = newEmail();
  await c.auth.signUp({ email, password: PASSWORD });
  return { c, email };
}

describe('TOTP', () => {
  it('matches the RFC 6238 SHA-1 test vectors (6-digit form)', () => {
    const secret = base32(Buffer.from('12345678901234567890'));
    assert.equal(secret, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    const vectors: [number, string][] = [[59, '287082'], [1111111109, '081804'], [1111111111, '050471'], [1234567890, '005924'], [2000000000, '279037']];
    for (const [t, code] of vectors) assert.equal(totp(secret, t), code);
  });
});

describe('QR codes', () => {
  const zbar = (() => { try { execFileSync('zbarimg', ['--version']); return true; } catch { return false; } })();
  it('decode back to their text (checked with zbarimg when it is installed)', { skip: !zbar && 'zbarimg is not installed' }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qr-'));
    for (const text of ['hello', 'x'.repeat(100), `otpauth://totp/app.example.com:${'a'.repeat(40)}@example.com?algorithm=SHA1&digits=6&issuer=app.example.com&period=30&secret=${'A'.repeat(32)}`, 'z'.repeat(210),
      ...[260, 400, 666, 1200].map((n) => 'otpauth://'.padEnd(n, 'q9%'))]) {
      const m = qrMatrix(text);
      const scale = 4, q = 4, n = (m.length + 2 * q) * scale;
      let pbm = `P1\n${n} ${n}\n`;
      for (let y = 0; y < n; y++) {
        const row: string[] = [];
        for (let x = 0; x < n; x++) {
          const my = Math.floor(y / scale) - q, mx = Math.floor(x / scale) - q;
          row.push(m[my]?.[mx] ? '1' : '0');
        }
        pbm += row.join(' ') + '\n';
      }
      const file = path.join(dir, 'qr.pbm');
      fs.writeFileSync(file, pbm);
      const decoded = execFileSync('zbarimg', ['-q', '--raw', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().replace(/\n$/, '');
      assert.equal(decoded, text);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('picks the smallest version that fits and refuses what does not', async () => {
    assert.equal(qrMatrix('hello').length, 21);
    assert.equal(qrMatrix('z'.repeat(666)).length, 97);
    assert.match(await qrSvg('otpauth://totp/x'), /^<svg[^>]*viewBox=/);
    assert.throws(() => qrMatrix('z'.repeat(2400)), QrTooLong);
    await assert.rejects(qrSvg('z'.repeat(2400)), QrTooLong);
  });
});

describe('auth.mfa', () => {
  it('enroll, challenge and verify raise the session to aal2', async () => {
    const { c, email } = await signedIn();
    const { data: enrolled, error } = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone' });
    assert.equal(error, null);
    assert.equal(enrolled!.type, 'totp');
    assert.equal(enrolled!.friendly_name, 'phone');
    assert.match(enrolled!.totp.secret, /^[A-Z2-7]{32}$/);
    assert.equal(enrolled!.totp.uri, `otpauth://totp/app.example.com:${encodeURIComponent(email)}?algorithm=SHA1&digits=6&issuer=app.example.com&period=30&secret=${enrolled!.totp.secret}`);
    assert.match(enrolled!.totp.qr_code, /^data:image\/svg\+xml;utf-8,<svg /);

    const before = await c.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.equal(before.data!.currentLevel, 'aal1');

    const { data: challenge, error: challengeError } = await c.auth.mfa.challenge({ factorId: enrolled!.id });
    assert.equal(challengeError, null);
    assert.ok(challenge!.expires_at > Date.now() / 1000);

    const wrong = await c.auth.mfa.verify({ factorId: enrolled!.id, challengeId: challenge!.id, code: '000000' === totp(enrolled!.totp.secret) ? '111111' : '000000' });
    assert.equal(wrong.error?.code, 'mfa_verification_failed');
    assert.equal(wrong.error?.message, 'Invalid TOTP code entered');

    const { data: verified, error: verifyError } = await c.auth.mfa.verify({ factorId: enrolled!.id, challengeId: challenge!.id, code: totp(enrolled!.totp.secret) });
    assert.equal(verifyError, null);
    const jwt = claims(verified!.access_token);
    assert.equal(jwt.aal, 'aal2');
    assert.deepEqual(jwt.amr.map((a: { method: string }) => a.method).sort(), ['password', 'totp']);
    const after = await c.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.equal(after.data!.currentLevel, 'aal2');

    // The challenge is used up.
    const again = await c.auth.mfa.verify({ factorId: enrolled!.id, challengeId: challenge!.id, code: totp(enrolled!.totp.secret) });
    assert.equal(again.error?.code, 'mfa_factor_not_found');

    const { data: factors } = await c.auth.mfa.listFactors();
    assert.equal(factors!.totp.length, 1);
    assert.equal(factors!.totp[0].status, 'verified');

    // aal2 survives a refresh.
    const { data: refreshed } = await c.auth.refreshSession();
    assert.equal(claims(refreshed.session!.access_token).aal, 'aal2');

    // A new sign-in starts at aal1 and must step up; it cannot enroll or unenroll until then.
    const c2 = client(p);
    await c2.auth.signInWithPassword({ email, password: PASSWORD });
    const level = await c2.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.deepEqual([level.data!.currentLevel, level.data!.nextLevel], ['aal1', 'aal2']);
    const enroll2 = await c2.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'laptop' });
    assert.equal(enroll2.error?.code, 'insufficient_aal');
    assert.equal(enroll2.error?.status, 403);
    const un2 = await c2.auth.mfa.unenroll({ factorId: enrolled!.id });
    assert.equal(un2.error?.code, 'insufficient_aal');

    const { error: unenrollError } = await c.auth.mfa.unenroll({ factorId: enrolled!.id });
    assert.equal(unenrollError, null);
    assert.equal((await c.auth.mfa.listFactors()).data!.all.length, 0);
  });

  it('refuses a duplicate name, another user\'s factor and anonymous users', async () => {
    const { c } = await signedIn();
    const { data } = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'same' });
    const dup = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'same' });
    assert.equal(dup.error?.code, 'mfa_factor_name_conflict');
    assert.equal(dup.error?.message, 'A factor with the friendly name "same" for this user already exists');
    const { c: other } = await signedIn();
    const foreign = await other.auth.mfa.challenge({ factorId: data!.id });
    assert.equal(foreign.error?.status, 404);
    assert.equal(foreign.error?.code, 'mfa_factor_not_found');
    const token = (await c.auth.getSession()).data.session!.access_token;
    const badType = await authHttp(p, 'POST', '/factors', { token, body: { factor_type: 'sms' } });
    assert.deepEqual(badType.body, { code: 'validation_failed', message: 'factor_type needs to be totp, phone, or webauthn' });

    const q = await authProject({ external_anonymous_users_enabled: true });
    const anon = client(q);
    await anon.auth.signInAnonymously();
    const refused = await anon.auth.mfa.enroll({ factorType: 'totp' });
    assert.equal(refused.error?.status, 403);
    assert.equal(refused.error?.message, 'Anonymous user not allowed to perform these actions');
  });

  it('admin lists and deletes a user\'s factors', async () => {
    const { c } = await signedIn();
    const { data: enrolled } = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'key' });
    const userId = (await c.auth.getUser()).data.user!.id;
    const admin = client(p, p.serviceKey).auth.admin.mfa;
    const { data, error } = await admin.listFactors({ userId });
    assert.equal(error, null);
    assert.deepEqual(data!.factors.map((f) => f.id), [enrolled!.id]);
    const del = await admin.deleteFactor({ userId, id: enrolled!.id });
    assert.equal(del.error, null);
    assert.equal((await admin.listFactors({ userId })).data!.factors.length, 0);
  });
});
