// REST on plain Node, before Express, as graphql/raw.ts does for GraphQL POSTs: for a read by id, Express' own
// per-request work (app.handle, prototype swaps, the router, the sites check, the body parser) costs a good
// share of the request. It takes `/project/<ref>/rest/v1/<path>` on a host that cannot be a site's, with the key
// in a header, and a body only when its length is declared and nothing encodes it; it declines everything else
// (OPTIONS, the root's OpenAPI document, a key in the query, chunked or compressed bodies, proxied or
// project-domain hosts), which Express then serves as before. The gate, identity, request log and handler are
// the same code as on the Express route (project/resolve.ts checkProject, index.ts handle).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { config, settings } from '../../../db/src/config.ts';
import { headerKeyGiven } from '../project/keys.ts';
import { checkProject, hostnameOf } from '../project/resolve.ts';
import { trackRequest } from '../request-log.ts';
import { maySiteHost } from '../sites/serve.ts';
import { RestError, restErrors } from './errors.ts';
import { corsHeaders, handle, rawRequest } from './index.ts';
import { renderError } from './response.ts';

// A table, view or function below the endpoint, then perhaps a query string.
const PATH = /^\/project\/([^/?]+)\/rest\/v1(\/[^/?][^?]*)(?:\?(.*))?$/;

/** Serves the request and returns true, or returns false without touching it (the caller hands it to Express). */
export function restBeforeExpress(req: IncomingMessage, res: ServerResponse): boolean {
  const length = bodyLength(req);
  if (length === undefined) return false;
  const m = PATH.exec(req.url ?? '');
  if (!m) return false;
  // Express reads the host from X-Forwarded-Host when the proxy is trusted; a project domain routes by host.
  if (req.headers['x-forwarded-host'] !== undefined || config.projectDomain || maySiteHost(hostnameOf(req.headers).toLowerCase())) return false;
  // Without a key in the headers the gate (keyGate) looks in the query, and answers: Express' way does it.
  if (!headerKeyGiven(req.headers)) return false;
  void serve(req, res, m[1], m[2], m[3] ?? '', length).catch((err: unknown) => {
    console.error('[rest] unexpected error', err);
    if (res.headersSent) return void res.destroy();
    renderError(res, new RestError(500, 'PGRSTX00', 'Internal server error'));
  });
  return true;
}

const BODYLESS = new Set(['GET', 'HEAD', 'DELETE']);
const WITH_BODY = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** The declared length of the request's body, null when it has none (a GET, HEAD or DELETE without one), or
 *  undefined when this path declines the request: another method, a body of unknown length (chunked) or one
 *  that must be decoded (Express inflates). */
function bodyLength(req: IncomingMessage): number | null | undefined {
  const method = req.method ?? '';
  const declared = req.headers['content-length'];
  if (BODYLESS.has(method) && declared === undefined && req.headers['transfer-encoding'] === undefined) return null;
  if (!WITH_BODY.has(method) || declared === undefined || !/^\d{1,15}$/.test(declared)) return undefined;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  return Number(declared);
}

/** The body, read in full; undefined when the client went away first. */
function readBody(req: IncomingMessage, length: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks, length)));
    req.once('aborted', () => resolve(undefined));
    req.once('error', () => resolve(undefined));
  });
}

async function serve(req: IncomingMessage, res: ServerResponse, ref: string, path: string, query: string, length: number | null): Promise<void> {
  const started = performance.now();
  const g = await checkProject(ref, req.headers);
  if (!('project' in g)) {
    if (g.unavailable) return renderError(res, restErrors.databaseUnavailable());
    return json(res, g.status, g.headers, g.body);
  }
  trackRequest(g.project.id, 'rest', req, res, `/rest/v1${path}`, started);
  corsHeaders(res);
  // As Express' body parser: the declared length over the limit is refused before anything is read.
  if (length !== null && length > settings.restMaxBody) return renderError(res, new RestError(413, 'PGRST102', 'Request body is too large'));
  const body = length === null ? undefined : await readBody(req, length);
  if (length !== null && body === undefined) return; // the client went away
  await handle(rawRequest(req.method!, path, query, req.headers, body), req.headers, g.project, res);
}

function json(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
