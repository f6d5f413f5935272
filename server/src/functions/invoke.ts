// Invocation at `<project>/functions/v1/<slug>[/sub/path]`: finds the live version, checks the keys as
// Supabase's gateway does (an `apikey` must be this project's; with verify_jwt the `Authorization` bearer must be
// a valid project JWT), takes a warm worker (or starts one) and proxies the request over its unix socket,
// streaming both ways, with the body limit and the wall-clock limit. The function sees the path from its slug
// on (`/<slug>/sub/path?query`), as on Supabase.
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { config } from '../../../db/src/config.ts';
import { isDatabaseUnavailable } from '../../../db/src/pg-errors.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { cachedRuntime, onProjectChanged, projectCache, type ProjectRuntime } from '../../../db/src/projects.ts';
import { errors } from '../errors.ts';
import { identifyToken, keyGate, NO_API_KEY } from '../project/keys.ts';
import { checkProject, hostnameOf } from '../project/resolve.ts';
import { sitesSettings } from '../../../db/src/config.ts';
import { isApiKey } from '../project/keyring.ts';
import { functionEnvs } from './env.ts';
import type { Environment } from './secrets.ts';
import { WorkerError, WorkerPool, type FunctionWorker } from './runtime.ts';
import { forward } from './proxy.ts';

interface Route { functionId: string; versionId: string; version: number; verifyJwt: boolean }

let pool: WorkerPool | undefined;
export const workerPool = () => (pool ??= new WorkerPool());

/** Stops a project's function workers in this process (a service restart): its next requests boot new ones. */
export const stopProjectFunctions = (ref: string) => pool?.stopProject(ref);

const routes = projectCache(async (ref: string) => {
  const { rows } = await controlPool().query<{ slug: string; function_id: string; version_id: string; version: number; verify_jwt: boolean }>(
    'select f.slug, r.* from platform.functions f join platform.projects p on p.id = f.project_id, platform_private.function_route($1, f.slug) r where p.ref = $1',
    [ref]);
  return new Map(rows.map((r) => [r.slug, { functionId: r.function_id, versionId: r.version_id, version: r.version, verifyJwt: r.verify_jwt } satisfies Route]));
});

interface FunctionEnv { env: Record<string, string>; digest: string }

// Per project: each environment's variables with their digest, and which environment each function reads.
const envs = projectCache(async (ref: string) => {
  const { bindings, byEnvironment } = await functionEnvs(ref);
  const withDigest = Object.fromEntries(Object.entries(byEnvironment).map(([e, env]) => [e, {
    env, digest: crypto.createHash('sha256').update(JSON.stringify(Object.entries(env).sort())).digest('hex'),
  } satisfies FunctionEnv])) as Record<Environment, FunctionEnv>;
  return { bindings, withDigest };
});

// A project that changed: stop what no longer may run (project paused or gone, function deleted).
let watching = false;
function watchProjects() {
  if (watching) return;
  watching = true;
  onProjectChanged((ref) => {
    const p = workerPool();
    if (!p.all().some((w) => w.ref === ref)) return;
    Promise.all([cachedRuntime(ref), routes.get(ref)]).then(([project, live]) => {
      if (!project || project.deleted || project.status === 'GOING_DOWN' || project.status === 'REMOVED') return p.removeProject(ref);
      if (project.status !== 'ACTIVE_HEALTHY') return p.stopProject(ref); // paused: its code stays for the restore
      for (const w of p.all()) if (w.ref === ref && !live.has(w.slug)) w.kill('function deleted');
    }).catch(() => {});
  });
}

const send = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
  if (res.headersSent) { res.destroy(); return; }
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { ...headers, 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};

function verifiedRole(token: string, project: ProjectRuntime): boolean {
  try {
    identifyToken(token, project);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Served on plain Node, before Express (as graphql/raw.ts does for GraphQL): a function call needs the key gate,
// the project gate and a proxy, and Express' per-request work would cost more than all three. Requests it
// declines (a proxied host, a site host) reach Express, whose data plane ends in `functionsArea` below: the
// same invoke().

const PATH = /^\/project\/([^/?]+)\/functions\/v1(?=[/?]|$)(.*)$/;
const HOST_PATH = /^\/functions\/v1(?=[/?]|$)(.*)$/;

/** The project ref and the URL relative to `/functions/v1`; undefined to decline. */
function match(req: IncomingMessage): { ref: string; url: string } | undefined {
  const url = req.url ?? '';
  const domain = config.projectDomain;
  if (domain) {
    // Express reads the host from X-Forwarded-Host when the proxy is trusted: leave such requests to it.
    if (req.headers['x-forwarded-host'] !== undefined) return undefined;
    const hostname = hostnameOf(req.headers).toLowerCase();
    if (hostname.endsWith(`.${domain}`)) {
      const sites = sitesSettings().domain;
      if (sites && hostname.endsWith(`.${sites}`)) return undefined; // sites are served first, by Express
      const m = HOST_PATH.exec(url);
      return m ? { ref: hostname.slice(0, -domain.length - 1), url: m[1] } : undefined;
    }
  }
  if (!url.startsWith('/project/')) return undefined;
  const m = PATH.exec(url);
  return m ? { ref: m[1], url: m[2] } : undefined;
}

/** Serves the request and returns true, or returns false without touching it (the caller hands it to Express). */
export function functionsBeforeExpress(req: IncomingMessage, res: ServerResponse): boolean {
  const target = match(req);
  if (!target) return false;
  void serve(req, res, target.ref, target.url).catch((err: unknown) => failed(res, err));
  return true;
}

function failed(res: ServerResponse, err: unknown) {
  if (isDatabaseUnavailable(err)) {
    const e = errors.databaseUnavailable();
    return send(res, e.status, e.code, e.message, e.headers);
  }
  console.error('functions: unexpected error:', err);
  send(res, 500, 'INTERNAL_ERROR', 'An internal error occurred');
}

async function serve(req: IncomingMessage, res: ServerResponse, ref: string, url: string): Promise<void> {
  // The gateway's key check, as dataPlane() in project/resolve.ts makes it for Express' routes.
  const admitted = keyGate(req.method ?? 'GET', `/functions/v1${url}`, req.headers);
  if (admitted === undefined) {
    const body = JSON.stringify(NO_API_KEY.body);
    res.writeHead(NO_API_KEY.status, { ...NO_API_KEY.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    return void res.end(body);
  }
  const g = await checkProject(ref, req.headers);
  if (!('project' in g)) {
    const body = JSON.stringify(g.body);
    res.writeHead(g.status, { ...g.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    return void res.end(body);
  }
  const tail = admitted.slice('/functions/v1'.length);
  const publicPath = (req.url ?? '').split('?')[0];
  await invoke(req, res, g.project, tail.startsWith('/') ? tail : `/${tail}`, publicPath);
}

/** Express' route (data plane area `functions`), for the requests the fast path declines. */
export const functionsArea: RequestHandler = (req, res, next) => {
  invoke(req, res, res.locals.project as ProjectRuntime, req.url, req.originalUrl.split('?')[0]).catch(next);
};

async function invoke(req: IncomingMessage, res: ServerResponse, project: ProjectRuntime, url: string, publicPath: string): Promise<void> {
  watchProjects();
  const m = /^\/([A-Za-z][A-Za-z0-9_-]*)(\/[^?]*)?(\?.*)?$/.exec(url);
  const route = m ? (await routes.get(project.ref)).get(m[1]) : undefined;
  if (!m || !route) return send(res, 404, 'NOT_FOUND', 'Requested function was not found');
  const apikey = req.headers.apikey;
  if (typeof apikey === 'string' && apikey !== '' && !verifiedRole(apikey, project)) {
    return send(res, 401, 'UNAUTHORIZED_INVALID_API_KEY', 'Invalid API key');
  }
  if (route.verifyJwt && req.method !== 'OPTIONS') {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!auth) return send(res, 401, 'UNAUTHORIZED_NO_AUTH_HEADER', 'Missing authorization header');
    // Supabase's verify_jwt takes a JWT only: an API key (sb_…) in Authorization fails it, valid or not.
    if (isApiKey(auth[1]) || !verifiedRole(auth[1], project)) return send(res, 401, 'UNAUTHORIZED_INVALID_JWT', 'Invalid JWT');
  }
  const p = workerPool();
  const max = p.settings.maxBodyBytes;
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > max) return send(res, 413, 'PAYLOAD_TOO_LARGE', `Request body is larger than ${max} bytes`, { Connection: 'close' });
  const projectEnvs = await envs.get(project.ref);
  const { env, digest } = projectEnvs.withDigest[projectEnvs.bindings.get(m[1]) ?? 'production'];
  let worker: FunctionWorker;
  try {
    worker = p.acquire(project.ref, m[1], route.versionId, env, digest);
  } catch (err) {
    if (err instanceof WorkerError) return send(res, err.status, err.code, err.message, { 'Retry-After': '1' });
    throw err;
  }
  const started = Date.now();
  let released = false;
  const release = () => { if (!released) { released = true; worker.release(); } };
  try {
    await worker.ready;
  } catch (err) {
    release();
    if (err instanceof WorkerError) return send(res, err.status, err.code, err.message);
    throw err;
  }
  await proxy(req, res, worker, `/${m[1]}${m[2] ?? ''}${m[3] ?? ''}`, started, max).finally(release);
  record(route, req.method ?? 'GET', publicPath, res.statusCode, Date.now() - started, worker.output);
}

/** Proxies the request (proxy.ts) under the wall clock, and answers for a worker that failed under it. */
async function proxy(req: IncomingMessage, res: ServerResponse, worker: FunctionWorker, path: string, started: number, maxBody: number): Promise<void> {
  // A function past its wall clock may be stuck in a loop that no request can interrupt: its worker goes, and
  // with it every request it holds.
  const timer = setTimeout(() => worker.kill('wall clock limit exceeded'), Math.max(0, worker.pool.settings.wallClockMs - (Date.now() - started)));
  const outcome = await forward(req, res, worker, path, maxBody).finally(() => clearTimeout(timer));
  if (outcome.kind === 'too-large') {
    // The client is still sending: answer, then close the connection rather than read the rest.
    req.pause();
    send(res, 413, 'PAYLOAD_TOO_LARGE', `Request body is larger than ${maxBody} bytes`, { Connection: 'close' });
    res.once('finish', () => req.socket.destroy());
  } else if (outcome.kind === 'invalid') {
    send(res, 400, 'bad_request', outcome.message);
  } else if (outcome.kind === 'lost') {
    // The worker's connection failed under a request: the worker is dying or broken. Its exit (and why) is
    // known a moment later; no later request may be handed to it either way.
    await Promise.race([worker.gone, new Promise((r) => setTimeout(r, 300))]);
    worker.kill('connection to the function was lost');
    const reason = worker.exitReason;
    if (/memory|wall clock/.test(reason)) send(res, 546, 'WORKER_LIMIT', `Function ${reason}`);
    else send(res, 502, 'WORKER_ERROR', `Function failed: ${reason}`);
  }
}

// Invocation records are written in batches (one statement per half second at most), so logging costs a
// request nothing. The database keeps the last 100 records of each function (record_function_logs), so a batch
// holds no more than that per function either: under load, rows that would be deleted at once are never
// written. Past 2,000 functions waiting, records of further functions are dropped rather than buffered.
const KEEP_PER_FUNCTION = 100;
interface LogRecord { f: string; v: number; m: string; p: string; s: number; d: number; o: string }
const pending = new Map<string, LogRecord[]>();
let flushTimer: NodeJS.Timeout | undefined;

function record(route: Route, method: string, path: string, status: number, ms: number, output: string) {
  let list = pending.get(route.functionId);
  if (!list) {
    if (pending.size >= 2000) return;
    pending.set(route.functionId, list = []);
  }
  if (list.length >= KEEP_PER_FUNCTION) list.shift();
  list.push({ f: route.functionId, v: route.version, m: method, p: path, s: status, d: ms, o: output });
  flushTimer ??= setTimeout(flushLogs, 500);
}

function flushLogs(): Promise<void> {
  flushTimer = undefined;
  const batch = [...pending.values()].flat();
  pending.clear();
  if (!batch.length) return Promise.resolve();
  return controlPool().query('select platform_private.record_function_logs($1, $2, $3, $4, $5, $6, $7)', [
    batch.map((x) => x.f), batch.map((x) => x.v), batch.map((x) => x.m), batch.map((x) => x.p), batch.map((x) => x.s),
    batch.map((x) => x.d), batch.map((x) => x.o),
  ]).then(() => {}, () => {});
}

export async function stopFunctions(): Promise<void> {
  pool?.stopAll();
  clearTimeout(flushTimer);
  await flushLogs();
}
