// Who is calling the storage API and the transactions its handlers run in: as the caller's role with the request
// context (so RLS on storage.* decides), or as service_role for the few reads storage-api makes past RLS.
import type { Request, Response } from 'express';
import type pg from 'pg';
import { withContext } from '../../../db/src/context.ts';
import { controlPool, projectPool } from '../../../db/src/pools.ts';
import { projectCache } from '../../../db/src/projects.ts';
import { dbRole } from '../../../db/src/roles.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import { identify, type Identity } from '../project/keys.ts';
import { project } from '../project/resolve.ts';
import { errors } from './errors.ts';

export interface Caller extends Identity {
  /** A valid token was presented (storage-api's isAuthenticated); anon without a key is not. */
  authenticated: boolean;
}

/** For the /public/ routes: no key is needed and none is looked at. */
export const ANON: Caller = { role: 'anon', claims: { role: 'anon' }, authenticated: false };

/** The caller; a bad token is an error unless the route serves public buckets too (then it reads as anon). */
export function caller(req: Request, res: Response, opts: { allowInvalidJwt?: boolean } = {}): Caller {
  // storage-api's routes require the Authorization header (its schema's words); Loam takes the apikey alone too.
  if (!opts.allowInvalidJwt && !req.get('authorization') && !req.get('apikey')) throw errors.missingAuthorization();
  try {
    const id = identify(req, project(res));
    return { ...id, authenticated: id.token !== undefined || id.apiKey !== undefined };
  } catch (err) {
    if (opts.allowInvalidJwt) return ANON;
    throw err;
  }
}

const SERVICE = { role: 'service_role' as const, claims: { role: 'service_role' }, authenticated: true };
export const serviceCaller = (): Caller => SERVICE;

export async function pool(res: Response): Promise<pg.Pool> {
  const p = project(res);
  return projectPool(await authenticatorAddress(p), p.db_name, { pipeline: true });
}

/** One transaction as `who`, with the request context PostgREST would set. */
export async function tx<T>(req: Request, res: Response, who: Caller, fn: (c: pg.PoolClient) => Promise<T>,
                            opts: { readOnly?: boolean; rollback?: boolean } = {}): Promise<T> {
  return withContext(await pool(res), {
    role: dbRole(project(res), who.role), claims: who.claims, method: req.method, path: req.path,
    headers: req.headers as Record<string, string | string[] | undefined>,
  }, fn, opts);
}

export interface ProjectStorageConfig { fileSizeLimit: number; imageTransformation: boolean }

// Settings change rarely and are read on every upload: cached per process for a short while; the Management
// API's PATCH drops the entry in its own process at once.
const configs = projectCache((ref) =>
  controlPool().query('select * from platform_private.project_storage_config($1)', [ref]).then(({ rows }) => ({
    fileSizeLimit: Number(rows[0]?.file_size_limit ?? 52428800),
    imageTransformation: rows[0]?.image_transformation_enabled ?? true,
  })), 10_000);

export const forgetStorageConfig = (ref: string): void => configs.forget(ref);
export const projectStorageConfig = (ref: string): Promise<ProjectStorageConfig> => configs.get(ref);
