// Raw HTTP: GoTrue's error shapes (legacy and 2024-01-01), validation messages, health and settings.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { http, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

let p: Project;
before(async () => { p = await authProject({ mailer_autoconfirm: true, password_min_length: 10, password_required_characters: 'abcdefghijklmnopqrstuvwxyz:0123456789' }); });

describe('error shapes', () => {
  it('without the API version header: {code: status, error_code, msg}', async () => {
    const res = await http('POST', `/project/${p.ref}/auth/v1/token?grant_type=password`, {
      headers: { apikey: p.anonKey }, body: { email: newEmail(), password: 'whatever whatever' },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
    assert.equal(res.headers.get('x-sb-error-code'), 'invalid_credentials');
  });

  it('with X-Supabase-Api-Version 2024-01-01: {code, message} and the version echoed', async () => {
    const res = await authHttp(p, 'POST', '/token?grant_type=password', { body: { email: newEmail(), password: 'whatever whatever' } });
    assert.deepEqual(res.body, { code: 'invalid_credentials', message: 'Invalid login credentials' });
    assert.equal(res.headers.get('x-supabase-api-version'), '2024-01-01');
  });

  const cases: [string, string, string, unknown, number, string, string][] = [
    ['unsupported grant', 'POST', '/token?grant_type=magic', {}, 400, 'invalid_credentials', 'unsupported_grant_type'],
    ['login without email', 'POST', '/token?grant_type=password', { password: 'x' }, 400, 'validation_failed', 'missing email or phone'],
    ['signup without password', 'POST', '/signup', { email: 'a@example.com' }, 400, 'validation_failed', 'Signup requires a valid password'],
    ['signup with a bad email', 'POST', '/signup', { email: 'not-an-email', password: 'abcdefghij1' }, 400, 'validation_failed', 'Unable to validate email address: invalid format'],
    ['signup with a number as email', 'POST', '/signup', { email: 5, password: 'abcdefghij1' }, 400, 'bad_json', 'Could not parse request body as JSON: json: cannot unmarshal number into Go struct field .email of type string'],
    ['signup with half a PKCE pair', 'POST', '/signup', { email: 'a@example.com', password: 'abcdefghij1', code_challenge: 'x'.repeat(43) }, 400, 'validation_failed', 'PKCE flow requires code_challenge_method and code_challenge'],
    ['verify without type', 'POST', '/verify', { token: '123456', email: 'a@example.com' }, 400, 'validation_failed', 'Verify requires a verification type'],
    ['verify with an unknown type', 'POST', '/verify', { token: '123456', email: 'a@example.com', type: 'teleport' }, 400, 'validation_failed', 'Unsupported verification type'],
    ['verify a wrong code', 'POST', '/verify', { token: '123456', email: 'a@example.com', type: 'email' }, 403, 'otp_expired', 'Token has expired or is invalid'],
    ['recover without email', 'POST', '/recover', {}, 400, 'validation_failed', 'Password recovery requires an email'],
    ['otp without email', 'POST', '/otp', {}, 400, 'validation_failed', 'One of email or phone must be set'],
    ['resend without type', 'POST', '/resend', { email: 'a@example.com' }, 400, 'validation_failed', 'Missing one of these types: signup, email_change, sms, phone_change'],
    ['user without a token', 'GET', '/user', undefined, 401, 'no_authorization', 'This endpoint requires a valid Bearer token'],
    ['unknown endpoint', 'GET', '/nowhere', undefined, 404, 'not_found', 'Not found'],
  ];
  for (const [name, method, path, body, status, code, message] of cases) {
    it(name, async () => {
      const headers = path === '/user' ? { authorization: '' } : undefined;
      const res = await http(method, `/project/${p.ref}/auth/v1${path}`, {
        body, headers: { apikey: p.anonKey, 'x-supabase-api-version': '2024-01-01', ...(path === '/user' ? {} : { authorization: `Bearer ${p.anonKey}` }), ...headers },
      });
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.deepEqual(res.body, { code, message });
    });
  }

  it('malformed JSON is bad_json', async () => {
    const res = await authHttp(p, 'POST', '/signup', { body: '{"email":', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'bad_json');
  });

  it('the anon key is not a user', async () => {
    const res = await authHttp(p, 'GET', '/user');
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { code: 'bad_jwt', message: 'invalid claim: missing sub claim' });
  });

  it('weak passwords list their reasons', async () => {
    const res = await authHttp(p, 'POST', '/signup', { body: { email: newEmail(), password: 'ABCDEFG' } });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body, {
      code: 'weak_password',
      message: 'Password should be at least 10 characters. Password should contain at least one character of each: abcdefghijklmnopqrstuvwxyz, 0123456789.',
      weak_password: { reasons: ['length', 'characters'] },
    });
    const ok = await authHttp(p, 'POST', '/signup', { body: { email: newEmail(), password: PASSWORD } });
    assert.equal(ok.status, 200);
  });

  it('no partial write: a refused sign-up leaves no user', async () => {
    const email = newEmail();
    await authHttp(p, 'POST', '/signup', { body: { email, password: 'short' } });
    const list = await authHttp(p, 'GET', '/admin/users?per_page=1000', { token: p.serviceKey });
    assert.ok(!list.body.users.some((u: { email: string }) => u.email === email));
  });
});

describe('browsers', () => {
  it('preflights are answered and responses allow any origin', async () => {
    const pre = await http('OPTIONS', `/project/${p.ref}/auth/v1/token?grant_type=password`, {
      headers: { origin: 'http://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey, content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-headers')!, /apikey/);
    const res = await authHttp(p, 'GET', '/settings', { headers: { origin: 'http://app.example.com' } });
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });
});

describe('health and settings', () => {
  it('GET /health', async () => {
    const res = await authHttp(p, 'GET', '/health');
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'GoTrue');
  });

  it('GET /.well-known/jwks.json lists no key (HS256 only), and getClaims still verifies a session', async () => {
    const res = await authHttp(p, 'GET', '/.well-known/jwks.json');
    assert.deepEqual([res.status, res.body], [200, { keys: [] }]);
    const c = client(p);
    const email = newEmail();
    await c.auth.signUp({ email, password: PASSWORD });
    const { data, error } = await c.auth.getClaims();
    assert.equal(error, null);
    assert.equal(data!.claims.email, email);
  });

  it('GET /settings reflects the project config', async () => {
    const res = await authHttp(p, 'GET', '/settings');
    assert.equal(res.status, 200);
    assert.equal(res.body.mailer_autoconfirm, true);
    assert.equal(res.body.disable_signup, false);
    assert.equal(res.body.external.email, true);
    assert.equal(res.body.external.anonymous_users, false);
  });
});
