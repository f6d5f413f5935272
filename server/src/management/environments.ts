// Environments of a project's secrets (production, staging, development; each falls back to the next): lists
// with masked values, bulk upsert and delete, the resolved view of an environment and of a target (a function
// or a site build), bindings of targets to environments, and the audited reveal of a value. One store with
// Supabase's /v1/projects/{ref}/secrets (secrets.ts), which is the production environment.
import { Router, type Request } from 'express';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { ApiError, errors } from '../errors.ts';
import { decryptSecret, ENVIRONMENTS, type Environment } from '../functions/secrets.ts';
import { body, param, str } from '../validate.ts';
import { sealSecretList } from './secrets.ts';
import { authenticate, caller, callerQuery, scope } from './session.ts';

export const environments = Router();
environments.use(['/projects/:ref/environments', '/projects/:ref/secret-bindings', '/projects/:ref/secret-reveals'], authenticate, scope('projects'));

const MASK = '********';

function environmentOf(req: Request, name = 'environment'): Environment {
  const e = param(req, name);
  if (!(ENVIRONMENTS as readonly string[]).includes(e)) throw new ApiError(400, 'invalid_environment', `unknown environment "${e}": production, staging or development`);
  return e as Environment;
}

interface SecretRow { name: string; digest: string; updated_at: Date; source?: string }
const masked = (r: SecretRow, environment: string) => ({
  name: r.name, value: MASK, digest: r.digest, environment: r.source ?? environment, updated_at: r.updated_at.toISOString(),
});

environments.get('/projects/:ref/environments', async (req, res) => {
  res.json(await callerQuery(res, 'select * from platform.secret_environments($1)', [param(req, 'ref')]));
});

environments.get('/projects/:ref/environments/:environment/secrets', async (req, res) => {
  const env = environmentOf(req);
  const rows = await callerQuery<SecretRow>(res, 'select * from platform.environment_secrets($1, $2)', [param(req, 'ref'), env]);
  res.json(rows.map((r) => masked(r, env)));
});

// Bulk upsert: [{name, value}, …] (as Supabase's POST /secrets takes), all or none.
environments.put('/projects/:ref/environments/:environment/secrets', async (req, res) => {
  const ref = param(req, 'ref');
  const env = environmentOf(req);
  const { names, values, digests } = sealSecretList(ref, req.body, env);
  await callerQuery(res, 'select platform.set_environment_secrets($1, $2, $3, $4, $5)', [ref, env, names, values, digests]);
  forgetRuntime(ref);
  const rows = await callerQuery<SecretRow>(res, 'select * from platform.environment_secrets($1, $2)', [ref, env]);
  res.json(rows.map((r) => masked(r, env)));
});

environments.delete('/projects/:ref/environments/:environment/secrets', async (req, res) => {
  const ref = param(req, 'ref');
  const env = environmentOf(req);
  const list = req.body;
  if (!Array.isArray(list) || list.length === 0 || list.length > 100 || list.some((n) => typeof n !== 'string' || n.length > 256 || n.includes('\0'))) {
    throw errors.invalidBody('expected an array of 1 to 100 secret names');
  }
  const [{ missing }] = await callerQuery<{ missing: string[] }>(res, 'select platform.delete_environment_secrets($1, $2, $3) as missing', [ref, env, list]);
  forgetRuntime(ref);
  res.json({ deleted: list.filter((n) => !missing.includes(n)), missing });
});

environments.delete('/projects/:ref/environments/:environment/secrets/:name', async (req, res) => {
  const ref = param(req, 'ref');
  const env = environmentOf(req);
  const name = param(req, 'name');
  const [{ missing }] = await callerQuery<{ missing: string[] }>(res, 'select platform.delete_environment_secrets($1, $2, $3) as missing', [ref, env, [name]]);
  forgetRuntime(ref);
  if (missing.length) throw new ApiError(404, 'secret_not_found', `secret ${name} not found in environment ${env}`);
  res.status(204).end();
});

environments.get('/projects/:ref/environments/:environment/resolved', async (req, res) => {
  const env = environmentOf(req);
  const rows = await callerQuery<SecretRow>(res, 'select * from platform.resolved_environment_secrets($1, $2)', [param(req, 'ref'), env]);
  res.json({ environment: env, secrets: rows.map((r) => masked(r, env)) });
});

// The value in the clear, once per call, with an audit row (who, with which token, when) written in the same
// transaction that reads it.
environments.post('/projects/:ref/environments/:environment/secrets/:name/reveal', async (req, res) => {
  const ref = param(req, 'ref');
  const env = environmentOf(req);
  const [row] = await callerQuery<{ name: string; source: Environment; value_enc: Buffer }>(res,
    'select * from platform.reveal_environment_secret($1, $2, $3, $4)', [ref, env, param(req, 'name'), caller(res).tokenId]);
  let value: string;
  try { value = decryptSecret(ref, row.name, row.value_enc, row.source); } catch {
    throw new ApiError(409, 'secret_undecryptable', 'this secret was sealed with another LOAM_SECRETS_KEY and cannot be read; set it again');
  }
  res.set('Cache-Control', 'no-store').json({ name: row.name, environment: row.source, value });
});

environments.get('/projects/:ref/secret-reveals', async (req, res) => {
  const limit = Number(req.query.limit ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw errors.invalidBody('limit must be an integer from 1 to 1000');
  const rows = await callerQuery<Record<string, unknown> & { id: string; at: Date }>(res, 'select * from platform.secret_reveals($1, $2)', [param(req, 'ref'), limit]);
  res.json(rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() })));
});

environments.get('/projects/:ref/secret-bindings', async (req, res) => {
  res.json(await callerQuery(res, 'select * from platform.secret_bindings($1)', [param(req, 'ref')]));
});

const kindOf = (req: Request) => {
  const k = param(req, 'kind');
  if (k !== 'functions' && k !== 'sites') throw new ApiError(400, 'invalid_binding_target', `unknown binding target "${k}": functions or sites`);
  return k;
};

environments.put('/projects/:ref/secret-bindings/:kind/:target', async (req, res) => {
  const ref = param(req, 'ref');
  const kind = kindOf(req);
  const env = str(body(req.body), 'environment', { required: true, max: 32 });
  if (!(ENVIRONMENTS as readonly string[]).includes(env)) throw new ApiError(400, 'invalid_environment', `unknown environment "${env}": production, staging or development`);
  const [row] = await callerQuery(res, 'select * from platform.bind_secrets($1, $2, $3, $4)', [ref, kind, param(req, 'target'), env]);
  forgetRuntime(ref);
  res.json(row);
});

environments.delete('/projects/:ref/secret-bindings/:kind/:target', async (req, res) => {
  const ref = param(req, 'ref');
  await callerQuery(res, 'select platform.unbind_secrets($1, $2, $3)', [ref, kindOf(req), param(req, 'target')]);
  forgetRuntime(ref);
  res.status(204).end();
});

// What a function or site build reads: its environment, and each secret with the environment it comes from.
environments.get('/projects/:ref/secret-bindings/:kind/:target/secrets', async (req, res) => {
  const rows = await callerQuery<SecretRow & { environment: string | null }>(res, 'select * from platform.target_secrets($1, $2, $3)',
    [param(req, 'ref'), kindOf(req), param(req, 'target')]);
  const kind = param(req, 'kind');
  const [binding] = await callerQuery<{ environment: string | null }>(res,
    'select environment from platform.secret_bindings($1) where kind = $2 and target = $3', [param(req, 'ref'), kind, param(req, 'target')]);
  res.json({
    kind, target: param(req, 'target'),
    environment: binding?.environment ?? null,
    secrets: rows.map((r) => masked(r, r.environment!)),
  });
});
