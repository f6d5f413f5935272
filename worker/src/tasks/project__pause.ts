// Pauses a project: its database refuses new connections and open ones are closed. Data stays.
import { setConnectionsAllowed } from '../../../db/src/provisioning.ts';
import { projectTask } from '../project-task.ts';

export default projectTask({
  from: 'PAUSING', to: 'INACTIVE', failed: 'PAUSE_FAILED',
  run: (address, project) => setConnectionsAllowed(address, project, false),
});
