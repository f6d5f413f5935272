// Brings one project database up to the current template version (queued for each project by `loam migrate`).
import { migrateProjectDatabase } from '../../../db/src/migrate.ts';
import { projectTask } from '../project-task.ts';

export default projectTask({
  from: 'ACTIVE_HEALTHY', to: 'ACTIVE_HEALTHY', failed: 'ACTIVE_HEALTHY',
  run: (address, project) => migrateProjectDatabase(address, project.db_name),
});
