// Organizations (Supabase Management API shapes): list, create, get, members.
import { Router } from 'express';
import { errors } from '../errors.ts';
import { body, str, param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const organizations = Router();
// Supabase's paginated project list of one organization (what its dashboard and newer clients page through).
const PROJECT_SORTS: Record<string, string> = { name_asc: 'p.name, p.ref', name_desc: 'p.name desc, p.ref', created_asc: 'p.created_at, p.ref', created_desc: 'p.created_at desc, p.ref' };
// Registered before the organizations area's scope: this list is the `projects` area's (as its x-required-scopes says).
organizations.get('/organizations/:slug/projects', authenticate, scope('projects', 'read'), async (req, res) => {
  const q = req.query as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number, max: number) => {
    const v = q[name] === undefined ? dflt : Number(q[name]);
    if (!Number.isInteger(v) || v < min || v > max) throw errors.invalidBody(`${name} must be an integer from ${min} to ${max}`);
    return v;
  };
  const limit = int('limit', 100, 1, 100), offset = int('offset', 0, 0, 1_000_000);
  const sort = PROJECT_SORTS[typeof q.sort === 'string' ? q.sort : 'name_asc'];
  if (!sort) throw errors.invalidBody(`sort must be one of ${Object.keys(PROJECT_SORTS).join(', ')}`);
  const search = typeof q.search === 'string' && q.search ? q.search.slice(0, 256) : null;
  const statuses = typeof q.statuses === 'string' && q.statuses ? q.statuses.split(',').slice(0, 20) : null;
  const [org] = await callerQuery(res, 'select id from platform.organizations where slug = $1', [param(req, 'slug')]);
  if (!org) throw errors.organizationNotFound();
  const where = `p.organization_id = $1 and ($2::text is null or strpos(lower(p.name), lower($2)) > 0 or p.ref = $2)
    and ($3::text[] is null or p.status = any ($3))`;
  const params = [org.id, search, statuses];
  const [{ count }] = await callerQuery<{ count: number }>(res, `select count(*)::int as count from platform.projects p where ${where}`, params);
  const rows = await callerQuery<{ ref: string; name: string; region: string; status: string; created_at: Date }>(res,
    `select p.ref, p.name, p.region, p.status, p.created_at from platform.projects p where ${where}
     order by ${sort} limit $4 offset $5`, [...params, limit, offset]);
  res.json({
    projects: rows.map((p) => ({
      ref: p.ref, name: p.name, cloud_provider: 'loam', region: p.region, is_branch: false, status: p.status, inserted_at: p.created_at,
      databases: [{ region: p.region, status: p.status, cloud_provider: 'loam', identifier: p.ref, type: 'PRIMARY' }],
    })),
    pagination: { count, limit, offset },
  });
});

organizations.use('/organizations', authenticate, scope('organizations'));

organizations.get('/organizations', async (_req, res) => {
  const rows = await callerQuery(res, 'select slug as id, slug, name from platform.organizations order by id');
  res.json(rows);
});

organizations.post('/organizations', async (req, res) => {
  const name = str(body(req.body), 'name', { required: true, max: 256 });
  const [org] = await callerQuery(res, 'select slug as id, slug, name from platform.create_organization($1)', [name]);
  res.status(201).json(org);
});

organizations.get('/organizations/:slug', async (req, res) => {
  const [org] = await callerQuery(res,
    `select slug as id, name, plan, '{}'::text[] as opt_in_tags, '{ga}'::text[] as allowed_release_channels
     from platform.organizations where slug = $1`, [param(req, "slug")]);
  if (!org) throw errors.organizationNotFound();
  res.json(org);
});

organizations.get('/organizations/:slug/members', async (req, res) => {
  const rows = await callerQuery(res,
    `select a.id as user_id, coalesce(a.full_name, a.email) as user_name, a.email, m.role as role_name, false as mfa_enabled,
            o.id is not null as found
     from platform.organizations o
     left join platform.organization_members m on m.organization_id = o.id
     left join platform.accounts a on a.id = m.account_id
     where o.slug = $1 order by m.created_at`, [param(req, "slug")]);
  if (!rows.length) throw errors.organizationNotFound();
  res.json(rows.map(({ found: _f, ...member }) => member));
});
