// WebAuthn MFA factors (through supabase-js' mfa.enroll / challenge / verify, as its mfa.webauthn helpers call
// them) and passkeys (the bodies supabase-js' passkey methods send), against a software authenticator: happy
// paths, GoTrue's errors for disabled features and bad input, and attacks — another origin or RP id, a replayed
// assertion or challenge, a counter that goes back, another user's credential, another project.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure, newEmail } from './helpers.ts';
import { SoftAuthenticator } from './soft-authenticator.ts';

const SITE = 'https://app.example.com';
let p: Project;
let other: Project;
before(async () => {
  p = await authProject({ mailer_autoconfirm: true, site_url: SITE });
  other = await authProject({ mailer_autoconfirm: true, site_url: SITE, passkey_enabled: true });
});

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function signedIn(project = p) {
  const c = client(project);
  const email = newEmail();
  const { data, error } = await c.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  return { c, email, token: data.session!.access_token, userId: data.user!.id };
}

describe('WebAuthn MFA factors', () => {
  it('are refused while mfa_web_authn_enroll_enabled is off, with GoTrue\'s error', async () => {
    const { c } = await signedIn();
    const { error } = await c.auth.mfa.enroll({ factorType: 'webauthn' } as any);
    assert.equal(error?.status, 422);
    assert.equal(error?.code, 'mfa_webauthn_enroll_not_enabled');
    assert.equal(error?.message, 'MFA enroll is disabled for WebAuthn');
  });

  it('enroll, challenge (creation options), verify (aal2), then a sign-in challenge (request options) and verify', async () => {
    await configure(p, { mfa_web_authn_enroll_enabled: true, mfa_web_authn_verify_enabled: true });
    const { c } = await signedIn();
    const enrolled = await c.auth.mfa.enroll({ factorType: 'webauthn', friendlyName: 'my key' } as any);
    assert.equal(enrolled.error, null);
    assert.equal((enrolled.data as any).type, 'webauthn');
    assert.equal((enrolled.data as any).friendly_name, 'my key');
    const factorId = enrolled.data!.id;

    const ch = await c.auth.mfa.challenge({ factorId, webauthn: { rpId: 'app.example.com', rpOrigins: [SITE] } } as any);
    assert.equal(ch.error, null);
    const w = (ch.data as any).webauthn;
    assert.equal(w.type, 'create');
    const pk = w.credential_options.publicKey;
    assert.equal(pk.rp.id, 'app.example.com');
    assert.equal(pk.attestation, 'none');

    const authenticator = new SoftAuthenticator(SITE, 'packed');
    const created = authenticator.create(pk);
    const verified = await c.auth.mfa.verify({ factorId, challengeId: ch.data!.id, webauthn: { type: 'create', rpId: 'app.example.com', credential_response: created } } as any);
    assert.equal(verified.error, null, JSON.stringify(verified.error));
    const session = (verified.data as any);
    assert.equal(claims(session.access_token).aal, 'aal2');
    assert.ok(claims(session.access_token).amr.some((a: any) => a.method === 'webauthn'));

    // The next time: a request ceremony for the registered credential.
    const ch2 = await c.auth.mfa.challenge({ factorId } as any);
    assert.equal(ch2.error, null);
    assert.equal((ch2.data as any).webauthn.type, 'request');
    const req = (ch2.data as any).webauthn.credential_options.publicKey;
    assert.equal(req.allowCredentials.length, 1);
    const asserted = authenticator.get(req);
    const v2 = await c.auth.mfa.verify({ factorId, challengeId: ch2.data!.id, webauthn: { type: 'request', rpId: 'app.example.com', credential_response: asserted } } as any);
    assert.equal(v2.error, null, JSON.stringify(v2.error));

    const factors = await c.auth.mfa.listFactors();
    assert.equal((factors.data as any).all.find((f: any) => f.id === factorId).status, 'verified');
  });

  async function verifiedFactor() {
    const s = await signedIn();
    const enrolled = await s.c.auth.mfa.enroll({ factorType: 'webauthn' } as any);
    const factorId = enrolled.data!.id;
    const ch = await authHttp(p, 'POST', `/factors/${factorId}/challenge`, { token: s.token, body: {} });
    const authenticator = new SoftAuthenticator(SITE);
    const created = authenticator.create(ch.body.webauthn.credential_options.publicKey);
    const v = await authHttp(p, 'POST', `/factors/${factorId}/verify`, { token: s.token, body: { challenge_id: ch.body.id, webauthn: { type: 'create', credential_response: created.toJSON() } } });
    assert.equal(v.status, 200, JSON.stringify(v.body));
    return { ...s, factorId, authenticator, token: v.body.access_token as string };
  }

  it('a challenge is used once: the same assertion again is refused', async () => {
    const s = await verifiedFactor();
    const ch = await authHttp(p, 'POST', `/factors/${s.factorId}/challenge`, { token: s.token, body: {} });
    const asserted = s.authenticator.get(ch.body.webauthn.credential_options.publicKey).toJSON();
    const body = { challenge_id: ch.body.id, webauthn: { type: 'request', credential_response: asserted } };
    assert.equal((await authHttp(p, 'POST', `/factors/${s.factorId}/verify`, { token: s.token, body })).status, 200);
    const again = await authHttp(p, 'POST', `/factors/${s.factorId}/verify`, { token: s.token, body });
    assert.equal(again.status, 422);
    assert.equal(again.body.code, 'mfa_factor_not_found');
    assert.equal(again.body.message, 'MFA factor with the provided challenge ID not found');
  });

  it('an old assertion (a lower counter) against a new challenge is refused', async () => {
    const s = await verifiedFactor();
    const ch1 = await authHttp(p, 'POST', `/factors/${s.factorId}/challenge`, { token: s.token, body: {} });
    const old = s.authenticator.get(ch1.body.webauthn.credential_options.publicKey).toJSON();
    const ch2 = await authHttp(p, 'POST', `/factors/${s.factorId}/challenge`, { token: s.token, body: {} });
    const fresh = s.authenticator.get(ch2.body.webauthn.credential_options.publicKey).toJSON();
    assert.equal((await authHttp(p, 'POST', `/factors/${s.factorId}/verify`, { token: s.token, body: { challenge_id: ch2.body.id, webauthn: { type: 'request', credential_response: fresh } } })).status, 200);
    // The first assertion answers the first challenge, but its counter is behind the one now stored.
    const replay = await authHttp(p, 'POST', `/factors/${s.factorId}/verify`, { token: s.token, body: { challenge_id: ch1.body.id, webauthn: { type: 'request', credential_response: old } } });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.code, 'webauthn_verification_failed');
  });

  it('a response made for another origin or another RP id is refused', async () => {
    const s = await signedIn();
    const factorId = (await s.c.auth.mfa.enroll({ factorType: 'webauthn' } as any)).data!.id;
    for (const opts of [{ origin: 'https://evil.example.net' }, { rpId: 'evil.example.net' }]) {
      const ch = await authHttp(p, 'POST', `/factors/${factorId}/challenge`, { token: s.token, body: {} });
      const created = new SoftAuthenticator(SITE).create(ch.body.webauthn.credential_options.publicKey, opts);
      const v = await authHttp(p, 'POST', `/factors/${factorId}/verify`, { token: s.token, body: { challenge_id: ch.body.id, webauthn: { type: 'create', credential_response: created.toJSON() } } });
      assert.equal(v.status, 400, JSON.stringify(opts));
      assert.equal(v.body.code, 'webauthn_verification_failed');
      assert.equal(v.body.message, 'Failed to validate WebAuthn MFA response');
    }
  });

  it('GoTrue\'s validation errors for the verify body', async () => {
    const s = await signedIn();
    const factorId = (await s.c.auth.mfa.enroll({ factorType: 'webauthn' } as any)).data!.id;
    const ch = await authHttp(p, 'POST', `/factors/${factorId}/challenge`, { token: s.token, body: {} });
    const cases: [unknown, number, string, string][] = [
      [{ challenge_id: ch.body.id }, 400, 'validation_failed', 'WebAuthn config required'],
      [{ challenge_id: ch.body.id, webauthn: { type: 'other', credential_response: {} } }, 400, 'validation_failed', 'WebAuthn type must be create or request'],
      [{ challenge_id: ch.body.id, webauthn: { type: 'create' } }, 400, 'validation_failed', 'credential_response required'],
      [{ challenge_id: ch.body.id, webauthn: { type: 'create', credential_response: { id: 1 } } }, 400, 'validation_failed', 'Invalid credential_response'],
      [{ challenge_id: 'nope', webauthn: { type: 'create', credential_response: {} } }, 422, 'mfa_factor_not_found', 'MFA factor with the provided challenge ID not found'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await authHttp(p, 'POST', `/factors/${factorId}/verify`, { token: s.token, body });
      assert.deepEqual([res.status, res.body.code, res.body.message], [status, code, message], JSON.stringify(body));
    }
  });

  it('another user cannot challenge or verify my factor', async () => {
    const mine = await signedIn();
    const factorId = (await mine.c.auth.mfa.enroll({ factorType: 'webauthn' } as any)).data!.id;
    const thief = await signedIn();
    const res = await authHttp(p, 'POST', `/factors/${factorId}/challenge`, { token: thief.token, body: {} });
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'mfa_factor_not_found');
  });

  it('mfa_web_authn_verify_enabled off: challenges are refused with GoTrue\'s error; TOTP factors still go to TOTP', async () => {
    const s = await signedIn();
    const factorId = (await s.c.auth.mfa.enroll({ factorType: 'webauthn' } as any)).data!.id;
    const totp = await s.c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'app' });
    await configure(p, { mfa_web_authn_verify_enabled: false });
    try {
      const res = await authHttp(p, 'POST', `/factors/${factorId}/challenge`, { token: s.token, body: {} });
      assert.deepEqual([res.status, res.body.code, res.body.message], [422, 'mfa_webauthn_verify_not_enabled', 'MFA verification is disabled for WebAuthn']);
      const t = await authHttp(p, 'POST', `/factors/${totp.data!.id}/challenge`, { token: s.token, body: {} });
      assert.equal(t.status, 200);
      assert.equal(t.body.type, 'totp');
    } finally {
      await configure(p, { mfa_web_authn_verify_enabled: true });
    }
  });
});

describe('passkeys', () => {
  it('answer GoTrue\'s 404 passkey_disabled while passkey_enabled is off', async () => {
    const s = await signedIn();
    for (const path of ['/passkeys/authentication/options', '/passkeys/registration/options']) {
      const res = await authHttp(p, 'POST', path, { token: s.token, body: {} });
      assert.deepEqual([res.status, res.body.code, res.body.message], [404, 'passkey_disabled', 'Passkeys are disabled']);
    }
    const settings = await authHttp(p, 'GET', '/settings');
    assert.equal(settings.body.passkeys_enabled, false);
  });

  async function registered(project = other) {
    const s = await signedIn(project);
    const authenticator = new SoftAuthenticator(SITE);
    const opts = await authHttp(project, 'POST', '/passkeys/registration/options', { token: s.token, body: {} });
    assert.equal(opts.status, 200, JSON.stringify(opts.body));
    assert.equal(opts.body.options.authenticatorSelection.residentKey, 'required');
    const created = authenticator.create(opts.body.options);
    const v = await authHttp(project, 'POST', '/passkeys/registration/verify', { token: s.token, body: { challenge_id: opts.body.challenge_id, credential: created.toJSON() } });
    assert.equal(v.status, 200, JSON.stringify(v.body));
    return { ...s, authenticator, passkeyId: v.body.id as string };
  }

  async function signInWith(authenticator: SoftAuthenticator, project = other, getOpts = {}) {
    const opts = await authHttp(project, 'POST', '/passkeys/authentication/options', { body: { gotrue_meta_security: {} } });
    assert.equal(opts.status, 200, JSON.stringify(opts.body));
    const asserted = authenticator.get(opts.body.options, getOpts).toJSON();
    const res = await authHttp(project, 'POST', '/passkeys/authentication/verify', { body: { challenge_id: opts.body.challenge_id, credential: asserted } });
    return { res, body: { challenge_id: opts.body.challenge_id, credential: asserted } };
  }

  it('register, list, sign in (a session with the passkey method), rename, delete', async () => {
    const s = await registered();
    assert.equal((await authHttp(other, 'GET', '/settings')).body.passkeys_enabled, true);
    const list = await authHttp(other, 'GET', '/passkeys', { token: s.token });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.map((x: any) => x.id), [s.passkeyId]);

    const { res } = await signInWith(s.authenticator);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.user.id, s.userId);
    assert.equal(claims(res.body.access_token).amr[0].method, 'passkey');
    // The session works on the user API.
    assert.equal((await authHttp(other, 'GET', '/user', { token: res.body.access_token })).body.id, s.userId);

    const renamed = await authHttp(other, 'PATCH', `/passkeys/${s.passkeyId}`, { token: s.token, body: { friendly_name: 'laptop' } });
    assert.equal(renamed.body.friendly_name, 'laptop');
    const bad = await authHttp(other, 'PATCH', `/passkeys/${s.passkeyId}`, { token: s.token, body: { friendly_name: '' } });
    assert.deepEqual([bad.status, bad.body.message], [400, 'friendly_name is required']);
    assert.equal((await authHttp(other, 'DELETE', `/passkeys/${s.passkeyId}`, { token: s.token })).status, 204);
    const after = await signInWith(s.authenticator);
    assert.equal(after.res.status, 400);
    assert.equal(after.res.body.code, 'webauthn_verification_failed');
  });

  it('a replayed assertion (same challenge) and an assertion with a stale counter are refused', async () => {
    const s = await registered();
    const first = await signInWith(s.authenticator);
    assert.equal(first.res.status, 200);
    const replay = await authHttp(other, 'POST', '/passkeys/authentication/verify', { body: first.body });
    assert.deepEqual([replay.status, replay.body.code, replay.body.message], [400, 'webauthn_challenge_not_found', 'Challenge not found or already used']);
    // A cloned authenticator: its counter is behind the one stored.
    s.authenticator.credentials[0].counter = 0;
    const cloned = await signInWith(s.authenticator);
    assert.equal(cloned.res.status, 400);
    assert.equal(cloned.res.body.code, 'webauthn_verification_failed');
  });

  it('a response for another origin or RP id, or claiming another user, is refused', async () => {
    const s = await registered();
    for (const opts of [{ origin: 'https://evil.example.net' }, { rpId: 'evil.example.net' }]) {
      const { res } = await signInWith(s.authenticator, other, opts);
      assert.deepEqual([res.status, res.body.code], [400, 'webauthn_verification_failed'], JSON.stringify(opts));
    }
    // An attacker's own passkey with the victim's id as user handle.
    const victim = await signedIn(other);
    const attacker = await registered();
    attacker.authenticator.credentials[0].userHandle = Buffer.from(victim.userId);
    const { res } = await signInWith(attacker.authenticator);
    assert.deepEqual([res.status, res.body.code, res.body.message], [400, 'webauthn_verification_failed', 'Credential verification failed']);
  });

  it('a passkey of project A does not sign in on project B, and a challenge of B is not A\'s', async () => {
    await configure(p, { passkey_enabled: true });
    try {
      const s = await registered(other);
      const { res } = await signInWith(s.authenticator, p);
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'webauthn_verification_failed');
      // A challenge id made on B, answered on A.
      const opts = await authHttp(p, 'POST', '/passkeys/authentication/options', { body: {} });
      const asserted = s.authenticator.get(opts.body.options).toJSON();
      const cross = await authHttp(other, 'POST', '/passkeys/authentication/verify', { body: { challenge_id: opts.body.challenge_id, credential: asserted } });
      assert.deepEqual([cross.status, cross.body.code], [400, 'webauthn_challenge_not_found']);
      // A's session token is not valid on B's passkey list.
      const a = await signedIn(p);
      const list = await authHttp(other, 'GET', '/passkeys', { token: a.token });
      assert.equal(list.status, 403);
    } finally {
      await configure(p, { passkey_enabled: false });
    }
  });

  it('GoTrue\'s validation errors; another user\'s passkey is not found; admins list and delete', async () => {
    const s = await registered();
    const cases: [unknown, number, string, string][] = [
      [{}, 400, 'validation_failed', 'challenge_id is required'],
      [{ challenge_id: 'x' }, 400, 'validation_failed', 'credential is required'],
      [{ challenge_id: 'x', credential: {} }, 400, 'validation_failed', 'challenge_id must be a valid UUID'],
      [{ challenge_id: '00000000-0000-4000-8000-000000000000', credential: {} }, 400, 'webauthn_challenge_not_found', 'Challenge not found or already used'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await authHttp(other, 'POST', '/passkeys/authentication/verify', { body });
      assert.deepEqual([res.status, res.body.code, res.body.message], [status, code, message], JSON.stringify(body));
    }
    const opts = await authHttp(other, 'POST', '/passkeys/authentication/options', { body: {} });
    const garbage = await authHttp(other, 'POST', '/passkeys/authentication/verify', { body: { challenge_id: opts.body.challenge_id, credential: { id: 'x' } } });
    assert.deepEqual([garbage.status, garbage.body.code, garbage.body.message], [400, 'webauthn_verification_failed', 'Invalid credential response']);

    const stranger = await signedIn(other);
    const del = await authHttp(other, 'DELETE', `/passkeys/${s.passkeyId}`, { token: stranger.token });
    assert.deepEqual([del.status, del.body.message], [404, 'Passkey not found']);

    const anon = await authHttp(other, 'POST', '/passkeys/registration/options', { body: {} });
    assert.equal(anon.status, 403);

    const admin = { token: other.serviceKey, apikey: other.serviceKey };
    const listed = await authHttp(other, 'GET', `/admin/users/${s.userId}/passkeys`, admin);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.length, 1);
    assert.equal((await authHttp(other, 'GET', `/admin/users/${s.userId}/passkeys`, { token: s.token })).status, 403);
    assert.equal((await authHttp(other, 'DELETE', `/admin/users/${s.userId}/passkeys/${s.passkeyId}`, admin)).status, 204);
    assert.equal((await authHttp(other, 'GET', `/admin/users/${s.userId}/passkeys`, admin)).body.length, 0);
  });

  it('sign-in options (open to anyone, each a stored challenge) are limited to 30 per 5 minutes per IP', async () => {
    const fresh = await authProject({ site_url: SITE, passkey_enabled: true });
    // The window is fixed (5 minutes by the clock): should the run cross its end, the count starts again once,
    // so the refusal comes after 30 to 60 answers.
    let ok = 0;
    let limited: { status: number; body: any } | undefined;
    for (let i = 0; i < 61 && !limited; i++) {
      const r = await authHttp(fresh, 'POST', '/passkeys/authentication/options', { body: {} });
      if (r.status === 200) ok++;
      else limited = r;
    }
    assert.ok(ok >= 30 && ok <= 60, `${ok} answered before the limit`);
    assert.deepEqual([limited?.status, limited?.body.code], [429, 'over_request_rate_limit']);
  });

  it('registration needs aal2 once the user has a verified MFA factor', async () => {
    await configure(other, { mfa_web_authn_enroll_enabled: true, mfa_web_authn_verify_enabled: true });
    const s = await signedIn(other);
    const factorId = (await s.c.auth.mfa.enroll({ factorType: 'webauthn' } as any)).data!.id;
    const ch = await authHttp(other, 'POST', `/factors/${factorId}/challenge`, { token: s.token, body: {} });
    const created = new SoftAuthenticator(SITE).create(ch.body.webauthn.credential_options.publicKey);
    const v = await authHttp(other, 'POST', `/factors/${factorId}/verify`, { token: s.token, body: { challenge_id: ch.body.id, webauthn: { type: 'create', credential_response: created.toJSON() } } });
    assert.equal(v.status, 200);
    // A new aal1 session of the same user.
    const aal1 = await client(other).auth.signInWithPassword({ email: s.email, password: PASSWORD });
    const res = await authHttp(other, 'POST', '/passkeys/registration/options', { token: aal1.data.session!.access_token, body: {} });
    assert.deepEqual([res.status, res.body.code, res.body.message], [403, 'insufficient_aal', 'AAL2 session is required to manage passkeys when MFA is enabled']);
    assert.equal((await authHttp(other, 'POST', '/passkeys/registration/options', { token: v.body.access_token, body: {} })).status, 200);
  });
});


