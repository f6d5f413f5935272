// The HTTP application: health, the Management API under /v1, and each project's data plane.
import express, { Router } from 'express';
import { management } from './management/index.ts';
import { dataPlane } from './project/resolve.ts';

export interface AppState { ready: boolean }

export function createApp(state: AppState = { ready: true }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', process.env.LOAM_TRUST_PROXY ?? 'loopback');
  app.set('etag', false);

  app.get('/health', (_req, res) => {
    res.status(state.ready ? 200 : 503).json({ ok: state.ready });
  });
  app.use('/v1', management);

  const routes = Router();
  routes.use((_req, res) => { res.status(404).json({ message: 'no such endpoint in this project', code: 'not_found' }); });
  app.use(dataPlane(routes));

  app.use((_req, res) => { res.status(404).json({ message: 'Not found', code: 'not_found' }); });
  return app;
}
