// Deletes a project's database and roles for good.
import { dropProjectDatabase } from '../../../db/src/provisioning.ts';
import { projectTask } from '../project-task.ts';

export default projectTask({ from: 'GOING_DOWN', to: 'REMOVED', failed: 'GOING_DOWN', run: dropProjectDatabase });
