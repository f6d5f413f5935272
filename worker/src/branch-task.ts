// The shape branch jobs share: wait for the branch's project to serve, mark the branch RUNNING_MIGRATIONS, do
// the work, and record MIGRATIONS_PASSED, or on the last failed attempt MIGRATIONS_FAILED with the reason.
import type { JobHelpers } from 'graphile-worker';
import { controlPool } from '../../db/src/pools.ts';
import type { ProjectRuntime } from '../../db/src/projects.ts';

export async function setBranchStatus(projectId: string | number, status: string, reason: string | null = null): Promise<void> {
  await controlPool().query('select platform_private.set_branch_status($1, $2, $3)', [projectId, status, reason]);
}

export async function branchJob(helpers: JobHelpers, project: ProjectRuntime, work: () => Promise<void>): Promise<void> {
  const last = helpers.job.attempts >= helpers.job.max_attempts;
  if (project.status !== 'ACTIVE_HEALTHY') {
    // Provisioning runs first in the same queue; a retry of it may still be pending.
    if (project.status === 'COMING_UP' && !last) throw new Error(`branch ${project.ref}: its project is still being provisioned`);
    await setBranchStatus(project.id, 'MIGRATIONS_FAILED', `the branch's project is not serving (status ${project.status})`);
    return;
  }
  await setBranchStatus(project.id, 'RUNNING_MIGRATIONS');
  try {
    await work();
    await setBranchStatus(project.id, 'MIGRATIONS_PASSED');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    helpers.logger.error(`branch ${project.ref}: ${reason}`);
    if (last) { await setBranchStatus(project.id, 'MIGRATIONS_FAILED', reason); return; }
    throw err;
  }
}

/** The parent's live edge functions, deployed in the branch (their deploy jobs validate them as for any deploy);
 *  those the branch already has with the same files are left as they are. */
export async function copyParentFunctions(project: ProjectRuntime, helpers: JobHelpers): Promise<void> {
  const { rows: [r] } = await controlPool().query('select platform_private.copy_parent_functions($1) as slugs', [project.id]);
  if (r.slugs.length) helpers.logger.info(`branch ${project.ref}: deploying the parent's functions ${r.slugs.join(', ')}`);
}
