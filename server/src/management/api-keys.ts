// A project's API keys: the anon and service_role JWTs, and rotation of the secret that signs them.
import { param } from '../validate.ts';
import { Router } from 'express';
import { forgetRuntime, loadRuntime } from '../../../db/src/projects.ts';
import { projectKeys } from '../project/jwt.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { findProject } from './projects.ts';

async function keysOf(ref: string) {
  const p = await loadRuntime(ref);
  if (!p?.jwt_secret || !p.jwt_secret_created_at) return [];
  const keys = projectKeys(ref, p.jwt_secret, new Date(p.jwt_secret_created_at));
  const at = new Date(p.jwt_secret_created_at).toISOString();
  return (['anon', 'service_role'] as const).map((name) => ({
    name, api_key: keys[name], id: name, type: 'legacy', prefix: null, description: null, hash: null,
    inserted_at: at, updated_at: at,
  }));
}

export const apiKeys = Router();

apiKeys.get('/projects/:ref/api-keys', authenticate, scope('projects', 'read'), async (req, res) => {
  await findProject(res, param(req, "ref"));
  res.json(await keysOf(param(req, "ref")));
});

apiKeys.post('/projects/:ref/api-keys/rotate', authenticate, scope('projects', 'write'), async (req, res) => {
  await callerQuery(res, 'select platform.rotate_jwt_secret($1)', [param(req, "ref")]);
  // Every process drops the old secret on the control database's NOTIFY; this one need not wait for it.
  forgetRuntime(param(req, "ref"));
  res.json(await keysOf(param(req, "ref")));
});
