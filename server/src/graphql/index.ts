// The project's /graphql/v1 API: PostGraphile v5 (Amber naming, pg-aggregates) per project. This handler
// identifies the caller exactly as REST does, leaves the request context for the project's pg service
// (preset.ts) and hands the request to the project's grafserv instance (instances.ts).
import { Router } from 'express';
import type { RequestContext } from '../../../db/src/context.ts';
import { JwtError } from '../project/jwt.ts';
import { identify } from '../project/keys.ts';
import { project } from '../project/resolve.ts';
import { CODES, sendError, sendJwtError } from './errors.ts';
import { acquire, type Instance } from './instances.ts';
import { CONTEXT_LOCAL } from './preset.ts';

export const graphql = Router();

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
