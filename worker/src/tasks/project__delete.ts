// Deletes a project's database and roles for good.
import { dropProjectDatabase } from '../../../db/src/provisioning.ts';
import { projectTask } from '../project-task.ts';
import { purgeProjectFiles } from '../../../server/src/storage/backend.ts';

export default projectTask({
  from: 'GOING_DOWN', to: 'REMOVED', failed: 'GOING_DOWN',
  // Stored files go with the database (both steps are idempotent, so a retried job finishes the job).
  run: async (address, project) => { await dropProjectDatabase(address, project); await purgeProjectFiles(project.ref); },
});
