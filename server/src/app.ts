// The HTTP application: health, the Management API under /v1, and each project's data plane.
import express, { Router } from 'express';
import { auth } from './auth/index.ts';
import { graphql } from './graphql/index.ts';
import { management } from './management/index.ts';
import { dataPlane } from './project/resolve.ts';
import { rest, restFastPath } from './rest/index.ts';
import { storage } from './storage/index.ts';

export interface AppState { ready: boolean }

export function createApp(state: AppState = { ready: true }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', process.env.LOAM_TRUST_PROXY ?? 'loopback');
  app.set('etag', false);

  // Path-addressed REST requests skip the router stack (the REST API's hot path; same project gate).
  app.use(restFastPath);
  app.get('/health', (_req, res) => {
    res.status(state.ready ? 200 : 503).json({ ok: state.ready });
  });
  app.use('/v1', management);

  const routes = Router();
  routes.use('/rest/v1', rest);
  routes.use('/graphql/v1', graphql);
  routes.use('/auth/v1', auth);
  routes.use('/storage/v1', storage);
  routes.use((_req, res) => { res.status(404).json({ message: 'no such endpoint in this project', code: 'not_found' }); });
  app.use(dataPlane(routes));

  app.use((_req, res) => { res.status(404).json({ message: 'Not found', code: 'not_found' }); });
  return app;
}
