// The HTTP application: health, the Management API under /v1, and each project's data plane.
import express from 'express';
import { auth } from './auth/index.ts';
import { graphql } from './graphql/index.ts';
import { management } from './management/index.ts';
import { dataPlane } from './project/resolve.ts';
import { rest } from './rest/index.ts';
import { storage } from './storage/index.ts';

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

  app.use(dataPlane({ rest, graphql, auth, storage }));

  app.use((_req, res) => { res.status(404).json({ message: 'Not found', code: 'not_found' }); });
  return app;
}
