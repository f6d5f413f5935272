// Finds the project a data-plane request is for — `/project/<ref>/…` or `<ref>.<LOAM_PROJECT_DOMAIN>` — and
// stops requests to projects that are unknown (404) or not serving (503, e.g. paused), and answers 503 in the
// API's own shape while the control database cannot be reached.
import { performance } from 'node:perf_hooks';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { config } from '../../../db/src/config.ts';
import { isDatabaseUnavailable } from '../../../db/src/pg-errors.ts';
import { cachedRuntime, type ProjectRuntime } from '../../../db/src/projects.ts';
import { authErrors, renderAuthErrors } from '../auth/errors.ts';
import { errors } from '../errors.ts';
import { CODES, sendError, UNAVAILABLE_MESSAGE } from '../graphql/errors.ts';
import { restErrors } from '../rest/errors.ts';
import { renderError } from '../rest/response.ts';
import { errors as storageErrors, renderStorageErrors } from '../storage/errors.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { trackRequest } from '../request-log.ts';
import { apiKeyGate, bearerToken, keyGate, NO_API_KEY } from './keys.ts';
import { prepareKeyring } from './keyring.ts';

export const project = (res: Response): ProjectRuntime => res.locals.project as ProjectRuntime;

const REF = /^[a-z]{20}$/;

/** The request's host name without its port (an IPv6 literal keeps its brackets), as written in `Host`: for the
 *  handlers that run on plain Node before Express (which reads `req.hostname`). */
export function hostnameOf(headers: IncomingHttpHeaders): string {
  const host = headers.host ?? '';
  const colon = host.indexOf(':', host.startsWith('[') ? host.indexOf(']') + 1 : 0);
  return colon === -1 ? host : host.slice(0, colon);
}

/** A request may go on to `project`, or is refused with `status`, `headers` and the JSON `body`. */
export type GateResult =
  | { project: ProjectRuntime }
  | { status: number; headers: Record<string, string>; body: { message: string; code: string; hint?: string }; unavailable?: true };

function unavailable(): GateResult {
  const e = errors.databaseUnavailable();
  return { status: e.status, headers: e.headers, body: { message: e.message, code: e.code }, unavailable: true };
}

/** What a `frontend` project's database APIs answer (404; LMR04 in sql/ERRORS.md). */
export const FRONTEND_REFUSAL = { message: 'this project is a frontend project: it has a site and no database APIs', code: 'database_api_disabled' };

/** The project gate's decision, apart from any framework (graphql/raw.ts renders it on plain Node). With the
 *  request's headers, its `apikey` is checked against the project's keys too (keys.ts apiKeyGate). */
export async function checkProject(ref: string, headers?: IncomingHttpHeaders): Promise<GateResult> {
  let p: ProjectRuntime | undefined;
  try {
    p = REF.test(ref) ? await cachedRuntime(ref) : undefined;
    // The keyring is loaded for every project a request reaches: identify() reads it synchronously.
    if (p && !p.deleted) await prepareKeyring(p, bearerToken(headers));
  } catch (err) {
    // The control database is down or restarting: nothing is known of the project, and nothing is wrong
    // with the request. A failed lookup is not cached (projects.ts), so the next request after it returns works.
    if (isDatabaseUnavailable(err)) return unavailable();
    throw err;
  }
  if (!p || p.deleted) return { status: 404, headers: {}, body: { message: 'project not found', code: 'project_not_found' } };
  if (p.status !== 'ACTIVE_HEALTHY') {
    const paused = p.status === 'INACTIVE' || p.status === 'PAUSING';
    return {
      status: 503, headers: { 'Retry-After': '10' },
      body: {
        message: paused ? 'project is paused' : `project is not available (status ${p.status})`,
        code: paused ? 'project_paused' : 'project_unavailable',
      },
    };
  }
  // A `frontend` project is a site without database APIs: its REST, GraphQL, auth, storage, realtime and functions
  // paths exist for no one.
  if (headers && p.backend_type === 'frontend') return { status: 404, headers: {}, body: FRONTEND_REFUSAL };
  const refused = headers && apiKeyGate(headers, p);
  if (refused) return { status: 401, headers: { 'Access-Control-Allow-Origin': '*' }, body: { code: 'invalid_api_key', ...refused } };
  return { project: p };
}

const AREA = /^\/(rest|graphql|auth|storage|functions|realtime)\/v1(?=[/?]|$)/;
export type Area = 'rest' | 'graphql' | 'auth' | 'storage' | 'functions' | 'realtime';

/** 503 for a database that cannot be reached, in the shape of the API asked for (PostgREST's PGRST000,
 *  GraphQL's `errors`, GoTrue's and storage-api's bodies); other paths get the Management API's. */
function refuseUnavailable(area: Area | undefined, req: Request, res: Response, next: NextFunction): void {
  switch (area) {
    case 'rest': return renderError(res, restErrors.databaseUnavailable());
    case 'graphql': res.setHeader('Retry-After', '5'); return sendError(res, 503, UNAVAILABLE_MESSAGE, { code: CODES.unavailable });
    case 'auth': return void renderAuthErrors(authErrors.databaseUnavailable(), req, res, next);
    case 'storage': return void renderStorageErrors(storageErrors.databaseUnavailable(), req, res, next);
    default: {
      const e = errors.databaseUnavailable();
      res.status(e.status).set(e.headers).json({ message: e.message, code: e.code });
    }
  }
}

/** The data plane, under both addressing schemes. One regular expression finds the project and the API, then
 *  the project gate, then the API's own handler with the URL relative to its mount point — no nested routers,
 *  which cost more per request than a read by id does in Postgres. */
export function dataPlane(areas: Record<Area, RequestHandler>): RequestHandler {
  const suffix = config.projectDomain ? `.${config.projectDomain}` : undefined;
  return (req, res, next) => {
    const started = performance.now();
    let ref: string;
    let rest: string;
    if (suffix && req.hostname.endsWith(suffix)) {
      ref = req.hostname.slice(0, -suffix.length);
      rest = req.url;
    } else {
      const m = /^\/project\/([^/?]+)(.*)$/.exec(req.url);
      if (!m) return next();
      ref = m[1];
      rest = m[2] || '/';
    }
    // The key check comes first, as at Supabase's gateway: it needs no database, so a key-less request costs
    // nothing and learns nothing about the project. graphql/raw.ts makes the same check for its fast path.
    const base = req.originalUrl.slice(0, req.originalUrl.length - rest.length);
    if (AREA.test(rest)) {
      const admitted = keyGate(req.method, rest, req.headers);
      if (admitted === undefined) return void res.status(NO_API_KEY.status).set(NO_API_KEY.headers).json(NO_API_KEY.body);
      // A key taken from the query leaves the URL everywhere (REST reads its query from originalUrl; logs too).
      if (admitted !== rest) req.originalUrl = base + admitted;
      rest = admitted;
    }
    const a = AREA.exec(rest);
    const area = a?.[1] as Area | undefined;
    checkProject(ref, a ? req.headers : undefined).then((g) => {
      if (!('project' in g)) {
        if (g.unavailable) return refuseUnavailable(area, req, res, next);
        return void res.status(g.status).set(g.headers).json(g.body);
      }
      res.locals.project = g.project;
      if (!a) return void res.status(404).json({ message: 'no such endpoint in this project', code: 'not_found' });
      trackRequest(g.project.id, a[1] as Area, req, res, rest, started);
      req.baseUrl = base + a[0];
      const tail = rest.slice(a[0].length);
      req.url = tail.startsWith('/') ? tail : `/${tail}`;
      areas[a[1] as Area](req, res, next);
    }).catch(next);
  };
}
