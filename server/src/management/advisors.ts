// The database advisors (Supabase's `/v1/projects/{ref}/advisors/security|performance`): the lint queries in
// sql/project/lints/<category>/, run in the project's database as its owner, read-only, under a statement
// timeout, answered as `{lints: [...]}` in Supabase's lint shape.
import fs from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { projectRoles } from '../../../db/src/roles.ts';
import { param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { findProject } from './projects.ts';
import { ownerTransaction } from './project-db.ts';
import { settings } from '../../../db/src/config.ts';

type Category = 'security' | 'performance';

interface Lint { name: string; sql: string; params: number }

const LINTS_DIR = new URL('../../../sql/project/lints/', import.meta.url);

/** Each category's queries, read once; `params` is how many of the four parameters the query uses. */
function load(category: Category): Lint[] {
  const dir = new URL(`${category}/`, LINTS_DIR);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((f) => {
    const sql = fs.readFileSync(new URL(f, dir), 'utf8');
    return { name: path.basename(f, '.sql'), sql, params: Math.max(0, ...[...sql.matchAll(/\$(\d)/g)].map((m) => Number(m[1]))) };
  });
}
const LINTS: Record<Category, Lint[]> = { security: load('security'), performance: load('performance') };

// Schemas that are Postgres's, Loam's or an extension's own: what is in them is not the user's to fix.
const INTERNAL_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast', '_loam', 'auth', 'storage', 'realtime',
  'supabase_migrations', 'extensions', 'graphql', 'graphql_public', 'vault', 'pgsodium', 'pgsodium_masks', 'cron',
  'net', 'pgbouncer', 'supabase_functions', 'pgtle', 'repack', 'topology', 'tiger'];


export const advisors = Router();

for (const category of ['security', 'performance'] as const) {
  advisors.get(`/projects/:ref/advisors/${category}`, authenticate, scope('database', 'read'), async (req, res) => {
    const ref = param(req, 'ref');
    await findProject(res, ref);
    const [{ db_schema: exposed }] = await callerQuery<{ db_schema: string }>(res, 'select db_schema from platform.rest_config($1)', [ref]);
    const roles = projectRoles(ref);
    const values = [INTERNAL_SCHEMAS, exposed.split(',').map((s) => s.trim()).filter(Boolean), roles.anon, roles.authenticated];
    const lints = await ownerTransaction(ref, { readOnly: true, timeoutMs: settings.advisorsTimeoutMs, searchPath: 'pg_catalog' }, async (c) => {
      const found: unknown[] = [];
      for (const lint of LINTS[category]) found.push(...(await c.query(lint.sql, values.slice(0, lint.params))).rows);
      return found;
    });
    res.json({ lints });
  });
}
