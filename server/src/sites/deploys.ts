// Deploy bytes: storing a file under its SHA-256 (once per site), reading a deploy's `_headers` / `_redirects`,
// and unpacking a zip deploy (run by the worker task site_deploy__process).
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { controlPool } from '../../../db/src/pools.ts';
import { blobStore, discard, siteBlobKey, siteUploadKey, stage } from '../storage/backend.ts';
import { contentTypeOf } from './paths.ts';
import { parseHeaders, parseRedirects, type HeaderRule, type RedirectRule } from './rules.ts';
import { deployLimits } from './settings.ts';
import { sitesSettings } from '../../../db/src/config.ts';
import { entryStream, inspectZip, ZipRefused } from './zip.ts';

const RULES_MAX_BYTES = 64 * 1024;
const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** Streams `body` into the blob store under its SHA-256; past `maxBytes` a 413 ZipRefused, nothing kept. */
export async function storeSiteFile(ref: string, siteId: string, body: Readable, maxBytes: number): Promise<{ sha256: string; size: number }> {
  const hash = crypto.createHash('sha256');
  // An async iteration ends with the source's error, whichever stream of a zip entry's chain raises it.
  // Its errors are the sender's (a zip entry larger than its header said, a corrupt stream, a cut-off upload):
  // a refusal, never a reason to retry.
  async function* hashed() {
    try {
      for await (const chunk of body) { hash.update(chunk as Buffer); yield chunk as Buffer; }
    } catch (err) {
      throw new ZipRefused(400, 'invalid_zip', `could not read the file: ${(err as Error).message}`);
    }
  }
  let staged;
  try {
    staged = await stage(Readable.from(hashed()), maxBytes);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 413) throw new ZipRefused(413, 'file_too_large', `a file is larger than ${maxBytes} bytes`);
    throw err;
  }
  const sha256 = hash.digest('hex');
  try {
    await blobStore().commit(staged.path, siteBlobKey(ref, siteId, sha256), 'application/octet-stream');
  } catch (err) {
    await discard(staged.path);
    throw err;
  }
  return { sha256, size: staged.size };
}

const COMPRESSIBLE = /^(text\/|application\/(javascript|json|xml|wasm|manifest\+json|ld\+json|rss\+xml|atom\+xml)|image\/(svg\+xml|x-icon|vnd\.microsoft\.icon)|font\/(ttf|otf))/;
const MIN_COMPRESS = 1024;
const MAX_COMPRESS = 8 * 1024 * 1024;

export interface Variants { br_size: number | null; gz_size: number | null }

/** Stores brotli and gzip encodings of a text-like file next to its bytes, keeping each only if it saves at
 *  least a tenth. Idempotent: a hash already done is simply written again. */
export async function precompress(ref: string, siteId: string, sha256: string, size: number, contentType: string): Promise<Variants> {
  if (size < MIN_COMPRESS || size > MAX_COMPRESS || !COMPRESSIBLE.test(contentType)) return { br_size: null, gz_size: null };
  const chunks: Buffer[] = [];
  for await (const c of await blobStore().read(siteBlobKey(ref, siteId, sha256))) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const out: Variants = { br_size: null, gz_size: null };
  const encodings = [
    ['br', () => brotli(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })],
    ['gz', () => gzip(raw, { level: 9 })],
  ] as const;
  for (const [variant, encode] of encodings) {
    const encoded = await encode();
    if (encoded.length > raw.length * 0.9) continue;
    const staged = await stage(Readable.from([encoded]), encoded.length);
    try {
      await blobStore().commit(staged.path, siteBlobKey(ref, siteId, sha256, variant), 'application/octet-stream');
    } catch (err) {
      await discard(staged.path);
      throw err;
    }
    out[variant === 'br' ? 'br_size' : 'gz_size'] = encoded.length;
  }
  return out;
}

async function readSmall(ref: string, siteId: string, sha256: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await blobStore().read(siteBlobKey(ref, siteId, sha256), { start: 0, end: RULES_MAX_BYTES - 1 })) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= RULES_MAX_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, RULES_MAX_BYTES).toString('utf8');
}

/** The parsed rules of a deploy from its root `_headers` and `_redirects` files (first 64 KB of each). */
export async function deployRules(ref: string, siteId: string, files: { path: string; sha256: string }[]):
  Promise<{ headers: HeaderRule[]; redirects: RedirectRule[] }> {
  const { maxRules } = sitesSettings();
  const find = (p: string) => files.find((f) => f.path === p);
  const h = find('_headers'), r = find('_redirects');
  return {
    headers: h ? parseHeaders(await readSmall(ref, siteId, h.sha256), maxRules) : [],
    redirects: r ? parseRedirects(await readSmall(ref, siteId, r.sha256), maxRules) : [],
  };
}

/** Unpacks a zip deploy into the site's blobs and stages it; a refused zip fails the deploy (nothing staged).
 *  Idempotent: a deploy no longer `processing` is left alone. */
export async function processZipDeploy(ref: string, deployId: string): Promise<'ready' | 'failed' | 'skipped'> {
  const pool = controlPool();
  const { rows: [deploy] } = await pool.query<{ site_id: string; status: string }>(
    `select d.site_id, d.status from platform.site_deploys d join platform.sites s on s.id = d.site_id
     join platform.projects p on p.id = s.project_id where d.id = $1 and p.ref = $2`, [deployId, ref]);
  if (!deploy || deploy.status !== 'processing') return 'skipped';
  const limits = deployLimits((await pool.query('select * from platform_private.site_plan_limits($1)', [deploy.site_id])).rows[0]);
  const uploadKey = siteUploadKey(ref, deploy.site_id, deployId);
  let local;
  try {
    local = await stage(await blobStore().read(uploadKey), limits.maxDeployBytes + 1024 * 1024);
  } catch (err) {
    // The upload is gone (its site was deleted meanwhile): nothing to retry.
    if ((err as { code?: string }).code !== 'NoSuchKey') throw err;
    await pool.query('select platform_private.fail_deploy($1, $2)', [deployId, 'the uploaded zip is no longer stored']);
    return 'failed';
  }
  try {
    const { zip, files } = await inspectZip(local.path, limits);
    const stored: ({ path: string; sha256: string; size: number; content_type: string } & Variants)[] = [];
    try {
      let total = 0;
      for (const f of files) {
        const { sha256, size } = await storeSiteFile(ref, deploy.site_id, await entryStream(zip, f.entry), limits.maxFileBytes);
        total += size;
        if (total > limits.maxDeployBytes) throw new ZipRefused(413, 'deploy_too_large', `the zip unpacks to more than ${limits.maxDeployBytes} bytes`);
        const type = contentTypeOf(f.path);
        stored.push({ path: f.path, sha256, size, content_type: type, ...await precompress(ref, deploy.site_id, sha256, size, type) });
      }
    } finally {
      zip.close();
    }
    const rules = await deployRules(ref, deploy.site_id, stored);
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('select platform_private.add_deploy_files($1, $2)', [deployId, JSON.stringify(stored)]);
      await client.query('select platform_private.stage_deploy($1, $2, $3, $4)',
        [deployId, JSON.stringify(rules.headers), JSON.stringify(rules.redirects), limits.maxDeployBytes]);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback');
      throw err;
    } finally {
      client.release();
    }
    await blobStore().remove([uploadKey]);
    return 'ready';
  } catch (err) {
    // Refusals (the archive's fault, or a limit of stage_deploy: LMD…) fail the deploy; anything else is retried.
    if (!(err instanceof ZipRefused) && !(err as { code?: string }).code?.startsWith('LMD')) throw err;
    await pool.query('select platform_private.fail_deploy($1, $2)', [deployId, (err as Error).message]);
    await blobStore().remove([uploadKey]);
    return 'failed';
  } finally {
    await discard(local.path);
  }
}
