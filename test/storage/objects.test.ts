// Objects through supabase-js (upload, update, download, info, exists, list, listV2, move, copy, remove) and raw
// HTTP for headers, conditional and range requests, limits, path rules and the files a failed upload leaves.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { createProject, type Project } from '../helpers/platform.ts';
import { client, errorOf, rawRequest, storageFetch } from './helpers.ts';

let p: Project;
const storedFiles = () => {
  const dir = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref, 'objects');
  return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
};
const stagingFiles = () => {
  const dir = path.join(process.env.LOAM_DATA_DIR!, 'storage', '.staging');
  return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
};

before(async () => {
  p = await createProject();
  await client(p).storage.createBucket('files');
  await client(p).storage.createBucket('images', { public: false, fileSizeLimit: 1000, allowedMimeTypes: ['image/*', 'application/pdf'] });
});

test('upload (multipart and raw), upsert, update, download, info, exists', async () => {
  const s = client(p).storage.from('files');
  const up = await s.upload('docs/a.txt', new Blob(['first'], { type: 'text/plain' }), { cacheControl: '120', metadata: { purpose: 'test' } });
  assert.equal(up.error, null);
  assert.equal(up.data!.path, 'docs/a.txt');
  assert.equal(up.data!.fullPath, 'files/docs/a.txt');
  assert.match(up.data!.id, /^[0-9a-f-]{36}$/);

  const dup = await s.upload('docs/a.txt', new Blob(['again']));
  assert.equal(dup.error?.message, 'The resource already exists');
  assert.equal((dup.error as unknown as { statusCode: string }).statusCode, '409');

  const raw = await s.upload('docs/b.bin', Buffer.from([1, 2, 3, 4]), { contentType: 'application/octet-stream' });
  assert.equal(raw.error, null);
  assert.equal(Buffer.from(await (await s.download('docs/b.bin')).data!.arrayBuffer()).toString('hex'), '01020304');

  const upserted = await s.upload('docs/a.txt', new Blob(['second'], { type: 'text/plain' }), { upsert: true });
  assert.equal(upserted.error, null);
  assert.equal(await (await s.download('docs/a.txt')).data!.text(), 'second');
  const updated = await s.update('docs/a.txt', new Blob(['third!'], { type: 'text/markdown' }), { cacheControl: '60' });
  assert.equal(updated.error, null);
  assert.equal(await (await s.download('docs/a.txt')).data!.text(), 'third!');
  // Replaced versions do not stay on disk: two objects, two files.
  assert.equal(storedFiles(), 2);

  const info = await s.info('docs/a.txt');
  assert.equal(info.error, null);
  assert.equal(info.data!.name, 'docs/a.txt');
  assert.equal(info.data!.bucketId, 'files');
  assert.equal(info.data!.size, 6);
  assert.equal(info.data!.contentType, 'text/markdown');
  assert.equal(info.data!.cacheControl, 'max-age=60');
  assert.match(String(info.data!.etag), /^"[0-9a-f]{32}"$/);
  assert.deepEqual((await s.exists('docs/a.txt')).data, true);
  assert.deepEqual((await s.exists('docs/none.txt')).data, false);

  const withMeta = await s.upload('docs/meta.txt', Buffer.from('m'), { contentType: 'text/plain', metadata: { a: 1 } });
  assert.equal(withMeta.error, null);
  assert.deepEqual((await s.info('docs/meta.txt')).data!.metadata, { a: 1 });
  const missing = await s.download('docs/none.txt');
  assert.equal((missing.error as unknown as { statusCode: string }).statusCode, '404');
});

test('download headers: ETag, If-None-Match, Range, cache-control, download name', async () => {
  await client(p).storage.from('files').upload('h/range.txt', Buffer.from('0123456789'), { contentType: 'text/plain', cacheControl: '300' });
  const full = await storageFetch(p, '/object/files/h/range.txt');
  assert.equal(full.status, 200);
  assert.equal(await full.text(), '0123456789');
  const etag = full.headers.get('etag')!;
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  assert.equal(full.headers.get('content-type'), 'text/plain');
  assert.equal(full.headers.get('content-length'), '10');
  assert.equal(full.headers.get('cache-control'), 'max-age=300');
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  assert.ok(full.headers.get('last-modified'));

  const same = await storageFetch(p, '/object/files/h/range.txt', { headers: { 'if-none-match': etag } });
  assert.equal(same.status, 304);
  assert.equal(await same.text(), '');
  assert.equal((await storageFetch(p, '/object/files/h/range.txt', { headers: { 'if-none-match': '"other"' } })).status, 200);

  const part = await storageFetch(p, '/object/files/h/range.txt', { headers: { range: 'bytes=2-5' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 2-5/10');
  assert.equal(await part.text(), '2345');
  const suffix = await storageFetch(p, '/object/authenticated/files/h/range.txt', { headers: { range: 'bytes=-3' } });
  assert.equal(await suffix.text(), '789');
  const open = await storageFetch(p, '/object/files/h/range.txt', { headers: { range: 'bytes=8-' } });
  assert.equal(await open.text(), '89');
  for (const range of ['bytes=20-30', 'bytes=5-2', 'items=0-1', 'bytes=-0']) {
    const bad = await storageFetch(p, '/object/files/h/range.txt', { headers: { range } });
    assert.equal(bad.status, 416, range);
    assert.deepEqual(await bad.json(), { statusCode: '416', code: 'InvalidRange', error: 'invalid_range', message: 'invalid range provided' });
  }

  const head = await storageFetch(p, '/object/files/h/range.txt', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '10');
  assert.equal(head.headers.get('etag'), etag);

  const named = await storageFetch(p, '/object/files/h/range.txt?download=report%20v1.txt');
  assert.equal(named.headers.get('content-disposition'), "attachment; filename=report%20v1.txt; filename*=UTF-8''report%20v1.txt");
  const attach = await storageFetch(p, '/object/files/h/range.txt?download');
  assert.equal(attach.headers.get('content-disposition'), 'attachment;');

  // HTML is served as text so a stored page cannot run under the project's origin.
  await client(p).storage.from('files').upload('h/page.html', Buffer.from('<script>1</script>'), { contentType: 'text/html' });
  assert.equal((await storageFetch(p, '/object/files/h/page.html')).headers.get('content-type'), 'text/plain');
});

test('list (one level, search, paging, sorting) and list v2 (delimiter, cursor)', async () => {
  const s = client(p).storage.from('files');
  for (const name of ['l/b.txt', 'l/a.txt', 'l/c.txt', 'l/sub/x.txt', 'l/sub/y.txt', 'l/sub/deeper/z.txt']) {
    assert.equal((await s.upload(name, Buffer.from(name), { contentType: 'text/plain' })).error, null);
  }
  const level = await s.list('l');
  assert.deepEqual(level.data!.map((e) => [e.name, e.id === null]), [['a.txt', false], ['b.txt', false], ['c.txt', false], ['sub', true]]);
  const file = level.data!.find((e) => e.name === 'a.txt')!;
  assert.equal(file.metadata!.size, 7);
  assert.equal(file.metadata!.mimetype, 'text/plain');
  assert.deepEqual((await s.list('l', { search: 'b' })).data!.map((e) => e.name), ['b.txt']);
  assert.deepEqual((await s.list('l', { limit: 2, offset: 1 })).data!.map((e) => e.name), ['b.txt', 'c.txt']);
  assert.deepEqual((await s.list('l', { sortBy: { column: 'name', order: 'desc' } })).data!.map((e) => e.name), ['sub', 'c.txt', 'b.txt', 'a.txt']);
  assert.deepEqual((await s.list('l/sub')).data!.map((e) => e.name), ['deeper', 'x.txt', 'y.txt']);
  assert.deepEqual((await s.list('nothing-here')).data, []);
  const badSort = await s.list('l', { sortBy: { column: 'size', order: 'asc' } });
  assert.equal(badSort.error?.message, 'sortBy.column must be one of name, updated_at, created_at, last_accessed_at');

  const v2 = await s.listV2({ prefix: 'l/', with_delimiter: true });
  assert.equal(v2.error, null);
  assert.deepEqual(v2.data!.folders.map((f) => f.name), ['l/sub/']);
  assert.deepEqual(v2.data!.objects.map((o) => o.name), ['l/a.txt', 'l/b.txt', 'l/c.txt']);
  assert.equal(v2.data!.hasNext, false);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await s.listV2({ prefix: 'l/', limit: 4, cursor });
    seen.push(...page.data!.objects.map((o) => o.name));
    cursor = page.data!.hasNext ? page.data!.nextCursor : undefined;
  } while (cursor);
  assert.deepEqual(seen, ['l/a.txt', 'l/b.txt', 'l/c.txt', 'l/sub/deeper/z.txt', 'l/sub/x.txt', 'l/sub/y.txt']);
  // Newest first, two per page: the cursor carries the order and the last row's timestamp.
  const byDate: string[] = [];
  cursor = undefined;
  do {
    const page = await s.listV2({ prefix: 'l/', limit: 2, cursor, sortBy: { column: 'created_at', order: 'desc' } });
    assert.equal(page.error, null);
    byDate.push(...page.data!.objects.map((o) => o.name));
    cursor = page.data!.hasNext ? page.data!.nextCursor : undefined;
  } while (cursor);
  assert.deepEqual(byDate, ['l/sub/deeper/z.txt', 'l/sub/y.txt', 'l/sub/x.txt', 'l/c.txt', 'l/a.txt', 'l/b.txt']);
  const desc = await s.listV2({ prefix: 'l/', with_delimiter: true, sortBy: { column: 'name', order: 'desc' } });
  assert.deepEqual([...desc.data!.folders, ...desc.data!.objects].map((e) => e.name), ['l/sub/', 'l/c.txt', 'l/b.txt', 'l/a.txt']);
});

test('move, copy and remove', async () => {
  const s = client(p).storage.from('files');
  await s.upload('m/orig.txt', Buffer.from('payload'), { contentType: 'text/plain', metadata: { k: 'v' } });
  const before = storedFiles();
  const moved = await s.move('m/orig.txt', 'm/moved.txt');
  assert.equal(moved.data!.message, 'Successfully moved');
  assert.equal((moved.data as unknown as { Key: string }).Key, 'm/moved.txt');
  assert.equal(storedFiles(), before, 'a move does not copy bytes');
  assert.equal(await (await s.download('m/moved.txt')).data!.text(), 'payload');
  assert.equal((await s.exists('m/orig.txt')).data, false);
  assert.equal((await s.move('m/orig.txt', 'm/x.txt')).error?.message, 'Object not found');

  const copied = await s.copy('m/moved.txt', 'm/copy.txt');
  assert.deepEqual(copied.data, { path: 'files/m/copy.txt' });
  assert.equal(await (await s.download('m/copy.txt')).data!.text(), 'payload');
  assert.deepEqual((await s.info('m/copy.txt')).data!.metadata, { k: 'v' });
  assert.equal(storedFiles(), before + 1);
  assert.equal((await s.copy('m/moved.txt', 'm/copy.txt')).error?.message, 'The resource already exists');
  const cross = await client(p).storage.from('files').copy('m/moved.txt', 'm/elsewhere.txt', { destinationBucket: 'images' });
  assert.equal(cross.error, null);
  assert.equal((await client(p).storage.from('images').exists('m/elsewhere.txt')).data, true);

  const removed = await s.remove(['m/moved.txt', 'm/copy.txt', 'm/never.txt']);
  assert.deepEqual(removed.data!.map((o) => o.name).sort(), ['m/copy.txt', 'm/moved.txt']);
  assert.equal(storedFiles(), before);
  const single = await storageFetch(p, '/object/images/m/elsewhere.txt', { method: 'DELETE' });
  assert.deepEqual(await single.json(), { message: 'Successfully deleted' });
  const gone = await errorOf(await storageFetch(p, '/object/images/m/elsewhere.txt', { method: 'DELETE' }));
  assert.deepEqual([gone.status, gone.statusCode, gone.message], [400, '404', 'Object not found']);
  const badBulk = await errorOf(await storageFetch(p, '/object/files', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{"prefixes":[]}' }));
  assert.equal(badBulk.statusCode, '400');
});

test('bucket and project limits: size → 413, MIME type → 415; no row and no bytes are left', async () => {
  const s = client(p).storage.from('images');
  const files = storedFiles();
  const tooBig = await s.upload('big.png', new Blob([Buffer.alloc(1001)], { type: 'image/png' }));
  assert.equal(tooBig.error?.message, 'The object exceeded the maximum allowed size');
  assert.equal((tooBig.error as unknown as { statusCode: string }).statusCode, '413');
  const rawBig = await storageFetch(p, '/object/images/raw.png', { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(5000) });
  assert.deepEqual([(await errorOf(rawBig)).statusCode], ['413']);
  // A streamed body with no Content-Length is cut off at the limit too.
  const stream = new ReadableStream({ start(c) { c.enqueue(new Uint8Array(800)); c.enqueue(new Uint8Array(800)); c.close(); } });
  const chunked = await storageFetch(p, '/object/images/chunked.png', { method: 'POST', headers: { 'content-type': 'image/png' }, body: stream, duplex: 'half' } as RequestInit);
  assert.equal((await errorOf(chunked)).statusCode, '413');
  const wrongType = await s.upload('doc.txt', new Blob(['x'], { type: 'text/plain' }));
  assert.equal(wrongType.error?.message, 'mime type text/plain is not supported');
  assert.equal((wrongType.error as unknown as { statusCode: string }).statusCode, '415');
  assert.equal((await s.upload('ok.png', new Blob([Buffer.alloc(1000)], { type: 'image/png' }))).error, null);
  assert.equal((await s.upload('ok.pdf', Buffer.alloc(10), { contentType: 'application/pdf' })).error, null);
  assert.deepEqual((await s.list()).data!.map((o) => o.name).sort(), ['ok.pdf', 'ok.png']);
  assert.equal(storedFiles(), files + 2);
  assert.equal(stagingFiles(), 0);
});

test('keys: traversal, absolute and odd encodings are rejected; unknown bucket is 404', async () => {
  for (const bad of ['a/../b.txt', 'a/%2e%2e/b.txt', '%2e%2e', '..', './a.txt', '%2Fabs.txt', 'a/%00.txt', 'tab%09.txt', '%C0%AE%C0%AE/x', '%E0%A4%A']) {
    const res = await rawRequest(p, 'POST', `/object/files/${bad}`, 'x', { 'content-type': 'text/plain' });
    assert.equal(res.status, 400, `${bad}: ${res.body}`);
    assert.ok(['InvalidKey', 'InvalidRequest'].includes(JSON.parse(res.body).code), `${bad}: ${res.body}`);
    const read = await rawRequest(p, 'GET', `/object/files/${bad}`);
    assert.equal(read.status, 400, `${bad}: ${read.body}`);
  }
  assert.deepEqual((await client(p).storage.from('files').list()).data!.filter((e) => e.name === 'b.txt'), []);
  const nb = await errorOf(await storageFetch(p, '/object/nobucket/a.txt', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }));
  assert.deepEqual([nb.statusCode, nb.error, nb.message], ['404', 'Bucket not found', 'Bucket not found']);
  const empty = await errorOf(await storageFetch(p, '/object/files/form.txt', { method: 'POST', body: new FormData() }));
  assert.deepEqual([empty.statusCode, empty.message], ['400', 'No content provided']);
  // Unicode and spaces that storage-api allows still work.
  assert.equal((await client(p).storage.from('files').upload('dir with space/ok (1).txt', Buffer.from('ok'), { contentType: 'text/plain' })).error, null);
  assert.equal(await (await client(p).storage.from('files').download('dir with space/ok (1).txt')).data!.text(), 'ok');
});
