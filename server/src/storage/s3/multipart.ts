// S3 multipart uploads: parts are staged and stored under their own UUID keys (`<ref>/parts/<uuid>`) with a row
// each (storage.s3_multipart_uploads_parts, as the caller); CompleteMultipartUpload streams them, in order, into
// one staged file that goes through the same commit as every upload — the object row, as the caller, under RLS.
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { blobStore, discard, isVersion, objectKey, partKey, stage } from '../backend.ts';
import { tx } from '../context.ts';
import { errors } from '../errors.ts';
import { findObject } from '../objects-db.ts';
import { queueSweep, queueUploadExpiry } from '../sweep.ts';
import { releaseStorage, reserveStorage } from '../quota.ts';
import { checkUpload, commitUpload, uploadLimit } from '../upload.ts';
import { bucketName, checkMimeType, objectKey as validKey } from '../validate.ts';
import { project } from '../../project/resolve.ts';
import { readBody } from './body.ts';
import { s3Errors } from './errors.ts';
import { sendXml, type S3Request } from './index.ts';
import { amzMeta, copySource, declaredLength } from './objects.ts';
import { payload } from './sigv4.ts';
import { elements, textOf, xml } from './xml.ts';

interface UploadRow { id: string; bucket_id: string; key: string; owner_id: string | null; metadata: { mimetype?: string; cacheControl?: string }; user_metadata: Record<string, string> | null; created_at: Date }
interface PartRow { part_number: number; etag: string; size: string; version: string; created_at: Date }

const ownerOf = (r: S3Request) => (typeof r.auth.who.claims.sub === 'string' ? r.auth.who.claims.sub : null);

/** Removes parts' bytes; their bytes leave the quota's count unless they became an object's (`release` false). */
export async function removeParts(ref: string, versions: string[], release = true) {
  const keys = versions.filter(isVersion).map((v) => partKey(ref, v));
  if (!keys.length) return;
  await blobStore().remove(keys).then((freed) => (release ? releaseStorage(ref, freed) : undefined), () => queueSweep(ref));
}

/** S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then `-<number of parts>`. */
export function multipartETag(partETags: string[]): string {
  const hash = crypto.createHash('md5');
  for (const e of partETags) hash.update(Buffer.from(e.replace(/^"|"$/g, ''), 'hex'));
  return `${hash.digest('hex')}-${partETags.length}`;
}

export async function create(r: S3Request) {
  const { req, res, auth } = r;
  const t = { bucket: bucketName(r.bucket), key: validKey(r.key), upsert: true, owner: auth.who.claims.sub };
  const mimetype = req.get('content-type') || 'application/octet-stream';
  // Refused now (RLS, bucket, MIME type) rather than after the parts are sent.
  const b = await checkUpload(req, res, auth.who, t, { mimetype });
  checkMimeType(mimetype, b.allowed_mime_types);
  const id = crypto.randomUUID();
  await tx(req, res, auth.who, (c) => c.query(
    `insert into storage.s3_multipart_uploads (id, bucket_id, key, version, owner_id, metadata, user_metadata)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [id, t.bucket, t.key, crypto.randomUUID(), ownerOf(r), { mimetype, cacheControl: req.get('cache-control') ?? 'no-cache' }, amzMeta(req)]));
  await queueUploadExpiry(project(res).ref);
  sendXml(res, xml('InitiateMultipartUploadResult', { Bucket: t.bucket, Key: t.key, UploadId: id }));
}

async function findUpload(r: S3Request): Promise<UploadRow> {
  const id = r.query.uploadId;
  const [row] = await tx(r.req, r.res, r.auth.who, async (c) => (await c.query<UploadRow>(
    'select * from storage.s3_multipart_uploads where id = $1 and bucket_id = $2 and key = $3', [id, r.bucket, r.key])).rows, { readOnly: true });
  if (!row) throw s3Errors.noSuchUpload();
  return row;
}

function partNumber(r: S3Request): number {
  const n = Number(r.query.partNumber);
  if (!Number.isSafeInteger(n) || n < 1 || n > 10000) throw s3Errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive');
  return n;
}

/** Stages `body` as part `n` of the upload, stores it under a new UUID key, then records it (replacing any part
 *  of that number, whose bytes go after the row changed). */
async function storePart(r: S3Request, upload: UploadRow, n: number, body: Readable): Promise<string> {
  const { req, res, auth } = r;
  const ref = project(res).ref;
  const [bucket] = await tx(req, res, auth.who, async (c) => (await c.query('select * from _loam.storage_bucket($1)', [upload.bucket_id])).rows, { readOnly: true });
  if (!bucket) throw errors.noSuchBucket();
  const limit = await uploadLimit(ref, bucket);
  const length = declaredLength(req);
  if (length !== undefined && length > limit) throw errors.entityTooLarge();
  const staged = await stage(body, limit);
  const version = crypto.randomUUID();
  const etag = `"${staged.md5}"`;
  let stored = false;
  try {
    await reserveStorage(ref, staged.size);
  } catch (err) {
    await discard(staged.path);
    throw err;
  }
  try {
    await blobStore().commit(staged.path, partKey(ref, version), 'application/octet-stream');
    stored = true;
    const previous = await tx(req, res, auth.who, async (c) => {
      const { rows } = await c.query('select version from storage.s3_multipart_uploads_parts where upload_id = $1 and part_number = $2 for update', [upload.id, n]);
      await c.query(
        `insert into storage.s3_multipart_uploads_parts (upload_id, part_number, size, bucket_id, key, etag, owner_id, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (upload_id, part_number) do update set size = excluded.size, etag = excluded.etag, version = excluded.version, created_at = now()`,
        [upload.id, n, staged.size, upload.bucket_id, upload.key, etag, ownerOf(r), version]);
      return rows.map((p) => p.version as string);
    });
    await removeParts(ref, previous);
  } catch (err) {
    if (stored) await removeParts(ref, [version]);
    else {
      await discard(staged.path);
      await releaseStorage(ref, staged.size);
    }
    throw err;
  }
  return etag;
}

export async function uploadPart(r: S3Request) {
  const n = partNumber(r);
  const upload = await findUpload(r);
  const etag = await storePart(r, upload, n, payload(r.req, r.auth.signed, r.auth.secret));
  r.res.status(200).set('ETag', etag).end();
}

/** UploadPartCopy: a part from (a byte range of) an object the caller can read. */
export async function uploadPartCopy(r: S3Request) {
  const n = partNumber(r);
  const upload = await findUpload(r);
  const src = copySource(r.req.get('x-amz-copy-source')!);
  const obj = await findObject(r.req, r.res, r.auth.who, src.bucket, src.key);
  const size = Number(obj.metadata.size);
  const rangeHeader = r.req.get('x-amz-copy-source-range');
  let range: { start: number; end: number } | undefined;
  if (rangeHeader) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) >= size) throw s3Errors.invalidArgument('The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
    range = { start: Number(m[1]), end: Number(m[2]) };
  }
  const etag = await storePart(r, upload, n, await blobStore().read(objectKey(project(r.res).ref, obj.version), range));
  sendXml(r.res, xml('CopyPartResult', { ETag: etag, LastModified: new Date() }));
}

export async function complete(r: S3Request) {
  const { req, res, auth } = r;
  const upload = await findUpload(r);
  const body = (await readBody(req, auth, 2 * 1024 * 1024)).toString('utf8');
  if (!/<CompleteMultipartUpload[\s>]/.test(body)) throw s3Errors.malformedXml();
  const asked = elements(body, 'Part').map((p) => ({ n: Number(textOf(p, 'PartNumber')), etag: textOf(p, 'ETag') }));
  if (!asked.length) throw s3Errors.malformedXml();
  for (let i = 1; i < asked.length; i++) if (!(asked[i].n > asked[i - 1].n)) throw s3Errors.invalidPartOrder();
  const parts = await tx(req, res, auth.who, async (c) => (await c.query<PartRow>(
    'select * from storage.s3_multipart_uploads_parts where upload_id = $1', [upload.id])).rows, { readOnly: true });
  const byNumber = new Map(parts.map((p) => [p.part_number, p]));
  const chosen = asked.map((a) => {
    const p = byNumber.get(a.n);
    const norm = (e: string | undefined) => (e ?? '').replace(/^"|"$/g, '');
    if (!p || (a.etag !== undefined && norm(a.etag) !== norm(p.etag))) throw s3Errors.invalidPart();
    return p;
  });
  const ref = project(res).ref;
  const t = { bucket: upload.bucket_id, key: upload.key, upsert: true, owner: auth.who.claims.sub };
  const [bucket] = await tx(req, res, auth.who, async (c) => (await c.query('select * from _loam.storage_bucket($1)', [t.bucket])).rows, { readOnly: true });
  if (!bucket) throw errors.noSuchBucket();
  const store = blobStore();
  const joined = Readable.from((async function* () {
    for (const p of chosen) yield* await store.read(partKey(ref, p.version));
  })());
  const staged = await stage(joined, await uploadLimit(ref, bucket));
  // The chosen parts' bytes are counted already: they become the object's.
  const counted = chosen.reduce((n, p) => n + Number(p.size), 0);
  const { metadata } = await commitUpload(req, res, auth.who, t, {
    staged, mimetype: upload.metadata.mimetype ?? 'application/octet-stream', cacheControl: upload.metadata.cacheControl ?? 'no-cache',
    userMetadata: upload.user_metadata, eTag: multipartETag(chosen.map((p) => p.etag)),
  }, { counted: Math.min(counted, staged.size) });
  const versions = await tx(req, res, auth.who, async (c) => {
    const { rows } = await c.query('delete from storage.s3_multipart_uploads_parts where upload_id = $1 returning version', [upload.id]);
    await c.query('delete from storage.s3_multipart_uploads where id = $1', [upload.id]);
    return rows.map((p) => p.version as string);
  });
  const used = new Set(chosen.map((p) => p.version));
  await removeParts(ref, versions.filter((v) => used.has(v)), false);
  await removeParts(ref, versions.filter((v) => !used.has(v)));
  sendXml(res, xml('CompleteMultipartUploadResult', {
    Location: `${req.protocol}://${req.get('host')}${req.baseUrl}/${encodeURIComponent(t.bucket)}/${t.key.split('/').map(encodeURIComponent).join('/')}`,
    Bucket: t.bucket, Key: t.key, ETag: metadata.eTag,
  }));
}

export async function abort(r: S3Request) {
  const { req, res, auth } = r;
  const upload = await findUpload(r);
  const versions = await tx(req, res, auth.who, async (c) => {
    const { rows } = await c.query('delete from storage.s3_multipart_uploads_parts where upload_id = $1 returning version', [upload.id]);
    await c.query('delete from storage.s3_multipart_uploads where id = $1', [upload.id]);
    return rows.map((p) => p.version as string);
  });
  await removeParts(project(res).ref, versions);
  res.status(204).end();
}

export async function listParts(r: S3Request) {
  const upload = await findUpload(r);
  const max = Math.min(Number(r.query['max-parts'] ?? 1000) || 1000, 1000);
  const marker = Number(r.query['part-number-marker'] ?? 0) || 0;
  const parts = await tx(r.req, r.res, r.auth.who, async (c) => (await c.query<PartRow>(
    `select * from storage.s3_multipart_uploads_parts where upload_id = $1 and part_number > $2
     order by part_number limit $3`, [upload.id, marker, max + 1])).rows, { readOnly: true });
  const page = parts.slice(0, max);
  sendXml(r.res, xml('ListPartsResult', {
    Bucket: upload.bucket_id, Key: upload.key, UploadId: upload.id, PartNumberMarker: marker,
    NextPartNumberMarker: page.length ? page[page.length - 1].part_number : undefined, MaxParts: max,
    IsTruncated: parts.length > max, StorageClass: 'STANDARD',
    Part: page.map((p) => ({ PartNumber: p.part_number, LastModified: new Date(p.created_at), ETag: p.etag, Size: Number(p.size) })),
  }));
}

export async function listUploads(r: S3Request) {
  const b = bucketName(r.bucket);
  const prefix = r.query.prefix ?? '';
  const rows = await tx(r.req, r.res, r.auth.who, async (c) => {
    const { rows: [exists] } = await c.query('select 1 from _loam.storage_bucket($1)', [b]);
    if (!exists) throw errors.noSuchBucket();
    return (await c.query<UploadRow>(
      `select * from storage.s3_multipart_uploads where bucket_id = $1 and starts_with(key, $2)
       order by key, created_at limit 1001`, [b, prefix])).rows;
  }, { readOnly: true });
  const page = rows.slice(0, 1000);
  sendXml(r.res, xml('ListMultipartUploadsResult', {
    Bucket: b, Prefix: prefix, MaxUploads: 1000, IsTruncated: rows.length > 1000,
    Upload: page.map((u) => ({ Key: u.key, UploadId: u.id, Initiated: new Date(u.created_at), StorageClass: 'STANDARD' })),
  }));
}
