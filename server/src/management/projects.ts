// Projects (Supabase Management API shapes): create, list, get, rename, delete, health, pause, restore.
import { Router, type Response } from 'express';
import { config } from '../../../db/src/config.ts';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { scramVerifier } from '../../../db/src/scram.ts';
import { errors } from '../errors.ts';
import { body, str, type Body, param } from '../validate.ts';
import { asCaller, authenticate, callerQuery, scope } from './session.ts';
import { seal } from '../../../db/src/secret-box.ts';
import { dbPasswordContext } from './credentials.ts';
import { projectUrls } from '../project/urls.ts';
import { FRONTEND_REFUSAL } from '../project/resolve.ts';
import { checkDatabase } from './project-db.ts';

// A project as the API shows it, from any row source `p` with the columns of platform.projects.
const projectSelect = (source: string) => `
  select p.*, o.slug as organization_slug, s.public_host, s.public_port,
         current_setting('server_version') as pg_version
  from ${source} p
  join platform.organizations o on o.id = p.organization_id
  left join platform.database_servers s
    on s.id = coalesce(p.database_server_id, (select d.id from platform.database_servers d where d.is_default))`;
const PROJECT_SQL = projectSelect('platform.projects');

type ProjectRow = Record<string, any>;

export function projectJson(p: ProjectRow) {
  const version = String(p.pg_version).split(' ')[0];
  return {
    id: p.ref,
    ref: p.ref,
    organization_id: p.organization_slug,
    organization_slug: p.organization_slug,
    name: p.name,
    region: p.region,
    created_at: p.created_at,
    status: p.status,
    ...(p.status_reason ? { status_reason: p.status_reason } : {}),
    backend_type: p.backend_type,
    database: {
      host: p.public_host ?? config.dbPublicHost ?? 'localhost',
      port: p.public_port ?? null,
      name: p.ref,
      user: p.ref,
      version,
      postgres_engine: version.split('.')[0],
      release_channel: 'ga',
    },
    // A frontend project has no data plane to point at: its sites have their own addresses.
    ...(p.backend_type === 'frontend' ? {} : projectUrls(p.ref)),
  };
}

export async function findProject(res: Response, ref: string): Promise<ProjectRow> {
  const [row] = await callerQuery<ProjectRow>(res, `${PROJECT_SQL} where p.ref = $1`, [ref]);
  if (!row) throw errors.projectNotFound();
  return row;
}

function regionOf(b: Body): string | undefined {
  const sel = b.region_selection as { code?: unknown } | undefined;
  if (sel !== undefined && (typeof sel !== 'object' || sel === null || typeof sel.code !== 'string')) {
    throw errors.invalidBody('region_selection must be {"type": "specific", "code": "<region>"}');
  }
  return sel?.code as string | undefined ?? str(b, 'region', { max: 64 });
}

export const projects = Router();
// Everything under /projects needs an access token (routers of other areas mount routes there too); the scope
// each route needs is declared on the route, since e.g. /projects/{ref}/database/* is the `database` area.
projects.use('/projects', authenticate);
const read = scope('projects', 'read'), write = scope('projects', 'write');

projects.post('/projects', write, async (req, res) => {
  const b = body(req.body);
  const name = str(b, 'name', { required: true, max: 256 });
  const org = str(b, 'organization_slug', { max: 64 }) ?? str(b, 'organization_id', { max: 64 });
  if (!org) throw errors.invalidBody('organization_slug (or organization_id) is required');
  const dbPass = str(b, 'db_pass', { required: true, min: 8, max: 128 });
  // The row as created (COMING_UP), read in the same transaction: the worker may finish before a later read.
  const backendType = str(b, 'backend_type', { max: 32 }) ?? 'shared';
  // The ref is made in SQL: the password is sealed under it (so it can be revealed later) in the same transaction.
  const [created] = await asCaller(res, async (c) => {
    const { rows } = await c.query<ProjectRow>(projectSelect('platform.create_project($1, $2, $3, $4, $5)'),
      [org, name, regionOf(b) ?? null, scramVerifier(dbPass), backendType]);
    await c.query('select platform.seal_db_password($1, $2)', [rows[0].ref, seal(dbPass, dbPasswordContext(rows[0].ref))]);
    return rows;
  });
  res.status(201).json(projectJson(created));
});

projects.get('/projects', read, async (_req, res) => {
  const rows = await callerQuery<ProjectRow>(res, `${PROJECT_SQL} order by p.id`);
  res.json(rows.map(projectJson));
});

projects.get('/projects/:ref', read, async (req, res) => {
  res.json(projectJson(await findProject(res, param(req, "ref"))));
});

projects.patch('/projects/:ref', write, async (req, res) => {
  const name = str(body(req.body), 'name', { required: true, max: 256 });
  const [p] = await callerQuery<ProjectRow>(res, 'select id, ref, name from platform.rename_project($1, $2)', [param(req, "ref"), name]);
  res.json({ id: Number(p.id), ref: p.ref, name: p.name });
});

projects.delete('/projects/:ref', write, async (req, res) => {
  const [p] = await callerQuery<ProjectRow>(res, 'select id, ref, name from platform.delete_project($1)', [param(req, "ref")]);
  forgetRuntime(p.ref);
  res.json({ id: Number(p.id), ref: p.ref, name: p.name });
});

for (const action of ['pause', 'restore'] as const) {
  projects.post(`/projects/:ref/${action}`, write, async (req, res) => {
    const [p] = await callerQuery<ProjectRow>(res, `select ref from platform.${action}_project($1)`, [param(req, "ref")]);
    // The data plane stops (or resumes) serving at once in this process; others follow the NOTIFY.
    forgetRuntime(p.ref);
    res.json(projectJson(await findProject(res, p.ref)));
  });
}

const SERVICES = ['auth', 'db', 'rest', 'storage'] as const;

projects.get('/projects/:ref/health', read, async (req, res) => {
  const p = await findProject(res, param(req, "ref"));
  const asked = String(req.query.services ?? SERVICES.join(',')).split(',').filter(Boolean);
  const unknown = asked.find((s) => !(SERVICES as readonly string[]).includes(s));
  if (unknown) throw errors.invalidBody(`unknown service "${unknown}"; known: ${SERVICES.join(', ')}`);
  const dbError = p.status === 'ACTIVE_HEALTHY' ? await checkDatabase(p.ref) : `project status is ${p.status}`;
  const status = p.status === 'COMING_UP' ? 'COMING_UP' : dbError ? 'UNHEALTHY' : 'ACTIVE_HEALTHY';
  // A frontend project has a database and no database APIs: its rest, auth and storage are never healthy.
  const off = (name: string) => p.backend_type === 'frontend' && name !== 'db';
  res.json(asked.map((name) => off(name) ? { name, healthy: false, status: 'UNHEALTHY', error: FRONTEND_REFUSAL.message } : ({
    name,
    healthy: status === 'ACTIVE_HEALTHY',
    status,
    ...(name === 'db' ? { info: { healthy: !dbError, db_connected: !dbError, replication_connected: false, connected_cluster: 1 } } : {}),
    ...(dbError && status !== 'COMING_UP' ? { error: dbError } : {}),
  })));
});
