// Brings one project database up to the current privilege layout and template version (queued for each project
// by `loam start` and `loam migrate`).
import { migrateProject } from '../../../db/src/migrate-projects.ts';
import { projectTask } from '../project-task.ts';

export default projectTask({
  from: 'ACTIVE_HEALTHY', to: 'ACTIVE_HEALTHY', failed: 'ACTIVE_HEALTHY',
  run: (_address, project) => migrateProject(project),
});
