// Buckets: list, get, create, update, delete, empty — as the caller, so RLS on storage.buckets decides.
import { Router } from 'express';
import { caller, serviceCaller, tx } from './context.ts';
import { errors } from './errors.ts';
import { removeObjectBytes } from './objects-db.ts';
import { storageSettings } from '../../../db/src/config.ts';
import { project } from '../project/resolve.ts';
import { allowedMimeTypes, bool, bucketName, fileSizeLimit, int, json, jsonBody, ownerUuid, str } from './validate.ts';

// file_size_limit is a bigint, which pg returns as a string; storage-api sends a number.
const COLUMNS = 'id, name, owner, public, file_size_limit::float8 as file_size_limit, allowed_mime_types, created_at, updated_at';
const SORTABLE = new Set(['id', 'name', 'created_at', 'updated_at']);

// `?search=` is a substring, not a pattern: `%` and `_` match themselves (storage-api escapes them too).
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export const buckets = Router();

buckets.get('/bucket', async (req, res) => {
  const who = caller(req, res);
  const q = req.query as Record<string, unknown>;
  const limit = int(q.limit, 'limit', { min: 1 });
  const offset = int(q.offset, 'offset', { min: 0 }) ?? 0;
  const column = str(q.sortColumn, 'sortColumn') ?? 'name';
  const order = str(q.sortOrder, 'sortOrder') ?? 'asc';
  if (!SORTABLE.has(column)) throw errors.invalidParameter('sortColumn', 'sortColumn must be one of id, name, created_at, updated_at');
  if (order !== 'asc' && order !== 'desc') throw errors.invalidParameter('sortOrder', 'sortOrder must be asc or desc');
  const search = str(q.search, 'search');
  const rows = await tx(req, res, who, async (c) => (await c.query(
    `select ${COLUMNS}, 'STANDARD' as type from storage.buckets
     where $1::text is null or name ilike '%' || $1 || '%'
     order by ${column} ${order} limit $2 offset $3`, [search === undefined ? null : escapeLike(search), limit ?? null, offset])).rows, { readOnly: true });
  res.json(rows);
});

buckets.get('/bucket/:bucket', async (req, res) => {
  const id = bucketName(req.params.bucket);
  const [row] = await tx(req, res, caller(req, res), async (c) =>
    (await c.query(`select ${COLUMNS} from storage.buckets where id = $1`, [id])).rows, { readOnly: true });
  if (!row) throw errors.noSuchBucket();
  res.json(row);
});

buckets.post('/bucket', json, async (req, res) => {
  const who = caller(req, res);
  const b = jsonBody(req);
  const name = str(b.name, 'name', true)!;
  if (name.trim() !== name) throw errors.invalidBucketName();
  bucketName(name);
  const id = bucketName(str(b.id, 'id') || name);
  const isPublic = bool(b.public, 'public') ?? false;
  const sizeLimit = fileSizeLimit(b.file_size_limit, storageSettings().maxFileSize);
  const mimeTypes = allowedMimeTypes(b.allowed_mime_types);
  await tx(req, res, who, (c) => c.query(
    `insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [id, name, ownerUuid(who.claims.sub), who.claims.sub ?? null, isPublic, sizeLimit ?? null, mimeTypes ?? null]));
  res.json({ name });
});

buckets.put('/bucket/:bucket', json, async (req, res) => {
  const id = bucketName(req.params.bucket);
  const b = jsonBody(req);
  const isPublic = bool(b.public, 'public');
  const sizeLimit = fileSizeLimit(b.file_size_limit, storageSettings().maxFileSize);
  const mimeTypes = allowedMimeTypes(b.allowed_mime_types);
  if (isPublic === undefined && sizeLimit === undefined && mimeTypes === undefined) throw errors.noContent();
  const { rowCount } = await tx(req, res, caller(req, res), (c) => c.query(
    `update storage.buckets set
       public = case when $2 then $3 else public end,
       file_size_limit = case when $4 then $5 else file_size_limit end,
       allowed_mime_types = case when $6 then $7 else allowed_mime_types end
     where id = $1`,
    [id, isPublic !== undefined, isPublic ?? null, sizeLimit !== undefined, sizeLimit ?? null, mimeTypes !== undefined, mimeTypes ?? null]));
  if (!rowCount) throw errors.noSuchBucket();
  res.json({ message: 'Successfully updated' });
});

buckets.delete('/bucket/:bucket', async (req, res) => {
  const id = bucketName(req.params.bucket);
  await tx(req, res, caller(req, res), async (c) => {
    const { rows } = await c.query('select _loam.storage_bucket_has_objects($1) as busy', [id]);
    if (rows[0].busy) throw errors.bucketNotEmpty();
    const { rowCount } = await c.query('delete from storage.buckets where id = $1', [id]);
    if (!rowCount) throw errors.noSuchBucket();
  });
  res.json({ message: 'Successfully deleted' });
});

// The caller must see the bucket; its objects are then removed whatever their policies (storage-api does the
// same, as an admin job). The rows go in one transaction, the bytes after it commits.
buckets.post('/bucket/:bucket/empty', async (req, res) => {
  const id = bucketName(req.params.bucket);
  const [bucket] = await tx(req, res, caller(req, res), async (c) =>
    (await c.query('select id from storage.buckets where id = $1', [id])).rows, { readOnly: true });
  if (!bucket) throw errors.noSuchBucket();
  const versions = await tx(req, res, serviceCaller(), async (c) =>
    (await c.query<{ version: string }>('delete from storage.objects where bucket_id = $1 returning version', [id])).rows);
  await removeObjectBytes(project(res).ref, versions.map((v) => v.version));
  // storage-api's words (it empties in the background; Loam has done it by now).
  res.json({ message: 'Empty bucket has been queued. Completion may take up to an hour.' });
});
