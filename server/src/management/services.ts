// A project's services (GET /v1/projects/{ref}/services) and their restart: rebuilding one API's caches and
// connections for that project alone — the REST schema cache, the GraphQL instance, the keyring and settings,
// the database pools, the function workers, the realtime sockets — without touching any other project. The role
// check and the audit are in SQL (platform.restart_service), whose NOTIFY makes every API process restart the
// service for the project (and drop its runtime record).
import { Router } from 'express';
import { forgetRuntime, onServiceRestarted } from '../../../db/src/projects.ts';
import { closeProjectPools } from '../../../db/src/pools.ts';
import { stopProjectFunctions } from '../functions/invoke.ts';
import { cachedProjects, evictProject } from '../graphql/instances.ts';
import { closeProjectSockets } from '../realtime/socket.ts';
import { cachedSchemaProjects, forgetSchema } from '../rest/schema-cache.ts';
import { param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { checkDatabase } from './project-db.ts';
import { findProject } from './projects.ts';

export const SERVICES = ['db', 'rest', 'graphql', 'auth', 'storage', 'realtime', 'functions', 'sites'] as const;
type Service = typeof SERVICES[number];
// What a `frontend` project (a site, no database APIs) runs.
const FRONTEND: readonly Service[] = ['db', 'sites'];

/** What this process holds for the project, per service. */
function cacheOf(name: Service, ref: string): Record<string, unknown> {
  if (name === 'rest') return { schema_cached: cachedSchemaProjects().includes(ref) };
  if (name === 'graphql') return { instance_cached: cachedProjects().includes(ref) };
  return {};
}

async function restartHere(name: Service, ref: string): Promise<void> {
  // The runtime record (keys, settings of auth, storage, realtime, functions) goes in every process through the
  // NOTIFY platform.restart_service sent; this process need not wait for it, nor for its own restart.
  forgetRuntime(ref);
  if (name === 'rest') forgetSchema(ref);
  if (name === 'graphql') await evictProject(ref);
  if (name === 'functions') stopProjectFunctions(ref);
  if (name === 'realtime') closeProjectSockets(ref);
  if (name === 'db') {
    forgetSchema(ref);
    await evictProject(ref);
    await closeProjectPools(ref);
  }
}
// Every process (this one included) on the NOTIFY; the process that answers the request has restarted already.
onServiceRestarted((ref, name) => {
  if ((SERVICES as readonly string[]).includes(name)) restartHere(name as Service, ref).catch(() => {});
});

export const services = Router();
services.use('/projects/:ref/services', authenticate, scope('projects'));

services.get('/projects/:ref/services', async (req, res) => {
  const p = await findProject(res, param(req, 'ref'));
  const active = p.status === 'ACTIVE_HEALTHY';
  const dbError = active ? await checkDatabase(p.ref) : `project status is ${p.status}`;
  res.json(SERVICES.map((name) => {
    const enabled = p.backend_type !== 'frontend' || FRONTEND.includes(name);
    // Sites are served from the control database and the blob store: a paused project's sites stay up.
    const onDatabase = name !== 'sites';
    const status = !enabled ? 'DISABLED' : !onDatabase ? 'ACTIVE_HEALTHY' : !active ? p.status : dbError ? 'UNHEALTHY' : 'ACTIVE_HEALTHY';
    return {
      name, enabled, status, healthy: status === 'ACTIVE_HEALTHY',
      ...(enabled && onDatabase && dbError ? { error: dbError } : {}),
      ...cacheOf(name, p.ref),
    };
  }));
});

services.post('/projects/:ref/services/:name/restart', async (req, res) => {
  const ref = param(req, 'ref');
  const [{ name }] = await callerQuery<{ name: Service }>(res, 'select platform.restart_service($1, $2) as name', [ref, param(req, 'name')]);
  await restartHere(name, ref);
  res.json({ name, restarted: true });
});
