// The project's /graphql/v1 API: PostGraphile v5 (Amber naming, pg-aggregates) per project. `serveGraphql`
// identifies the caller exactly as REST does, leaves the request context for the project's pg service
// (preset.ts) and hands the request to the project's grafserv instance (instances.ts). It is reached two ways:
// POSTs on plain Node before Express (raw.ts, the hot path) and everything else through the Express route below.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { RequestContext } from '../../../db/src/context.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { dbRole } from '../../../db/src/roles.ts';
import { JwtError } from '../project/jwt.ts';
import { identifyHeaders } from '../project/keys.ts';
import { project } from '../project/resolve.ts';
import { ruruHTML } from 'postgraphile/grafserv/ruru/server';
import { CODES, sendError, sendJwtError } from './errors.ts';
import { acquire, acquireNow, SchemaBuildError, type Instance } from './instances.ts';
import { requestContexts } from './preset.ts';
import { graphqlConfig } from '../../../db/src/config.ts';

// GraphiQL (Ruru) in development: grafserv would point it at its own mount path; the page must call this
// project's endpoint, whichever way (path or subdomain) it was reached. Its assets come through grafserv.
function wantsGraphiql(req: Request): boolean {
  return req.method === 'GET' && req.path === '/' && !graphqlConfig().production && req.query.query === undefined
    && req.accepts(['application/graphql-response+json', 'application/json', 'text/html']) === 'text/html';
}

/** Mounted at `<project>/graphql/v1`: a plain handler, not a Router (one less matching layer per request). */
export const graphql: RequestHandler = (req, res, next) => {
  if (wantsGraphiql(req)) {
    const endpoint = req.originalUrl.split('?')[0].replace(/\/+$/, '');
    return void res.type('html').send(ruruHTML({ endpoint, staticPath: `${endpoint}/ruru-static/` }));
  }
  return serveGraphql(req, res, project(res), next);
};

/** One GraphQL request of project `p`, whose gate it has passed; `req.url` is relative to the endpoint.
 *  `next()` gets what grafserv does not serve. Resolves without waiting when the instance is ready. */
export function serveGraphql(req: IncomingMessage, res: ServerResponse, p: ProjectRuntime, next: () => void): void | Promise<void> {
  let who;
  try {
    who = identifyHeaders(req.headers, p);
  } catch (err) {
    if (err instanceof JwtError) return sendJwtError(res, err);
    throw err;
  }
  const context: RequestContext = { role: dbRole(p, who.role), claims: who.claims, method: req.method!, path: '/graphql/v1', headers: req.headers };
  requestContexts.set(req, context);
  const instance = acquireNow(p);
  return instance ? handOver(instance, req, res, next) : acquireAndHandOver(req, res, p, next);
}

async function acquireAndHandOver(req: IncomingMessage, res: ServerResponse, p: ProjectRuntime, next: () => void): Promise<void> {
  let instance: Instance;
  try {
    instance = await acquire(p);
  } catch (err) {
    console.error(`graphql: schema of project ${p.ref} could not be built:`, err);
    if (err instanceof SchemaBuildError) {
      // The reason names objects of the project's schemas: shown in development only, like other internals.
      const message = graphqlConfig().production ? 'The GraphQL schema of this project could not be built from its exposed schemas' : err.message;
      return sendError(res, 503, message, { code: CODES.schemaBuild });
    }
    return sendError(res, 503, 'The GraphQL API of this project is not available right now', { code: CODES.unavailable });
  }
  handOver(instance, req, res, next);
}

function handOver(instance: Instance, req: IncomingMessage, res: ServerResponse, next: () => void): void {
  res.once('close', instance.done);
  instance.handler(req, res, (err) => {
    if (!err) return next();
    // What grafserv could not turn into a response (a bug, not the caller's doing): GraphQL-shaped, no detail.
    console.error('graphql: unexpected error:', err);
    if (res.headersSent) return void res.destroy();
    sendError(res, 500, 'An internal error occurred', { code: CODES.internal });
  });
}
