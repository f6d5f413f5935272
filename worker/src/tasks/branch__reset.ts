// Resets a preview branch: its database is dropped and made again from the template, then built from the
// parent's migrations (or, given `migration_version`, from the branch's own migrations up to that version) and
// the seed; the parent's edge functions it lacks are deployed again. Its roles, keys and ref stay.
import type { Task } from 'graphile-worker';
import { controlPool } from '../../../db/src/pools.ts';
import { loadRuntimeById } from '../../../db/src/projects.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { recreateProjectDatabase } from '../../../db/src/provisioning.ts';
import { buildBranch, readHistory } from '../../../server/src/management/branch-ops.ts';
import { branchJob, copyParentFunctions } from '../branch-task.ts';

const task: Task = async (payload, helpers) => {
  const { project_id, migration_version } = payload as { project_id: string; migration_version: string | null };
  const project = await loadRuntimeById(project_id);
  const { rows: [info] } = await controlPool().query('select * from platform_private.branch_job_info($1)', [project_id]);
  if (!project || project.deleted || !info) return;
  await branchJob(helpers, project, async () => {
    const upTo = migration_version ? BigInt(migration_version) : null;
    const only = upTo === null ? undefined
      : (await readHistory(project.ref)).filter((m) => /^\d{1,32}$/.test(m.version) && BigInt(m.version) <= upTo);
    const version = await recreateProjectDatabase(await serverAdminAddress(project.database_server_id!), project);
    await controlPool().query('select platform_private.set_template_version($1, $2)', [project_id, version]);
    await buildBranch(project.ref, info.parent_ref, { seed: info.seed, withData: false, only });
    await copyParentFunctions(project, helpers);
  });
};
export default task;
