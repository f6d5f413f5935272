// Image transformation: outputs decoded with sharp (dimensions, format), through supabase-js (download with
// transform, public URL, signed URL), limits, the variant cache, and bad options.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { client, errorOf, storageFetch } from './helpers.ts';

process.env.LOAM_IMAGE_MAX_INPUT_BYTES = '300000';

let p: Project;
const photo = () => sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toBuffer();
const decode = async (body: ArrayBuffer | Blob) => sharp(Buffer.from(body instanceof Blob ? await body.arrayBuffer() : body)).metadata();

before(async () => {
  p = await createProject();
  const s = client(p).storage;
  await s.createBucket('pics', { public: true });
  await s.createBucket('private');
  await s.from('pics').upload('photo.png', await photo(), { contentType: 'image/png' });
  await s.from('private').upload('photo.png', await photo(), { contentType: 'image/png' });
  await s.from('private').upload('notes.txt', Buffer.from('not an image'), { contentType: 'text/plain' });
});

test('download with transform: resize modes, formats, quality', async () => {
  const s = client(p).storage.from('private');
  const cover = await s.download('photo.png', { transform: { width: 100, height: 100, resize: 'cover' } });
  assert.equal(cover.error, null);
  assert.deepEqual(await decode(cover.data!).then((m) => [m.width, m.height, m.format]), [100, 100, 'png']);
  const contain = await s.download('photo.png', { transform: { width: 100, height: 100, resize: 'contain' } });
  assert.deepEqual(await decode(contain.data!).then((m) => [m.width, m.height]), [100, 100]);
  const widthOnly = await s.download('photo.png', { transform: { width: 200 } });
  assert.deepEqual(await decode(widthOnly.data!).then((m) => [m.width, m.height]), [200, 150]);

  for (const format of ['webp', 'avif', 'jpeg'] as const) {
    const res = await storageFetch(p, `/render/image/authenticated/private/photo.png?width=80&height=60&format=${format}&quality=50`);
    assert.equal(res.status, 200, format);
    assert.equal(res.headers.get('content-type'), `image/${format}`);
    assert.equal(res.headers.get('x-transformations'), `height:60,width:80,quality:50,format:${format}`);
    const m = await decode(await res.arrayBuffer());
    assert.deepEqual([m.width, m.height, m.format], [80, 60, format === 'avif' ? 'heif' : format]);
  }
});

test('public URL and signed URL render', async () => {
  const pub = client(p, p.anonKey).storage.from('pics').getPublicUrl('photo.png', { transform: { width: 64, height: 64 } });
  assert.match(pub.data.publicUrl, /\/render\/image\/public\/pics\/photo\.png\?width=64&height=64$/);
  const res = await fetch(pub.data.publicUrl);
  assert.equal(res.status, 200);
  assert.deepEqual(await decode(await res.arrayBuffer()).then((m) => [m.width, m.height]), [64, 64]);

  const signed = await client(p).storage.from('private').createSignedUrl('photo.png', 60, { transform: { width: 40, height: 30 } });
  assert.match(signed.data!.signedUrl, /\/render\/image\/sign\/private\/photo\.png\?token=/);
  // The token decides the transformation; query parameters cannot widen it.
  const img = await fetch(`${signed.data!.signedUrl}&width=2000`);
  assert.equal(img.status, 200);
  assert.deepEqual(await decode(await img.arrayBuffer()).then((m) => [m.width, m.height]), [40, 30]);
  // A private bucket's image is not public.
  assert.equal((await errorOf(await storageFetch(p, '/render/image/public/private/photo.png?width=10', { key: null }))).message, 'Bucket not found');
});

test('limits: output size is clamped, large or huge sources are refused, non-images are a 400', async () => {
  const big = await storageFetch(p, '/render/image/authenticated/private/photo.png?width=10000');
  assert.equal((await decode(await big.arrayBuffer())).width, 2500);
  const noise = await sharp(Buffer.from(Array.from({ length: 400 * 400 * 3 }, () => Math.floor(Math.random() * 256))), { raw: { width: 400, height: 400, channels: 3 } }).png().toBuffer();
  assert.ok(noise.length > 300000);
  await client(p).storage.from('private').upload('noise.png', noise, { contentType: 'image/png' });
  const tooBig = await errorOf(await storageFetch(p, '/render/image/authenticated/private/noise.png?width=10'));
  assert.deepEqual([tooBig.statusCode, tooBig.code], ['413', 'EntityTooLarge']);
  const text = await errorOf(await storageFetch(p, '/render/image/authenticated/private/notes.txt?width=10'));
  assert.deepEqual([text.statusCode, text.message], ['400', 'The source object is not an image that can be transformed']);
  for (const q of ['resize=stretch', 'quality=5', 'width=abc', 'format=gif']) {
    const e = await errorOf(await storageFetch(p, `/render/image/authenticated/private/photo.png?${q}`));
    assert.deepEqual([e.statusCode, e.code], ['400', 'InvalidRequest'], q);
  }
  assert.equal((await errorOf(await storageFetch(p, '/render/image/authenticated/private/none.png?width=10'))).message, 'Object not found');
});

test('rendered variants are cached with their object and removed with it', async () => {
  const [{ version }] = await sql(p, `select version from storage.objects where bucket_id = 'pics' and name = 'photo.png'`);
  const dir = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref, 'renders', version);
  const url = '/render/image/public/pics/photo.png?width=32&height=32&format=webp';
  const first = await storageFetch(p, url, { key: null });
  const firstBytes = Buffer.from(await first.arrayBuffer());
  const cached = fs.readdirSync(dir);
  assert.ok(cached.length >= 1);
  const second = await storageFetch(p, url, { key: null });
  assert.ok(firstBytes.equals(Buffer.from(await second.arrayBuffer())));
  assert.equal(second.headers.get('etag'), first.headers.get('etag'));
  assert.equal((await storageFetch(p, url, { key: null, headers: { 'if-none-match': first.headers.get('etag')! } })).status, 304);
  assert.deepEqual(fs.readdirSync(dir), cached, 'the second request was served from the cache');
  await client(p).storage.from('pics').remove(['photo.png']);
  assert.equal(fs.existsSync(dir), false);
});
