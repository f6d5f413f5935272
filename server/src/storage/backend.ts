// Where object bytes live, behind one small interface: the local filesystem (default) or S3 / S3-compatible.
// Every upload is first staged to a local file (size limit enforced, MD5 computed, fsynced), then committed
// under a key named by the object's version — a UUID — so a key is never derived from a user's path (no
// traversal is possible) and bytes only become reachable once complete and referenced by a committed row.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { errors } from './errors.ts';
import { storageSettings } from '../../../db/src/config.ts';

export interface ByteRange { start: number; end: number }

export interface BlobStore {
  /** Makes a staged file readable at `key` (atomically: readers see all of it or nothing). */
  commit(stagedPath: string, key: string, contentType: string): Promise<void>;
  /** The bytes at `key` (or a range of them); throws errors.noSuchKey() if absent. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Copies the bytes at `from` to `to`; resolves with their size. */
  copy(from: string, to: string): Promise<number>;
  /** Removes the keys (absent ones are no error); resolves with how many bytes were removed. */
  remove(keys: string[]): Promise<number>;
  removePrefix(prefix: string): Promise<void>;
  /** Keys directly below `prefix` (a "directory"), with when each was written. */
  list(prefix: string): Promise<{ key: string; modified: Date }[]>;
}

// The version comes back from storage.objects, which the project's owner can write with psql: anything but a
// UUID (`../<other ref>/objects/…`) would name another project's bytes, so it is refused as a missing object.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isVersion = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
function checkedVersion(version: string): string {
  if (!isVersion(version)) throw errors.noSuchKey();
  return version;
}
export const objectKey = (ref: string, version: string) => `${ref}/objects/${checkedVersion(version)}`;
export const renderKey = (ref: string, version: string, variant: string) => `${ref}/renders/${checkedVersion(version)}/${variant}`;
export const partKey = (ref: string, version: string) => `${ref}/parts/${checkedVersion(version)}`;
export const renderPrefix = (ref: string, version: string) => `${ref}/renders/${checkedVersion(version)}/`;

export interface Staged { path: string; size: number; md5: string }

// Staged files are named after the host and pid of the process receiving them: at startup a process can then
// tell the leftovers of a dead process (an upload cut off by a crash: never visible, no row points at it) from
// the uploads other live processes on the same data directory are still receiving.
const stagingDir = () => path.join(storageSettings().fileRoot, '.staging');
const stagingPrefix = () => `${os.hostname()}.${process.pid}.`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the staged files of interrupted uploads, at startup: those of processes of this host that are gone
 *  (or whose pid this process now has — a restarted container's process is often pid 1 every time), and any
 *  other file untouched for an hour. Returns how many files went. */
export async function removeInterruptedUploads(): Promise<number> {
  const dir = stagingDir();
  const host = os.hostname();
  // Another host's processes cannot be asked (a re-created container is another host), and files without a
  // host.pid name (renders stage that way) say nothing: those are judged by age. An upload writes as its bytes
  // arrive and Node ends any request after 5 minutes (http.Server requestTimeout), so an hour is safe.
  const cutoff = Date.now() - 3600_000;
  let removed = 0;
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const m = /^(.+)\.(\d+)\.[0-9a-f-]{36}$/.exec(name);
    let stale: boolean;
    if (m && m[1] === host) {
      const pid = Number(m[2]);
      stale = pid === process.pid || !processAlive(pid);
    } else {
      const st = await fsp.stat(file).catch(() => undefined);
      stale = !!st && st.mtimeMs < cutoff;
    }
    if (stale) {
      await fsp.rm(file, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

/** Streams `body` into a staging file, failing with 413 past `maxBytes`; the file is removed on any failure. */
export async function stage(body: Readable, maxBytes: number): Promise<Staged> {
  const dir = stagingDir();
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, stagingPrefix() + crypto.randomUUID());
  const hash = crypto.createHash('md5');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(errors.entityTooLarge());
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const out = fs.createWriteStream(file, { flags: 'wx' });
  try {
    await pipeline(body, meter, out);
    const fd = await fsp.open(file, 'r+');
    try { await fd.sync(); } finally { await fd.close(); }
  } catch (err) {
    await discard(file);
    throw err;
  }
  return { path: file, size, md5: hash.digest('hex') };
}

export async function discard(stagedPath: string): Promise<void> {
  await fsp.rm(stagedPath, { force: true });
}

class FileStore implements BlobStore {
  private readonly root: string;
  constructor(root: string) { this.root = root; }
  private file(key: string) { return path.join(this.root, key); }

  async commit(stagedPath: string, key: string) {
    const target = this.file(key);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.rename(stagedPath, target);
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const handle = await fsp.open(this.file(key), 'r').catch((err) => {
      throw err.code === 'ENOENT' ? errors.noSuchKey() : err;
    });
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async copy(from: string, to: string) {
    const target = this.file(to);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${crypto.randomUUID()}.tmp`;
    try {
      await fsp.copyFile(this.file(from), tmp);
      const { size } = await fsp.stat(tmp);
      await fsp.rename(tmp, target);
      return size;
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw (err as { code?: string }).code === 'ENOENT' ? errors.noSuchKey() : err;
    }
  }

  async remove(keys: string[]) {
    let bytes = 0;
    for (let i = 0; i < keys.length; i += 64) {
      await Promise.all(keys.slice(i, i + 64).map(async (k) => {
        const st = await fsp.stat(this.file(k)).catch(() => undefined);
        await fsp.rm(this.file(k), { force: true });
        if (st?.isFile()) bytes += st.size;
      }));
    }
    return bytes;
  }

  async removePrefix(prefix: string) {
    await fsp.rm(this.file(prefix), { recursive: true, force: true });
  }

  async list(prefix: string) {
    const dir = this.file(prefix);
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    const out: { key: string; modified: Date }[] = [];
    for (const name of names) {
      const st = await fsp.stat(path.join(dir, name)).catch(() => undefined);
      if (st) out.push({ key: `${prefix}${name}`, modified: st.mtime });
    }
    return out;
  }
}

class S3Store implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  constructor(s: ReturnType<typeof storageSettings>['s3']) {
    this.bucket = s.bucket;
    this.prefix = s.prefix ? `${s.prefix}/` : '';
    this.client = new S3Client({
      region: s.region,
      endpoint: s.endpoint,
      forcePathStyle: s.forcePathStyle,
      credentials: s.accessKeyId && s.secretAccessKey ? { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } : undefined,
      // Checksums only where S3 requires them: S3-compatible servers do not all understand the newer defaults.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }
  private key(k: string) { return this.prefix + k; }

  async commit(stagedPath: string, key: string, contentType: string) {
    const { size } = await fsp.stat(stagedPath);
    await this.client.send(new PutObjectCommand({
      Bucket: this.bucket, Key: this.key(key), Body: fs.createReadStream(stagedPath), ContentLength: size, ContentType: contentType,
    }));
    await discard(stagedPath);
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: this.key(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined,
      }));
      return out.Body as Readable;
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
        throw errors.noSuchKey();
      }
      throw err;
    }
  }

  async copy(from: string, to: string) {
    await this.client.send(new CopyObjectCommand({
      Bucket: this.bucket, Key: this.key(to), CopySource: `${this.bucket}/${this.key(from)}`,
    }));
    return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(to) }))).ContentLength ?? 0;
  }

  async remove(keys: string[]) {
    // One DeleteObject per key: DeleteObjects needs a Content-MD5 that not every S3-compatible server accepts
    // in the form the SDK now sends. Each key's size is asked first, for the project's storage quota.
    let bytes = 0;
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map(async (k) => {
        const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(k) })).catch(() => undefined);
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(k) }));
        bytes += head?.ContentLength ?? 0;
      }));
    }
    return bytes;
  }

  async removePrefix(prefix: string) {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token,
      }));
      const keys = (page.Contents ?? []).map((o) => o.Key!.slice(this.prefix.length));
      await this.remove(keys);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async list(prefix: string) {
    const out: { key: string; modified: Date }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: this.key(prefix), Delimiter: '/', ContinuationToken: token,
      }));
      for (const o of page.Contents ?? []) out.push({ key: o.Key!.slice(this.prefix.length), modified: o.LastModified ?? new Date() });
      for (const cp of page.CommonPrefixes ?? []) out.push({ key: cp.Prefix!.slice(this.prefix.length).replace(/\/$/, ''), modified: new Date(0) });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}

let store: BlobStore | undefined;

export function blobStore(): BlobStore {
  if (store) return store;
  const s = storageSettings();
  store = s.backend === 's3' ? new S3Store(s.s3) : new FileStore(s.fileRoot);
  return store;
}

/** Deletes every stored byte of a project (objects and rendered variants); run when the project is deleted.
 *  The local directory goes whatever the backend: files left there by an earlier file-backend configuration
 *  belong to the project too (and every worker can do it, whichever backend it was started with). */
export async function purgeProjectFiles(ref: string): Promise<void> {
  if (!/^[a-z]{20}$/.test(ref)) throw new Error(`not a project ref: ${ref}`);
  await fsp.rm(path.join(storageSettings().fileRoot, ref), { recursive: true, force: true });
  if (storageSettings().backend === 's3') await blobStore().removePrefix(`${ref}/`);
}

// Sites (server/src/sites): a deployed file's bytes are stored once per site under the SHA-256 Loam computed
// of them, and an uploaded zip under the deploy's id until it is unpacked. Keys are made only of the project
// ref, ids Loam generated and hashes Loam computed — never of a path from a deploy — and each part is checked.
const SITE_REF = /^[a-z]{20}$/;
const SHA256 = /^[0-9a-f]{64}$/;
function siteBase(ref: string, siteId: string): string {
  if (!SITE_REF.test(ref) || !isVersion(siteId)) throw new Error('not a site of a project');
  return `${ref}/sites/${siteId.toLowerCase()}/`;
}
/** A file's bytes, or (`variant`) their brotli or gzip encoding made at deploy time. */
export const siteBlobKey = (ref: string, siteId: string, sha256: string, variant?: 'br' | 'gz') => {
  if (!SHA256.test(sha256)) throw new Error('not a SHA-256 digest');
  if (variant !== undefined && variant !== 'br' && variant !== 'gz') throw new Error('not a variant');
  return `${siteBase(ref, siteId)}blobs/${sha256}${variant ? `.${variant}` : ''}`;
};
export const siteUploadKey = (ref: string, siteId: string, deployId: string) => {
  if (!isVersion(deployId)) throw new Error('not a deploy id');
  return `${siteBase(ref, siteId)}uploads/${deployId.toLowerCase()}.zip`;
};
export const sitePrefix = siteBase;
