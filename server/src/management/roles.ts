// The role guard of the Management API: every request under /v1/projects/{ref}/… and /v1/organizations/{slug}/…
// that changes something (or reads a secret) names the action it performs, and SQL decides whether the caller's
// organization role allows it (platform.authorize_project / platform.authorize_organization, which read
// platform.role_permissions). The SQL functions that change projects and organizations check again on their
// own; this guard is what makes routes that talk to a project's database directly (SQL, migrations, tables) and
// any route added later safe by default: an unlisted mutating route needs `project.settings` (Administrator).
import type { RequestHandler, Response } from 'express';
import { ApiError } from '../errors.ts';
import { body, bool } from '../validate.ts';
import { authenticate, callerQuery } from './session.ts';

type Rule = [methods: string, path: RegExp, action: string];

// First match wins; paths are relative to /projects/{ref}. `*` is any method that changes something (not GET, HEAD).
const PROJECT_RULES: Rule[] = [
  // POSTs that only read.
  ['POST', /^\/database\/query\/read-only$/, 'project.read'],
  ['POST', /^\/network-bans\/retrieve(\/enriched)?$/, 'project.read'],
  // Each MCP tool calls /v1 with the caller's own token, where its own rule applies.
  ['POST', /^\/mcp$/, 'project.read'],
  // Reads of secrets: the handler shows them only when the role may (res.locals.mayReveal).
  ['GET', /^\/api-keys(\/.*)?$/, 'project.read'],
  ['GET', /^\/config\/auth$/, 'project.read'],
  ['GET', /^\/database\/credentials$/, 'project.read'],
  // The owner login's password.
  ['*', /^\/database\/(password|credentials\/reveal|credentials\/rotate)$/, 'project.credentials'],
  // Lifecycle.
  ['PATCH DELETE', /^$/, 'project.lifecycle'],
  ['POST', /^\/(pause|restore)$/, 'project.lifecycle'],
  // Content a Developer works on.
  ['POST', /^\/database\/query$/, 'project.content'],
  ['*', /^\/database\/migrations(\/.*)?$/, 'project.content'],
  ['*', /^\/tables(\/.*)?$/, 'project.content'],
  ['*', /^\/branches(\/.*)?$/, 'project.content'],
  ['POST', /^\/emails$/, 'project.content'],
  ['*', /^\/functions(\/.*)?$/, 'project.content'],
  ['*', /^\/sites(\/.*)?$/, 'project.content'],
  ['*', /^\/storage\/buckets(\/.*)?$/, 'project.content'],
];

// Paths relative to /organizations/{slug}. Removing a member is also how one leaves (SQL decides which).
const ORGANIZATION_RULES: Rule[] = [
  ['GET', /^\/audit$/, 'members.manage'],
  ['DELETE', /^\/members\/[^/]+$/, 'organization.read'],
  ['*', /^\/members(\/.*)?$/, 'members.manage'],
];

const READ = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The action a request performs, or undefined when the handler's own membership check is all it needs. */
export function actionOf(kind: 'project' | 'organization', method: string, rest: string, reqBody: unknown): string | undefined {
  const rules = kind === 'project' ? PROJECT_RULES : ORGANIZATION_RULES;
  for (const [methods, path, action] of rules) {
    if ((methods === '*' ? !READ.has(method) : methods.split(' ').includes(method)) && path.test(rest)) {
      // The SQL endpoint with `read_only: true` runs in a read-only transaction: a read.
      if (action === 'project.content' && rest === '/database/query' && isReadOnlyQuery(reqBody)) return 'project.read';
      return action;
    }
  }
  if (READ.has(method)) return undefined;
  return kind === 'project' ? 'project.settings' : 'organization.update';
}

function isReadOnlyQuery(raw: unknown): boolean {
  try { return bool(body(raw), 'read_only') === true; } catch { return false; }
}

const PROJECT = /^\/projects\/([a-z]{20})(\/.*)?$/;
const ORGANIZATION = /^\/organizations\/([a-z]{20})(\/.*)?$/;

/** The path as Express's router will read it: routes match case-insensitively and decode parameters, so
 *  `/PROJECTS/<ref>/…` and a percent-encoded ref reach the same handler and must meet the same guard. */
function routedPath(path: string): string {
  return path.split('/').map((s) => { try { return decodeURIComponent(s); } catch { return s; } }).join('/').toLowerCase();
}

export const roleGuard: RequestHandler = async (req, res, next) => {
  const path = routedPath(req.path);
  const p = PROJECT.exec(path);
  const o = p ? undefined : ORGANIZATION.exec(path);
  const m = p ?? o;
  if (!m) return next();
  const rest = (m[2] ?? '').replace(/\/$/, '');
  const action = actionOf(p ? 'project' : 'organization', req.method, rest, req.body);
  if (!action) return next();
  await new Promise<void>((resolve, reject) => {
    Promise.resolve(authenticate(req, res, (err?: unknown) => (err ? reject(err) : resolve()))).catch(reject);
  });
  const [row] = await callerQuery<{ role: string; may_reveal: boolean }>(res,
    `select r.role, platform.role_allows(r.role, 'project.keys.reveal') as may_reveal
     from platform.${p ? 'authorize_project' : 'authorize_organization'}($1, $2) as r(role)`, [m[1], action]);
  res.locals.orgRole = row.role;
  res.locals.mayReveal = row.may_reveal;
  next();
};

/** Whether the caller may see the project's secret keys and secret settings (set by the guard for those routes). */
export const mayReveal = (res: Response): boolean => res.locals.mayReveal === true;

/** The 403 of a role that may not do something, in the shape of platform.require_role()'s (LMO01). */
export const roleRefused = (what: string, minRole: string) =>
  new ApiError(403, 'insufficient_role', `Your role in this organization does not allow this: to ${what} needs the ${minRole} role or higher`);
