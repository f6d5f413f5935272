// Input rules of the storage API at the edge: bucket names, object keys, size limits, MIME types — storage-api's
// rules, plus `.`/`..` segments and a leading `/` (names a URL would normalise away).
import type { Request } from 'express';
import { jsonParser, tooDeepMessage } from '../json-depth.ts';
import { errors } from './errors.ts';

/** JSON bodies, only on the routes that take them (an upload's body is the file, whatever its type). */
export const json = jsonParser({ limit: '2mb' }, () => errors.invalidRequest(tooDeepMessage()));

// Postgres' integer: what limits, offsets and expiries are stored or passed as (larger fails there as 22003).
const INT4_MAX = 2 ** 31 - 1;

const BUCKET_NAME = /^[A-Za-z0-9_!.*'() &$=@;:+,?-]{1,100}$/;
const OBJECT_KEY = /^[A-Za-z0-9_/!.*'() &$=@;:+,?-]+$/;

export function bucketName(v: unknown): string {
  if (typeof v !== 'string' || !BUCKET_NAME.test(v) || v === '.' || v === '..') throw errors.invalidBucketName();
  return v;
}

export function objectKey(v: unknown): string {
  const key = typeof v === 'string' ? v : '';
  // Empty segments (`a///b`) are kept as storage-api keeps them: bytes are stored by version, never by name.
  if (!OBJECT_KEY.test(key) || key.startsWith('/') || key.split('/').some((s) => s === '.' || s === '..')) {
    throw errors.invalidKey(key);
  }
  return key;
}

/** `/:bucket/*key` → the bucket and the object key (Express gives the wildcard as decoded segments). */
export function target(req: Request): { bucket: string; key: string } {
  const p = req.params as Record<string, string | string[] | undefined>;
  const key = Array.isArray(p.key) ? p.key.join('/') : p.key;
  return { bucket: bucketName(p.bucket), key: objectKey(key) };
}

/** A bucket's file_size_limit: bytes as a number, or "20GB" / "20MB" / "30KB" / "3B"; null clears it. */
export function fileSizeLimit(v: unknown, ceiling: number): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  let bytes: number;
  if (typeof v === 'number') bytes = v;
  else if (typeof v === 'string') {
    const m = /^([0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$/i.exec(v);
    if (!m) throw errors.invalidFileSizeLimit();
    const scale = { gb: 1e9, mb: 1e6, kb: 1e3, b: 1 }[m[2].toLowerCase() as 'gb' | 'mb' | 'kb' | 'b'];
    bytes = Math.round(Number(Number(m[1]).toPrecision(3)) * scale);
  } else throw errors.invalidFileSizeLimit();
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw errors.invalidFileSizeLimit();
  if (bytes > ceiling) throw errors.entityTooLarge();
  return bytes;
}

export function allowedMimeTypes(v: unknown): string[] | null | undefined {
  if (v === undefined || v === null) return v;
  if (!Array.isArray(v) || v.some((m) => typeof m !== 'string')) throw errors.invalidRequest('allowed_mime_types must be an array of strings');
  const list = (v as string[]).filter((m) => m);
  for (const m of list) {
    if (m.length > 1000 || !/^([a-zA-Z0-9\-+.]+)\/([a-zA-Z0-9\-+.]+|\*)(;\s*charset=[a-zA-Z0-9-]+)?$/.test(m)) throw errors.invalidMimeType(m);
  }
  return list;
}

/** Whether `mime` is allowed by a bucket's list (`type/*` wildcards); throws 415 if not. */
export function checkMimeType(mime: string, allowed: string[] | null | undefined): void {
  if (!allowed || allowed.length === 0) return;
  const [type, sub] = mime.split(';')[0].trim().toLowerCase().split('/');
  if (!type || !sub) throw errors.invalidMimeType(mime);
  const ok = allowed.some((a) => {
    const [at, as] = a.split(';')[0].trim().toLowerCase().split('/');
    return at === type && (as === '*' || as === sub);
  });
  if (!ok) throw errors.invalidMimeType(mime);
}

export function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw errors.invalidParameter(name, `${name} must be a boolean`);
  return v;
}

export function int(v: unknown, name: string, opts: { min?: number; max?: number } = {}): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || (opts.min !== undefined && n < opts.min)) {
    throw errors.invalidParameter(name, `${name} must be an integer${opts.min !== undefined ? ` >= ${opts.min}` : ''}`);
  }
  const max = opts.max ?? INT4_MAX;
  if (n > max) throw errors.invalidParameter(name, `${name} must be at most ${max}`);
  return n;
}

export function str(v: unknown, name: string, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw errors.missingParameter(name);
    return undefined;
  }
  if (typeof v !== 'string') throw errors.invalidParameter(name, `${name} must be a string`);
  // Postgres text cannot hold a NUL byte (22021): a clear 400 naming the parameter instead.
  if (v.includes('\0')) throw errors.invalidParameter(name, `${name} must not contain NUL characters (\\u0000)`);
  return v;
}

export function jsonBody(req: Request): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw errors.invalidRequest('Body must be a JSON object');
  return b as Record<string, unknown>;
}

/** The owner uuid column takes the caller's `sub` when it is a UUID; owner_id keeps it as text either way. */
export function ownerUuid(sub: unknown): string | null {
  return typeof sub === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sub) ? sub : null;
}
