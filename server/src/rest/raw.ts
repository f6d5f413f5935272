// REST reads on plain Node, before Express, as graphql/raw.ts does for GraphQL POSTs: for a read by id, Express'
// own per-request work (app.handle, prototype swaps, the router, the sites check) costs a good share of the
// request. It takes only GET and HEAD of `/project/<ref>/rest/v1/<path>` on a host that cannot be a site's, with
// the key in a header, and declines everything else (other methods, the root's OpenAPI document, a key in the
// query, proxied or project-domain hosts), which Express then serves as before. The gate, identity, request log
// and handler are the same code as on the Express route (project/resolve.ts checkProject, index.ts handle).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { config } from '../../../db/src/config.ts';
import { keyGate, NO_API_KEY } from '../project/keys.ts';
import { checkProject } from '../project/resolve.ts';
import { trackRequest } from '../request-log.ts';
import { maySiteHost } from '../sites/serve.ts';
import { RestError, restErrors } from './errors.ts';
import { corsHeaders, handle } from './index.ts';
import type { RawRequest } from './request.ts';
import { renderError } from './response.ts';

// A table, view or function below the endpoint, then perhaps a query string.
const PATH = /^\/project\/([^/?]+)\/rest\/v1(\/[^/?][^?]*)(?:\?(.*))?$/;

function hostname(req: IncomingMessage): string {
  const host = req.headers.host ?? '';
  const colon = host.indexOf(':', host.startsWith('[') ? host.indexOf(']') + 1 : 0);
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

/** Serves the request and returns true, or returns false without touching it (the caller hands it to Express). */
export function restBeforeExpress(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const m = PATH.exec(req.url ?? '');
  if (!m) return false;
  // Express reads the host from X-Forwarded-Host when the proxy is trusted; a project domain routes by host.
  if (req.headers['x-forwarded-host'] !== undefined || config.projectDomain || maySiteHost(hostname(req))) return false;
  const rest = req.url!.slice('/project/'.length + m[1].length);
  const admitted = keyGate(req.method, rest, req.headers);
  if (admitted !== undefined && admitted !== rest) return false; // the key came in the query: Express rewrites the URL
  void serve(req, res, m[1], m[2], m[3] ?? '', admitted === undefined).catch((err: unknown) => {
    console.error('[rest] unexpected error', err);
    if (res.headersSent) return void res.destroy();
    renderError(res, new RestError(500, 'PGRSTX00', 'Internal server error'));
  });
  return true;
}

async function serve(req: IncomingMessage, res: ServerResponse, ref: string, path: string, query: string, noKey: boolean): Promise<void> {
  const started = performance.now();
  if (noKey) return json(res, NO_API_KEY.status, NO_API_KEY.headers, NO_API_KEY.body);
  const g = await checkProject(ref, req.headers);
  if (!('project' in g)) {
    if (g.unavailable) return renderError(res, restErrors.databaseUnavailable());
    return json(res, g.status, g.headers, g.body);
  }
  trackRequest(g.project.id, 'rest', req, res, `/rest/v1${path}`, started);
  corsHeaders(res);
  const raw: RawRequest = {
    method: req.method!, path, query,
    header: (name) => {
      const v = req.headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    headerAll: (name) => {
      const v = req.headers[name.toLowerCase()];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    },
  };
  await handle(raw, req.headers, g.project, res);
}

function json(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
