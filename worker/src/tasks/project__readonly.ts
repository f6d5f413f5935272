// Applies a project's read-only mode to its database: when an operator turns it on or off, and when a
// temporary override (POST /v1/projects/{ref}/readonly/temporary-disable) ends.
import type { Task } from 'graphile-worker';
import { applyReadonly } from '../../../db/src/readonly.ts';

const task: Task = async (payload) => {
  await applyReadonly(String((payload as { ref: string }).ref));
};
export default task;
