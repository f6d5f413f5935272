// Creates a new project's roles and database (a clone of the template) and marks it healthy.
import { createProjectDatabase } from '../../../db/src/provisioning.ts';
import { projectTask } from '../project-task.ts';

export default projectTask({ from: 'COMING_UP', to: 'ACTIVE_HEALTHY', failed: 'INIT_FAILED', run: createProjectDatabase });
