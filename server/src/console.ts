// The web console: the built single-page app in console/dist, served at `/` on the platform's own host. Never on
// a project's subdomain or a site's host (the data plane and sites answer those first, and this refuses them
// too), never under the API prefixes. Assets are fingerprinted by Vite, so they are cached for good; index.html
// is revalidated on each load so a new build is picked up at once.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import express, { type RequestHandler } from 'express';
import { config } from '../../db/src/config.ts';
import { sitesSettings } from '../../db/src/config.ts';

export const CONSOLE_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../console/dist');
const API_PREFIX = /^\/(v1|v2|mcp|project|sites|health|rest|auth|storage|graphql|functions|realtime)(\/|$)/;
// The console's client-side routes (console/src/main.tsx); kept in step with its router.
const CONSOLE_ROUTE = /^\/(|projects|sign-in|sign-up|forgot|reset|(org|invite|invitations|p)\/[^/]+(\/.*)?|account\/tokens)$/;
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  // Scripts and styles only from the console's own origin; API calls only to it too (projects are reached under
  // /project/<ref>, same origin). Images may be blob:/data: (storage previews) and the project's signed URLs.
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** Whether `host` is one the console may answer on: not a project's or a site's subdomain. */
function consoleHost(host: string | undefined): boolean {
  if (!host) return true;
  const h = host.toLowerCase();
  for (const d of [config.projectDomain, sitesSettings().domain]) {
    if (d && h.endsWith(`.${d.toLowerCase()}`)) return false;
  }
  return true;
}

// What tenants control and a browser may open as a page, on the platform's own host: their functions' answers,
// their stored files (an SVG runs script), their REST functions' media types, their sites under /sites/.
const TENANT_CONTENT = /^\/(sites\/|project\/[^/]+\/(functions|storage|rest)\/)/;
// A sandboxed document gets an opaque origin: its script cannot read the console's localStorage (the session
// token) nor reach a console window, though it runs, submits forms and opens popups as before.
export const SANDBOX = 'sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads';

/** Tenant content served on the console's origin runs sandboxed: the policy is added to whatever the tenant's
 *  response sets (browsers enforce every Content-Security-Policy header they get), so it cannot be taken off.
 *  Called for every request on the plain Node server, before the APIs served outside Express (functions). */
export function sandboxTenantContent(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  if (!TENANT_CONTENT.test(url)) return;
  const host = /^(\[[^\]]*\]|[^:]*)/.exec(req.headers.host ?? '')?.[1];
  if (!consoleHost(host)) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const i = rest.findIndex((a) => a !== null && typeof a === 'object');
    const given = rest[i];
    if (Array.isArray(given)) {
      rest[i] = [...given, 'Content-Security-Policy', SANDBOX];
    } else if (given) {
      const h = { ...(given as OutgoingHttpHeaders) };
      const key = Object.keys(h).find((k) => k.toLowerCase() === 'content-security-policy');
      if (key) h[key] = [...[h[key]].flat().map(String), SANDBOX];
      else if (!this.hasHeader('content-security-policy')) h['Content-Security-Policy'] = SANDBOX;
      else this.appendHeader('Content-Security-Policy', SANDBOX);
      rest[i] = h;
    } else {
      this.appendHeader('Content-Security-Policy', SANDBOX);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;
}

export function consoleHandler(dist = CONSOLE_DIST): RequestHandler {
  const assets = express.static(path.join(dist, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false });
  let index: Buffer | undefined;
  let indexAt = 0;
  const readIndex = (): Buffer | undefined => {
    // Re-read at most once a second: a rebuild while Loam runs shows up without a restart.
    if (!index || Date.now() - indexAt > 1000) {
      try { index = fs.readFileSync(path.join(dist, 'index.html')); } catch { index = undefined; }
      indexAt = Date.now();
    }
    return index;
  };
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || API_PREFIX.test(req.path) || !consoleHost(req.hostname)) return next();
    if (req.path.startsWith('/assets/')) {
      res.set(SECURITY_HEADERS);
      req.url = req.url.slice('/assets'.length);
      return assets(req, res, next);
    }
    if (req.path === '/favicon.svg') {
      return res.set(SECURITY_HEADERS).sendFile(path.join(dist, 'favicon.svg'), (err) => { if (err) next(); });
    }
    // The app's own client-side routes get the app; any other path keeps the platform's JSON 404.
    if (!CONSOLE_ROUTE.test(req.path) || !req.accepts('html')) return next();
    const html = readIndex();
    res.set(SECURITY_HEADERS).set('Cache-Control', 'no-cache');
    if (!html) {
      return void res.status(503).type('text/plain').send('The web console is not built: run `npm run build:console` (npm install does it).');
    }
    res.type('html').send(html);
  };
}
