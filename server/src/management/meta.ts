// Regions and plans (the limits quotas use).
import { Router } from 'express';
import { config } from '../../../db/src/config.ts';
import { authenticate, callerQuery } from './session.ts';

export const meta = Router();

meta.get('/regions', authenticate, async (_req, res) => {
  res.json(await callerQuery(res, `
    select r.id, r.name, count(s.id)::int as database_servers
    from platform.regions r left join platform.database_servers s on s.region = r.id group by r.id order by r.id`));
});

meta.get('/plans', authenticate, async (_req, res) => {
  res.json(await callerQuery(res, `select id, name, jsonb_build_object(
      'max_projects', max_projects, 'max_organizations', max_organizations,
      'rate_limit_per_minute', coalesce(rate_limit_per_minute, $1),
      'db_size_mb', db_size_mb, 'storage_size_mb', storage_size_mb) as limits
    from platform.plans order by max_projects`, [config.rateLimitPerMinute]));
});
