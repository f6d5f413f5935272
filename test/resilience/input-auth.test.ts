// Hostile input to the auth API (GoTrue's shape, `{code, error_code, msg}`): NUL bytes in body fields, user
// metadata and the URL, JSON nested past the limit, malformed percent-encoding in a path, pagination past
// Postgres' integer. Each is a 400, never a 500, and no user is created.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';

let p: Project;
before(async () => { p = await createProject(); });

const auth = (method: string, path: string, body?: unknown, key = p.anonKey) =>
  http(method, `/project/${p.ref}/auth/v1${path}`, { body, headers: { apikey: key, authorization: `Bearer ${key}` } });
const failed = (msg: string) => ({ code: 400, error_code: 'validation_failed', msg });
const nul = (name: string) => failed(`${name} must not contain NUL characters (\\u0000)`);

test('a NUL byte in a body field is validation_failed, naming the field', async () => {
  const cases: [string, string, unknown, string, string?][] = [
    ['POST', '/signup', { email: 'a\u0000b@example.com', password: 'a fine password 1' }, 'email'],
    ['POST', '/signup', { email: 'ab@example.com', password: 'a fine\u0000password' }, 'password'],
    ['POST', '/token?grant_type=password', { email: 'a\u0000@example.com', password: 'x' }, 'email'],
    ['POST', '/token?grant_type=refresh_token', { refresh_token: '\u0000' }, 'refresh_token'],
    ['POST', '/otp', { email: 'a@example.com\u0000' }, 'email'],
    ['POST', '/recover', { email: '\u0000' }, 'email'],
    ['POST', '/verify', { type: 'signup', token: '1\u0000', email: 'a@example.com' }, 'token'],
    ['POST', '/admin/users', { email: 'n\u0000@example.com' }, 'email', 'service'],
  ];
  for (const [method, path, body, field, who] of cases) {
    const res = await auth(method, path, body, who ? p.serviceKey : p.anonKey);
    assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, nul(field), path);
    assert.equal(res.headers.get('x-sb-error-code'), 'validation_failed');
  }
});

test('a NUL byte inside user metadata (json) is validation_failed with Postgres\' message', async () => {
  const res = await auth('POST', '/admin/users', { email: 'meta@example.com', user_metadata: { name: 'x\u0000' } }, p.serviceKey);
  assert.deepEqual([res.status, res.body], [400, failed('unsupported Unicode escape sequence')]);
  const signup = await auth('POST', '/signup', { email: 'meta2@example.com', password: 'a fine password 1', data: { a: ['\u0000'] } });
  assert.deepEqual([signup.status, signup.body], [400, failed('unsupported Unicode escape sequence')]);
  assert.deepEqual(await sql(p, "select count(*)::int as n from auth.users where email like 'meta%'"), [{ n: 0 }]);
});

test('a NUL byte (%00) anywhere in the URL is validation_failed', async () => {
  for (const path of ['/verify?token=%00&type=signup', '/admin/outbox?email=a%00b', '/admin/users/%00', '/signup?redirect_to=http://x/%00']) {
    const res = await auth(path.startsWith('/signup') ? 'POST' : 'GET', path, path.startsWith('/signup') ? {} : undefined, p.serviceKey);
    assert.deepEqual([res.status, res.body], [400, failed('The URL must not contain NUL characters (%00)')], path);
  }
});

test('JSON nested deeper than 512 levels is bad_json', async () => {
  const deep = '{"data":' + '{"a":'.repeat(600) + '1' + '}'.repeat(600) + '}';
  const res = await http('POST', `/project/${p.ref}/auth/v1/signup`, { body: deep, headers: { apikey: p.anonKey } });
  assert.deepEqual([res.status, res.body], [400, { code: 400, error_code: 'bad_json', msg: 'Could not parse request body as JSON: JSON nesting is too deep: the maximum is 512 levels' }]);
});

test('a path parameter that is not valid percent-encoding is a 400, not a 500', async () => {
  for (const path of ['/admin/users/%ZZ', '/admin/users/%C0%AF/factors', '/admin/users/%FF%FE']) {
    const res = await auth('GET', path, undefined, p.serviceKey);
    assert.equal(res.status, 400, path);
    assert.equal(res.body.error_code, 'validation_failed');
    assert.match(res.body.msg, /^Failed to decode param/);
  }
});

test('pagination past Postgres\' integer is refused in GoTrue\'s words', async () => {
  const res = await auth('GET', '/admin/users?page=99999999999999999999', undefined, p.serviceKey);
  assert.deepEqual([res.status, res.body], [400, failed('Bad Pagination Parameters: strconv.ParseUint: parsing "99999999999999999999": value out of range')]);
  const perPage = await auth('GET', '/admin/users?page=1&per_page=4294967296', undefined, p.serviceKey);
  assert.equal(perPage.status, 400);
  const offset = await auth('GET', '/admin/users?page=2147483647&per_page=2', undefined, p.serviceKey);
  assert.deepEqual([offset.status, offset.body], [400, failed('Bad Pagination Parameters: page * per_page is out of range')]);
  const last = await auth('GET', '/admin/users?page=2147483647&per_page=1', undefined, p.serviceKey);
  assert.deepEqual([last.status, last.body.users], [200, []]);
});
