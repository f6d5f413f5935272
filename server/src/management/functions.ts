// Edge functions through the Management API (Supabase paths and shapes): deploy (multipart, as the CLI's
// `functions deploy --use-api` and the MCP server send it), create from a JSON body, list, get, update, delete,
// the deployed source, and invocation logs. A deploy records a version and its validation job in one SQL call,
// then waits (bounded) for the job's verdict so the caller learns whether it serves.
import crypto from 'node:crypto';
import busboy from 'busboy';
import { Router, type Request, type Response } from 'express';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { ApiError, errors } from '../errors.ts';
import { body, bool, str, param } from '../validate.ts';
import { functionSettings } from '../../../db/src/config.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { jsonParser } from '../json-depth.ts';

export const functionsManagement = Router();
functionsManagement.use('/projects/:ref/functions', authenticate, scope('projects'));
// supabase-management-js sends the create and update bodies as JSON with no content type (Supabase's spec offers
// more than one body type for them), which fetch labels text/plain: read those as JSON too.
const untypedJson = jsonParser({ limit: '2mb', type: ['text/plain'] }, errors.jsonTooDeep);

const MAX_BUNDLE_BYTES = 20 * 1024 * 1024;
const MAX_FILES = 1000;

interface FunctionRow {
  uuid: string; slug: string; name: string; verify_jwt: boolean; entrypoint_path: string | null;
  import_map_path: string | null; live_version: number | null; created_at: Date; updated_at: Date;
  last_status: string | null; last_error: string | null;
}

/** Where Supabase's API places a deployment's files, as a file URL (`file:///tmp/user_fn_<ref>_<id>_<version>/source/
 *  index.ts`): the MCP server turns these back into bundle paths with that exact prefix, and fails on anything
 *  that is not a file URL. */
const deploymentPath = (ref: string, f: FunctionRow, version: number, p: string) =>
  `file:///tmp/user_fn_${ref}_${f.uuid}_${version}/source/${p}`;

function functionJson(ref: string, f: FunctionRow, version = f.live_version ?? 0) {
  return {
    id: f.uuid,
    slug: f.slug,
    name: f.name,
    status: 'ACTIVE',
    version,
    created_at: f.created_at.getTime(),
    updated_at: f.updated_at.getTime(),
    verify_jwt: f.verify_jwt,
    import_map: f.import_map_path !== null,
    entrypoint_path: f.entrypoint_path === null ? undefined : deploymentPath(ref, f, version, f.entrypoint_path),
    import_map_path: f.import_map_path === null ? undefined : deploymentPath(ref, f, version, f.import_map_path),
  };
}

async function findFunction(res: Response, ref: string, slug: string): Promise<FunctionRow> {
  const [row] = await callerQuery<FunctionRow>(res, 'select * from platform.list_functions($1, $2)', [ref, slug]);
  if (!row) throw new ApiError(404, 'function_not_found', 'Function not found');
  return row;
}

/** A file's path inside the bundle: relative, `/`-separated, no `.`/`..` segments (the worker writes files under
 *  the version's own folder, and nothing may land outside it). A `file://` URL or a leading `/` is accepted, as
 *  the CLI sends absolute paths. */
export function bundlePath(raw: string, what = 'file name'): string {
  let p = raw.startsWith('file://') ? raw.slice('file://'.length) : raw;
  // A path as this API answers it (deploymentPath) names the same bundle file.
  p = p.replace(/^\/tmp\/user_fn_[^/]+\/source\//, '').replace(/^\/+/, '').replace(/^(\.\/)+/, '');
  const segments = p.split('/');
  if (!p || p.length > 1024 || /[\0\\]/.test(p) || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw errors.invalidBody(`${what} "${raw.slice(0, 100)}" is not a valid relative path`);
  }
  return p;
}

interface Bundle { metadata: Record<string, unknown>; files: Map<string, Buffer> }

function readMultipart(req: Request): Promise<Bundle> {
  return new Promise((resolve, reject) => {
    let form: ReturnType<typeof busboy>;
    try {
      // preservePath: bundle files keep their folders (busboy's typing in storage/busboy.d.ts omits the option).
      form = busboy({ headers: req.headers, preservePath: true, limits: { files: MAX_FILES, fields: 10, fieldSize: 64 * 1024 } } as Parameters<typeof busboy>[0]);
    } catch {
      return reject(errors.invalidBody('expected a multipart/form-data body with a metadata field and files'));
    }
    const files = new Map<string, Buffer>();
    let metadata: Record<string, unknown> | undefined;
    let total = 0;
    let failed: Error | undefined;
    const fail = (e: Error) => { failed ??= e; };
    form.on('field', (name, value) => {
      if (name !== 'metadata') return;
      try {
        const m = JSON.parse(value);
        metadata = body(m);
      } catch (e) { fail(e instanceof ApiError ? e : errors.invalidBody('metadata must be a JSON object')); }
    });
    form.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      if (name === 'metadata') {
        // The MCP server sends the metadata as a JSON blob (a file part) rather than a field.
        let size = 0;
        stream.on('data', (c: Buffer) => { size += c.length; if (size <= 64 * 1024) chunks.push(c); });
        stream.on('end', () => {
          if (size > 64 * 1024) return fail(errors.invalidBody('metadata may hold at most 65536 bytes'));
          try { metadata = body(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { fail(e instanceof ApiError ? e : errors.invalidBody('metadata must be a JSON object')); }
        });
        return;
      }
      stream.on('data', (c: Buffer) => {
        total += c.length;
        if (total > MAX_BUNDLE_BYTES) { fail(new ApiError(413, 'payload_too_large', `a function bundle may hold at most ${MAX_BUNDLE_BYTES} bytes`)); stream.resume(); return; }
        chunks.push(c);
      });
      stream.on('end', () => {
        if (failed) return;
        try { files.set(bundlePath(info.filename ?? ''), Buffer.concat(chunks)); } catch (e) { fail(e as Error); }
      });
    });
    form.on('filesLimit', () => fail(errors.invalidBody(`a function bundle may hold at most ${MAX_FILES} files`)));
    form.on('error', () => fail(errors.invalidBody('malformed multipart body')));
    form.on('close', () => {
      if (failed) return reject(failed);
      if (!metadata) return reject(errors.invalidBody('the metadata field is required'));
      resolve({ metadata, files });
    });
    req.pipe(form);
  });
}

function slugOf(req: Request): string {
  const slug = typeof req.query.slug === 'string' ? req.query.slug : undefined;
  if (!slug) throw errors.invalidBody('the slug query parameter is required');
  return slug;
}

/** Records the version and waits for its validation; a failure is a 400 that says why (the live version
 *  keeps serving). The wait is bounded (LOAM_FUNCTIONS_DEPLOY_WAIT_MS): a validation that takes longer (a big
 *  npm graph on a cold cache) goes on in its job, and the answer is a 201 with the new version's number, as
 *  Supabase's deploy answers; the version serves once it validated. A bundle-only deploy (`bundleOnly=true`)
 *  validates without going live: `PUT …/functions` makes it live. */
async function deploy(res: Response, ref: string, slug: string, m: Record<string, unknown>, files: Map<string, Buffer>, goLive = true) {
  if (files.size === 0) throw errors.invalidBody('a deploy needs at least one file');
  const entry = bundlePath(str(m, 'entrypoint_path', { required: true, max: 2048 }), 'entrypoint_path');
  const importMapRaw = str(m, 'import_map_path', { max: 2048 });
  const importMap = importMapRaw ? bundlePath(importMapRaw, 'import_map_path') : null;
  if (!files.has(entry)) throw errors.invalidBody(`entrypoint_path "${entry}" is not one of the uploaded files`);
  if (importMap && !files.has(importMap)) throw errors.invalidBody(`import_map_path "${importMap}" is not one of the uploaded files`);
  const name = str(m, 'name', { max: 256 });
  const verifyJwt = bool(m, 'verify_jwt');
  const paths = [...files.keys()];
  const contents = paths.map((p) => files.get(p)!);
  const hashes = contents.map((c) => crypto.createHash('sha256').update(c).digest());
  const [{ version_id }] = await callerQuery<{ version_id: string }>(res,
    'select platform.deploy_function($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) as version_id',
    [ref, slug, name ?? null, entry, importMap, verifyJwt ?? null, paths, hashes, contents, goLive]);
  const until = Date.now() + functionSettings().deployWaitMs;
  let version = 0;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const [v] = await callerQuery<{ status: string; error: string | null; version: number }>(res,
      'select * from platform.function_version_status($1, $2)', [ref, version_id]);
    if (v?.status === 'FAILED') throw new ApiError(400, 'function_deploy_failed', `Failed to deploy ${slug}: ${v.error ?? 'validation failed'}`);
    version = v?.version ?? version;
    if (v?.status === 'READY' || Date.now() >= until) break;
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, until - Date.now()))));
  }
  // Other processes hear of the new live version through NOTIFY; this one forgets its routes at once.
  forgetRuntime(ref);
  const row = await findFunction(res, ref, slug);
  // The answer describes the version just deployed (live or not yet).
  res.status(201).json(functionJson(ref, {
    ...row, entrypoint_path: entry, import_map_path: importMap, verify_jwt: verifyJwt ?? row.verify_jwt,
  }, version));
}

functionsManagement.post('/projects/:ref/functions/deploy', async (req, res) => {
  const ref = param(req, 'ref');
  const slug = slugOf(req);
  const bundleOnly = req.query.bundleOnly ?? req.query.bundle_only;
  if (bundleOnly !== undefined && bundleOnly !== 'true' && bundleOnly !== 'false') throw errors.invalidBody('bundleOnly must be true or false');
  const { metadata, files } = await readMultipart(req);
  await deploy(res, ref, slug, metadata, files, bundleOnly !== 'true');
});

// Bulk update (Supabase's `PUT …/functions`): the CLI deploys several functions bundle-only, then makes them
// live together with this. Only `slug`, `version`, `name` and `verify_jwt` of each item matter here.
functionsManagement.put('/projects/:ref/functions', async (req, res) => {
  const ref = param(req, 'ref');
  const list = req.body;
  if (!Array.isArray(list) || list.length === 0 || list.length > 100) throw errors.invalidBody('expected an array of 1 to 100 functions');
  const slugs: string[] = [];
  const versions: number[] = [];
  const names: (string | null)[] = [];
  const verify: (boolean | null)[] = [];
  for (const raw of list) {
    const item = body(raw);
    const slug = str(item, 'slug', { required: true, max: 128 });
    if (slugs.includes(slug)) throw errors.invalidBody(`function ${slug} is given twice`);
    if (!Number.isSafeInteger(item.version) || (item.version as number) < 1) throw errors.invalidBody(`function ${slug}: version must be a positive integer`);
    slugs.push(slug);
    versions.push(item.version as number);
    names.push(str(item, 'name', { max: 256 }) ?? null);
    verify.push(bool(item, 'verify_jwt') ?? null);
  }
  const touched = await callerQuery<{ slug: string }>(res, 'select platform.bulk_update_functions($1, $2, $3, $4, $5) as slug',
    [ref, slugs, versions, names, verify]);
  forgetRuntime(ref);
  const rows = await callerQuery<FunctionRow>(res, 'select * from platform.list_functions($1)', [ref]);
  const wanted = new Set(touched.map((t) => t.slug));
  res.json({ functions: rows.filter((r) => wanted.has(r.slug)).map((r) => functionJson(ref, r)) });
});

// The older create call: the source as a string in a JSON body (`body`), one file.
functionsManagement.post('/projects/:ref/functions', untypedJson, async (req, res) => {
  const b = body(req.body);
  const slug = str(b, 'slug', { required: true, max: 128 });
  const source = str(b, 'body', { required: true, max: MAX_BUNDLE_BYTES });
  await deploy(res, param(req, 'ref'), slug, { entrypoint_path: 'index.ts', name: b.name, verify_jwt: b.verify_jwt },
    new Map([['index.ts', Buffer.from(source)]]));
});

functionsManagement.get('/projects/:ref/functions', async (req, res) => {
  const ref = param(req, 'ref');
  const rows = await callerQuery<FunctionRow>(res, 'select * from platform.list_functions($1)', [ref]);
  res.json(rows.map((r) => functionJson(ref, r)));
});

functionsManagement.get('/projects/:ref/functions/:function_slug', async (req, res) => {
  res.json(functionJson(param(req, 'ref'), await findFunction(res, param(req, 'ref'), param(req, 'function_slug'))));
});

functionsManagement.patch('/projects/:ref/functions/:function_slug', untypedJson, async (req, res) => {
  const b = body(req.body);
  const name = str(b, 'name', { max: 256 });
  const verifyJwt = bool(b, 'verify_jwt');
  await callerQuery(res, 'select platform.update_function($1, $2, $3, $4)', [param(req, 'ref'), param(req, 'function_slug'), name ?? null, verifyJwt ?? null]);
  forgetRuntime(param(req, 'ref'));
  res.json(functionJson(param(req, 'ref'), await findFunction(res, param(req, 'ref'), param(req, 'function_slug'))));
});

functionsManagement.delete('/projects/:ref/functions/:function_slug', async (req, res) => {
  await callerQuery(res, 'select platform.delete_function($1, $2)', [param(req, 'ref'), param(req, 'function_slug')]);
  forgetRuntime(param(req, 'ref'));
  res.json({ message: 'Successfully deleted' });
});

// The live version's source: the entrypoint as text, or every file as multipart/form-data when asked for.
functionsManagement.get('/projects/:ref/functions/:function_slug/body', async (req, res) => {
  await findFunction(res, param(req, 'ref'), param(req, 'function_slug'));
  const files = await callerQuery<{ path: string; content: Buffer; entrypoint_path: string }>(res,
    'select * from platform.function_files($1, $2)', [param(req, 'ref'), param(req, 'function_slug')]);
  if (files.length === 0) throw new ApiError(404, 'function_not_found', 'Function has no deployed version');
  if (/multipart\/form-data/.test(req.get('accept') ?? '')) {
    const boundary = `loam-${crypto.randomBytes(12).toString('hex')}`;
    const parts: Buffer[] = [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ entrypoint_path: files[0].entrypoint_path })}\r\n`)];
    for (const f of files) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=${JSON.stringify(f.path)}\r\nContent-Type: application/octet-stream\r\n\r\n`), f.content, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    res.type(`multipart/form-data; boundary=${boundary}`).send(Buffer.concat(parts));
    return;
  }
  const entry = files.find((f) => f.path === f.entrypoint_path) ?? files[0];
  res.type('application/typescript').send(entry.content);
});

functionsManagement.get('/projects/:ref/functions/:function_slug/logs', async (req, res) => {
  await findFunction(res, param(req, 'ref'), param(req, 'function_slug'));
  const limit = Number(req.query.limit ?? 100);
  const rows = await callerQuery(res, 'select * from platform.function_logs($1, $2, $3)',
    [param(req, 'ref'), param(req, 'function_slug'), Number.isSafeInteger(limit) ? limit : 100]);
  res.json({ result: rows });
});
