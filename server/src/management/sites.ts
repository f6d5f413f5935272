// Sites under the Management API (SupaBein's paths, `{ref}` for its `:id`): sites; their deploys — a zip or
// file by file, always into staging — publish, rollback and the SHA-256 diff; builds from git and the push
// webhook. Logic lives in sql/platform/functions/sites.sql; bytes and processes in server/src/sites.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { Router, type Request, type Response } from 'express';
import busboy from 'busboy';
import { config } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { ApiError, errors } from '../errors.ts';
import { blobStore, discard, siteUploadKey, stage } from '../storage/backend.ts';
import { repoUrlProblem } from '../sites/build.ts';
import { buildSettings } from '../../../db/src/config.ts';
import { deployRules, precompress, storeSiteFile } from '../sites/deploys.ts';
import { contentTypeOf, normalizeDeployPath } from '../sites/paths.ts';
import { DnsLookupFailed, lookupTxt } from '../dns.ts';
import { forgetDomain, forgetSite, isPlatformHost } from '../sites/serve.ts';
import { deployLimits, type DeployLimits } from '../sites/settings.ts';
import { siteUrls } from '../sites/urls.ts';
import { inspectZip, ZipRefused } from '../sites/zip.ts';
import { body, bool, param, str } from '../validate.ts';
import { asCaller, authenticate, callerQuery, scope } from './session.ts';

type Row = Record<string, any>;

const CHALLENGE_PREFIX = '_loam-challenge.';

export function siteJson(s: Row, ref: string, creds?: Row) {
  return {
    id: s.id,
    project_ref: ref,
    name: s.name,
    subdomain: s.subdomain,
    spa_mode: s.spa_mode,
    not_found_page: s.not_found_page,
    live_deploy_id: s.live_deploy_id,
    staging_deploy_id: s.staging_deploy_id,
    ...siteUrls(s.subdomain),
    repo_url: s.repo_url,
    production_branch: s.production_branch,
    install_command: s.install_command,
    build_command: s.build_command,
    output_dir: s.output_dir,
    auto_publish: s.auto_publish,
    // Names only: values may be tokens.
    build_env: Object.fromEntries(Object.keys(s.build_env ?? {}).map((k) => [k, '********'])),
    webhook_url: `${config.publicUrl}/v1/projects/${ref}/sites/${s.id}/builds/webhook`,
    webhook_secret: s.webhook_secret,
    ...(creds ? { deploy_key_public: creds.deploy_key_public, has_repo_token: creds.has_repo_token } : {}),
    custom_domain: s.custom_domain ?? null,
    custom_domain_verified: !!s.custom_domain_verified_at,
    custom_domain_verified_at: s.custom_domain_verified_at ?? null,
    // What to publish to prove the domain is the owner's (the token is no secret: it goes into public DNS).
    custom_domain_challenge: s.custom_domain ? { type: 'TXT', name: `${CHALLENGE_PREFIX}${s.custom_domain}`, value: s.custom_domain_token } : null,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}

export function deployJson(d: Row) {
  return {
    id: d.id,
    site_id: d.site_id,
    version: d.label,
    label: d.label,
    source: d.source,
    status: d.status,
    ...(d.error ? { error: d.error } : {}),
    size: Number(d.size),
    file_count: d.file_count,
    uploaded_at: d.created_at,
    ready_at: d.ready_at,
    published_at: d.published_at,
  };
}

const fileJson = (f: Row) => ({ path: f.path, sha256: f.sha256, size: f.size === null ? null : Number(f.size), content_type: f.content_type });

const refused = (err: ZipRefused) => new ApiError(err.status, err.code, err.message);

export const sites = Router();
const base = '/projects/:ref/sites';
sites.use(base, authenticate, scope('projects'));

const ids = (req: Request) => [param(req, 'ref'), param(req, 'site_id')];

/** The site's deploy limits: the operator's, lowered to its plan's. */
async function limitsOf(res: Response, req: Request): Promise<DeployLimits> {
  return deployLimits((await callerQuery<{ max_deploy_bytes: string; max_files: number }>(res, 'select * from platform.site_limits($1, $2)', ids(req)))[0]);
}

sites.get(base, async (req, res) => {
  const rows = await callerQuery<Row>(res, 'select * from platform.list_sites($1)', [param(req, 'ref')]);
  res.json(rows.map((s) => siteJson(s, param(req, 'ref'))));
});

function siteSettings(b: Record<string, unknown>) {
  const notFound = str(b, 'not_found_page', { max: 1024 }) ?? str(b, 'custom_404', { max: 1024 });
  return [str(b, 'subdomain', { max: 63 })?.toLowerCase(), str(b, 'name', { max: 256 }), bool(b, 'spa_mode'), notFound];
}

sites.post(base, async (req, res) => {
  const b = body(req.body);
  const [subdomain, ...rest] = siteSettings(b);
  if (subdomain === undefined) throw errors.invalidBody('subdomain is required');
  const [site] = await callerQuery<Row>(res, 'select * from platform.create_site($1, $2, $3, $4, $5)', [param(req, 'ref'), subdomain, ...rest]);
  res.status(201).json(siteJson(site, param(req, 'ref')));
});

const credentials = async (res: Response, req: Request) =>
  (await callerQuery<Row>(res, 'select * from platform.site_build_credentials($1, $2)', ids(req)))[0];

sites.get(`${base}/:site_id`, async (req, res) => {
  const [site] = await callerQuery<Row>(res, 'select * from platform.get_site($1, $2)', ids(req));
  res.json(siteJson(site, param(req, 'ref'), await credentials(res, req)));
});

// A new SSH deploy key (ed25519) for a private repository: the public half is returned, to add to the
// repository as a read-only deploy key; the private half never leaves the control database but for the clone.
sites.post(`${base}/:site_id/deploy-key`, async (req, res) => {
  await callerQuery(res, 'select id from platform.get_site($1, $2)', ids(req));
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'loam-key-'));
  try {
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `loam-site-${param(req, 'site_id')}`, '-f', path.join(dir, 'key')]);
    const [priv, pub] = await Promise.all([fsp.readFile(path.join(dir, 'key'), 'utf8'), fsp.readFile(path.join(dir, 'key.pub'), 'utf8')]);
    await callerQuery(res, 'select platform.set_site_deploy_key($1, $2, $3, $4)', [...ids(req), priv, pub.trim()]);
    res.status(201).json({ public_key: pub.trim() });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

const BUILD_KEYS = ['repo_url', 'production_branch', 'install_command', 'build_command', 'output_dir', 'auto_publish', 'build_env'];

function buildFields(b: Record<string, unknown>) {
  const repo = str(b, 'repo_url', { max: 2048 });
  if (repo) {
    const problem = repoUrlProblem(repo, buildSettings().allowLocalRepos);
    if (problem) throw new ApiError(400, 'invalid_build_settings', problem);
  }
  const env = b.build_env;
  if (env !== undefined && env !== null && (typeof env !== 'object' || Array.isArray(env))) throw new ApiError(400, 'invalid_build_settings', 'build_env must be an object');
  return [repo, str(b, 'production_branch', { max: 255 }), str(b, 'install_command', { max: 4096 }), str(b, 'build_command', { max: 4096 }),
    str(b, 'output_dir', { max: 1024 }), bool(b, 'auto_publish'), env ? JSON.stringify(env) : null];
}

/** `custom_domain` of a PATCH: lowercased, without a trailing dot; empty removes it; the platform's own names are
 *  refused (SQL checks the form). */
function customDomain(b: Record<string, unknown>): string | undefined {
  const raw = str(b, 'custom_domain', { max: 254 });
  if (raw === undefined) return undefined;
  const domain = raw.trim().toLowerCase().replace(/\.$/, '');
  if (domain && isPlatformHost(domain)) throw new ApiError(400, 'invalid_domain', `${domain} is one of the platform's own domains`);
  return domain;
}

sites.patch(`${base}/:site_id`, async (req, res) => {
  const b = body(req.body);
  const [before] = await callerQuery<Row>(res, 'select subdomain, custom_domain from platform.get_site($1, $2)', ids(req));
  const domain = customDomain(b);
  const build = buildFields(b);
  const settings = siteSettings(b);
  // Write-only: never part of any answer.
  const token = str(b, 'repo_token', { max: 4096 });
  // One transaction: a refused build setting leaves the other settings unchanged too.
  const site = await asCaller(res, async (c) => {
    let row = (await c.query<Row>('select * from platform.update_site($1, $2, $3, $4, $5, $6)', [...ids(req), ...settings])).rows[0];
    if (BUILD_KEYS.some((k) => b[k] !== undefined)) {
      row = (await c.query<Row>('select * from platform.update_site_build($1, $2, $3, $4, $5, $6, $7, $8, $9)', [...ids(req), ...build])).rows[0];
    }
    if (domain !== undefined) row = (await c.query<Row>('select * from platform.set_site_domain($1, $2, $3)', [...ids(req), domain])).rows[0];
    if (token !== undefined) await c.query('select platform.set_site_repo_token($1, $2, $3)', [...ids(req), token]);
    return row;
  });
  forgetDomain(before.custom_domain);
  forgetSite(before.subdomain);
  forgetSite(site.subdomain);
  res.json(siteJson(site, param(req, 'ref'), await credentials(res, req)));
});

// Proves the custom domain is the owner's: its TXT record `_loam-challenge.<domain>` must hold the site's token
// (looked up through LOAM_DNS_SERVERS). SQL decides, and moves the domain from another site whose record is gone.
sites.post(`${base}/:site_id/custom-domain/verify`, async (req, res) => {
  const [site] = await callerQuery<Row>(res, 'select custom_domain from platform.get_site($1, $2)', ids(req));
  let published: string[] = [];
  if (site.custom_domain) {
    try {
      published = await lookupTxt(`${CHALLENGE_PREFIX}${site.custom_domain}`);
    } catch (err) {
      if (!(err instanceof DnsLookupFailed)) throw err;
      throw new ApiError(422, 'domain_not_verified', `${err.message}: try again later`);
    }
  }
  const [row] = await callerQuery<Row>(res, 'select * from platform.verify_site_domain($1, $2, $3)', [...ids(req), published]);
  forgetDomain(row.custom_domain);
  res.json(siteJson(row, param(req, 'ref'), await credentials(res, req)));
});

sites.delete(`${base}/:site_id`, async (req, res) => {
  const [site] = await callerQuery<Row>(res, 'select * from platform.delete_site($1, $2)', ids(req));
  forgetDomain(site.custom_domain);
  forgetSite(site.subdomain);
  res.json(siteJson(site, param(req, 'ref')));
});

// ---- deploys

sites.get(`${base}/:site_id/deploys`, async (req, res) => {
  const rows = await callerQuery<Row>(res, 'select * from platform.list_site_deploys($1, $2)', ids(req));
  res.json(rows.map(deployJson));
});

/** The zip of a deploy request: the `zipfile` field of a multipart form, or the raw body. */
function zipBody(req: Request): Promise<{ stream: Readable; label?: string }> {
  if (!req.is('multipart/form-data')) {
    if (req.is('application/json')) throw new ApiError(415, 'unsupported_media_type', 'send the zip as application/zip or a multipart form field "zipfile"');
    return Promise.resolve({ stream: req, label: typeof req.query.label === 'string' ? req.query.label : undefined });
  }
  return new Promise((resolve, reject) => {
    let label: string | undefined;
    let bb: ReturnType<typeof busboy>;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fieldSize: 1024 } });
    } catch {
      return reject(errors.invalidBody('malformed multipart body'));
    }
    let found = false;
    bb.on('field', (name: string | undefined, value: string) => { if (name === 'label' || name === 'version') label = value.slice(0, 256); });
    bb.on('file', (name: string | undefined, stream: Readable) => {
      if (name !== 'zipfile' || found) { stream.resume(); return; }
      found = true;
      resolve({ stream, get label() { return label; } });
    });
    bb.on('error', () => reject(errors.invalidBody('malformed multipart body')));
    bb.on('close', () => { if (!found) reject(errors.invalidBody('the multipart form has no "zipfile" field')); });
    req.pipe(bb);
  });
}

// The zip is judged in full (names, kinds, sizes, ratios) before anything is stored or recorded: a refused
// archive is a 4xx and leaves nothing behind. Unpacking happens in the job.
sites.post(`${base}/:site_id/deploys`, async (req, res) => {
  const [ref, siteIdRaw] = ids(req);
  const [site] = await callerQuery<Row>(res, 'select id from platform.get_site($1, $2)', [ref, siteIdRaw]);
  const limits = await limitsOf(res, req);
  const { stream, label } = await zipBody(req);
  let staged;
  try {
    staged = await stage(stream, limits.maxDeployBytes);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 413) throw new ApiError(413, 'deploy_too_large', `the zip is larger than ${limits.maxDeployBytes} bytes`);
    // A body cut off or a malformed multipart part is the sender's; a filesystem error (it has a syscall) is ours.
    if (!(err as NodeJS.ErrnoException).syscall) throw errors.invalidBody(`the upload could not be read: ${(err as Error).message}`);
    throw err;
  }
  try {
    try {
      (await inspectZip(staged.path, limits)).zip.close();
    } catch (err) {
      throw err instanceof ZipRefused ? refused(err) : err;
    }
    const deployId = crypto.randomUUID();
    const key = siteUploadKey(ref, site.id, deployId);
    await blobStore().commit(staged.path, key, 'application/zip');
    try {
      const [deploy] = await callerQuery<Row>(res, 'select * from platform.create_zip_deploy($1, $2, $3, $4)',
        [ref, site.id, deployId, str({ label }, 'label', { max: 256 }) ?? null]);
      res.status(202).json(deployJson(deploy));
    } catch (err) {
      await blobStore().remove([key]);
      throw err;
    }
  } finally {
    await discard(staged.path);
  }
});

sites.post(`${base}/:site_id/deploys/open`, async (req, res) => {
  const b = body(req.body);
  const manifest = b.manifest;
  if (manifest !== undefined && manifest !== null) {
    if (typeof manifest !== 'object' || Array.isArray(manifest)) throw new ApiError(400, 'invalid_manifest', 'manifest must be an object of path: sha256');
    for (const path of Object.keys(manifest)) {
      const checked = normalizeDeployPath(path, true);
      if ('problem' in checked) throw new ApiError(checked.problem === 'blocked' ? 403 : 400, checked.problem === 'blocked' ? 'blocked_extension' : 'invalid_path', checked.message);
    }
  }
  const normalized = manifest ? Object.fromEntries(Object.entries(manifest).map(([p, h]) => [p.replace(/^\//, ''), h])) : null;
  const [row] = await callerQuery<Row>(res, 'select (r.deploy).*, r.missing from platform.open_site_deploy($1, $2, $3, $4, $5) r',
    [...ids(req), str(b, 'label', { max: 256 }) ?? str(b, 'version', { max: 256 }) ?? null, normalized ? JSON.stringify(normalized) : null, (await limitsOf(res, req)).maxFiles]);
  res.status(201).json({ ...deployJson(row), missing: row.missing });
});

sites.get(`${base}/:site_id/deploys/:deploy_id`, async (req, res) => {
  const [deploy] = await callerQuery<Row>(res, 'select * from platform.get_site_deploy($1, $2, $3)', [...ids(req), param(req, 'deploy_id')]);
  res.json(deployJson(deploy));
});

function queryPath(req: Request): string {
  const raw = req.query.path;
  if (typeof raw !== 'string') throw new ApiError(400, 'invalid_path', 'the path query parameter is required');
  const checked = normalizeDeployPath(raw, true);
  if ('problem' in checked) throw new ApiError(checked.problem === 'blocked' ? 403 : 400, checked.problem === 'blocked' ? 'blocked_extension' : 'invalid_path', checked.message);
  return checked.path;
}

sites.post(`${base}/:site_id/deploys/:deploy_id/files`, async (req, res) => {
  const path = queryPath(req);
  if (req.is('application/json') || req.is('multipart/form-data') || req.is('application/x-www-form-urlencoded')) {
    throw new ApiError(415, 'unsupported_media_type', 'send the file\'s raw bytes (e.g. Content-Type: application/octet-stream)');
  }
  const deployId = param(req, 'deploy_id');
  // Checked before the bytes are read: the deploy exists, is the caller's and is still pending.
  const [deploy] = await callerQuery<Row>(res, 'select site_id, status from platform.get_site_deploy($1, $2, $3)', [...ids(req), deployId]);
  if (deploy.status !== 'pending') throw new ApiError(409, 'invalid_deploy_state', `deploy is ${deploy.status}, not pending: files can only change before finalize`);
  const limits = await limitsOf(res, req);
  let stored;
  try {
    stored = await storeSiteFile(param(req, 'ref'), deploy.site_id, req, limits.maxFileBytes);
  } catch (err) {
    throw err instanceof ZipRefused ? refused(err) : err;
  }
  const type = contentTypeOf(path);
  const variants = await precompress(param(req, 'ref'), deploy.site_id, stored.sha256, stored.size, type);
  const [file] = await callerQuery<Row>(res, 'select * from platform.put_site_file($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
    [...ids(req), deployId, path, stored.sha256, stored.size, type, limits.maxFiles, variants.br_size, variants.gz_size]);
  res.status(201).json(fileJson(file));
});

sites.get(`${base}/:site_id/deploys/:deploy_id/files`, async (req, res) => {
  const rows = await callerQuery<Row>(res, 'select * from platform.list_site_files($1, $2, $3)', [...ids(req), param(req, 'deploy_id')]);
  res.json(rows.map(fileJson));
});

sites.delete(`${base}/:site_id/deploys/:deploy_id/files`, async (req, res) => {
  await callerQuery(res, 'select platform.delete_site_file($1, $2, $3, $4)', [...ids(req), param(req, 'deploy_id'), queryPath(req)]);
  res.status(204).end();
});

sites.post(`${base}/:site_id/deploys/:deploy_id/finalize`, async (req, res) => {
  const [ref] = ids(req);
  const files = await callerQuery<Row>(res, 'select * from platform.list_site_files($1, $2, $3)', [...ids(req), param(req, 'deploy_id')]);
  const [deploy] = await callerQuery<Row>(res, 'select site_id from platform.get_site_deploy($1, $2, $3)', [...ids(req), param(req, 'deploy_id')]);
  const rules = await deployRules(ref, deploy.site_id, files.filter((f) => f.size !== null) as { path: string; sha256: string }[]);
  const [ready] = await callerQuery<Row>(res, 'select * from platform.finalize_site_deploy($1, $2, $3, $4, $5, $6)',
    [...ids(req), param(req, 'deploy_id'), JSON.stringify(rules.headers), JSON.stringify(rules.redirects), (await limitsOf(res, req)).maxDeployBytes]);
  res.json(deployJson(ready));
});

for (const action of ['publish', 'rollback'] as const) {
  sites.post(`${base}/:site_id/deploys/:deploy_id/${action}`, async (req, res) => {
    const [site] = await callerQuery<Row>(res, `select * from platform.${action}_site_deploy($1, $2, $3)`, [...ids(req), param(req, 'deploy_id')]);
    forgetSite(site.subdomain);
    res.json(siteJson(site, param(req, 'ref')));
  });
}

sites.get(`${base}/:site_id/deploys/:deploy_id/diff`, async (req, res: Response) => {
  const vs = req.query.vs;
  if (typeof vs !== 'string' || !vs) throw errors.invalidBody('the vs query parameter (the deploy to compare with) is required');
  const rows = await callerQuery<Row>(res, 'select * from platform.diff_site_deploys($1, $2, $3, $4)', [...ids(req), param(req, 'deploy_id'), vs]);
  const of = (change: string) => rows.filter((r) => r.change === change).map((r) => r.path);
  res.json({ deploy_id: param(req, 'deploy_id'), vs, added: of('added'), removed: of('removed'), changed: of('changed') });
});

// ---- builds from git

const buildJson = (b: Row) => ({
  id: b.id, site_id: b.site_id, status: b.status, trigger: b.trigger, branch: b.branch, deploy_id: b.deploy_id,
  ...(b.error ? { error: b.error } : {}), created_at: b.created_at, started_at: b.started_at, finished_at: b.finished_at,
});

const buildsDisabled = () => new ApiError(403, 'builds_disabled', 'Builds from git are not enabled on this platform (LOAM_BUILDS_ENABLED)');

sites.post(`${base}/:site_id/builds`, async (req, res) => {
  if (!buildSettings().enabled) throw buildsDisabled();
  const [build] = await callerQuery<Row>(res, 'select * from platform.create_site_build($1, $2)', ids(req));
  res.status(202).json(buildJson(build));
});

sites.get(`${base}/:site_id/builds`, async (req, res) => {
  const rows = await callerQuery<Row>(res, 'select * from platform.list_site_builds($1, $2)', ids(req));
  res.json(rows.map(buildJson));
});

sites.get(`${base}/:site_id/builds/:build_id`, async (req, res) => {
  const [build] = await callerQuery<Row>(res, 'select * from platform.get_site_build($1, $2, $3)', [...ids(req), param(req, 'build_id')]);
  res.json(buildJson(build));
});

sites.post(`${base}/:site_id/builds/:build_id/cancel`, async (req, res) => {
  const [build] = await callerQuery<Row>(res, 'select * from platform.cancel_site_build($1, $2, $3)', [...ids(req), param(req, 'build_id')]);
  res.json(buildJson(build));
});

// The log as text; with ?follow=1 it streams until the build ends (re-read every half second, so at most the
// build's own bounded log and its time limit).
sites.get(`${base}/:site_id/builds/:build_id/logs`, async (req, res) => {
  const read = async () => (await callerQuery<Row>(res, 'select status, log from platform.get_site_build($1, $2, $3)', [...ids(req), param(req, 'build_id')]))[0];
  let build = await read();
  res.set({ 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
  if (req.query.follow !== '1' && req.query.follow !== 'true') { res.send(build.log); return; }
  let sent = 0;
  let closed = false;
  res.on('close', () => { closed = true; });
  const until = Date.now() + buildSettings().timeoutMs + 60_000;
  for (;;) {
    const text: string = build.log;
    if (text.length > sent) { res.write(text.slice(sent)); sent = text.length; }
    if (closed || !['queued', 'running'].includes(build.status) || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 500));
    build = await read();
  }
  res.end();
});

/** POST …/builds/webhook: GitHub's push event, signed with the site's webhook secret (X-Hub-Signature-256).
 *  No access token: mounted before authentication and before the JSON parser, which would lose the exact bytes
 *  the signature covers. Pushes to other branches are acknowledged and ignored. */
export async function siteWebhook(req: Request, res: Response): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 1024 * 1024) throw new ApiError(413, 'payload_too_large', 'Request body is too large');
    chunks.push(c as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const [row] = (await controlPool().query<Row>('select * from platform_private.site_webhook($1, $2)', [param(req, 'ref'), param(req, 'site_id')])).rows;
  const given = /^sha256=([0-9a-f]{64})$/.exec(req.get('x-hub-signature-256') ?? '')?.[1];
  const expected = row ? crypto.createHmac('sha256', row.webhook_secret).update(raw).digest() : crypto.randomBytes(32);
  if (!row || !given || !crypto.timingSafeEqual(Buffer.from(given, 'hex'), expected)) {
    throw new ApiError(401, 'invalid_signature', 'The webhook signature (X-Hub-Signature-256) is missing or wrong');
  }
  if (!buildSettings().enabled) throw buildsDisabled();
  const event = req.get('x-github-event') ?? 'push';
  if (event === 'ping') { res.json({ message: 'pong' }); return; }
  let payload: { ref?: unknown };
  try { payload = JSON.parse(raw.toString('utf8')); } catch { throw errors.invalidBody('Request body is not valid JSON'); }
  if (event !== 'push' || payload?.ref !== `refs/heads/${row.production_branch}`) {
    res.status(202).json({ message: `ignored: not a push to ${row.production_branch}` });
    return;
  }
  const [build] = (await controlPool().query<Row>('select * from platform_private.webhook_build($1, $2)', [param(req, 'ref'), param(req, 'site_id')])).rows;
  res.status(202).json(buildJson(build));
}
