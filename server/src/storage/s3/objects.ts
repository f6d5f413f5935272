// S3 object operations over the REST API's object model: the same rows (storage.objects, as the caller), the
// same upload path (checkUpload → stage → commitUpload), the same copy and download code.
import type { Request, Response } from 'express';
import { discard, stage } from '../backend.ts';
import { tx } from '../context.ts';
import { errors } from '../errors.ts';
import { findObject, removeObjectBytes, type ObjectRow } from '../objects-db.ts';
import { copyObject as copyRow } from '../objects.ts';
import { sendObject } from '../serve.ts';
import { checkUpload, commitUpload, uploadLimit } from '../upload.ts';
import { bucketName, checkMimeType, objectKey as validKey } from '../validate.ts';
import { project } from '../../project/resolve.ts';
import { readBody } from './body.ts';
import { s3Errors } from './errors.ts';
import { sendXml, type S3Request } from './index.ts';
import { payload } from './sigv4.ts';
import { elements, textOf, xml } from './xml.ts';

/** `x-amz-meta-*` headers, kept as the object's user metadata. */
export function amzMeta(req: Request): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && typeof value === 'string') out[name.slice(11)] = value;
  }
  return Object.keys(out).length ? out : null;
}

const HEADER_SAFE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
function setAmzMeta(res: Response, meta: unknown) {
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return;
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v === 'string' && HEADER_SAFE.test(k.toLowerCase()) && !/[\r\n\0]/.test(v)) res.set(`x-amz-meta-${k.toLowerCase()}`, v);
  }
}

export const declaredLength = (req: Request): number | undefined => {
  const n = Number(req.get('x-amz-decoded-content-length') ?? req.get('content-length'));
  return Number.isFinite(n) ? n : undefined;
};

export async function putObject({ req, res, auth, bucket, key }: S3Request) {
  const t = { bucket: bucketName(bucket), key: validKey(key), upsert: true, owner: auth.who.claims.sub };
  const mimetype = req.get('content-type') || 'application/octet-stream';
  const length = declaredLength(req);
  const b = await checkUpload(req, res, auth.who, t, { mimetype, contentLength: length });
  checkMimeType(mimetype, t.key.endsWith('.emptyFolderPlaceholder') ? null : b.allowed_mime_types);
  const limit = await uploadLimit(project(res).ref, b);
  if (length !== undefined && length > limit) throw errors.entityTooLarge();
  const staged = await stage(payload(req, auth.signed, auth.secret), limit);
  const md5 = req.get('content-md5');
  if (md5 !== undefined && Buffer.from(md5, 'base64').toString('hex') !== staged.md5) {
    await discard(staged.path);
    throw s3Errors.badDigest();
  }
  const { metadata } = await commitUpload(req, res, auth.who, t, {
    staged, mimetype, cacheControl: req.get('cache-control') ?? 'no-cache', userMetadata: amzMeta(req),
  });
  res.status(200).set('ETag', metadata.eTag).end();
}

/** S3's conditional reads: If-Match / If-Unmodified-Since → 412; If-Modified-Since → 304 (If-None-Match is
 *  sendBytes'). */
function preconditions(req: Request, obj: ObjectRow): 304 | 412 | undefined {
  const etag = obj.metadata.eTag;
  const modified = Math.floor(new Date(obj.updated_at).getTime() / 1000);
  const ifMatch = req.get('if-match');
  if (ifMatch && ifMatch.trim() !== '*' && !ifMatch.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag)) return 412;
  const unmodified = Date.parse(req.get('if-unmodified-since') ?? '');
  if (!ifMatch && Number.isFinite(unmodified) && modified > unmodified / 1000) return 412;
  const since = Date.parse(req.get('if-modified-since') ?? '');
  if (!req.get('if-none-match') && Number.isFinite(since) && modified <= since / 1000) return 304;
  return undefined;
}

export async function getObject({ req, res, auth, bucket, key }: S3Request) {
  const obj = await findObject(req, res, auth.who, bucketName(bucket), validKey(key));
  const pre = preconditions(req, obj);
  if (pre === 412) throw s3Errors.preconditionFailed();
  res.set('ETag', obj.metadata.eTag).set('Last-Modified', new Date(obj.updated_at).toUTCString());
  if (pre === 304) return void res.status(304).end();
  setAmzMeta(res, obj.user_metadata);
  await sendObject(req, res, obj);
}

export async function deleteObject({ req, res, auth, bucket, key }: S3Request) {
  const b = bucketName(bucket);
  const k = validKey(key);
  const versions = await tx(req, res, auth.who, async (c) => {
    const { rows } = await c.query('delete from storage.objects where bucket_id = $1 and name = $2 returning version', [b, k]);
    if (rows.length) return rows.map((r) => r.version as string);
    const { rows: [e] } = await c.query('select _loam.storage_object_exists($1, $2) as exists', [b, k]);
    // S3 answers 204 for a key that is not there; one the caller may not delete is refused.
    if (e.exists) throw errors.accessDenied();
    return [];
  });
  await removeObjectBytes(project(res).ref, versions);
  res.status(204).end();
}

export async function deleteObjects({ req, res, auth, bucket }: S3Request) {
  const b = bucketName(bucket);
  const body = (await readBody(req, auth, 2 * 1024 * 1024)).toString('utf8');
  if (!/<Delete[\s>]/.test(body)) throw s3Errors.malformedXml();
  const keys = elements(body, 'Object').map((o) => textOf(o, 'Key'));
  if (keys.length === 0 || keys.length > 1000 || keys.some((k) => k === undefined)) throw s3Errors.malformedXml();
  const quiet = textOf(body, 'Quiet') === 'true';
  const { deleted, denied } = await tx(req, res, auth.who, async (c) => {
    const { rows } = await c.query<{ name: string; version: string }>(
      'delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning name, version', [b, keys]);
    const gone = new Set(rows.map((r) => r.name));
    const { rows: exist } = await c.query<{ name: string }>(
      `select k as name from unnest($2::text[]) k where not (k = any($3::text[])) and _loam.storage_object_exists($1, k)`,
      [b, keys, [...gone]]);
    return { deleted: rows, denied: new Set(exist.map((r) => r.name)) };
  });
  await removeObjectBytes(project(res).ref, deleted.map((r) => r.version));
  const unique = [...new Set(keys as string[])];
  sendXml(res, xml('DeleteResult', {
    Deleted: quiet ? [] : unique.filter((k) => !denied.has(k)).map((k) => ({ Key: k })),
    Error: unique.filter((k) => denied.has(k)).map((k) => ({ Key: k, Code: 'AccessDenied', Message: 'Access Denied' })),
  }));
}

export function copySource(header: string): { bucket: string; key: string } {
  let src = header.split('?')[0];
  try {
    src = decodeURIComponent(src);
  } catch {
    throw s3Errors.invalidArgument('Invalid copy source encoding');
  }
  src = src.replace(/^\/+/, '');
  const slash = src.indexOf('/');
  if (slash <= 0) throw s3Errors.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  return { bucket: bucketName(src.slice(0, slash)), key: validKey(src.slice(slash + 1)) };
}

export async function copyObject({ req, res, auth, bucket, key }: S3Request) {
  const src = copySource(req.get('x-amz-copy-source')!);
  const replace = (req.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase() === 'REPLACE';
  const row = await copyRow(req, res, auth.who, {
    bucket: src.bucket, sourceKey: src.key, destinationBucket: bucketName(bucket), destinationKey: validKey(key), upsert: true,
    override: replace ? { mimetype: req.get('content-type') ?? undefined, cacheControl: req.get('cache-control') ?? undefined } : undefined,
    userMetadata: (source) => (replace ? amzMeta(req) : source),
  });
  sendXml(res, xml('CopyObjectResult', { ETag: row.metadata.eTag, LastModified: new Date(row.updated_at) }));
}

const encoder = (url: boolean) => (s: string) => (url ? encodeURIComponent(s).replace(/%2F/g, '/') : s);

/** ListObjects (V1) and ListObjectsV2, through the REST API's listing function, as the caller. */
export async function listObjects({ req, res, auth, bucket, query }: S3Request) {
  const b = bucketName(bucket);
  const v2 = query['list-type'] === '2';
  const prefix = query.prefix ?? '';
  const delimiter = query.delimiter ?? '';
  const maxKeys = query['max-keys'] === undefined ? 1000 : Number(query['max-keys']);
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 0) throw s3Errors.invalidArgument('max-keys must be a non-negative integer');
  const limit = Math.min(maxKeys, 1000);
  let after: string;
  if (v2 && query['continuation-token'] !== undefined) {
    after = Buffer.from(query['continuation-token'], 'base64url').toString('utf8');
    if (!after) throw s3Errors.invalidArgument('The continuation token provided is incorrect');
  } else {
    after = (v2 ? query['start-after'] : query.marker) ?? '';
  }
  const rows = await tx(req, res, auth.who, async (c) => {
    const { rows: [exists] } = await c.query('select 1 from _loam.storage_bucket($1)', [b]);
    if (!exists) throw errors.noSuchBucket();
    if (limit === 0) return [];
    return (await c.query('select * from storage.list_objects_with_delimiter($1, $2, $3, $4, $5, $6)',
      [b, prefix, delimiter, limit + 1, after, ''])).rows;
  }, { readOnly: true });
  const truncated = rows.length > limit;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1]?.name as string | undefined;
  const enc = encoder(query['encoding-type'] === 'url');
  const contents = page.filter((r) => r.id !== null).map((r) => ({
    Key: enc(r.name), LastModified: new Date(r.updated_at), ETag: r.metadata?.eTag ?? '""',
    Size: Number(r.metadata?.size ?? 0), StorageClass: 'STANDARD',
  }));
  const prefixes = page.filter((r) => r.id === null).map((r) => ({ Prefix: enc(r.name) }));
  const common = {
    Name: b, Prefix: enc(prefix), Delimiter: delimiter ? enc(delimiter) : undefined, MaxKeys: maxKeys,
    EncodingType: query['encoding-type'] === 'url' ? 'url' : undefined, IsTruncated: truncated,
  };
  sendXml(res, xml('ListBucketResult', v2 ? {
    ...common, KeyCount: page.length,
    ContinuationToken: query['continuation-token'], StartAfter: query['start-after'],
    NextContinuationToken: truncated && last ? Buffer.from(last).toString('base64url') : undefined,
    Contents: contents, CommonPrefixes: prefixes,
  } : {
    ...common, Marker: query.marker ?? '', NextMarker: truncated && last ? enc(last) : undefined,
    Contents: contents, CommonPrefixes: prefixes,
  }));
}
