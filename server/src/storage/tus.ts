// Resumable uploads (TUS 1.0) at `<project>/storage/v1/upload/resumable`, as supabase-js / tus-js-client / Uppy
// use them: Upload-Metadata bucketName, objectName, contentType, cacheControl (seconds), metadata (JSON); x-upsert
// on the creation request. @tus/server speaks the protocol; each project has its own server whose file store is
// `<storage dir>/<ref>/tus/` and whose upload ids are UUIDs Loam generates (anything else is refused before the
// library sees it). The caller's permission is checked at creation (the rolled-back insert of checkUpload), each
// later request must come from the same role and user, and the finished file is the staged file of the one
// commit path (commitUpload: the row as the caller, under RLS, then the bytes). Unfinished uploads expire.
// `/upload/resumable/sign` is the same with a signed upload token (`x-signature`) as the permission.
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { Router } from 'express';
import { FileStore } from '@tus/file-store';
import { Server, type Upload } from '@tus/server';
import { caller, serviceCaller, type Caller } from './context.ts';
import { errors, StorageError, toStorageError } from './errors.ts';
import { verifyToken } from './sign.ts';
import { storageSettings } from '../../../db/src/config.ts';
import { tusDirectory } from './expiry.ts';
import { queueUploadExpiry } from './sweep.ts';
import { tusLocker } from './tus-lock.ts';
import { checkUpload, commitUpload, parseUserMetadata, uploadLimit, type UploadTarget } from './upload.ts';
import { bucketName, checkMimeType, objectKey } from './validate.ts';
import { project } from '../project/resolve.ts';

interface Call {
  req: Request; res: Response; who: Caller;
  /** Who the upload belongs to: no other caller may continue it. */
  tag: string;
  /** The object's owner (`sub`). */
  owner: unknown;
  /** `/upload/resumable/sign`: the signed upload token's object and upsert, which the upload must keep to. */
  signed?: { url: string; upsert: boolean };
}
const current = new AsyncLocalStorage<Call>();
const call = (): Call => {
  const c = current.getStore();
  if (!c) throw new Error('TUS hook outside a request');
  return c;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OWNER = 'loam_owner';
const UPSERT = 'loam_upsert';


/** A storage error as @tus/server sends errors: the status, and storage-api's JSON body. */
function tusError(err: unknown): { status_code: number; body: string } {
  const e = err instanceof StorageError ? err : toStorageError(err);
  const status = e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 400;
  return { status_code: status, body: JSON.stringify({ statusCode: String(e.statusCode), code: e.code, error: e.error, message: e.message }) };
}

function target(upload: Upload, owner: unknown): UploadTarget & { mimetype: string; cacheControl: string } {
  const m = upload.metadata ?? {};
  const seconds = m.cacheControl && /^\d{1,10}$/.test(m.cacheControl) ? m.cacheControl : undefined;
  return {
    bucket: bucketName(m.bucketName ?? ''), key: objectKey(m.objectName ?? ''), upsert: m[UPSERT] === 'true',
    owner, mimetype: m.contentType || 'application/octet-stream',
    cacheControl: seconds ? `max-age=${seconds}` : 'no-cache',
  };
}

async function md5Of(file: string): Promise<string> {
  const hash = crypto.createHash('md5');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

const ANY_BUCKET = { id: '', public: false, file_size_limit: null, allowed_mime_types: null };

const servers = new Map<string, { server: Server; dir: string }>();

function serverFor(ref: string): { server: Server; dir: string } {
  let s = servers.get(ref);
  if (s) return s;
  const dir = tusDirectory(ref);
  const datastore = new FileStore({ directory: dir, expirationPeriodInMilliseconds: storageSettings().uploadExpiry * 1000 });
  const server = new Server({
    path: '/upload/resumable',
    datastore,
    // One lock per upload across every API process (tus-lock.ts): a resumed upload may reach another process.
    locker: tusLocker,
    namingFunction: () => crypto.randomUUID(),
    generateUrl: (_req, { proto, host, id }) =>
      `${proto}://${host}${call().req.baseUrl}/upload/resumable${call().signed ? '/sign' : ''}/${id}`,
    // The project's limit; a bucket's own is checked at creation, once the bucket is known.
    maxSize: () => uploadLimit(project(call().res).ref, ANY_BUCKET),
    onUploadCreate: async (_req, upload) => {
      const { req, res, who, owner, tag, signed } = call();
      try {
        const upsert = signed ? signed.upsert : req.get('x-upsert') === 'true';
        const t = { ...target(upload, owner), upsert };
        if (signed && signed.url !== `${t.bucket}/${t.key}`) throw errors.invalidSignature();
        const bucket = await checkUpload(req, res, who, t, { mimetype: t.mimetype, contentLength: upload.size });
        checkMimeType(t.mimetype, t.key.endsWith('.emptyFolderPlaceholder') ? null : bucket.allowed_mime_types);
        if (upload.size !== undefined && upload.size > await uploadLimit(project(res).ref, bucket)) {
          throw new StorageError(413, 'EntityTooLarge', 'The object exceeded the maximum allowed size', 'Payload too large');
        }
        if (upload.metadata?.metadata) parseUserMetadata(upload.metadata.metadata, false);
        await queueUploadExpiry(project(res).ref);
        return { metadata: { ...upload.metadata, [OWNER]: tag, [UPSERT]: String(upsert) } };
      } catch (err) {
        throw tusError(err);
      }
    },
    onIncomingRequest: async (_req, id) => {
      if (!id) return;
      const { tag } = call();
      const upload = await datastore.getUpload(id).catch(() => undefined);
      // Another caller's upload reads as one that does not exist.
      if (upload && upload.metadata?.[OWNER] !== tag) throw { status_code: 404, body: 'The file for this url was not found\n' };
    },
    onUploadFinish: async (_req, upload) => {
      const { req, res, who, owner } = call();
      const file = path.join(dir, upload.id);
      try {
        const t = target(upload, owner);
        const userMetadata = upload.metadata?.metadata ? parseUserMetadata(upload.metadata.metadata, false) : null;
        const staged = { path: file, size: upload.size ?? upload.offset, md5: await md5Of(file) };
        await commitUpload(req, res, who, t, { staged, mimetype: t.mimetype, cacheControl: t.cacheControl, userMetadata });
        return {};
      } catch (err) {
        throw tusError(err);
      } finally {
        // Committed or refused, the upload is over: a retry must start again (and be checked again).
        await fsp.rm(file, { force: true });
        await fsp.rm(`${file}.json`, { force: true });
      }
    },
  });
  s = { server, dir };
  servers.set(ref, s);
  return s;
}

export const tus = Router();

function handle(req: Request, res: Response, c: Omit<Call, 'req' | 'res'>) {
  const id = (req.params as { id?: string }).id;
  if (id !== undefined && !UUID.test(id)) {
    res.status(404).set('Tus-Resumable', '1.0.0').end('The file for this url was not found\n');
    return;
  }
  const { server } = serverFor(project(res).ref);
  return current.run({ req, res, ...c }, () => server.handle(req, res));
}

// A signed upload URL's token (POST /object/upload/sign/…) in `x-signature`: the token is the permission (its
// creator passed RLS), so, as the signed PUT does, the upload runs as service_role for the token's owner, and
// only for the token's object. Every request of the upload needs a valid token for that object.
tus.all('/upload/resumable/sign{/:id}', async (req, res) => {
  if (req.method === 'OPTIONS') return handle(req, res, { who: serviceCaller(), tag: '', owner: undefined });
  let url: string;
  let owner: unknown;
  let upsert: boolean;
  try {
    const claims = verifyToken(res, req.get('x-signature'), 'upload');
    [url, owner, upsert] = [String(claims.url), claims.owner, claims.upsert === true];
  } catch (err) {
    const e = tusError(err);
    res.status(e.status_code).set('Tus-Resumable', '1.0.0').type('application/json').end(req.method === 'HEAD' ? undefined : e.body);
    return;
  }
  await handle(req, res, { who: serviceCaller(), tag: `signed:${url}`, owner, signed: { url, upsert } });
});

tus.all('/upload/resumable{/:id}', async (req, res) => {
  const who = caller(req, res);
  await handle(req, res, { who, owner: who.claims.sub, tag: `${who.role}:${typeof who.claims.sub === 'string' ? who.claims.sub : ''}` });
});
