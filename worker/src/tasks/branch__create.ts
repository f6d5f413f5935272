// Builds a new preview branch once its project is provisioned (the job after `project__provision` in the
// branch's queue): the parent's migrations, the seed, and the parent's rows when asked, in one transaction of
// the branch's owner; then the parent's edge functions are deployed in it; the branch's status says how it went
// (RUNNING_MIGRATIONS → MIGRATIONS_PASSED or _FAILED).
import type { Task } from 'graphile-worker';
import { controlPool } from '../../../db/src/pools.ts';
import { loadRuntimeById } from '../../../db/src/projects.ts';
import { buildBranch } from '../../../server/src/management/branch-ops.ts';
import { branchJob, copyParentFunctions } from '../branch-task.ts';

const task: Task = async (payload, helpers) => {
  const { project_id } = payload as { project_id: string };
  const project = await loadRuntimeById(project_id);
  const { rows: [info] } = await controlPool().query('select * from platform_private.branch_job_info($1)', [project_id]);
  if (!project || project.deleted || !info) return;
  await branchJob(helpers, project, async () => {
    const started = Date.now();
    const rows = await buildBranch(project.ref, info.parent_ref, { seed: info.seed, withData: info.with_data, log: (l) => helpers.logger.info(l) });
    helpers.logger.info(`branch ${project.ref}: built from ${info.parent_ref} in ${Date.now() - started} ms${info.with_data ? `, ${rows} rows copied` : ''}`);
    await copyParentFunctions(project, helpers);
  });
};
export default task;
