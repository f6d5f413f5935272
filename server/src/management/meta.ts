// Discovery, readable without a token: regions, plans (every column of the plans table, so limits added there
// show up here), and the backend types a project can be created with. With no token to count them against,
// they are rate limited per client address (LOAM_RATE_LIMIT_PER_MINUTE, counted in the database like the
// per-account limit, so across API processes) and count toward no token's quota.
import { Router, type RequestHandler, type Response } from 'express';
import { config } from '../../../db/src/config.ts';
import { withContext } from '../../../db/src/context.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { rateLimit } from './session.ts';

/** A read as loam_api with no account: RLS lets it see only what every caller may (select_all policies). */
async function publicQuery(sql: string, params: unknown[] = []): Promise<unknown[]> {
  return withContext(controlPool(), { role: 'loam_api', claims: {}, settings: { 'loam.account_id': '' } },
    async (c) => (await c.query(sql, params)).rows);
}

// Revalidated on each use (with the ETag Express sends): a limit the operator changes shows at once.
const cached = (res: Response) => res.set('Cache-Control', 'no-cache');

const perAddress: RequestHandler = async (req, _res, next) => {
  await rateLimit(`discovery:${req.ip ?? ''}`, config.rateLimitPerMinute);
  next();
};

export const meta = Router();

meta.get('/regions', perAddress, async (_req, res) => {
  cached(res).json(await publicQuery(`
    select r.id, r.name, count(s.id)::int as database_servers
    from platform.regions r left join platform.database_servers s on s.region = r.id group by r.id order by r.id`));
});

meta.get('/plans', perAddress, async (_req, res) => {
  cached(res).json(await publicQuery(`select p.id, p.name,
      (to_jsonb(p) - 'id' - 'name') || jsonb_build_object('rate_limit_per_minute', coalesce(p.rate_limit_per_minute, $1)) as limits
    from platform.plans p order by p.max_projects, p.id`, [config.rateLimitPerMinute]));
});

meta.get('/backend-types', perAddress, async (_req, res) => {
  cached(res).json(await publicQuery('select id, name, description, database_apis from platform.backend_types order by id'));
});
