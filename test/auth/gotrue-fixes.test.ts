// GoTrue parity fixes: email format as GoTrue checks it on admin create, invite and generate_link; generate_link
// for an email change; TOTP enrolment with a long email (a QR code that fits, no half-made factor); a second
// unnamed factor; the supabase_admin role in a valid token.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure, newEmail } from './helpers.ts';

let p: Project;
let other: Project;
before(async () => {
  [p, other] = await Promise.all([authProject({ mailer_autoconfirm: true, site_url: 'https://app.example.com' }), authProject()]);
});

const svc = (path: string, body: unknown, method = 'POST', project = p) =>
  authHttp(project, method, path, { token: project.serviceKey, apikey: project.serviceKey, body });

async function jwtSecret(ref: string): Promise<string> {
  const admin = await adminClient();
  try {
    const { rows: [{ jwt_secret }] } = await admin.query(
      `select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1`, [ref]);
    return jwt_secret;
  } finally { await admin.end(); }
}

describe('email format (GoTrue: checkmail)', () => {
  const invalid = ['a@-b.com', 'a"b@example.com', 'a b@example.com', 'a@b_c.com', 'a@b..com', `a@${'x'.repeat(64)}.com`];
  it('admin create, invite and generate_link refuse what GoTrue refuses, in its words', async () => {
    for (const email of invalid) {
      for (const [path, body] of [['/admin/users', { email }], ['/invite', { email }], ['/admin/generate_link', { type: 'magiclink', email }]] as const) {
        const res = await svc(path, body);
        assert.equal(res.status, 400, `${path} ${email}`);
        assert.deepEqual(res.body, { code: 'validation_failed', message: 'Unable to validate email address: invalid format' }, `${path} ${email}`);
      }
    }
    const none = await svc('/invite', {});
    assert.deepEqual([none.status, none.body.message], [400, 'An email address is required']);
  });

  it('accepts what GoTrue accepts: a domain without a dot, atext in the local part', async () => {
    for (const email of [`u${Date.now()}@localhost`, `o'neil+x{1}${Date.now()}@example.com`]) {
      const res = await svc('/admin/users', { email });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.email, email.toLowerCase());
    }
  });
});

describe('generate_link for an email change', () => {
  async function user() {
    const email = newEmail();
    assert.equal((await svc('/admin/users', { email, password: PASSWORD, email_confirm: true })).status, 200);
    return email;
  }

  it('email_change_new: the action link changes the address', async () => {
    const email = await user();
    const next = newEmail();
    const res = await svc('/admin/generate_link', { type: 'email_change_new', email, new_email: next });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.verification_type, 'email_change_new');
    assert.equal(res.body.new_email, next);
    assert.equal(res.body.email, email);
    const link = new URL(res.body.action_link);
    assert.equal(link.searchParams.get('type'), 'email_change');
    const { data, error } = await client(p).auth.verifyOtp({ token_hash: link.searchParams.get('token')!, type: 'email_change' });
    assert.equal(error, null);
    assert.equal(data.user!.email, next);
  });

  it('email_change_current: the link to the current address works, and needs secure email change', async () => {
    const email = await user();
    const next = newEmail();
    const res = await svc('/admin/generate_link', { type: 'email_change_current', email, new_email: next });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { data, error } = await client(p).auth.verifyOtp({ token_hash: res.body.hashed_token, type: 'email_change' });
    assert.equal(error, null);
    assert.equal(data.user!.email, next);

    const q = await authProject({ mailer_secure_email_change_enabled: false });
    const qEmail = newEmail();
    await svc('/admin/users', { email: qEmail }, 'POST', q);
    const off = await svc('/admin/generate_link', { type: 'email_change_current', email: qEmail, new_email: newEmail() }, 'POST', q);
    assert.deepEqual([off.status, off.body], [400, { code: 'validation_failed', message: 'Enable secure email change to generate link for current email' }]);
  });

  it('refuses a bad or taken new address, an unknown user and an unknown type in GoTrue words', async () => {
    const email = await user();
    const taken = await user();
    const bad = await svc('/admin/generate_link', { type: 'email_change_new', email, new_email: 'nope' });
    assert.deepEqual([bad.status, bad.body.message], [400, 'Unable to validate email address: invalid format']);
    const dup = await svc('/admin/generate_link', { type: 'email_change_new', email, new_email: taken });
    assert.deepEqual([dup.status, dup.body], [422, { code: 'email_exists', message: 'A user with this email address has already been registered' }]);
    const missing = await svc('/admin/generate_link', { type: 'email_change_new', email: newEmail(), new_email: newEmail() });
    assert.deepEqual([missing.status, missing.body], [404, { code: 'user_not_found', message: 'User with this email not found' }]);
    const type = await svc('/admin/generate_link', { type: 'teleport', email });
    assert.deepEqual([type.status, type.body.message], [400, 'Invalid email action link type requested: teleport']);
  });
});

describe('TOTP enrolment', () => {
  async function signedIn(email: string) {
    assert.equal((await svc('/admin/users', { email, password: PASSWORD, email_confirm: true })).status, 200);
    const c = client(p);
    assert.equal((await c.auth.signInWithPassword({ email, password: PASSWORD })).error, null);
    return c;
  }
  const factors = async (c: Awaited<ReturnType<typeof signedIn>>) => (await c.auth.mfa.listFactors()).data!.all.length;

  it('a 100-character email gets a QR code; a URI too long for one is refused before any factor exists', async () => {
    const email = `${'l'.repeat(100 - '@example.com'.length - 6)}${String(Date.now() % 1_000_000).padStart(6, "0")}@example.com`.slice(-100);
    assert.equal(email.length, 100);
    const c = await signedIn(email);
    const { data, error } = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'long' });
    assert.equal(error, null);
    assert.match(data!.totp.qr_code, /^data:image\/svg\+xml;utf-8,<svg[\s\S]*<\/svg>$/);
    assert.ok(data!.totp.uri.includes(encodeURIComponent(email)));
    assert.equal(await factors(c), 1);

    const huge = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'huge', issuer: 'i'.repeat(1200) });
    assert.equal(huge.error?.status, 400);
    assert.equal(huge.error?.code, 'validation_failed');
    assert.equal(await factors(c), 1);
  });

  it('a second factor without a friendly name gets GoTrue\'s name conflict, like any repeated name', async () => {
    // GoTrue (internal/api/mfa.go validateFactors) compares the new name with every factor's, empty names too.
    const c = await signedIn(newEmail());
    assert.equal((await c.auth.mfa.enroll({ factorType: 'totp' })).error, null);
    const second = await c.auth.mfa.enroll({ factorType: 'totp' });
    assert.equal(second.error?.status, 422);
    assert.equal(second.error?.code, 'mfa_factor_name_conflict');
    assert.equal(second.error?.message, 'A factor with the friendly name "" for this user already exists');
    assert.equal((await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'named' })).error, null);
    assert.equal(await factors(c), 2);
  });
});

describe('supabase_admin role', () => {
  it('a valid token with it is an admin on the auth API, and only on its own project', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt({ iss: 'supabase', ref: p.ref, role: 'supabase_admin', iat: now, exp: now + 600 }, await jwtSecret(p.ref));
    const list = await authHttp(p, 'GET', '/admin/users', { token });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.ok(Array.isArray(list.body.users));
    // Still no role of the data plane: REST refuses it.
    const rest = await fetch(`${p.url}/rest/v1/`, { headers: { apikey: p.anonKey, authorization: `Bearer ${token}` } });
    assert.ok(rest.status >= 400, String(rest.status));
    await rest.body?.cancel();
    // Another project's secret signs nothing here.
    const foreign = signJwt({ iss: 'supabase', ref: other.ref, role: 'supabase_admin', iat: now, exp: now + 600 }, await jwtSecret(other.ref));
    const cross = await authHttp(p, 'GET', '/admin/users', { token: foreign });
    assert.equal(cross.status, 403);
    assert.equal(cross.body.code, 'bad_jwt');
    // A forged role in an unsigned token is nothing.
    const forged = `${token.split('.').slice(0, 2).join('.')}.AAAA`;
    assert.equal((await authHttp(p, 'GET', '/admin/users', { token: forged })).status, 403);
  });
});
