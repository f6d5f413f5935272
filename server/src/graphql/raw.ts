// GraphQL POSTs on plain Node, before Express: for this hot path Express' own per-request work (app.handle,
// prototype swaps, the router) costs more than the project lookup and identity together. It takes only
// `POST <project>/graphql/v1` in its plain forms and declines everything else (GET, GraphiQL, other paths,
// proxied hosts), which Express then serves as before. The gate, identity, request context, limits and errors
// are the same code the Express route uses (project/resolve.ts checkProject, index.ts serveGraphql).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { config } from '../../../db/src/config.ts';
import { keyGate, NO_API_KEY } from '../project/keys.ts';
import { checkProject, hostnameOf } from '../project/resolve.ts';
import { CODES, sendError, sendJson, UNAVAILABLE_MESSAGE } from './errors.ts';
import { serveGraphql } from './index.ts';
import { trackRequest } from '../request-log.ts';

// What may follow the endpoint: nothing, a slash, a query string. Anything else is Express' to judge.
const PATH = /^\/project\/([^/?]+)\/graphql\/v1\/?(\?.*)?$/;
const HOST_PATH = /^\/graphql\/v1\/?(\?.*)?$/;

/** The project ref and the endpoint-relative URL of a request this path serves; undefined to decline. */
function match(req: IncomingMessage): { ref: string; url: string } | undefined {
  if (req.method !== 'POST') return undefined;
  const url = req.url ?? '';
  const domain = config.projectDomain;
  if (domain) {
    // Express reads the host from X-Forwarded-Host when the proxy is trusted: leave such requests to it.
    if (req.headers['x-forwarded-host'] !== undefined) return undefined;
    const hostname = hostnameOf(req.headers);
    if (hostname.endsWith(`.${domain}`)) {
      const m = HOST_PATH.exec(url);
      return m ? { ref: hostname.slice(0, -domain.length - 1), url: `/${m[1] ?? ''}` } : undefined;
    }
  }
  const m = PATH.exec(url);
  return m ? { ref: m[1], url: `/${m[2] ?? ''}` } : undefined;
}

/** Serves the request and returns true, or returns false without touching it (the caller hands it to Express). */
export function graphqlBeforeExpress(req: IncomingMessage, res: ServerResponse): boolean {
  const target = match(req);
  if (!target) return false;
  void serve(req, res, target.ref, target.url).catch((err: unknown) => {
    console.error('graphql: unexpected error:', err);
    if (res.headersSent) return void res.destroy();
    sendError(res, 500, 'An internal error occurred', { code: CODES.internal });
  });
  return true;
}

async function serve(req: IncomingMessage, res: ServerResponse, ref: string, url: string): Promise<void> {
  const started = performance.now();
  // The gateway's key check, as dataPlane() in project/resolve.ts makes it for Express' routes.
  const admitted = keyGate('POST', `/graphql/v1${url}`, req.headers);
  if (admitted === undefined) {
    for (const [name, value] of Object.entries(NO_API_KEY.headers)) res.setHeader(name, value);
    return sendJson(res, NO_API_KEY.status, NO_API_KEY.body);
  }
  url = admitted.slice('/graphql/v1'.length) || '/';
  const g = await checkProject(ref, req.headers);
  if (!('project' in g)) {
    for (const [name, value] of Object.entries(g.headers)) res.setHeader(name, value);
    if (g.unavailable) return sendError(res, g.status, UNAVAILABLE_MESSAGE, { code: CODES.unavailable });
    return sendJson(res, g.status, g.body);
  }
  trackRequest(g.project.id, 'graphql', req, res, '/graphql/v1', started);
  req.url = url; // grafserv's node adapter reads the path from the URL, relative to the endpoint
  await serveGraphql(req, res, g.project, () => sendJson(res, 404, { message: 'Not found', code: 'not_found' }));
}
