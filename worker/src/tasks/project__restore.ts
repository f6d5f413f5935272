// Restores a paused project: its database accepts connections again.
import { setConnectionsAllowed } from '../../../db/src/provisioning.ts';
import { projectTask } from '../project-task.ts';

export default projectTask({
  from: 'RESTORING', to: 'ACTIVE_HEALTHY', failed: 'RESTORE_FAILED',
  run: (address, project) => setConnectionsAllowed(address, project, true),
});
