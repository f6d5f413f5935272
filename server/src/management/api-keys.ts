// A project's API keys (Supabase's /v1/projects/{ref}/api-keys): the legacy anon and service_role JWTs, the
// new publishable and secret keys, and the switch that turns the legacy ones off. A new key is made here, stored
// as its SHA-256 (what the data plane looks up) and sealed with the operator key (for `?reveal=true`); a secret
// key is shown masked unless revealed. Every change reaches every API process through NOTIFY (keys.sql).
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { seal, open } from '../../../db/src/secret-box.ts';
import { forgetRuntime, loadRuntime } from '../../../db/src/projects.ts';
import { ApiError, errors } from '../errors.ts';
import { projectKeys } from '../project/jwt.ts';
import { apiKeyContext, apiKeyHash, templateRole } from '../project/keyring.ts';
import { body, param, str } from '../validate.ts';
import { findProject } from './projects.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { mayReveal, roleRefused } from './roles.ts';

interface KeyRow {
  id: string; type: 'publishable' | 'secret'; name: string; description: string | null; prefix: string; hash: string;
  key_sealed: string; secret_jwt_template: Record<string, unknown> | null; inserted_at: Date; updated_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[a-z_][a-z0-9_]+$/;
const notFound = () => new ApiError(404, 'api_key_not_found', 'API key not found');

/** `?reveal=true` as Supabase reads its boolean strings; refused to a role that may not see secret keys. */
function revealed(req: Request, res?: Response): boolean {
  const asked = String(req.query.reveal ?? '').toLowerCase() === 'true';
  if (asked && res && !mayReveal(res)) throw roleRefused('see secret API keys', 'Developer');
  return asked;
}

function keyJson(ref: string, k: KeyRow, reveal: boolean) {
  const show = k.type === 'publishable' || reveal;
  // Masked, a secret key shows its identifying prefix only, as Supabase's platform API does.
  const key = show ? open(k.key_sealed, apiKeyContext(ref, k.id)) ?? null : k.prefix;
  return {
    api_key: key, id: k.id, type: k.type, prefix: k.prefix, name: k.name, description: k.description, hash: k.hash,
    secret_jwt_template: k.type === 'secret' ? k.secret_jwt_template ?? { role: 'service_role' } : null,
    inserted_at: k.inserted_at.toISOString(), updated_at: k.updated_at.toISOString(),
  };
}

async function legacyKeys(ref: string) {
  const p = await loadRuntime(ref);
  if (!p?.jwt_secret || !p.jwt_secret_created_at) return [];
  const keys = projectKeys(ref, p.jwt_secret, new Date(p.jwt_secret_created_at));
  const at = new Date(p.jwt_secret_created_at).toISOString();
  return (['anon', 'service_role'] as const).map((name) => ({
    name, api_key: keys[name], id: name, type: 'legacy', prefix: null, description: null, hash: null,
    secret_jwt_template: null, inserted_at: at, updated_at: at,
  }));
}

async function keyRows(res: Response, ref: string): Promise<KeyRow[]> {
  return callerQuery<KeyRow>(res, 'select * from platform.api_keys($1)', [ref]);
}

/** A JWT template of a secret key: an object whose `role` (when given) is one of the API roles. */
function template(raw: unknown): Record<string, unknown> | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw) || JSON.stringify(raw).length > 4096) throw errors.invalidBody('secret_jwt_template must be an object of at most 4 KiB');
  if (!templateRole(raw)) throw errors.invalidBody('secret_jwt_template.role must be anon, authenticated or service_role');
  return raw as Record<string, unknown>;
}

function name(b: Record<string, unknown>, required: boolean): string | undefined {
  const n = required ? str(b, 'name', { required: true }) : str(b, 'name');
  if (n !== undefined && (n.length < 4 || n.length > 64 || !NAME.test(n))) {
    throw errors.invalidBody('name must be 4 to 64 characters of a-z, 0-9 and _, not starting with a digit');
  }
  return n;
}

export const apiKeys = Router();
apiKeys.use('/projects/:ref/api-keys', authenticate, scope('projects'));

apiKeys.get('/projects/:ref/api-keys', async (req, res) => {
  const ref = param(req, 'ref');
  await findProject(res, ref);
  const rows = await keyRows(res, ref);
  const reveal = revealed(req, res);
  // A Read-only member sees that a service_role key exists, not the key.
  const legacy = (await legacyKeys(ref)).map((k) => (k.id === 'service_role' && !mayReveal(res) ? { ...k, api_key: null } : k));
  res.json([...legacy, ...rows.map((k) => keyJson(ref, k, reveal))]);
});

apiKeys.post('/projects/:ref/api-keys', async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const type = str(b, 'type', { required: true });
  if (type !== 'publishable' && type !== 'secret') throw errors.invalidBody('type must be publishable or secret');
  const n = name(b, true)!;
  const description = str(b, 'description', { max: 256 }) ?? null;
  const tpl = type === 'secret' ? template(b.secret_jwt_template) : null;
  const id = crypto.randomUUID();
  const key = `sb_${type}_${crypto.randomBytes(type === 'secret' ? 24 : 16).toString('base64url')}`;
  const prefix = key.slice(0, `sb_${type}_`.length + 5);
  const [row] = await callerQuery<KeyRow>(res, 'select * from platform.create_api_key($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [ref, id, type, n, description, prefix, apiKeyHash(key), seal(key, apiKeyContext(ref, id)), tpl]);
  forgetRuntime(ref);
  res.status(201).json(keyJson(ref, row, revealed(req)));
});

apiKeys.get('/projects/:ref/api-keys/legacy', async (req, res) => {
  const [row] = await callerQuery<{ enabled: boolean }>(res, 'select platform.legacy_api_keys_enabled($1) enabled', [param(req, 'ref')]);
  res.json({ enabled: row.enabled });
});

apiKeys.put('/projects/:ref/api-keys/legacy', async (req, res) => {
  const raw = String(req.query.enabled ?? '').toLowerCase();
  if (raw !== 'true' && raw !== 'false') throw errors.invalidBody('enabled must be true or false');
  const ref = param(req, 'ref');
  const [row] = await callerQuery<{ enabled: boolean }>(res, 'select platform.set_legacy_api_keys($1, $2) enabled', [ref, raw === 'true']);
  forgetRuntime(ref);
  res.json({ enabled: row.enabled });
});

apiKeys.get('/projects/:ref/api-keys/:id', async (req, res) => {
  const ref = param(req, 'ref');
  const id = param(req, 'id');
  if (id === 'anon' || id === 'service_role') {
    await findProject(res, ref);
    if (id === 'service_role' && !mayReveal(res)) throw roleRefused('see secret API keys', 'Developer');
    const k = (await legacyKeys(ref)).find((l) => l.id === id);
    if (!k) throw notFound();
    return void res.json(k);
  }
  const k = UUID.test(id) ? (await keyRows(res, ref)).find((r) => r.id === id) : undefined;
  if (!k) throw notFound();
  res.json(keyJson(ref, k, revealed(req, res)));
});

apiKeys.patch('/projects/:ref/api-keys/:id', async (req, res) => {
  const ref = param(req, 'ref');
  const id = param(req, 'id');
  if (!UUID.test(id)) throw notFound();
  const b = body(req.body);
  const n = name(b, false);
  const description = str(b, 'description', { max: 256 });
  const setTemplate = 'secret_jwt_template' in b;
  const tpl = setTemplate ? template(b.secret_jwt_template) : null;
  const [row] = await callerQuery<KeyRow>(res, 'select * from platform.update_api_key($1, $2, $3, $4, $5, $6)',
    [ref, id, n ?? null, description ?? null, tpl, setTemplate]);
  forgetRuntime(ref);
  res.json(keyJson(ref, row, revealed(req)));
});

apiKeys.delete('/projects/:ref/api-keys/:id', async (req, res) => {
  const ref = param(req, 'ref');
  const id = param(req, 'id');
  if (!UUID.test(id)) throw notFound();
  const [row] = await callerQuery<KeyRow>(res, 'select * from platform.delete_api_key($1, $2)', [ref, id]);
  // This process stops accepting the key now; the others when the NOTIFY reaches them.
  forgetRuntime(ref);
  res.json(keyJson(ref, row, revealed(req)));
});

apiKeys.post('/projects/:ref/api-keys/rotate', scope('projects', 'write'), async (req, res) => {
  await callerQuery(res, 'select platform.rotate_jwt_secret($1)', [param(req, 'ref')]);
  // Every process drops the old secret on the control database's NOTIFY; this one need not wait for it.
  forgetRuntime(param(req, 'ref'));
  res.json(await legacyKeys(param(req, 'ref')));
});
