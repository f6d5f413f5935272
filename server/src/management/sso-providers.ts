// SSO providers of a project (Supabase's /v1/projects/{ref}/config/auth/sso/providers): the SAML identity
// providers its users sign in with. The same operations as the project's /auth/v1/admin/sso/providers
// (auth/sso.ts), run against the project's auth schema as its service role, in the Management API's shapes
// (ids and dates of domains, the saml provider's id). Like Supabase, 404 while the project's SAML is off.
import { Router, type Request, type Response } from 'express';
import { loadRuntime, type ProjectRuntime } from '../../../db/src/projects.ts';
import { authConfig } from '../auth/config.ts';
import { toAuthError } from '../auth/errors.ts';
import { ssoProviders } from '../auth/sso.ts';
import { ApiError, errors } from '../errors.ts';
import { param } from '../validate.ts';
import { findProject } from './projects.ts';
import { authenticate, scope } from './session.ts';

export const ssoProvidersManagement = Router();

async function samlProject(req: Request, res: Response): Promise<ProjectRuntime> {
  const ref = param(req, 'ref');
  await findProject(res, ref);
  const p = await loadRuntime(ref);
  if (!p || p.deleted) throw errors.projectNotFound();
  if (p.status !== 'ACTIVE_HEALTHY' || !p.database_server_id) throw errors.projectUnavailable(p.status);
  if ((await authConfig(ref)).saml_enabled !== true) {
    throw new ApiError(404, 'saml_provider_disabled', 'SAML 2.0 support is not enabled for this project');
  }
  return p;
}

/** Auth's errors (GoTrue's codes and words) as Management API errors. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const e = toAuthError(err);
    throw new ApiError(e.status, e.code, e.message);
  }
}

const body = (req: Request): Record<string, unknown> => {
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw errors.invalidBody('Request body must be a JSON object');
  return req.body as Record<string, unknown>;
};

const base = '/projects/:ref/config/auth/sso/providers';

ssoProvidersManagement.get(base, authenticate, scope('projects', 'read'), async (req, res) => {
  const p = await samlProject(req, res);
  res.json(await run(() => ssoProviders.list(p, undefined, true)));
});

ssoProvidersManagement.post(base, authenticate, scope('projects', 'write'), async (req, res) => {
  const p = await samlProject(req, res);
  res.status(201).json(await run(() => ssoProviders.create(p, body(req), true)));
});

ssoProvidersManagement.get(`${base}/:provider_id`, authenticate, scope('projects', 'read'), async (req, res) => {
  const p = await samlProject(req, res);
  res.json(await run(() => ssoProviders.get(p, param(req, 'provider_id'), true)));
});

ssoProvidersManagement.put(`${base}/:provider_id`, authenticate, scope('projects', 'write'), async (req, res) => {
  const p = await samlProject(req, res);
  res.json(await run(() => ssoProviders.update(p, param(req, 'provider_id'), body(req), true)));
});

ssoProvidersManagement.delete(`${base}/:provider_id`, authenticate, scope('projects', 'write'), async (req, res) => {
  const p = await samlProject(req, res);
  res.json(await run(() => ssoProviders.remove(p, param(req, 'provider_id'), true)));
});
