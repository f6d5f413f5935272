// Preview branches (Supabase Management API shapes): list, create, get, update, delete, disable branching, and
// push, merge, reset and diff. The state lives in platform.branches (sql/platform/functions/branches.sql); a
// branch is built by a job (worker/src/tasks/branch__create.ts); push and merge replay migrations here, in one
// transaction of the target's owner, so a refusal is a clean 4xx with nothing applied (branch-ops.ts).
import crypto from 'node:crypto';
import { Router, type Response } from 'express';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { scramVerifier } from '../../../db/src/scram.ts';
import { errors } from '../errors.ts';
import { body, bool, param, str, type Body } from '../validate.ts';
import { authenticate, caller, callerQuery, scope } from './session.ts';
import { findProject, projectJson } from './projects.ts';
import { mergeBranch, pushBranch } from './branch-ops.ts';
import { diffSchemas } from './branch-diff.ts';

export const branches = Router();
branches.use('/branches', authenticate);
const read = scope('projects', 'read'), write = scope('projects', 'write');

type BranchRow = Record<string, any>;

/** BranchResponse: optional fields are left out when unset (Supabase's clients validate them as strings). */
function branchJson(b: BranchRow) {
  return {
    id: b.id,
    name: b.name,
    project_ref: b.project_ref,
    parent_project_ref: b.parent_project_ref,
    is_default: b.is_default,
    ...(b.git_branch ? { git_branch: b.git_branch } : {}),
    persistent: b.persistent,
    status: b.status,
    ...(b.status_reason ? { status_reason: b.status_reason } : {}),
    created_at: b.created_at,
    updated_at: b.updated_at,
    with_data: b.with_data,
    ...(b.notify_url ? { notify_url: b.notify_url } : {}),
    preview_project_status: b.project_status,
  };
}

const BRANCH_STATUSES = ['CREATING_PROJECT', 'RUNNING_MIGRATIONS', 'MIGRATIONS_PASSED', 'MIGRATIONS_FAILED', 'FUNCTIONS_DEPLOYED', 'FUNCTIONS_FAILED'];
const MAX_SEED = 1_000_000;

function notifyUrl(b: Body): string | undefined {
  const url = str(b, 'notify_url', { max: 2048 });
  if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url)) throw errors.invalidBody('notify_url must be an http(s) URL');
  return url;
}

async function branchFor(res: Response, idOrRef: string): Promise<BranchRow> {
  const [b] = await callerQuery<BranchRow>(res, 'select * from platform.branch_for_member($1)', [idOrRef]);
  return b;
}

branches.get('/projects/:ref/branches', read, async (req, res) => {
  const rows = await callerQuery<BranchRow>(res, 'select * from platform.list_branches($1)', [param(req, 'ref')]);
  res.json(rows.map(branchJson));
});

branches.post('/projects/:ref/branches', write, async (req, res) => {
  const b = body(req.body);
  const name = str(b, 'branch_name', { required: true, min: 1, max: 256 });
  const gitBranch = str(b, 'git_branch', { max: 256 });
  const persistent = bool(b, 'persistent');
  const withData = bool(b, 'with_data');
  const region = str(b, 'region', { max: 64 });
  // Loam's own addition: SQL run as the branch's owner after the parent's migrations (Supabase reads supabase/seed.sql from git).
  const seed = str(b, 'seed', { min: 1, max: MAX_SEED });
  if (bool(b, 'is_default')) throw errors.invalidBody('is_default: the default branch is the project itself and is made with the first branch');
  if (b.secrets !== undefined && (typeof b.secrets !== 'object' || b.secrets === null || Array.isArray(b.secrets))) {
    throw errors.invalidBody('secrets must be an object of names to values');
  }
  // Nobody knows the branch database's password until its owner sets one (PATCH /v1/projects/{ref}/database/password).
  const verifier = scramVerifier(crypto.randomBytes(32).toString('base64url'));
  const [created] = await callerQuery<{ id: string }>(res, 'select id from platform.create_branch($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [param(req, 'ref'), name, gitBranch ?? null, persistent ?? null, withData ?? null, seed ?? null, region ?? null, verifier, notifyUrl(b) ?? null]);
  res.status(201).json(branchJson(await branchFor(res, created.id)));
});

branches.delete('/projects/:ref/branches', write, async (req, res) => {
  await callerQuery(res, 'select platform.disable_branching($1)', [param(req, 'ref')]);
  res.json({ message: 'ok' });
});

branches.get('/projects/:ref/branches/:name', read, async (req, res) => {
  const rows = await callerQuery<BranchRow>(res, 'select * from platform.list_branches($1) where name = $2', [param(req, 'ref'), param(req, 'name')]);
  if (!rows[0]) throw errors.notFound('Branch');
  res.json(branchJson(rows[0]));
});

// BranchDetailResponse: how to reach the branch's database. The password and JWT secret are not shown (the CLI
// masks what is absent); the branch's keys are at GET /v1/projects/{branch ref}/api-keys.
branches.get('/branches/:branch_id_or_ref', read, async (req, res) => {
  const b = await branchFor(res, param(req, 'branch_id_or_ref'));
  const p = projectJson(await findProject(res, b.project_ref));
  res.json({
    ref: p.ref, postgres_version: p.database.version, postgres_engine: p.database.postgres_engine,
    release_channel: p.database.release_channel, status: p.status, db_host: p.database.host,
    db_port: p.database.port ?? 5432, db_user: p.database.user,
  });
});

branches.patch('/branches/:branch_id_or_ref', write, async (req, res) => {
  const b = body(req.body);
  const name = str(b, 'branch_name', { min: 1, max: 256 });
  const gitBranch = str(b, 'git_branch', { max: 256 });
  const persistent = bool(b, 'persistent');
  const status = str(b, 'status', { max: 64 });
  if (status !== undefined && !BRANCH_STATUSES.includes(status)) throw errors.invalidBody(`status must be one of ${BRANCH_STATUSES.join(', ')}`);
  bool(b, 'reset_on_push');
  bool(b, 'request_review');
  const [updated] = await callerQuery<{ id: string }>(res, 'select id from platform.update_branch($1, $2, $3, $4, $5, $6)',
    [param(req, 'branch_id_or_ref'), name ?? null, gitBranch ?? null, persistent ?? null, status ?? null, notifyUrl(b) ?? null]);
  res.json(branchJson(await branchFor(res, updated.id)));
});

branches.delete('/branches/:branch_id_or_ref', write, async (req, res) => {
  const force = req.query.force;
  if (force !== undefined && force !== 'true' && force !== 'false') throw errors.invalidPath('force must be true or false');
  const b = await branchFor(res, param(req, 'branch_id_or_ref'));
  await callerQuery(res, 'select platform.delete_branch($1)', [param(req, 'branch_id_or_ref')]);
  forgetRuntime(b.project_ref);
  res.json({ message: 'ok' });
});

async function forAction(res: Response, idOrRef: string, verb: string): Promise<{ id: string; project_ref: string; parent_project_ref: string }> {
  const [b] = await callerQuery<{ id: string; project_ref: string; parent_project_ref: string }>(res,
    'select * from platform.branch_for_action($1, $2)', [idOrRef, verb]);
  return b;
}

function actionBody(raw: unknown): string | undefined {
  const b = body(raw ?? {});
  const version = str(b, 'migration_version', { max: 32 });
  if (version !== undefined && !/^\d{1,32}$/.test(version)) throw errors.invalidBody('migration_version must be a string of digits');
  return version;
}

// Push: the parent's migrations the branch lacks are applied to the branch (the MCP server's rebase_branch).
branches.post('/branches/:branch_id_or_ref/push', write, async (req, res) => {
  actionBody(req.body);
  const b = await forAction(res, param(req, 'branch_id_or_ref'), 'push');
  const applied = await pushBranch(b.project_ref, b.parent_project_ref, caller(res).accountId);
  res.status(201).json({ workflow_run_id: crypto.randomUUID(), message: 'ok', applied });
});

// Merge: the branch's migrations the parent lacks are applied to the parent, all or none.
branches.post('/branches/:branch_id_or_ref/merge', write, async (req, res) => {
  actionBody(req.body);
  const b = await forAction(res, param(req, 'branch_id_or_ref'), 'merge');
  const applied = await mergeBranch(b.project_ref, b.parent_project_ref, caller(res).accountId);
  res.status(201).json({ workflow_run_id: crypto.randomUUID(), message: 'ok', applied });
});

// Reset: the branch's database is made again, by a job (GET the branch until its status is MIGRATIONS_PASSED).
branches.post('/branches/:branch_id_or_ref/reset', write, async (req, res) => {
  const version = actionBody(req.body);
  const [r] = await callerQuery<{ id: string }>(res, 'select platform.reset_branch($1, $2) as id', [param(req, 'branch_id_or_ref'), version ?? null]);
  res.status(201).json({ workflow_run_id: r.id, message: 'ok' });
});

// Restore: Supabase cancels a scheduled deletion; Loam deletes branches at once, so there is none to cancel. A paused
// branch is brought back to serving (its project restored); any other existing branch is left as it is.
branches.post('/branches/:branch_id_or_ref/restore', write, async (req, res) => {
  const [r] = await callerQuery<{ ref: string }>(res, 'select platform.restore_branch($1) as ref', [param(req, 'branch_id_or_ref')]);
  forgetRuntime(r.ref);
  res.status(201).json({ message: 'Branch restoration initiated' });
});

branches.get('/branches/:branch_id_or_ref/diff', read, async (req, res) => {
  const raw = typeof req.query.included_schemas === 'string' ? req.query.included_schemas : 'public';
  const schemas = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (schemas.length === 0 || schemas.length > 20 || schemas.some((s) => s.length > 63)) {
    throw errors.invalidPath('included_schemas must be 1 to 20 comma-separated schema names');
  }
  const b = await forAction(res, param(req, 'branch_id_or_ref'), 'diff');
  res.type('text/plain').send(await diffSchemas(b.parent_project_ref, b.project_ref, schemas));
});
