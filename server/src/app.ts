// The HTTP application: health, the Management API under /v1, and each project's data plane.
import express from 'express';
import { controlDatabaseReachable } from '../../db/src/pools.ts';
import { auth } from './auth/index.ts';
import { consoleHandler } from './console.ts';
import { renderErrors } from './errors.ts';
import { graphql } from './graphql/index.ts';
import { mcpPlatform } from './mcp/index.ts';
import { management, managementV2 } from './management/index.ts';
import { functionsArea } from './functions/invoke.ts';
import { dataPlane } from './project/resolve.ts';
import { realtime } from './realtime/api.ts';
import { rest } from './rest/index.ts';
import { sitesHandler } from './sites/serve.ts';
import { storage } from './storage/index.ts';
import { settings } from '../../db/src/config.ts';

export interface AppState { ready: boolean }

export function createApp(state: AppState = { ready: true }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', settings.trustProxy);
  app.set('etag', false);

  // Readiness for a load balancer: 503 while the control database (which every request reads, through the
  // project lookup or the Management API) does not answer, with the failing dependency named. A short `select 1`
  // on a connection of its own, at most once a second (pools.ts), so probing it often costs nothing.
  app.get('/health', async (_req, res) => {
    const database = await controlDatabaseReachable() ? 'ok' : 'unreachable';
    const ok = state.ready && database === 'ok';
    res.status(ok ? 200 : 503).set('Cache-Control', 'no-store').json({ ok, checks: { database } });
  });
  app.use('/v1', management);
  app.use('/mcp', mcpPlatform);
  app.use('/v2', managementV2);

  app.use(sitesHandler); // public websites: no API key, so before the data plane's key gate
  app.use(dataPlane({ rest, graphql, auth, storage, functions: functionsArea, realtime }));
  // The web console at `/`: after the APIs, sites and the data plane, so it never shadows a project or a site.
  app.use(consoleHandler());

  app.use((_req, res) => { res.status(404).json({ message: 'Not found', code: 'not_found' }); });
  // Whatever an API did not render itself still leaves as JSON, never as Express's HTML error page.
  app.use(renderErrors);
  return app;
}
