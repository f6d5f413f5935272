// The object rows the handlers share: reading one for download (RLS, or past it for public buckets), and
// removing the bytes of rows that are gone.
import type { Request, Response } from 'express';
import { blobStore, isVersion, objectKey, renderPrefix } from './backend.ts';
import { tx, type Caller } from './context.ts';
import { errors } from './errors.ts';
import { queueSweep } from './sweep.ts';
import { releaseStorage } from './quota.ts';

export interface ObjectRow {
  id: string;
  bucket_id: string;
  name: string;
  version: string;
  metadata: ObjectMetadata;
  user_metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

export interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
}

const ROW = 'id, bucket_id, name, version, metadata, user_metadata, created_at, updated_at';

// One statement: the bucket (past RLS, for its public flag) and the object — past RLS in a public bucket, under
// the caller's RLS otherwise.
const FIND_SQL = `
  select b.id as bucket, b.public, o.*
  from _loam.storage_bucket($1) b
  left join lateral (
    select ${ROW} from _loam.storage_public_object($1, $2) where b.public
    union all
    select ${ROW} from storage.objects x where not b.public and x.bucket_id = $1 and x.name = $2
  ) o on true`;

/**
 * The object to serve. `publicOnly`: the /public/ routes (no key needed, the bucket must be public);
 * otherwise a caller without a valid token is only served from public buckets, as storage-api does.
 * Signed URLs pass the service caller: their signature is the permission.
 */
export async function findObject(req: Request, res: Response, who: Caller, bucket: string, key: string,
                                 opts: { publicOnly?: boolean } = {}): Promise<ObjectRow> {
  const [row] = await tx(req, res, who, async (c) => (await c.query(FIND_SQL, [bucket, key])).rows, { readOnly: true });
  if (!row) throw errors.noSuchBucket();
  if (!row.public && (opts.publicOnly || !who.authenticated)) throw errors.noSuchBucket();
  if (!row.id) throw errors.noSuchKey();
  return row as ObjectRow;
}

/** Removes stored bytes (and rendered variants) of object versions no row refers to any more. A failure here
 *  leaves unreachable bytes, never a broken object: it is logged, and a sweep of the project is queued.
 *  (Not a job queued with the row's deletion: the rows are in the project's database, the queue in the control
 *  database, so no one transaction can hold both.) */
export async function removeObjectBytes(ref: string, versions: (string | null)[]): Promise<void> {
  // Only UUIDs name stored bytes (backend.ts); anything else a row says was never ours to remove.
  const list = versions.filter((v): v is string => typeof v === 'string' && isVersion(v));
  if (!list.length) return;
  const store = blobStore();
  try {
    await releaseStorage(ref, await store.remove(list.map((v) => objectKey(ref, v))));
    for (const v of list) await store.removePrefix(renderPrefix(ref, v));
  } catch (err) {
    console.error(`[storage] could not remove bytes of ${list.length} object version(s) of ${ref}:`, err);
    await queueSweep(ref);
  }
}
