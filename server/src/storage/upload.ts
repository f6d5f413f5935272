// Uploads (POST/PUT /object/…, and PUT with a signed upload token): permission first, then the bytes, then the row.
//  1. In a transaction as the caller that is rolled back, the row is inserted (or upserted) with the declared
//     metadata: RLS and a duplicate key refuse the upload before a byte is read (storage-api's canUpload).
//  2. The body (raw, or the one file of a multipart form) is staged to a local file under the size limit.
//  3. In a transaction as the caller, the row is written and the staged file committed under the new version's
//     key; if either fails nothing is left. The previous version's bytes are removed after the commit.
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import busboy from 'busboy';
import type pg from 'pg';
import { blobStore, discard, objectKey, stage, type Staged } from './backend.ts';
import { projectStorageConfig, tx, type Caller } from './context.ts';
import { tooDeep, tooDeepMessage } from '../json-depth.ts';
import { errors } from './errors.ts';
import { removeObjectBytes, type ObjectMetadata } from './objects-db.ts';
import { queueSweep } from './sweep.ts';
import { checkQuota, releaseStorage, reserveStorage } from './quota.ts';
import { storageSettings } from '../../../db/src/config.ts';
import { checkMimeType, ownerUuid } from './validate.ts';
import { project } from '../project/resolve.ts';

export interface UploadTarget {
  bucket: string;
  key: string;
  upsert: boolean;
  /** The `sub` recorded as the object's owner. */
  owner: unknown;
}

export interface Bucket { id: string; public: boolean; file_size_limit: string | null; allowed_mime_types: string[] | null }

export interface UploadBody {
  staged: Staged; mimetype: string; cacheControl: string; userMetadata: Record<string, unknown> | null;
  /** The object's ETag when it is not the MD5 of its bytes (S3 multipart: `<md5 of the parts' md5s>-<parts>`). */
  eTag?: string;
}

const MAX_USER_METADATA = 1024 * 1024;

function writeRow(c: pg.ClientBase, t: UploadTarget, version: string, metadata: unknown, userMetadata: unknown) {
  const owner = typeof t.owner === 'string' ? t.owner : null;
  const params = [t.bucket, t.key, ownerUuid(owner), owner, version, metadata, userMetadata];
  return c.query<{ id: string }>(t.upsert
    ? `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id,
         version = excluded.version, metadata = excluded.metadata, user_metadata = excluded.user_metadata,
         last_accessed_at = now()
       returning id`
    : `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
       values ($1, $2, $3, $4, $5, $6, $7) returning id`, params);
}

/** Step 1: the bucket (404 if absent), and whether the caller may write this row; nothing is kept. */
export async function checkUpload(req: Request, res: Response, who: Caller, t: UploadTarget,
                                  declared: { mimetype?: string; contentLength?: number }): Promise<Bucket> {
  await checkQuota(project(res).ref, declared.contentLength);
  return tx(req, res, who, async (c) => {
    const { rows: [bucket] } = await c.query<Bucket>('select * from _loam.storage_bucket($1)', [t.bucket]);
    if (!bucket) throw errors.noSuchBucket();
    await writeRow(c, t, crypto.randomUUID(), declared, null);
    return bucket;
  }, { rollback: true });
}

/** The largest object this bucket of the project takes. */
export async function uploadLimit(ref: string, bucket: Bucket): Promise<number> {
  const limits = [(await projectStorageConfig(ref)).fileSizeLimit, storageSettings().maxFileSize];
  if (bucket.file_size_limit !== null) limits.push(Number(bucket.file_size_limit));
  return Math.min(...limits);
}

/** User metadata: JSON (base64 in the x-metadata header); what does not parse is ignored, as storage-api does. */
export function parseUserMetadata(raw: string, base64: boolean): Record<string, unknown> | null {
  if (Buffer.byteLength(raw) > MAX_USER_METADATA) throw errors.entityTooLarge('user_metadata');
  const text = base64 ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  // Parsed, it would be serialized again for SQL, recursively: past the limit that overflows the stack.
  if (tooDeep(text)) throw errors.invalidRequest(`user_metadata: ${tooDeepMessage()}`);
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null; // storage-api ignores metadata it cannot parse
  }
}

/** Step 2: the body, staged. Multipart forms carry one file plus optional cacheControl / contentType / metadata. */
async function receive(req: Request, bucket: Bucket, limit: number, key: string): Promise<UploadBody> {
  // The dashboard's empty-folder marker is allowed whatever the bucket's MIME types (storage-api does the same).
  const allowed = key.endsWith('.emptyFolderPlaceholder') ? null : bucket.allowed_mime_types;
  const type = req.get('content-type') ?? '';
  if (!type.startsWith('multipart/form-data')) {
    const mimetype = type || 'application/octet-stream';
    checkMimeType(mimetype, allowed);
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) throw errors.entityTooLarge();
    const meta = req.get('x-metadata');
    const userMetadata = meta ? parseUserMetadata(meta, true) : null;
    return { staged: await stage(req, limit), mimetype, cacheControl: req.get('cache-control') ?? 'no-cache', userMetadata };
  }
  // busboy streams the form: fields before the file (as supabase-js sends them) are known when the file starts.
  // (multer cannot be used: it rejects the unnamed file part supabase-js sends.)
  const fields: Record<string, string> = {};
  let staging: Promise<UploadBody> | undefined;
  await new Promise<void>((resolve, reject) => {
    let form: ReturnType<typeof busboy>;
    try {
      form = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fieldSize: MAX_USER_METADATA + 1024 } });
    } catch {
      return reject(errors.invalidRequest('Malformed multipart/form-data body'));
    }
    const fail = (err: unknown) => {
      req.unpipe(form);
      req.resume();
      // A file staged before the form turned out bad (a second file, a broken part) is not kept.
      staging?.then((b) => discard(b.staged.path), () => {});
      reject(err);
    };
    form.on('field', (name, value) => { if (name) fields[name] = value; });
    form.on('file', (_name, stream, info) => {
      // A part cut short errors on its stream as well as on the form; the form's handler is the one that counts.
      stream.on('error', () => {});
      if (staging) return void stream.resume();
      const mimetype = fields.contentType || info.mimeType || 'application/octet-stream';
      staging = (async () => {
        checkMimeType(mimetype, allowed);
        const meta = fields.metadata ?? fields.userMetadata;
        const userMetadata = meta ? parseUserMetadata(meta, false) : null;
        const cacheControl = fields.cacheControl ? `max-age=${fields.cacheControl}` : 'no-cache';
        return { staged: await stage(stream, limit), mimetype, cacheControl, userMetadata };
      })();
      staging.catch((err) => { stream.resume(); fail(err); });
    });
    form.on('filesLimit', () => fail(errors.invalidRequest('Only one file can be uploaded at a time')));
    form.on('error', () => fail(errors.invalidRequest('Malformed multipart/form-data body')));
    form.on('close', () => resolve());
    req.pipe(form);
  });
  if (!staging) throw errors.noContent();
  return staging;
}

/** The whole upload; responds with storage-api's `{Id, Key}`. */
export async function upload(req: Request, res: Response, who: Caller, t: UploadTarget): Promise<{ Id: string; Key: string }> {
  const declaredLength = Number(req.get('content-length'));
  const bucket = await checkUpload(req, res, who, t, {
    mimetype: req.get('content-type')?.startsWith('multipart/') ? undefined : req.get('content-type'),
    contentLength: Number.isFinite(declaredLength) ? declaredLength : undefined,
  });
  const body = await receive(req, bucket, await uploadLimit(project(res).ref, bucket), t.key);
  const { id } = await commitUpload(req, res, who, t, body);
  return { Id: id, Key: `${t.bucket}/${t.key}` };
}

/** Step 3 (every protocol: REST, S3, TUS): the staged bytes under a new version, then the row as the caller in a
 *  short transaction — no transaction is open while bytes move (an S3 backend's PutObject of gigabytes). The
 *  bytes are counted against the project's quota first (`counted`: bytes of it already counted, as a multipart
 *  upload's parts are). The staged file is consumed (committed or removed) whatever happens. */
export async function commitUpload(req: Request, res: Response, who: Caller, t: UploadTarget, body: UploadBody,
                                   opts: { counted?: number } = {}): Promise<{ id: string; metadata: ObjectMetadata }> {
  const ref = project(res).ref;
  const version = crypto.randomUUID();
  const key = objectKey(ref, version);
  const metadata: ObjectMetadata = {
    eTag: `"${body.eTag ?? body.staged.md5}"`, size: body.staged.size, mimetype: body.mimetype, cacheControl: body.cacheControl,
    lastModified: new Date().toUTCString(), contentLength: body.staged.size, httpStatusCode: 200,
  };
  const reserved = Math.max(body.staged.size - (opts.counted ?? 0), 0);
  let stored = false;
  let previous: string | null = null;
  try {
    await reserveStorage(ref, reserved);
  } catch (err) {
    await discard(body.staged.path);
    throw err;
  }
  try {
    // Unreachable until the row names it; a crash here leaves bytes the sweep removes.
    await blobStore().commit(body.staged.path, key, body.mimetype);
    stored = true;
    const id = await tx(req, res, who, async (c) => {
      if (t.upsert) {
        const { rows } = await c.query('select version from storage.objects where bucket_id = $1 and name = $2 for update', [t.bucket, t.key]);
        previous = rows[0]?.version ?? null;
      }
      const { rows: [row] } = await writeRow(c, t, version, metadata, body.userMetadata);
      return row.id as string;
    });
    if (previous && previous !== version) await removeObjectBytes(ref, [previous]);
    return { id, metadata };
  } catch (err) {
    if (!stored) {
      await discard(body.staged.path);
      await releaseStorage(ref, reserved);
    } else {
      // Released once the bytes are gone; if removing them fails, the sweep removes (and releases) them.
      await blobStore().remove([key]).then(() => releaseStorage(ref, reserved), () => queueSweep(ref));
    }
    throw err;
  }
}
