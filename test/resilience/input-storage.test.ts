// Hostile input to the storage API (storage-api's shape, `{statusCode, error, message}`): integers past
// Postgres' integer in listing, bucket listing and signing; NUL bytes in prefixes, names and search strings;
// JSON nested past the limit. Each is a 400, never a 500.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { errorOf, storageFetch } from '../storage/helpers.ts';

let p: Project;
before(async () => {
  p = await createProject();
  await sql(p, `insert into storage.buckets (id, name) values ('docs', 'docs')`);
  const up = await storageFetch(p, '/object/docs/a/file.txt', { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(up.status, 200);
});

const post = (path: string, body: unknown) =>
  storageFetch(p, path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const param = (message: string) => ({ status: 400, statusCode: '400', code: 'InvalidParameter', error: 'InvalidParameter', message });

test('list limit and offset past Postgres\' integer are InvalidParameter', async () => {
  const cases: [unknown, string][] = [
    [{ prefix: '', limit: 1e12 }, 'limit must be at most 2147483647'],
    [{ prefix: '', offset: 1e12 }, 'offset must be at most 2147483647'],
    [{ prefix: '', limit: 2 ** 31 }, 'limit must be at most 2147483647'],
    [{ prefix: '', offset: 1e300 }, 'offset must be at most 2147483647'],
    [{ prefix: '', limit: 1.5 }, 'limit must be an integer >= 1'],
    [{ prefix: '', offset: -1 }, 'offset must be an integer >= 0'],
  ];
  for (const [body, message] of cases) {
    assert.deepEqual(await errorOf(await post('/object/list/docs', body)), param(message), JSON.stringify(body));
  }
  assert.deepEqual(await errorOf(await post('/object/list-v2/docs', { limit: 1e12 })), param('limit must be at most 2147483647'));
  // The largest integer Postgres takes works.
  const ok = await post('/object/list/docs', { prefix: 'a', limit: 2 ** 31 - 1, offset: 2 ** 31 - 1 });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), []);
});

test('bucket listing and signing bound their integers the same way', async () => {
  assert.deepEqual(await errorOf(await storageFetch(p, '/bucket?limit=1000000000000')), param('limit must be at most 2147483647'));
  assert.deepEqual(await errorOf(await storageFetch(p, '/bucket?offset=99999999999999999999')), param('offset must be at most 2147483647'));
  assert.deepEqual(await errorOf(await post('/object/sign/docs/a/file.txt', { expiresIn: 1e12 })), param('expiresIn must be at most 2147483647'));
});

test('a NUL byte in a prefix, search string or name is InvalidParameter, naming it', async () => {
  const nul = (name: string) => param(`${name} must not contain NUL characters (\\u0000)`);
  assert.deepEqual(await errorOf(await post('/object/list/docs', { prefix: 'a\u0000' })), nul('prefix'));
  assert.deepEqual(await errorOf(await post('/object/list/docs', { prefix: '', search: '\u0000' })), nul('search'));
  assert.deepEqual(await errorOf(await post('/object/list-v2/docs', { prefix: 'a\u0000' })), nul('prefix'));
  assert.deepEqual(await errorOf(await post('/object/list/docs', { prefix: '', sortBy: { column: 'name\u0000' } })), nul('sortBy.column'));
  assert.deepEqual(await errorOf(await post('/bucket', { name: 'x\u0000' })), nul('name'));
  assert.deepEqual(await errorOf(await storageFetch(p, '/bucket?search=%00')), nul('search'));
  // In a path: not a valid bucket name or key, as storage-api says.
  const key = await errorOf(await storageFetch(p, '/object/docs/a%00b'));
  assert.deepEqual([key.status, key.code], [400, 'InvalidKey']);
});

test('JSON nested deeper than 512 levels is InvalidRequest', async () => {
  const res = await post('/object/list/docs', '{"prefix":"","sortBy":' + '{"a":'.repeat(600) + '1' + '}'.repeat(600) + '}');
  assert.deepEqual(await errorOf(res), {
    status: 400, statusCode: '400', code: 'InvalidRequest', error: 'InvalidRequest', message: 'JSON nesting is too deep: the maximum is 512 levels',
  });
});

test('user metadata nested deeper than 512 levels is InvalidRequest, in a header or a form field', async () => {
  const expected = {
    status: 400, statusCode: '400', code: 'InvalidRequest', error: 'InvalidRequest',
    message: 'user_metadata: JSON nesting is too deep: the maximum is 512 levels',
  };
  const deepArray = '['.repeat(5000) + ']'.repeat(5000);
  const header = await storageFetch(p, '/object/docs/meta/header.txt', {
    method: 'POST', body: 'x', headers: { 'content-type': 'text/plain', 'x-metadata': Buffer.from(deepArray).toString('base64') },
  });
  assert.deepEqual(await errorOf(header), expected);
  const form = new FormData();
  form.append('metadata', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000));
  form.append('file', new Blob(['x'], { type: 'text/plain' }), 'form.txt');
  assert.deepEqual(await errorOf(await storageFetch(p, '/object/docs/meta/form.txt', { method: 'POST', body: form })), expected);
  const listed = await (await post('/object/list/docs', { prefix: 'meta' })).json();
  assert.deepEqual(listed, []);
});
