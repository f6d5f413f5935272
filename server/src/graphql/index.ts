// The project's /graphql/v1 API: PostGraphile v5 (Amber naming, pg-aggregates) per project. This handler
// identifies the caller exactly as REST does, leaves the request context for the project's pg service
// (preset.ts) and hands the request to the project's grafserv instance (instances.ts).
import { Router } from 'express';
import type { RequestContext } from '../../../db/src/context.ts';
import { JwtError } from '../project/jwt.ts';
import { identify } from '../project/keys.ts';
import { project } from '../project/resolve.ts';
import { ruruHTML } from 'postgraphile/grafserv/ruru/server';
import { graphqlConfig } from './config.ts';
import { CODES, sendError, sendJwtError } from './errors.ts';
import { acquire, type Instance } from './instances.ts';
import { CONTEXT_LOCAL } from './preset.ts';

export const graphql = Router();

// GraphiQL (Ruru) in development: grafserv would point it at its own mount path; the page must call this
// project's endpoint, whichever way (path or subdomain) it was reached. Its assets come through grafserv.
graphql.get('/', (req, res, next) => {
  if (graphqlConfig().production || req.query.query !== undefined) return next();
  if (req.accepts(['application/graphql-response+json', 'application/json', 'text/html']) !== 'text/html') return next();
  const endpoint = req.originalUrl.split('?')[0].replace(/\/+$/, '');
  res.type('html').send(ruruHTML({ endpoint, staticPath: `${endpoint}/ruru-static/` }));
});

graphql.use(async (req, res, next) => {
  const p = project(res);
  let who;
  try {
    who = identify(req, p);
  } catch (err) {
    if (err instanceof JwtError) return sendJwtError(res, err);
    throw err;
  }
  const context: RequestContext = { role: who.role, claims: who.claims, method: req.method, path: '/graphql/v1', headers: req.headers };
  res.locals[CONTEXT_LOCAL] = context;

  let instance: Instance;
  try {
    instance = await acquire(p);
  } catch (err) {
    console.error(`graphql: schema of project ${p.ref} could not be built:`, err);
    return sendError(res, 503, 'The GraphQL API of this project is not available right now', { code: CODES.unavailable });
  }
  res.once('close', instance.done);
  instance.handler(req, res, next);
});
