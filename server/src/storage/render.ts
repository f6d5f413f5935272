// Image transformation (`/render/image/{public|authenticated|sign}/…`): sharp resizes and re-encodes an image
// object within limits (source bytes and pixels, output size clamped as storage-api clamps), and each rendered
// variant is kept in the blob store next to its object version, so a variant is computed once.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Router, type Request, type Response } from 'express';
import sharp from 'sharp';
import { blobStore, objectKey, renderKey } from './backend.ts';
import { ANON, caller, projectStorageConfig, serviceCaller, type Caller } from './context.ts';
import { errors, StorageError } from './errors.ts';
import { findObject, type ObjectRow } from './objects-db.ts';
import { sendBytes } from './serve.ts';
import { storageSettings } from '../../../db/src/config.ts';
import { verifySigned } from './sign.ts';
import { target } from './validate.ts';
import { project } from '../project/resolve.ts';

const RESIZE = ['cover', 'contain', 'fill'] as const;
const FORMATS = ['origin', 'webp', 'avif', 'png', 'jpeg'] as const;
type Format = (typeof FORMATS)[number];
// imgproxy's gravities, as storage-api passes them on: compass points, centre, smart (`sm`) and focal point (`fp`).
const GRAVITY = ['no', 'so', 'ea', 'we', 'noea', 'nowe', 'soea', 'sowe', 'ce', 'sm', 'fp'] as const;
type Gravity = (typeof GRAVITY)[number];

export interface TransformOptions {
  width?: number;
  height?: number;
  resize?: (typeof RESIZE)[number];
  quality?: number;
  format?: Format;
  gravity?: Gravity;
  x_offset?: number;
  y_offset?: number;
}

function optionalInt(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw errors.invalidRequest(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

function optionalNumber(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw errors.invalidRequest(`${name} must be a number`);
  return n;
}

/** Transform options from a query string or a JSON body; bad values are a 400, not silently ignored. */
export function transformOptions(q: Record<string, unknown>): TransformOptions {
  const o: TransformOptions = {
    width: optionalInt(q.width, 'width', 0, Number.MAX_SAFE_INTEGER) || undefined,
    height: optionalInt(q.height, 'height', 0, Number.MAX_SAFE_INTEGER) || undefined,
    quality: optionalInt(q.quality, 'quality', 20, 100),
    x_offset: optionalNumber(q.x_offset, 'x_offset'),
    y_offset: optionalNumber(q.y_offset, 'y_offset'),
  };
  if (q.resize !== undefined && q.resize !== '') {
    if (!(RESIZE as readonly unknown[]).includes(q.resize)) throw errors.invalidRequest('resize must be one of cover, contain, fill');
    o.resize = q.resize as TransformOptions['resize'];
  }
  if (q.format !== undefined && q.format !== '') {
    if (!(FORMATS as readonly unknown[]).includes(q.format)) throw errors.invalidRequest(`format must be one of ${FORMATS.join(', ')}`);
    o.format = q.format as Format;
  }
  if (q.gravity !== undefined && q.gravity !== '') {
    if (!(GRAVITY as readonly unknown[]).includes(q.gravity)) throw errors.invalidRequest(`gravity must be one of ${GRAVITY.join(', ')}`);
    o.gravity = q.gravity as Gravity;
  }
  if (o.gravity === 'fp' && !(inUnit(o.x_offset) && inUnit(o.y_offset))) {
    throw errors.invalidParameter('gravity', 'Focal point requires x and y coordinates within 0-1 range');
  }
  return o;
}
const inUnit = (n: number | undefined): n is number => n !== undefined && n >= 0 && n <= 1;

const clamp = (n: number) => Math.min(Math.max(n, storageSettings().imageMinSize), storageSettings().imageMaxSize);
// storage-api's names for imgproxy's resizing types.
const RESIZING_TYPE = { cover: 'fill', contain: 'fit', fill: 'force' } as const;

/** storage-api's description of what is applied, in imgproxy's form for the X-Transformations header
 *  (`resizing_type:fill|fit|force`), or with `resize:` kept as asked for a signed URL's token (`keepOriginal`). */
export function transformationSegments(o: TransformOptions, keepOriginal = false): string[] {
  const s: string[] = [];
  if (o.height) s.push(`height:${clamp(o.height)}`);
  if (o.width) s.push(`width:${clamp(o.width)}`);
  if (o.width || o.height) s.push(keepOriginal ? `resize:${o.resize}` : `resizing_type:${RESIZING_TYPE[o.resize ?? 'cover']}`);
  if (o.quality) s.push(`quality:${o.quality}`);
  if (o.format && o.format !== 'origin') s.push(`format:${o.format}`);
  if (o.gravity === 'sm') s.push('gravity:sm');
  else if (o.gravity === 'fp') s.push(`gravity:fp:${o.x_offset}:${o.y_offset}`);
  else if (o.gravity) {
    s.push(o.x_offset === undefined && o.y_offset === undefined ? `gravity:${o.gravity}` : `gravity:${o.gravity}:${o.x_offset ?? 0}:${o.y_offset ?? 0}`);
  }
  return s;
}

function fromSegments(claim: unknown, format: unknown): TransformOptions {
  const q: Record<string, unknown> = {};
  for (const part of typeof claim === 'string' ? claim.split(',') : []) {
    const [k, v, x, y] = part.split(':');
    if (!k || v === undefined || v === '' || v === 'undefined') continue;
    q[k] = v;
    if (k === 'gravity') [q.x_offset, q.y_offset] = [x, y];
  }
  if (typeof format === 'string') q.format = format;
  return transformOptions(q);
}

// What a source decodes as (sharp's name) → the format rendered when none is asked: the image's own, as
// imgproxy keeps it (decided from the bytes, not from the declared content type).
const OWN_FORMAT: Record<string, 'png' | 'jpeg' | 'webp' | 'avif' | 'gif' | 'tiff'> = {
  png: 'png', jpeg: 'jpeg', webp: 'webp', heif: 'avif', gif: 'gif', tiff: 'tiff', svg: 'png',
};
const SHARP_POSITION: Record<Exclude<Gravity, 'sm' | 'fp'>, string> = {
  no: 'north', so: 'south', ea: 'east', we: 'west', noea: 'northeast', nowe: 'northwest', soea: 'southeast', sowe: 'southwest', ce: 'centre',
};
// storage-api's words for imgproxy's refusals of a source image.
const UNSUPPORTED_SOURCE = 'The source image is invalid or unsupported for rendering';

// sharp is CPU-bound: a few renders at a time per process, the rest wait their turn.
let running = 0;
const waiting: (() => void)[] = [];
async function withRenderSlot<T>(fn: () => Promise<T>): Promise<T> {
  const max = Math.max(1, Math.min(4, os.availableParallelism()));
  if (running >= max) await new Promise<void>((r) => waiting.push(r));
  running++;
  try { return await fn(); } finally { running--; waiting.shift()?.(); }
}

async function readAll(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > max) { stream.destroy(); throw errors.entityTooLarge(); }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function render(ref: string, obj: ObjectRow, o: TransformOptions, accept: string):
  Promise<{ bytes: Buffer; mimetype: string; variant: string }> {
  const s = storageSettings();
  // Asked for no format (not even `origin`): WebP for a client that takes it, as Supabase's imgproxy does.
  const asked = o.format && o.format !== 'origin' ? o.format : o.format === undefined && /image\/webp/.test(accept) ? 'webp' : undefined;
  const spec = {
    w: o.width && clamp(o.width), h: o.height && clamp(o.height), r: o.resize ?? 'cover', q: o.quality, f: asked ?? 'own',
    g: o.gravity, x: o.x_offset, y: o.y_offset,
  };
  const variant = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 32);
  const store = blobStore();
  const cached = await store.read(renderKey(ref, obj.version, variant)).then((st) => readAll(st, Infinity), () => undefined);
  if (cached) {
    const { format } = await sharp(cached).metadata();
    return { bytes: cached, mimetype: `image/${format === 'heif' ? 'avif' : format}`, variant };
  }

  if (Number(obj.metadata.size) > s.imageMaxInputBytes) throw errors.imageProcessing('The source image file is too large to process');
  const source = await readAll(await store.read(objectKey(ref, obj.version)), s.imageMaxInputBytes);
  const { bytes, out } = await withRenderSlot(async () => {
    try {
      // failOn none: libvips (imgproxy's too) reads what it can of a slightly damaged PNG or JPEG.
      const input = () => sharp(source, { limitInputPixels: s.imageMaxInputPixels, failOn: 'none' });
      const meta = await input().metadata();
      const out = asked ?? OWN_FORMAT[meta.format ?? ''];
      if (!out) throw errors.imageProcessing(UNSUPPORTED_SOURCE);
      let img = input().rotate();
      if (spec.w || spec.h) {
        if (spec.r === 'cover' && o.gravity === 'fp' && spec.w && spec.h) {
          img = await focalCrop(img, spec.w, spec.h, o.x_offset!, o.y_offset!);
        } else {
          const position = spec.r !== 'cover' ? undefined : o.gravity === 'sm' ? sharp.strategy.attention
            : o.gravity && o.gravity !== 'fp' ? SHARP_POSITION[o.gravity] : undefined;
          img = img.resize({ width: spec.w || undefined, height: spec.h || undefined, fit: spec.r, position });
        }
      }
      img = img.toFormat(out, spec.q ? { quality: spec.q } : {});
      return { bytes: await img.toBuffer(), out };
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const message = (err as Error).message ?? '';
      if (/pixel limit/i.test(message)) throw errors.imageProcessing('The source image resolution is too large to process');
      if (/unsupported image format|Input buffer|corrupt|bad seek|premature end|VipsJpeg|pngload|not a known file format/i.test(message)) {
        throw errors.imageProcessing(UNSUPPORTED_SOURCE);
      }
      throw errors.imageProcessing(`Invalid image request: ${message}`);
    }
  });
  const mimetype = `image/${out}`;
  // Kept for next time; a failure to cache is not a failure to render.
  const tmp = path.join(s.fileRoot, '.staging', crypto.randomUUID());
  await fsp.mkdir(path.dirname(tmp), { recursive: true });
  await fsp.writeFile(tmp, bytes);
  await store.commit(tmp, renderKey(ref, obj.version, variant), mimetype).catch(() => fsp.rm(tmp, { force: true }));
  return { bytes, mimetype, variant };
}

/** Cover-resize to w×h keeping the focal point (x, y in 0…1 of the source) as near the centre as the edges allow. */
type Image = ReturnType<typeof sharp>;
async function focalCrop(img: Image, w: number, h: number, x: number, y: number): Promise<Image> {
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  const scale = Math.max(w / info.width, h / info.height);
  const rw = Math.max(Math.round(info.width * scale), w);
  const rh = Math.max(Math.round(info.height * scale), h);
  const left = Math.min(Math.max(Math.round(x * rw - w / 2), 0), rw - w);
  const top = Math.min(Math.max(Math.round(y * rh - h / 2), 0), rh - h);
  return sharp(await sharp(data).resize(rw, rh, { fit: 'fill' }).toBuffer()).extract({ left, top, width: w, height: h });
}

async function serveRendered(req: Request, res: Response, who: Caller, o: TransformOptions, opts: { publicOnly?: boolean; expires?: Date } = {}) {
  if (!(await projectStorageConfig(project(res).ref)).imageTransformation) throw errors.featureNotEnabled('image_transformation');
  const { bucket, key } = target(req);
  const obj = await findObject(req, res, who, bucket, key, { publicOnly: opts.publicOnly });
  const out = await render(project(res).ref, obj, o, req.get('accept') ?? '');
  const segments = transformationSegments(o);
  if (segments.length) res.set('X-Transformations', segments.join(','));
  await sendBytes(req, res,
    { size: out.bytes.length, mimetype: out.mimetype, eTag: `"${out.variant}"`, cacheControl: obj.metadata.cacheControl, lastModified: obj.updated_at },
    async (range) => Readable.from([range ? out.bytes.subarray(range.start, range.end + 1) : out.bytes]),
    { expires: opts.expires, download: req.query.download });
}

export const renderImage = Router();

renderImage.get('/render/image/public/:bucket/*key', (req, res) =>
  serveRendered(req, res, ANON, transformOptions(req.query as Record<string, unknown>), { publicOnly: true }));

renderImage.get('/render/image/authenticated/:bucket/*key', (req, res) =>
  serveRendered(req, res, caller(req, res), transformOptions(req.query as Record<string, unknown>)));

// The transformations come from the signed token, not the query: the link renders what its creator asked for.
renderImage.get('/render/image/sign/:bucket/*key', (req, res) => {
  const { bucket, key } = target(req);
  const claims = verifySigned(req, res, bucket, key, 'download');
  return serveRendered(req, res, serviceCaller(), fromSegments(claims.transformations, claims.format), { expires: new Date(claims.exp! * 1000) });
});
