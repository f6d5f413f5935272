// Supabase's region codes: `GET /v1/projects/available-regions` in Supabase's shape. Loam regions named by a
// Supabase code are offered (on a fresh install every code exists, placed on the default server's region —
// db/src/migrate.ts), so `supabase projects create --region us-east-1` and the MCP server's create_project work.
// Mounted before the projects router, which would read `available-regions` as a project ref.
import { Router } from 'express';
import { SUPABASE_REGIONS } from '../../../db/src/regions.ts';
import { authenticate, callerQuery, scope } from './session.ts';

const GROUPS = { americas: 'Americas', emea: 'Europe', apac: 'Asia-Pacific' } as const;

export const regions = Router();

regions.get('/projects/available-regions', authenticate, scope('projects', 'read'), async (_req, res) => {
  // A region can take projects when it has a server, or is placed on a region that has one.
  const rows = await callerQuery<{ id: string; name: string; servers: number; is_default: boolean }>(res, `
    select r.id, r.name, count(s.id)::int as servers, coalesce(bool_or(s.is_default and s.region = r.id), false) as is_default
    from platform.regions r
    left join platform.database_servers s on s.region = r.id or (s.region = r.placed_in
      and not exists (select 1 from platform.database_servers o where o.region = r.id))
    group by r.id order by r.id`);
  const specific = rows.filter((r) => SUPABASE_REGIONS[r.id] && r.servers > 0).map((r) => ({
    name: SUPABASE_REGIONS[r.id][0], code: r.id, type: 'specific' as const,
    // The schema requires a provider from Supabase's list; Loam's servers are the operator's own.
    provider: 'AWS' as const,
  }));
  const own = rows.find((r) => r.is_default && SUPABASE_REGIONS[r.id])?.id;
  const pick = specific.find((s) => s.code === own) ?? specific.find((s) => s.code === 'us-east-1') ?? specific[0];
  const group = (code: 'americas' | 'emea' | 'apac') => ({ name: GROUPS[code], code, type: 'smartGroup' as const });
  const groups = [...new Set(specific.map((s) => SUPABASE_REGIONS[s.code][1]))];
  res.json({
    recommendations: {
      smartGroup: group(pick ? SUPABASE_REGIONS[pick.code][1] : 'americas'),
      specific: pick ? [pick] : [],
    },
    all: { smartGroup: groups.map(group), specific },
  });
});
