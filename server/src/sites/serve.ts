// Serving sites: `<subdomain>.<LOAM_SITES_DOMAIN>` and `<public url>/sites/<subdomain>/` (live), and the same
// with `<subdomain>--staging` (staging, not indexed). Public websites need no API key: this runs before the
// data plane's key gate. The hot path touches no database: a site's pointers are cached for a few seconds and
// dropped at once in every process when the site changes (publish, rollback, staging, settings, deletion: a
// NOTIFY, see below), and each deploy's manifest — which never changes once ready — is cached by deploy id. A
// request reads the pointer once, so it is served wholly from the old version or wholly from the new one.
import { isIP } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { config } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { isDatabaseUnavailable } from '../../../db/src/pg-errors.ts';
import { onProjectChanged } from '../../../db/src/projects.ts';
import { blobStore, siteBlobKey } from '../storage/backend.ts';
import { compileHeaders, compileRedirects, type CompiledHeaders, type CompiledRedirect, type HeaderRule, type RedirectRule } from './rules.ts';
import { sitesSettings } from '../../../db/src/config.ts';
import { STAGING_SUFFIX } from './urls.ts';

interface FileEntry { sha256: string; size: number; contentType: string; br: number | null; gz: number | null }
interface Version {
  deployId: string;
  files: Map<string, FileEntry>;
  redirects: CompiledRedirect[];
  headers: CompiledHeaders[];
}
interface SiteRow {
  id: string; ref: string; subdomain: string; spa_mode: boolean; not_found_page: string | null;
  live_deploy_id: string | null; live_headers: HeaderRule[] | null; live_redirects: RedirectRule[] | null;
  staging_deploy_id: string | null; staging_headers: HeaderRule[] | null; staging_redirects: RedirectRule[] | null;
}

// Only a bound on staleness should a NOTIFY be missed (the listener reconnecting).
const POINTER_TTL_MS = 5000;
const MAX_SITES_CACHED = 10_000;
const MAX_MANIFESTS_CACHED = 100;
const pointers = new Map<string, { at: number; row: Promise<SiteRow | undefined>; ref?: string }>();
// A site's change (publish, rollback, staging, settings, deletion — its project's too) is announced on the
// project channel (platform_private.site_changed): every process drops that project's sites at once.
onProjectChanged((ref) => {
  for (const [sub, e] of pointers) if (e.ref === ref) pointers.delete(sub);
  // A verification may have moved a domain between projects, or made an unknown host a site's: drop them all.
  domains.clear();
});
const manifests = new Map<string, Promise<Version>>();
// Custom domains (verified only): host → the site's subdomain, or undefined for a host that is no site's. Cached
// like the pointers, so a request to an unknown host costs one query per host every few seconds at most.
const domains = new Map<string, { at: number; subdomain: Promise<string | undefined> }>();

// Small files are kept in memory by their storage key: a key names bytes that never change (content-addressed),
// so nothing ever invalidates an entry; the least recently used go past the budget.
const SMALL_FILE = 64 * 1024;
const SMALL_FILES_BUDGET = 32 * 1024 * 1024;
const smallFiles = new Map<string, { bytes: Promise<Buffer>; size: number }>();
let smallFilesBytes = 0;

function smallFile(key: string, size: number): Promise<Buffer> {
  const hit = smallFiles.get(key);
  if (hit) {
    smallFiles.delete(key);
    smallFiles.set(key, hit);
    return hit.bytes;
  }
  const bytes = blobStore().read(key).then(async (stream) => {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  });
  const entry = { bytes, size };
  bytes.catch(() => { if (smallFiles.get(key) === entry) { smallFiles.delete(key); smallFilesBytes -= size; } });
  smallFiles.set(key, entry);
  smallFilesBytes += size;
  for (const [k, e] of smallFiles) {
    if (smallFilesBytes <= SMALL_FILES_BUDGET) break;
    smallFiles.delete(k);
    smallFilesBytes -= e.size;
  }
  return bytes;
}

/** Drops what this process knows of a site (publish, rollback, settings changed, deleted). */
export function forgetSite(subdomain: string): void { pointers.delete(subdomain); }

function siteRow(subdomain: string): Promise<SiteRow | undefined> {
  const hit = pointers.get(subdomain);
  if (hit && Date.now() - hit.at < POINTER_TTL_MS) return hit.row;
  if (pointers.size >= MAX_SITES_CACHED) pointers.clear();
  const entry: { at: number; row: Promise<SiteRow | undefined>; ref?: string } = { at: Date.now(), row: Promise.resolve(undefined) };
  entry.row = controlPool().query<SiteRow>('select * from platform_private.site_for_serving($1)', [subdomain]).then((r) => {
    entry.ref = r.rows[0]?.ref;
    return r.rows[0];
  });
  entry.row.catch(() => pointers.delete(subdomain));
  pointers.set(subdomain, entry);
  return entry.row;
}

/** Drops what this process knows of a custom domain (verified, removed or moved to another site). */
export function forgetDomain(host: string | null | undefined): void { if (host) domains.delete(host); }

function domainSite(host: string): Promise<string | undefined> {
  const hit = domains.get(host);
  if (hit && Date.now() - hit.at < POINTER_TTL_MS) return hit.subdomain;
  if (domains.size >= MAX_SITES_CACHED) domains.clear();
  const subdomain = controlPool().query<{ subdomain: string }>('select subdomain from platform_private.site_for_domain($1)', [host])
    .then((r) => r.rows[0]?.subdomain);
  subdomain.catch(() => domains.delete(host));
  domains.set(host, { at: Date.now(), subdomain });
  return subdomain;
}

let platformDomains: string[] | undefined;
/** The names the platform answers to itself: never a site's custom domain. */
export function isPlatformHost(host: string): boolean {
  platformDomains ??= [sitesSettings().domain, config.projectDomain, new URL(config.publicUrl).hostname]
    .filter((d): d is string => !!d).map((d) => d.toLowerCase());
  return platformDomains.some((d) => host === d || host.endsWith(`.${d}`));
}

/** Could `host` be a custom domain? Not an IP address, not a single label (localhost), not the platform's. */
const mayBeCustomDomain = (host: string) => host.includes('.') && !isIP(host.replace(/^\[|\]$/g, '')) && !isPlatformHost(host);

/** Could a request to `host` (a lower-case hostname) be a site's, whatever its path? Its sites subdomain or a
 *  custom domain. The data plane's paths on plain Node (rest/raw.ts) leave such hosts to Express. */
export function maySiteHost(host: string): boolean {
  const { domain } = sitesSettings();
  return (!!domain && host.endsWith(`.${domain}`)) || mayBeCustomDomain(host);
}

function version(deployId: string, headers: HeaderRule[] | null, redirects: RedirectRule[] | null): Promise<Version> {
  let v = manifests.get(deployId);
  if (v) {
    // Least recently used goes first: re-insert on use.
    manifests.delete(deployId);
    manifests.set(deployId, v);
    return v;
  }
  v = controlPool().query<{ path: string; sha256: string; size: string; content_type: string; br_size: string | null; gz_size: string | null }>(
    'select path, sha256, size, content_type, br_size, gz_size from platform.site_files where deploy_id = $1 and size is not null', [deployId])
    .then(({ rows }) => ({
      deployId,
      files: new Map(rows.map((r) => [r.path, {
        sha256: r.sha256, size: Number(r.size), contentType: r.content_type,
        br: r.br_size === null ? null : Number(r.br_size), gz: r.gz_size === null ? null : Number(r.gz_size),
      }])),
      redirects: compileRedirects(redirects ?? []),
      headers: compileHeaders(headers ?? []),
    }));
  v.catch(() => manifests.delete(deployId));
  manifests.set(deployId, v);
  if (manifests.size > MAX_MANIFESTS_CACHED) manifests.delete(manifests.keys().next().value!);
  return v;
}

const LABEL = /^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9](--staging)?$/;

type Route = { label: string; path: string; prefix: string };

/** The site a request is for, and the path inside it (leading `/`), or undefined if it is not a site request.
 *  A verified custom domain is the site's whole host, live version only. Answered without waiting whenever no
 *  custom domain must be looked up: every API request passes here. */
function route(req: Request): Route | undefined | Promise<Route | undefined> {
  const { domain } = sitesSettings();
  const host = req.hostname?.toLowerCase();
  if (domain && host && host.endsWith(`.${domain}`)) {
    const label = host.slice(0, -domain.length - 1);
    if (!label.includes('.')) return { label, path: req.path, prefix: '' };
  }
  if (host && mayBeCustomDomain(host)) {
    // Unknown while the database is away: the request goes on to the platform's own routes (its health check
    // and APIs answer for themselves), rather than every such host answering as a site.
    return domainSite(host).catch(() => undefined)
      .then((subdomain) => (subdomain ? { label: subdomain, path: req.path, prefix: '' } : pathRoute(req)));
  }
  return pathRoute(req);
}

function pathRoute(req: Request): Route | undefined {
  if (!req.url.startsWith('/sites/')) return undefined;
  const m = /^\/sites\/([^/]+)(\/.*)?$/.exec(req.path);
  return m ? { label: m[1], path: m[2] ?? '', prefix: `/sites/${m[1]}` } : undefined;
}

function plain(res: Response, status: number, message: string, extra: Record<string, string> = {}) {
  res.status(status).set({ 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache', ...extra }).send(message);
}

// Fingerprinted assets (`app.3f2a9c1b.js`, `main-BQx8k2Lm.css`) never change under their name.
const FINGERPRINT = /[.-][0-9a-zA-Z_]{8,}\.(js|mjs|css|woff2?|ttf|otf|png|jpe?g|gif|webp|avif|svg|ico|wasm|map)$/;
const looksHashed = (p: string) => FINGERPRINT.test(p) && /\d/.test(p.split('/').pop()!);

async function sendFile(req: Request, res: Response, site: SiteRow, v: Version, path: string, status: number, staging: boolean, requestPath: string) {
  const f = v.files.get(path)!;
  for (const rule of v.headers) if (rule.match(requestPath)) for (const [k, val] of rule.headers) res.setHeader(k, val);
  // The encoding made at deploy time that the client takes (none for a range request: ranges are of the bytes).
  let encoding: 'br' | 'gz' | undefined;
  if (f.br !== null || f.gz !== null) {
    res.setHeader('Vary', 'Accept-Encoding');
    const accepted = acceptedEncodings(req.get('accept-encoding'));
    const accepts = (name: string) => accepted.has(name);
    if (!req.get('range')) encoding = f.br !== null && accepts('br') ? 'br' : f.gz !== null && accepts('gzip') ? 'gz' : undefined;
  }
  const size = encoding === 'br' ? f.br! : encoding === 'gz' ? f.gz! : f.size;
  if (encoding) res.setHeader('Content-Encoding', encoding === 'br' ? 'br' : 'gzip');
  const etag = `"${f.sha256}${encoding ? `-${encoding}` : ''}"`;
  res.setHeader('Content-Type', res.getHeader('Content-Type') ?? f.contentType);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('ETag', etag);
  res.setHeader('Accept-Ranges', 'bytes');
  if (!res.getHeader('Cache-Control')) {
    res.setHeader('Cache-Control', staging ? 'no-cache' : status === 200 && looksHashed(path) ? 'public, max-age=31536000, immutable' : 'public, max-age=0, must-revalidate');
  }
  if (staging) res.setHeader('X-Robots-Tag', 'noindex');
  const inm = req.get('if-none-match');
  if (status === 200 && inm && (inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))) {
    res.status(304).end();
    return;
  }
  let range: { start: number; end: number } | undefined;
  const rangeHeader = req.get('range');
  if (status === 200 && rangeHeader && f.size > 0) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(rangeHeader.trim());
    const ifRange = req.get('if-range');
    if (m && (m[1] || m[2]) && (!ifRange || ifRange === etag)) {
      let start = m[1] ? Number(m[1]) : f.size - Number(m[2]);
      let end = m[1] && m[2] ? Math.min(Number(m[2]), f.size - 1) : f.size - 1;
      if (start < 0) start = 0;
      if (start >= f.size || end < start) {
        res.status(416).set('Content-Range', `bytes */${f.size}`).end();
        return;
      }
      range = { start, end };
    }
  }
  res.status(range ? 206 : status);
  res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : size));
  if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${f.size}`);
  if (req.method === 'HEAD' || size === 0) { res.end(); return; }
  const key = siteBlobKey(site.ref, site.id, f.sha256, encoding);
  if (size <= SMALL_FILE) {
    const bytes = await smallFile(key, size);
    res.end(range ? bytes.subarray(range.start, range.end + 1) : bytes);
    return;
  }
  const stream = await blobStore().read(key, range);
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

/** The codings an Accept-Encoding header accepts (q > 0). */
function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').slice(0, 1000).split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((x) => x !== undefined);
    if (name && (q === undefined || Number(q) > 0)) out.add(name.trim());
  }
  return out;
}

function decodePath(raw: string): string | undefined {
  try {
    const p = decodeURIComponent(raw);
    return /[\x00\\]/.test(p) ? undefined : p;
  } catch {
    return undefined;
  }
}

async function serve(req: Request, res: Response, next: NextFunction, r: Route | undefined) {
  if (!r) return next();
  if (!LABEL.test(r.label)) return plain(res, 404, 'Site not found');
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method not allowed', { Allow: 'GET, HEAD' });
  // `/sites/<name>` → `/sites/<name>/`: relative links of the index page resolve inside the site.
  if (r.path === '') {
    const q = req.originalUrl.indexOf('?');
    return res.redirect(301, `${r.prefix}/${q >= 0 ? req.originalUrl.slice(q) : ''}`);
  }
  const staging = r.label.endsWith(STAGING_SUFFIX);
  const subdomain = staging ? r.label.slice(0, -STAGING_SUFFIX.length) : r.label;
  const site = await siteRow(subdomain);
  const deployId = staging ? site?.staging_deploy_id : site?.live_deploy_id;
  if (!site || !deployId) return plain(res, 404, 'Site not found');
  const v = await version(deployId, staging ? site.staging_headers : site.live_headers, staging ? site.staging_redirects : site.live_redirects);

  const decoded = decodePath(r.path);
  if (decoded === undefined) return plain(res, 400, 'Bad request');
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return plain(res, 404, 'Not found');
  const requestPath = decoded;
  const rel = decoded.slice(1);
  // The rules files are configuration, not content.
  const exact = rel && rel !== '_headers' && rel !== '_redirects' && v.files.has(rel) ? rel : undefined;

  const rules = exact ? v.redirects.filter((x) => x.force) : v.redirects;
  for (const rule of rules) {
    const to = rule.match(requestPath);
    if (to === undefined) continue;
    if (rule.status === 200 || rule.status === 404) {
      const target = decodePath(to.split('?')[0].replace(/^\/+/, '')) ?? '';
      const index = `${target}${target && !target.endsWith('/') ? '/' : ''}index.html`;
      const file = v.files.has(target) ? target : v.files.has(index) ? index : undefined;
      if (file) return sendFile(req, res, site, v, file, rule.status, staging, requestPath);
      continue;
    }
    // A rule's target never leaves for another host unless it names one: `/go/*` → `/:splat` with `//evil` is local.
    const location = /^https?:\/\//.test(to) ? to : `${r.prefix}/${to.replace(/^[/\\]+/, '')}`;
    res.setHeader('X-Content-Type-Options', 'nosniff');
    return res.redirect(rule.status, location);
  }
  if (exact) return sendFile(req, res, site, v, exact, 200, staging, requestPath);

  const dirIndex = rel === '' || rel.endsWith('/') ? `${rel}index.html` : `${rel}/index.html`;
  if (v.files.has(dirIndex)) {
    if (rel !== '' && !rel.endsWith('/')) {
      const q = req.originalUrl.indexOf('?');
      return res.redirect(301, `${r.prefix}${r.path}/${q >= 0 ? req.originalUrl.slice(q) : ''}`);
    }
    return sendFile(req, res, site, v, dirIndex, 200, staging, requestPath);
  }
  if (site.spa_mode && v.files.has('index.html')) return sendFile(req, res, site, v, 'index.html', 200, staging, requestPath);
  const notFound = site.not_found_page ?? '404.html';
  if (v.files.has(notFound)) return sendFile(req, res, site, v, notFound, 404, staging, requestPath);
  return plain(res, 404, 'Not found');
}

export const sitesHandler: RequestHandler = (req, res, next) => {
  const r = route(req);
  if (r === undefined) return next();
  Promise.resolve(r).then((site) => serve(req, res, next, site)).catch((err) => {
    if (res.headersSent) return res.destroy();
    if (isDatabaseUnavailable(err)) return plain(res, 503, 'Service unavailable', { 'Retry-After': '5' });
    if ((err as { code?: string }).code === 'NoSuchKey' || (err as { status?: number }).status === 404) return plain(res, 404, 'Not found');
    console.error(err);
    plain(res, 500, 'Internal server error');
  });
};
