// Sending an object: storage-api's response headers, conditional requests (If-None-Match → 304), byte ranges
// (206, or 416 for a range it cannot serve), `?download`, HEAD, and the /info JSON.
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { blobStore, objectKey, type ByteRange } from './backend.ts';
import { errors } from './errors.ts';
import type { ObjectRow } from './objects-db.ts';
import { project } from '../project/resolve.ts';

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; one range only. */
export function parseRange(header: string, size: number): ByteRange {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || size <= 0 || (!m[1] && !m[2])) throw errors.invalidRange();
  if (!m[1]) {
    const suffix = Number(m[2]);
    if (!Number.isSafeInteger(suffix) || suffix <= 0) throw errors.invalidRange();
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : size - 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start || start >= size) throw errors.invalidRange();
  return { start, end: Math.min(end, size - 1) };
}

function setCommonHeaders(res: Response, contentType: string, etag: string, lastModified: Date) {
  // Browsers must not run HTML stored by users under the project's origin.
  // setHeader, not res.set: Express would append a charset to what the uploader declared.
  res.setHeader('Content-Type', contentType.includes('text/html') ? 'text/plain' : contentType);
  res.set('ETag', etag);
  res.set('Last-Modified', new Date(lastModified).toUTCString());
}

export interface SendOptions { expires?: Date; download?: unknown }

function contentDisposition(download: unknown): string | undefined {
  if (download === undefined) return undefined;
  const name = typeof download === 'string' ? download : '';
  if (name === '') return 'attachment;';
  const encoded = encodeURIComponent(name);
  return `attachment; filename=${encoded}; filename*=UTF-8''${encoded}`;
}

/** Sends bytes with storage-api's headers; `body` opens the (ranged) stream only once the response is decided. */
export async function sendBytes(req: Request, res: Response, meta: { size: number; mimetype: string; eTag: string; cacheControl?: string; lastModified: Date },
                                body: (range?: ByteRange) => Promise<Readable>, opts: SendOptions = {}): Promise<void> {
  res.set('Accept-Ranges', 'bytes');
  setCommonHeaders(res, meta.mimetype, meta.eTag, meta.lastModified);
  res.set('X-Robots-Tag', 'none');
  if (opts.expires) res.set('Expires', opts.expires.toUTCString());
  else if (meta.cacheControl) res.set('Cache-Control', meta.cacheControl);
  const disposition = contentDisposition(opts.download);
  if (disposition) res.set('Content-Disposition', disposition);

  const inm = req.get('if-none-match');
  if (inm && inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(meta.eTag)) {
    res.status(304).end();
    return;
  }
  const rangeHeader = req.get('range');
  const range = rangeHeader ? parseRange(rangeHeader, meta.size) : undefined;
  if (range) {
    res.status(206).set('Content-Range', `bytes ${range.start}-${range.end}/${meta.size}`);
    res.set('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200).set('Content-Length', String(meta.size));
  }
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = await body(range);
  await pipeline(stream, res).catch((err) => {
    // The client went away or the store failed mid-stream: headers are sent, so the connection is cut.
    if (!res.destroyed) res.destroy(err);
  });
}

export function sendObject(req: Request, res: Response, obj: ObjectRow, opts: SendOptions = {}): Promise<void> {
  const m = obj.metadata;
  return sendBytes(req, res, { size: Number(m.size), mimetype: m.mimetype, eTag: m.eTag, cacheControl: m.cacheControl, lastModified: obj.updated_at },
    (range) => blobStore().read(objectKey(project(res).ref, obj.version), range), opts);
}

export function sendInfo(res: Response, obj: ObjectRow): void {
  const m = obj.metadata;
  setCommonHeaders(res, 'application/json', m.eTag, obj.updated_at);
  if (m.cacheControl) res.set('Cache-Control', m.cacheControl);
  res.status(200).json({
    id: obj.id, name: obj.name, version: obj.version, bucket_id: obj.bucket_id, size: m.size ?? null,
    content_type: m.mimetype ?? null, cache_control: m.cacheControl ?? null, etag: m.eTag ?? null,
    metadata: obj.user_metadata ?? {}, last_modified: obj.updated_at, created_at: obj.created_at,
  });
}
