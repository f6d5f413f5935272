// A project's secrets (Supabase's /v1/projects/{ref}/secrets): set and unset in bulk; the list shows each name
// with the SHA-256 of its value, never the value. Values are encrypted here (functions/secrets.ts) before they
// reach the database; the edge functions of the project get them as environment variables. These are the
// production environment of the one store environments.ts manages per environment.
import { Router } from 'express';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { ApiError, errors } from '../errors.ts';
import { encryptSecret, RESERVED_ENV, secretDigest, type Environment } from '../functions/secrets.ts';
import { param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const secretsManagement = Router();
secretsManagement.use('/projects/:ref/secrets', authenticate, scope('projects'));

secretsManagement.get('/projects/:ref/secrets', async (req, res) => {
  const rows = await callerQuery<{ name: string; digest: string; updated_at: Date }>(res,
    'select * from platform.list_secrets($1)', [param(req, 'ref')]);
  res.json(rows.map((r) => ({ name: r.name, value: r.digest, updated_at: r.updated_at.toISOString() })));
});

const MAX_VALUE = 64 * 1024;

/** A bulk list of secrets from a request body, checked and sealed for `environment`. */
export function sealSecretList(ref: string, list: unknown, environment: Environment = 'production'): { names: string[]; values: Buffer[]; digests: string[] } {
  if (!Array.isArray(list) || list.length === 0 || list.length > 100) throw errors.invalidBody('expected an array of 1 to 100 {"name", "value"} objects');
  const names: string[] = [];
  const values: Buffer[] = [];
  const digests: string[] = [];
  for (const s of list) {
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || typeof s.value !== 'string') {
      throw errors.invalidBody('each secret must be {"name": string, "value": string}');
    }
    // Bytes, not characters: a value reaches a function as one environment string, which Linux caps (128 KiB).
    if (s.name.length > 256 || Buffer.byteLength(s.value) > MAX_VALUE) throw errors.invalidBody(`a secret name holds at most 256 characters, a value ${MAX_VALUE} bytes (UTF-8)`);
    if (s.name.includes('\0') || s.value.includes('\0')) throw errors.invalidBody('secrets cannot contain NUL bytes');
    if (RESERVED_ENV.test(s.name)) throw new ApiError(400, 'invalid_secret_name', `${s.name} is a reserved name (SUPABASE_*, LD_*, DENO_*, NPM_CONFIG_*, PATH, HOME, proxies …)`);
    if (names.includes(s.name)) throw errors.invalidBody(`secret ${s.name} is given twice`);
    names.push(s.name);
    values.push(encryptSecret(ref, s.name, s.value, environment));
    digests.push(secretDigest(s.value));
  }
  return { names, values, digests };
}

secretsManagement.post('/projects/:ref/secrets', async (req, res) => {
  const ref = param(req, 'ref');
  const { names, values, digests } = sealSecretList(ref, req.body);
  await callerQuery(res, 'select platform.set_secrets($1, $2, $3, $4)', [ref, names, values, digests]);
  // Other processes hear of it through NOTIFY; this one drops its cached environment at once.
  forgetRuntime(ref);
  res.status(201).json({ message: 'Secrets created' });
});

secretsManagement.delete('/projects/:ref/secrets', async (req, res) => {
  const list = req.body;
  if (!Array.isArray(list) || list.length === 0 || list.length > 100 || list.some((n) => typeof n !== 'string' || n.length > 256 || n.includes('\0'))) {
    throw errors.invalidBody('expected an array of 1 to 100 secret names');
  }
  await callerQuery(res, 'select platform.delete_secrets($1, $2)', [param(req, 'ref'), list]);
  forgetRuntime(param(req, 'ref'));
  res.json({ message: 'Secrets deleted' });
});
