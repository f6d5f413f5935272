// Objects: upload, download (authenticated, public, HEAD, info), move, copy, delete (one or many).
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { blobStore, objectKey } from './backend.ts';
import { ANON, caller, tx, type Caller } from './context.ts';
import { errors } from './errors.ts';
import { findObject, removeObjectBytes } from './objects-db.ts';
import { queueSweep } from './sweep.ts';
import { releaseStorage, reserveStorage } from './quota.ts';
import { sendInfo, sendObject } from './serve.ts';
import { parseUserMetadata, upload } from './upload.ts';
import { bool, bucketName, json, jsonBody, objectKey as validKey, ownerUuid, str, target } from './validate.ts';
import { project } from '../project/resolve.ts';

export const objects = Router();

const upsertHeader = (req: Request) => req.get('x-upsert') === 'true';

// --- move and copy -------------------------------------------------------------------------------------------

function moveOrCopyBody(req: Request) {
  const b = jsonBody(req);
  const bucket = bucketName(str(b.bucketId, 'bucketId', true));
  const destinationBucket = b.destinationBucket === undefined || b.destinationBucket === null || b.destinationBucket === ''
    ? bucket : bucketName(str(b.destinationBucket, 'destinationBucket'));
  return {
    b, bucket, destinationBucket,
    sourceKey: validKey(str(b.sourceKey, 'sourceKey', true)),
    destinationKey: validKey(str(b.destinationKey, 'destinationKey', true)),
  };
}

// A move renames the row; the bytes are keyed by version, so they stay where they are.
objects.post('/object/move', json, async (req, res) => {
  const who = caller(req, res);
  const m = moveOrCopyBody(req);
  const [row] = await tx(req, res, who, async (c) => (await c.query(
    `update storage.objects set bucket_id = $3, name = $4, owner = coalesce($5::uuid, owner), owner_id = coalesce($6, owner_id)
     where bucket_id = $1 and name = $2 returning id, name`,
    [m.bucket, m.sourceKey, m.destinationBucket, m.destinationKey, ownerUuid(who.claims.sub), who.claims.sub ?? null])).rows);
  if (!row) throw errors.noSuchKey();
  res.json({ message: 'Successfully moved', Id: row.id, Key: row.name });
});

export interface CopySpec {
  bucket: string; sourceKey: string; destinationBucket: string; destinationKey: string; upsert: boolean;
  override?: { cacheControl?: unknown; mimetype?: unknown };
  /** The destination's user metadata, given the source's. */
  userMetadata: (source: unknown) => unknown;
}

/** A copy (REST and S3): the source read as the caller, its bytes copied under a new version (no transaction open
 *  meanwhile) and counted against the quota, then the new row as the caller. */
export async function copyObject(req: Request, res: Response, who: Caller, m: CopySpec) {
  const ref = project(res).ref;
  const version = crypto.randomUUID();
  const [src] = await tx(req, res, who, async (c) => (await c.query(
    'select version, metadata, user_metadata from storage.objects where bucket_id = $1 and name = $2', [m.bucket, m.sourceKey])).rows, { readOnly: true });
  if (!src) throw errors.noSuchKey();
  const size = await blobStore().copy(objectKey(ref, src.version), objectKey(ref, version));
  let previous: string | null = null;
  let reserved = false;
  try {
    await reserveStorage(ref, size);
    reserved = true;
    const row = await tx(req, res, who, async (c) => {
      const metadata = { ...src.metadata };
      if (typeof m.override?.cacheControl === 'string') metadata.cacheControl = m.override.cacheControl;
      if (typeof m.override?.mimetype === 'string') metadata.mimetype = m.override.mimetype;
      const userMetadata = m.userMetadata(src.user_metadata);
      if (m.upsert) {
        const { rows } = await c.query('select version from storage.objects where bucket_id = $1 and name = $2 for update', [m.destinationBucket, m.destinationKey]);
        previous = rows[0]?.version ?? null;
      }
      const { rows: [dest] } = await c.query(
        `insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata)
         values ($1, $2, $3, $4, $5, $6, $7)
         ${m.upsert ? `on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id,
           version = excluded.version, metadata = excluded.metadata, user_metadata = excluded.user_metadata` : ''}
         returning id, bucket_id, name, owner, owner_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at`,
        [m.destinationBucket, m.destinationKey, ownerUuid(who.claims.sub), who.claims.sub ?? null, version, metadata, userMetadata]);
      return dest;
    });
    if (previous) await removeObjectBytes(ref, [previous]);
    return row;
  } catch (err) {
    await blobStore().remove([objectKey(ref, version)]).then(() => (reserved ? releaseStorage(ref, size) : undefined), () => queueSweep(ref));
    throw err;
  }
}

objects.post('/object/copy', json, async (req, res) => {
  const who = caller(req, res);
  const m = moveOrCopyBody(req);
  const copyMetadata = bool(m.b.copyMetadata, 'copyMetadata') ?? true;
  const headerMeta = req.get('x-metadata');
  const row = await copyObject(req, res, who, {
    ...m, upsert: upsertHeader(req), override: (m.b.metadata ?? {}) as CopySpec['override'],
    userMetadata: (src) => (copyMetadata ? src : headerMeta ? parseUserMetadata(headerMeta, true) : null),
  });
  res.json({ Id: row.id, Key: `${m.destinationBucket}/${m.destinationKey}`, ...row });
});

// --- reads ---------------------------------------------------------------------------------------------------

async function download(req: Request, res: Response, who: Caller, publicOnly = false) {
  const { bucket, key } = target(req);
  const obj = await findObject(req, res, who, bucket, key, { publicOnly });
  await sendObject(req, res, obj, { download: req.query.download });
}

async function info(req: Request, res: Response, who: Caller, publicOnly = false) {
  const { bucket, key } = target(req);
  sendInfo(res, await findObject(req, res, who, bucket, key, { publicOnly }));
}

objects.get('/object/info/public/:bucket/*key', (req, res) => info(req, res, ANON, true));
objects.get('/object/info/authenticated/:bucket/*key', (req, res) => info(req, res, caller(req, res)));
objects.get('/object/info/:bucket/*key', (req, res) => info(req, res, caller(req, res, { allowInvalidJwt: true })));
// Express serves HEAD with the GET handlers; sendObject then sends headers only.
objects.get('/object/public/:bucket/*key', (req, res) => download(req, res, ANON, true));
objects.get('/object/authenticated/:bucket/*key', (req, res) => download(req, res, caller(req, res)));
objects.get('/object/:bucket/*key', (req, res) => download(req, res, caller(req, res, { allowInvalidJwt: true })));

// --- writes --------------------------------------------------------------------------------------------------

objects.post('/object/:bucket/*key', async (req, res) => {
  const who = caller(req, res);
  res.json(await upload(req, res, who, { ...target(req), upsert: upsertHeader(req), owner: who.claims.sub }));
});

objects.put('/object/:bucket/*key', async (req, res) => {
  const who = caller(req, res);
  res.json(await upload(req, res, who, { ...target(req), upsert: true, owner: who.claims.sub }));
});

objects.delete('/object/:bucket', json, async (req, res) => {
  const bucket = bucketName(req.params.bucket);
  const prefixes = jsonBody(req).prefixes;
  if (!Array.isArray(prefixes) || prefixes.length === 0 || prefixes.some((p) => typeof p !== 'string')) {
    throw errors.invalidRequest('body/prefixes must be a non-empty array of strings');
  }
  if (prefixes.length > 1000) throw errors.invalidRequest('Bulk object requests are limited to 1000 objects per request.');
  const rows = await tx(req, res, caller(req, res), async (c) => (await c.query(
    `delete from storage.objects where bucket_id = $1 and name = any($2::text[])
     returning bucket_id, name, id, owner, owner_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at`,
    [bucket, prefixes])).rows);
  await removeObjectBytes(project(res).ref, rows.map((r) => r.version));
  res.json(rows);
});

objects.delete('/object/:bucket/*key', async (req, res) => {
  const { bucket, key } = target(req);
  const version = await tx(req, res, caller(req, res), async (c) => {
    const { rows } = await c.query('delete from storage.objects where bucket_id = $1 and name = $2 returning version', [bucket, key]);
    if (rows[0]) return rows[0].version as string;
    const { rows: [e] } = await c.query('select _loam.storage_object_exists($1, $2) as exists', [bucket, key]);
    throw e.exists ? errors.accessDenied('Access denied') : errors.noSuchKey();
  });
  await removeObjectBytes(project(res).ref, [version]);
  res.json({ message: 'Successfully deleted' });
});
