// The project's PostgREST-compatible `/rest/v1` API. The handler only wires the stages together:
// identify → parse (request.ts) → plan + SQL + run in one transaction (execute.ts) → render (response.ts).
// Every error, whatever its source, leaves through fromPgError/renderError in PostgREST's shape.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { onSchemaChange } from '../../../db/src/schema-version.ts';
import { JwtError } from '../project/jwt.ts';
import { identifyHeaders, type Identity } from '../project/keys.ts';
import { project } from '../project/resolve.ts';
import { notePostgresError } from '../request-log.ts';
import { fromPgError, jwtRestError, RestError, restErrors } from './errors.ts';
import { execute } from './execute.ts';
import { overLimit } from './limits.ts';
import { openapi } from './openapi.ts';
import { parseRequest, type RawRequest } from './request.ts';
import { render, renderError } from './response.ts';
import { forgetSchema } from './schema-cache.ts';
import { restSettings } from './settings.ts';
import { settings } from '../../../db/src/config.ts';

onSchemaChange((ref) => forgetSchema(ref));

const bodyParser = express.raw({ type: () => true, limit: settings.restMaxBody });

/** The request as request.ts reads it, from either way here (Express below, plain Node in raw.ts). */
export function rawRequest(method: string, path: string, query: string, headers: IncomingHttpHeaders, body: Buffer | undefined): RawRequest {
  const all = (n: string): string[] => {
    const v = headers[n.toLowerCase()];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };
  return { method, path, query, header: (n) => (all(n).length ? all(n).join(', ') : undefined), headerAll: all, body };
}

const CORS_HEADERS = 'Authorization, Content-Type, Accept, Accept-Profile, Content-Profile, Prefer, Range, Range-Unit, apikey, x-client-info';

/** One request, apart from any framework: Express (below) and plain Node (raw.ts) both call it. */
export async function handle(raw: RawRequest, headers: IncomingHttpHeaders, p: ProjectRuntime, res: ServerResponse): Promise<void> {
  let who: Identity | undefined;
  try {
    try {
      who = identifyHeaders(headers, p);
    } catch (err) {
      if (err instanceof JwtError) throw jwtRestError(err);
      throw err;
    }
    const settings = await restSettings(p.ref);
    const wait = overLimit(p.ref, settings.rateLimitPerMinute);
    if (wait) throw new RestError(429, 'rate_limit_exceeded', 'API rate limit exceeded', null, `Retry after ${wait} seconds`, { 'Retry-After': String(wait) });
    const apiReq = parseRequest(raw, settings.schemas);
    apiReq.aggregatesEnabled = settings.aggregates;
    if (apiReq.action === 'options') {
      res.writeHead(200, {
        Allow: apiReq.target ? 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE' : 'OPTIONS,GET,HEAD',
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD',
        'Access-Control-Allow-Headers': CORS_HEADERS,
      }).end();
      return;
    }
    if (apiReq.prefer.handling === 'strict' && apiReq.prefer.invalid.length) throw restErrors.invalidPrefs(apiReq.prefer.invalid);
    if (apiReq.action === 'openapi') {
      // Only on Express' way here: raw.ts declines the root path.
      await openapi(res as Response, p, who, apiReq, settings);
      return;
    }
    const result = await execute(p, who, apiReq, settings, headers, raw.path);
    render(res, apiReq, result);
  } catch (err) {
    notePostgresError(res, err);
    const mapped = fromPgError(err, who !== undefined && who.role !== 'anon');
    if (mapped instanceof RestError) return renderError(res, mapped);
    const e = err as { type?: string; status?: number };
    if (e?.type === 'entity.too.large') return renderError(res, new RestError(413, 'PGRST102', 'Request body is too large'));
    console.error('[rest] unexpected error', err);
    renderError(res, new RestError(500, 'PGRSTX00', 'Internal server error'));
  }
}

export function corsHeaders(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Location, Location, Preference-Applied');
}

/** CORS headers, the body (only for methods that carry one), then the handler. */
function serve(req: Request, res: Response, path: string): void {
  corsHeaders(res);
  const q = req.originalUrl.indexOf('?');
  const run = () => void handle(rawRequest(req.method, path, q >= 0 ? req.originalUrl.slice(q + 1) : '', req.headers,
    Buffer.isBuffer(req.body) ? req.body : undefined), req.headers, project(res), res);
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return run();
  bodyParser(req, res, (err?: unknown) => {
    if (err) {
      const e = err as { type?: string };
      if (e.type === 'entity.too.large') return renderError(res, new RestError(413, 'PGRST102', 'Request body is too large'));
      return renderError(res, restErrors.invalidBody('Empty or invalid json'));
    }
    run();
  });
}

/** Mounted at `<project>/rest/v1` by the data plane (server/src/project/resolve.ts): a plain handler. */
export const rest = (req: Request, res: Response): void => serve(req, res, req.path);
