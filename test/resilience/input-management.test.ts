// Hostile input to the Management API: NUL bytes in every string that reaches Postgres (names, emails, every
// auth setting, path parameters), JSON nested past the limit. Each is a 400 in the API's `{message, code}`
// shape, never a 500, and nothing is written.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, type Account, type Project } from '../helpers/platform.ts';

let p: Project;
let account: Account;
before(async () => {
  p = await createProject(undefined, 'input project');
  account = p.owner;
});

const nul = (name: string) => `${name} must not contain NUL characters (\\u0000)`;
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

test('a NUL byte in names and emails is invalid_body, naming the field', async () => {
  const cases: [string, string, unknown, string][] = [
    ['PATCH', `/v1/projects/${p.ref}`, { name: 'a\u0000b' }, 'name'],
    ['POST', '/v1/organizations', { name: 'org\u0000' }, 'name'],
    ['POST', '/v1/projects', { name: 'x\u0000', organization_slug: account.org, db_pass: 'long enough pass' }, 'name'],
    ['POST', '/v1/auth/tokens', { name: 'token\u0000' }, 'name'],
    ['POST', '/v1/auth/signup', { email: 'a\u0000b@example.com', password: 'correct horse battery' }, 'email'],
    ['POST', '/v1/auth/login', { email: account.email, password: 'pass\u0000word' }, 'password'],
    ['POST', '/v1/auth/forgot', { email: 'a\u0000@example.com' }, 'email'],
  ];
  for (const [method, path, body, field] of cases) {
    const res = await http(method, path, { token: account.token, body });
    assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, { message: nul(field), code: 'invalid_body' }, `${method} ${path}`);
  }
  const project = await http('GET', `/v1/projects/${p.ref}`, { token: account.token });
  assert.equal(project.body.name, 'input project');
});

test('a NUL byte or 64 KiB of text in any auth setting is invalid_body, naming the setting; nothing changes', async () => {
  const before = (await http('GET', `/v1/projects/${p.ref}/config/auth`, { token: account.token })).body;
  const keys = Object.keys(before);
  assert.ok(keys.length > 10, 'the auth settings are listed');
  for (const key of keys) {
    const res = await http('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: account.token, body: { [key]: 'x\u0000y' } });
    assert.equal(res.status, 400, `${key}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, { message: nul(key), code: 'invalid_body' }, key);
  }
  // Inside a nested value and as a key, too.
  const nested = await http('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: account.token, body: { uri_allow_list: ['ok', { a: '\u0000' }] } });
  assert.deepEqual([nested.status, nested.body], [400, { message: nul('uri_allow_list.1.a'), code: 'invalid_body' }]);
  const key = await http('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: account.token, body: { 'site\u0000url': 'http://x' } });
  assert.deepEqual([key.status, key.body], [400, { message: nul('a key of body'), code: 'invalid_body' }]);
  const long = await http('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: account.token, body: { uri_allow_list: 'x'.repeat(65_537) } });
  assert.deepEqual([long.status, long.body], [400, { message: 'uri_allow_list must be at most 65536 characters', code: 'invalid_body' }]);
  assert.deepEqual((await http('GET', `/v1/projects/${p.ref}/config/auth`, { token: account.token })).body, before);
});

test('a NUL byte (%00) in a path parameter is invalid_path, for every kind of parameter', async () => {
  const cases: [string, string, string][] = [
    ['GET', '/v1/projects/%00', 'ref'],
    ['GET', '/v1/projects/a%00b/api-keys', 'ref'],
    ['PATCH', '/v1/projects/%00/config/auth', 'ref'],
    ['POST', '/v1/projects/%00/database/query', 'ref'],
    ['GET', '/v1/organizations/%00', 'slug'],
    ['GET', '/v1/organizations/%00/members', 'slug'],
    ['DELETE', '/v1/auth/tokens/%00', 'id'],
  ];
  for (const [method, path, name] of cases) {
    const res = await http(method, path, { token: account.token, body: method === 'GET' || method === 'DELETE' ? undefined : { name: 'x', query: 'select 1' } });
    assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, { message: nul(name), code: 'invalid_path' }, path);
  }
});

test('JSON nested deeper than 512 levels is json_too_deep; 512 levels is parsed', async () => {
  for (const path of ['/v1/projects', `/v1/projects/${p.ref}/config/auth`, '/v1/auth/signup']) {
    const res = await http(path === '/v1/projects' ? 'POST' : path.endsWith('auth') ? 'PATCH' : 'POST', path, { token: account.token, body: deepObject(5000) });
    assert.equal(res.status, 400, path);
    assert.deepEqual(res.body, { message: 'JSON nesting is too deep: the maximum is 512 levels', code: 'json_too_deep' }, path);
  }
  // Brackets inside strings do not count; at the limit the body is parsed (and then judged on its content).
  const inString = await http('POST', '/v1/organizations', { token: account.token, body: { name: '['.repeat(600) } });
  assert.equal(inString.body.code === 'json_too_deep', false);
  const atLimit = await http('POST', '/v1/organizations', { token: account.token, body: `{"name":${'['.repeat(511)}${']'.repeat(511)}}` });
  assert.deepEqual([atLimit.status, atLimit.body], [400, { message: 'name must be a string', code: 'invalid_body' }]);
  const over = await http('POST', '/v1/organizations', { token: account.token, body: `{"name":${'['.repeat(512)}${']'.repeat(512)}}` });
  assert.deepEqual([over.status, over.body.code], [400, 'json_too_deep']);
});
