// A project's auth settings: GET/PATCH /v1/projects/{ref}/config/auth, with Supabase's field names. The
// validation and defaults live in SQL (sql/platform/functions/auth-config.sql); the SMTP password is
// write-only.
import { Router } from 'express';
import { checkStrings, param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { errors } from '../errors.ts';
import { completeAuthConfig } from './auth-config-fields.ts';
import { mayReveal } from './roles.ts';

// Settings that are credentials: a role that may not see secrets (Read-only) reads them as null.
const SECRET_FIELD = /(_secret|_secrets|_auth_token|_api_key|_access_key|_pass)$/;

export const configAuth = Router();

configAuth.get('/projects/:ref/config/auth', authenticate, scope('projects', 'read'), async (req, res) => {
  const [row] = await callerQuery<{ c: Record<string, unknown> }>(res, 'select platform.auth_config($1) as c', [param(req, 'ref')]);
  const config = completeAuthConfig(row.c) as Record<string, unknown>;
  if (!mayReveal(res)) for (const k of Object.keys(config)) if (SECRET_FIELD.test(k) && config[k] !== null) config[k] = null;
  res.json(config);
});

configAuth.patch('/projects/:ref/config/auth', authenticate, scope('projects', 'write'), async (req, res) => {
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw errors.invalidBody('Request body must be a JSON object');
  // Settings are URLs, names, lists and email templates: 64 KiB of text is room for the longest template.
  checkStrings(req.body, 65_536);
  const [row] = await callerQuery<{ c: Record<string, unknown> }>(res, 'select platform.update_auth_config($1, $2) as c', [param(req, 'ref'), req.body]);
  res.json(completeAuthConfig(row.c));
});
