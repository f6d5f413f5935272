// Listing: `POST /object/list/:bucket` (one folder level, through Supabase's `storage.search`) and
// `POST /object/list-v2/:bucket` (keys under a prefix with cursor paging, folders collapsed by a delimiter).
// Both run as the caller, so RLS on storage.objects decides what is listed.
import { Router } from 'express';
import { caller, tx } from './context.ts';
import { errors } from './errors.ts';
import { bool, bucketName, int, json, jsonBody, str } from './validate.ts';

export const list = Router();

const SORT_COLUMNS = new Set(['name', 'updated_at', 'created_at', 'last_accessed_at']);

function sortBy(v: unknown): { column: string; order: string } {
  if (v === undefined || v === null) return { column: 'name', order: 'asc' };
  if (typeof v !== 'object' || Array.isArray(v)) throw errors.invalidParameter('sortBy', 'sortBy must be an object');
  const s = v as Record<string, unknown>;
  const column = str(s.column, 'sortBy.column') ?? 'name';
  const order = (str(s.order, 'sortBy.order') ?? 'asc').toLowerCase();
  if (!SORT_COLUMNS.has(column)) throw errors.invalidParameter('sortBy.column', `sortBy.column must be one of ${[...SORT_COLUMNS].join(', ')}`);
  if (order !== 'asc' && order !== 'desc') throw errors.invalidParameter('sortBy.order', 'sortBy.order must be asc or desc');
  return { column, order };
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

list.post('/object/list/:bucket', json, async (req, res) => {
  const bucket = bucketName(req.params.bucket);
  const b = jsonBody(req);
  let prefix = str(b.prefix, 'prefix', true)!;
  if (prefix.length > 0 && !prefix.endsWith('/')) prefix = `${prefix}/`;
  const search = str(b.search, 'search') ?? '';
  const limit = int(b.limit, 'limit', { min: 1 }) ?? 100;
  const offset = int(b.offset, 'offset', { min: 0 }) ?? 0;
  const sort = sortBy(b.sortBy);
  // As storage-api does: the pattern is escaped only when sorting by something other than the name.
  const [p, q] = sort.column === 'name' ? [prefix, search] : [escapeLike(prefix), escapeLike(search)];
  const rows = await tx(req, res, caller(req, res), async (c) => (await c.query(
    'select * from storage.search($1, $2, $3, $4, $5, $6, $7, $8)',
    [p, bucket, limit, (p + q).split('/').length, offset, q, sort.column, sort.order])).rows, { readOnly: true });
  res.json(rows);
});

// Continuation tokens as storage-api writes them: base64 of `k:value` lines — l: the last key, o: the order,
// c: the sort column, a: that column's value in the last row.
interface Cursor { startAfter: string; order?: string; column?: string; after?: string }
const CURSOR_PARTS: Record<string, keyof Cursor> = { l: 'startAfter', o: 'order', c: 'column', a: 'after' };

function encodeCursor(c: Cursor): string {
  const lines = Object.entries(CURSOR_PARTS).filter(([, k]) => c[k]).map(([p, k]) => `${p}:${c[k]}`);
  return Buffer.from(lines.join('\n')).toString('base64');
}

function decodeCursor(cursor: string): Cursor {
  const c: Cursor = { startAfter: '' };
  for (const part of Buffer.from(cursor, 'base64').toString().split('\n')) {
    const m = /^(\S):(.*)$/.exec(part);
    if (!m || !(m[1] in CURSOR_PARTS)) throw errors.invalidParameter('continuation token');
    c[CURSOR_PARTS[m[1]]] = m[2];
  }
  return c;
}

const V2_COLUMNS = new Set(['name', 'created_at', 'updated_at']);

list.post('/object/list-v2/:bucket', json, async (req, res) => {
  const bucket = bucketName(req.params.bucket);
  const b = jsonBody(req);
  const prefix = str(b.prefix, 'prefix') ?? '';
  const limit = Math.min(int(b.limit, 'limit', { min: 1 }) ?? 1000, 1000);
  const delimiter = bool(b.with_delimiter, 'with_delimiter') ? '/' : '';
  const raw = str(b.cursor, 'cursor');
  const cursor = raw ? decodeCursor(raw) : undefined;
  const asked = sortBy(b.sortBy);
  // A page continues in the order of the page before it.
  const sort = { column: cursor?.column ?? asked.column, order: cursor?.order ?? asked.order };
  if (!V2_COLUMNS.has(sort.column)) throw errors.invalidParameter('sortBy.column', 'sortBy.column must be one of name, created_at, updated_at');
  const depth = prefix ? prefix.split('/').length : 1;
  const keyOf = (name: string) => name.split('/')[depth - 1] ?? '';
  const rows = await tx(req, res, caller(req, res), async (c) => (await c.query(
    'select * from storage.list_objects_with_delimiter($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [bucket, prefix, delimiter, limit + 1, '', cursor?.startAfter ?? '', sort.column, sort.order, cursor?.after ?? null])).rows, { readOnly: true });
  const hasNext = rows.length > limit;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  res.json({
    hasNext,
    ...(hasNext ? {
      nextCursor: encodeCursor({
        startAfter: last.name, order: sort.order, column: sort.column === 'name' ? undefined : sort.column,
        after: sort.column === 'name' ? undefined : new Date(last[sort.column]).toISOString(),
      }),
      nextCursorKey: last.name,
    } : {}),
    // With a delimiter, entries carry `key`: their own segment below the prefix (storage-api's split_part of the
    // name at the prefix's depth); folder names end with the delimiter.
    folders: page.filter((r) => r.id === null).map((r) => ({ key: keyOf(r.name), name: r.name, id: null, updated_at: r.updated_at, created_at: r.created_at })),
    objects: page.filter((r) => r.id !== null).map((r) => (delimiter ? { key: keyOf(r.name), ...r } : r)),
  });
});
