// Organizations (Supabase Management API shapes): list, create, get, members.
import { Router } from 'express';
import { errors } from '../errors.ts';
import { body, str, param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const organizations = Router();
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
