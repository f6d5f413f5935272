// Deletes a project's database and roles for good.
import { dropProjectDatabase } from '../../../db/src/provisioning.ts';
import { projectTask } from '../project-task.ts';
import { purgeProjectFiles } from '../../../server/src/storage/backend.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { removeProject } from '../../../server/src/functions/code.ts';
import { functionSettings } from '../../../db/src/config.ts';

export default projectTask({
  from: 'GOING_DOWN', to: 'REMOVED', failed: 'GOING_DOWN',
  // Stored files go with the database (both steps are idempotent, so a retried job finishes the job).
  run: async (address, project) => { await dropProjectDatabase(address, project); await purgeProjectFiles(project.ref);
    // Edge functions: their rows (sources, secrets, logs) and their unpacked code and package cache.
    await controlPool().query('select platform_private.purge_functions($1)', [project.ref]);
    removeProject(functionSettings().dir, project.ref);
  },
});
