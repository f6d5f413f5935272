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
    assert.equal(res.headers.get('x-transformations'), `height:60,width:80,resizing_type:fill,quality:50,format:${format}`);
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

test('limits: output size is clamped, large sources are refused, non-images get storage-api\'s message', async () => {
  const big = await storageFetch(p, '/render/image/authenticated/private/photo.png?width=10000');
  assert.equal((await decode(await big.arrayBuffer())).width, 2500);
  const noise = await sharp(Buffer.from(Array.from({ length: 400 * 400 * 3 }, () => Math.floor(Math.random() * 256))), { raw: { width: 400, height: 400, channels: 3 } }).png().toBuffer();
  assert.ok(noise.length > 300000);
  await client(p).storage.from('private').upload('noise.png', noise, { contentType: 'image/png' });
  const tooBig = await errorOf(await storageFetch(p, '/render/image/authenticated/private/noise.png?width=10'));
  assert.deepEqual([tooBig.statusCode, tooBig.code, tooBig.message], ['400', 'InvalidRequest', 'The source image file is too large to process']);
  const text = await errorOf(await storageFetch(p, '/render/image/authenticated/private/notes.txt?width=10'));
  assert.deepEqual([text.statusCode, text.code, text.message], ['400', 'InvalidRequest', 'The source image is invalid or unsupported for rendering']);
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

test('imgproxy\'s X-Transformations form, the output format of the real image, gravity and focal point', async () => {
  // A JPEG declared as PNG renders as the JPEG it is, without a format asked for.
  const jpeg = await sharp({ create: { width: 300, height: 100, channels: 3, background: { r: 0, g: 0, b: 255 } } })
    .composite([{ input: { create: { width: 60, height: 100, channels: 3, background: { r: 255, g: 0, b: 0 } } }, left: 240, top: 0 }]).jpeg().toBuffer();
  await client(p).storage.from('private').upload('mislabelled.png', jpeg, { contentType: 'image/png' });
  const own = await storageFetch(p, '/render/image/authenticated/private/mislabelled.png?width=150');
  assert.equal(own.headers.get('content-type'), 'image/jpeg');
  assert.equal(own.headers.get('x-transformations'), 'width:150,resizing_type:fill');
  assert.equal((await decode(await own.arrayBuffer())).format, 'jpeg');
  // A browser that takes WebP gets WebP unless `origin` is asked for.
  const webp = await storageFetch(p, '/render/image/authenticated/private/mislabelled.png?width=150', { headers: { accept: 'image/avif,image/webp,*/*' } });
  assert.equal(webp.headers.get('content-type'), 'image/webp');
  const origin = await storageFetch(p, '/render/image/authenticated/private/mislabelled.png?width=150&format=origin', { headers: { accept: 'image/webp' } });
  assert.equal(origin.headers.get('content-type'), 'image/jpeg');
  for (const [q, header] of [
    ['resize=contain', 'width:100,height:100,resizing_type:fit'], ['resize=fill', 'width:100,height:100,resizing_type:force'],
  ]) {
    const r = await storageFetch(p, `/render/image/authenticated/private/photo.png?width=100&height=100&${q}`);
    assert.equal(r.headers.get('x-transformations'), header.replace('width:100,height:100', 'height:100,width:100'), q);
  }
  // Gravity east keeps the red right edge; a focal point at the left keeps the blue left edge.
  const pixel = async (r: Response) => {
    const { data } = await sharp(Buffer.from(await r.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    return [data[0], data[2]];
  };
  const east = await storageFetch(p, '/render/image/authenticated/private/mislabelled.png?width=50&height=100&gravity=ea&format=png');
  assert.equal(east.headers.get('x-transformations'), 'height:100,width:50,resizing_type:fill,format:png,gravity:ea');
  const [er, eb] = await pixel(east);
  assert.ok(er > 200 && eb < 60, `east crop is red: ${er},${eb}`);
  const fp = await storageFetch(p, '/render/image/authenticated/private/mislabelled.png?width=50&height=100&gravity=fp&x_offset=0.1&y_offset=0.5&format=png');
  assert.equal(fp.headers.get('x-transformations'), 'height:100,width:50,resizing_type:fill,format:png,gravity:fp:0.1:0.5');
  const [fr, fb] = await pixel(fp);
  assert.ok(fb > 200 && fr < 60, `focal crop is blue: ${fr},${fb}`);
  const badFp = await errorOf(await storageFetch(p, '/render/image/authenticated/private/photo.png?width=10&gravity=fp&x_offset=2&y_offset=0'));
  assert.deepEqual([badFp.statusCode, badFp.code, badFp.message], ['400', 'InvalidParameter', 'Focal point requires x and y coordinates within 0-1 range']);
  // A signed URL's token keeps `resize:`; the render it serves says what imgproxy was asked.
  const signed = await client(p).storage.from('private').createSignedUrl('photo.png', 60, { transform: { width: 40, height: 30, resize: 'contain' } });
  const img = await fetch(signed.data!.signedUrl);
  assert.equal(img.headers.get('x-transformations'), 'height:30,width:40,resizing_type:fit');
  const claims = JSON.parse(Buffer.from(new URL(signed.data!.signedUrl).searchParams.get('token')!.split('.')[1], 'base64url').toString());
  assert.equal(claims.transformations, 'height:30,width:40,resize:contain');
  // A PNG with a damaged CRC, which imgproxy (libvips) still reads, renders.
  const png = Buffer.from(await photo());
  png[png.length - 13] ^= 0xff; // the IEND chunk's CRC
  await client(p).storage.from('private').upload('crc.png', png, { contentType: 'image/png' });
  assert.equal((await storageFetch(p, '/render/image/authenticated/private/crc.png?width=20')).status, 200);
});
