// Every request error a caller can cause, as data: request → HTTP status, body statusCode, code and message
// (storage-api's shape); and an upload cut off mid-body leaves no row, no object file and no staging file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { before, test } from 'node:test';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { client, storageFetch } from './helpers.ts';

let p: Project;
before(async () => {
  p = await createProject();
  await client(p).storage.createBucket('b', { public: false, allowedMimeTypes: ['text/plain'] });
  await client(p).storage.from('b').upload('exists.txt', Buffer.from('x'), { contentType: 'text/plain' });
});

const JSON_TYPE = { 'content-type': 'application/json' };
const twoFiles = () => { const f = new FormData(); f.append('a', new Blob(['1'], { type: 'text/plain' })); f.append('b', new Blob(['2'], { type: 'text/plain' })); return f; };

const bigMetadata = () => { const f = new FormData(); f.append('metadata', JSON.stringify({ a: 'x'.repeat(1_100_000) })); f.append('', new Blob(['1'], { type: 'text/plain' })); return f; };

type Case = [string, string, RequestInit, number, string, string, string | RegExp];
const cases: Case[] = [
  ['bucket update with a bad MIME type', '/bucket/b', { method: 'PUT', headers: JSON_TYPE, body: '{"allowed_mime_types":["x"]}' }, 400, '415', 'InvalidMimeType', 'mime type x is not supported'],
  ['bucket update with a non-boolean public', '/bucket/b', { method: 'PUT', headers: JSON_TYPE, body: '{"public":"yes"}' }, 400, '400', 'InvalidParameter', 'public must be a boolean'],
  ['bucket body not an object', '/bucket', { method: 'POST', headers: JSON_TYPE, body: '[1]' }, 400, '400', 'InvalidRequest', 'Body must be a JSON object'],
  ['upload of a type the bucket refuses (raw)', '/object/b/x.png', { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' }, 400, '415', 'InvalidMimeType', 'mime type image/png is not supported'],
  ['upload of two files in one form', '/object/b/two.txt', { method: 'POST', body: twoFiles() }, 400, '400', 'InvalidRequest', 'Only one file can be uploaded at a time'],
  ['a malformed multipart body', '/object/b/m.txt', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=zzz' }, body: '--zzz\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nunterminated' }, 400, '400', 'InvalidRequest', /Malformed multipart|No content provided/],
  ['user metadata over 1 MB', '/object/b/meta.txt', { method: 'POST', body: bigMetadata() }, 400, '413', 'EntityTooLarge', 'The user_metadata exceeded the maximum allowed size'],
  ['move without a destination', '/object/move', { method: 'POST', headers: JSON_TYPE, body: '{"bucketId":"b","sourceKey":"exists.txt"}' }, 400, '400', 'MissingParameter', 'Missing Required Parameter destinationKey'],
  ['move to a traversal key', '/object/move', { method: 'POST', headers: JSON_TYPE, body: '{"bucketId":"b","sourceKey":"exists.txt","destinationKey":"../x"}' }, 400, '400', 'InvalidKey', 'Invalid key: ../x'],
  ['move to a bucket that does not exist', '/object/move', { method: 'POST', headers: JSON_TYPE, body: '{"bucketId":"b","sourceKey":"exists.txt","destinationKey":"y","destinationBucket":"nope"}' }, 400, '404', 'InvalidRequest', 'The related resource does not exist'],
  ['copy of a missing object', '/object/copy', { method: 'POST', headers: JSON_TYPE, body: '{"bucketId":"b","sourceKey":"none.txt","destinationKey":"y"}' }, 400, '404', 'NoSuchKey', 'Object not found'],
  ['bulk delete without prefixes', '/object/b', { method: 'DELETE', headers: JSON_TYPE, body: '{}' }, 400, '400', 'InvalidRequest', 'body/prefixes must be a non-empty array of strings'],
  ['bulk delete of too many', '/object/b', { method: 'DELETE', headers: JSON_TYPE, body: JSON.stringify({ prefixes: Array.from({ length: 1001 }, (_, i) => `k${i}`) }) }, 400, '400', 'InvalidRequest', 'Bulk object requests are limited to 1000 objects per request.'],
  ['list without a prefix', '/object/list/b', { method: 'POST', headers: JSON_TYPE, body: '{}' }, 400, '400', 'MissingParameter', 'Missing Required Parameter prefix'],
  ['list with a negative limit', '/object/list/b', { method: 'POST', headers: JSON_TYPE, body: '{"prefix":"","limit":-1}' }, 400, '400', 'InvalidParameter', 'limit must be an integer >= 1'],
  ['list-v2 sorted by a column it cannot', '/object/list-v2/b', { method: 'POST', headers: JSON_TYPE, body: '{"with_delimiter":true,"sortBy":{"column":"last_accessed_at"}}' }, 400, '400', 'InvalidParameter', 'sortBy.column must be one of name, created_at, updated_at'],
  ['list-v2 with a bad cursor', '/object/list-v2/b', { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ cursor: Buffer.from('zz').toString('base64') }) }, 400, '400', 'InvalidParameter', 'Invalid Parameter continuation token'],
  ['sign without expiresIn', '/object/sign/b/exists.txt', { method: 'POST', headers: JSON_TYPE, body: '{}' }, 400, '400', 'InvalidRequest', "body must have required property 'expiresIn'"],
  ['batch sign without paths', '/object/sign/b', { method: 'POST', headers: JSON_TYPE, body: '{"expiresIn":60}' }, 400, '400', 'InvalidRequest', 'body/paths must be an array of 1 to 1000 strings'],
  ['signed upload without a token', '/object/upload/sign/b/x.txt', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'x' }, 400, '400', 'InvalidRequest', "querystring must have required property 'token'"],
  ['download of a missing object', '/object/b/none.txt', {}, 400, '404', 'NoSuchKey', 'Object not found'],
  ['info of a missing bucket', '/object/info/nope/x.txt', {}, 400, '404', 'NoSuchBucket', 'Bucket not found'],
  ['an invalid bucket name in a path', '/object/b%25d/x.txt', {}, 400, '400', 'InvalidBucketName', 'Bucket name invalid'],
];

test('request errors: status, statusCode, code and message', async () => {
  for (const [what, url, init, status, statusCode, code, message] of cases) {
    const res = await storageFetch(p, url, init);
    const text = await res.text();
    const body = text ? JSON.parse(text) : assert.fail(`${what}: empty body, status ${res.status}`);
    assert.equal(res.status, status, `${what}: ${JSON.stringify(body)}`);
    assert.equal(body.statusCode, statusCode, what);
    assert.equal(body.code, code, what);
    if (typeof message === 'string') assert.equal(body.message, message, what);
    else assert.match(body.message, message, what);
    assert.ok(typeof body.error === 'string', what);
  }
  // None of them wrote anything.
  assert.deepEqual((await sql(p, `select name from storage.objects order by name`)).map((r) => r.name), ['exists.txt']);
});

test('an upload cut off mid-body leaves no row, no object file and no staging file', async () => {
  const root = path.join(process.env.LOAM_DATA_DIR!, 'storage');
  const count = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).length : 0);
  const objectsBefore = count(path.join(root, p.ref, 'objects'));
  const u = new URL(p.url);
  await new Promise<void>((resolve) => {
    const req = http.request({
      host: u.hostname, port: u.port, method: 'POST', path: `${u.pathname}/storage/v1/object/b/partial.txt`,
      headers: { authorization: `Bearer ${p.serviceKey}`, 'content-type': 'text/plain', 'content-length': String(4 * 1024 * 1024) },
    });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(Buffer.alloc(512 * 1024, 97));
    setTimeout(() => { req.destroy(); resolve(); }, 300);
  });
  const until = Date.now() + 5000;
  while (count(path.join(root, '.staging')) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(count(path.join(root, '.staging')), 0);
  assert.equal(count(path.join(root, p.ref, 'objects')), objectsBefore);
  assert.deepEqual(await sql(p, `select name from storage.objects where name = 'partial.txt'`), []);
});
