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
import { errors } from './errors.ts';
import { findObject, type ObjectRow } from './objects-db.ts';
import { sendBytes } from './serve.ts';
import { storageSettings } from './settings.ts';
import { verifySigned } from './sign.ts';
import { target } from './validate.ts';
import { project } from '../project/resolve.ts';

const RESIZE = ['cover', 'contain', 'fill'] as const;
const FORMATS = ['origin', 'webp', 'avif', 'png', 'jpeg'] as const;
type Format = (typeof FORMATS)[number];

export interface TransformOptions {
  width?: number;
  height?: number;
  resize?: (typeof RESIZE)[number];
  quality?: number;
  format?: Format;
}

function optionalInt(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw errors.invalidRequest(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

/** Transform options from a query string or a JSON body; bad values are a 400, not silently ignored. */
export function transformOptions(q: Record<string, unknown>): TransformOptions {
  const o: TransformOptions = {
    width: optionalInt(q.width, 'width', 0, Number.MAX_SAFE_INTEGER) || undefined,
    height: optionalInt(q.height, 'height', 0, Number.MAX_SAFE_INTEGER) || undefined,
    quality: optionalInt(q.quality, 'quality', 20, 100),
  };
  if (q.resize !== undefined && q.resize !== '') {
    if (!(RESIZE as readonly unknown[]).includes(q.resize)) throw errors.invalidRequest('resize must be one of cover, contain, fill');
    o.resize = q.resize as TransformOptions['resize'];
  }
  if (q.format !== undefined && q.format !== '') {
    if (!(FORMATS as readonly unknown[]).includes(q.format)) throw errors.invalidRequest(`format must be one of ${FORMATS.join(', ')}`);
    o.format = q.format as Format;
  }
  return o;
}

const clamp = (n: number) => Math.min(Math.max(n, storageSettings().imageMinSize), storageSettings().imageMaxSize);

/** storage-api's description of what was applied (the X-Transformations header and the signed token's claim). */
export function transformationSegments(o: TransformOptions): string[] {
  const s: string[] = [];
  if (o.height) s.push(`height:${clamp(o.height)}`);
  if (o.width) s.push(`width:${clamp(o.width)}`);
  if ((o.width || o.height) && o.resize) s.push(`resize:${o.resize}`);
  if (o.quality) s.push(`quality:${o.quality}`);
  if (o.format && o.format !== 'origin') s.push(`format:${o.format}`);
  return s;
}

function fromSegments(claim: unknown, format: unknown): TransformOptions {
  const q: Record<string, unknown> = {};
  for (const part of typeof claim === 'string' ? claim.split(',') : []) {
    const [k, v] = part.split(':');
    if (k) q[k] = v;
  }
  if (typeof format === 'string') q.format = format;
  return transformOptions(q);
}

const MIME_FORMAT: Record<string, Exclude<Format, 'origin'> | 'gif' | 'tiff'> = {
  'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/webp': 'webp', 'image/avif': 'avif',
  'image/gif': 'gif', 'image/tiff': 'tiff',
};

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

async function render(ref: string, obj: ObjectRow, o: TransformOptions): Promise<{ bytes: Buffer; mimetype: string; variant: string }> {
  const s = storageSettings();
  const out = o.format && o.format !== 'origin' ? o.format : MIME_FORMAT[obj.metadata.mimetype?.toLowerCase()] ?? 'png';
  const spec = { w: o.width && clamp(o.width), h: o.height && clamp(o.height), r: o.resize ?? 'cover', q: o.quality, f: out };
  const variant = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 32);
  const mimetype = `image/${out}`;
  const store = blobStore();
  const cached = await store.read(renderKey(ref, obj.version, variant)).then((st) => readAll(st, Infinity), () => undefined);
  if (cached) return { bytes: cached, mimetype, variant };

  if (Number(obj.metadata.size) > s.imageMaxInputBytes) throw errors.entityTooLarge('image', `the maximum size for transformation (${s.imageMaxInputBytes} bytes)`);
  const source = await readAll(await store.read(objectKey(ref, obj.version)), s.imageMaxInputBytes);
  const bytes = await withRenderSlot(async () => {
    try {
      let img = sharp(source, { limitInputPixels: s.imageMaxInputPixels, failOn: 'error' }).rotate();
      if (spec.w || spec.h) img = img.resize({ width: spec.w || undefined, height: spec.h || undefined, fit: spec.r });
      img = img.toFormat(out, spec.q ? { quality: spec.q } : {});
      return await img.toBuffer();
    } catch (err) {
      const message = (err as Error).message ?? '';
      if (/pixel limit/i.test(message)) throw errors.entityTooLarge('image', 'the maximum resolution for transformation');
      throw errors.imageProcessing(/unsupported image format|Input buffer/i.test(message) ? 'The source object is not an image that can be transformed' : `Invalid image request: ${message}`);
    }
  });
  // Kept for next time; a failure to cache is not a failure to render.
  const tmp = path.join(s.fileRoot, '.staging', crypto.randomUUID());
  await fsp.mkdir(path.dirname(tmp), { recursive: true });
  await fsp.writeFile(tmp, bytes);
  await store.commit(tmp, renderKey(ref, obj.version, variant), mimetype).catch(() => fsp.rm(tmp, { force: true }));
  return { bytes, mimetype, variant };
}

async function serveRendered(req: Request, res: Response, who: Caller, o: TransformOptions, opts: { publicOnly?: boolean; expires?: Date } = {}) {
  if (!(await projectStorageConfig(project(res).ref)).imageTransformation) throw errors.featureNotEnabled('image_transformation');
  const { bucket, key } = target(req);
  const obj = await findObject(req, res, who, bucket, key, { publicOnly: opts.publicOnly });
  const out = await render(project(res).ref, obj, o);
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
