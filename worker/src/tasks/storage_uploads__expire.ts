// Removes a project's abandoned uploads (server/src/storage/expiry.ts) and queues itself again for the uploads
// that are not abandoned yet.
import type { Task } from 'graphile-worker';
import { apiRoleContext, withContext } from '../../../db/src/context.ts';
import { projectPool } from '../../../db/src/pools.ts';
import { loadRuntime } from '../../../db/src/projects.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import { expireUploads } from '../../../server/src/storage/expiry.ts';
import { queueUploadExpiry } from '../../../server/src/storage/sweep.ts';

const task: Task = async (payload, helpers) => {
  const { ref, age } = payload as { ref: string; age?: number };
  const project = await loadRuntime(ref);
  if (!project || project.deleted || project.status !== 'ACTIVE_HEALTHY' || !project.database_server_id) return;
  // As the project's service role: the multipart tables are the owner's, so nothing stronger may touch them.
  const pool = projectPool(await authenticatorAddress(project), project.db_name, { max: 1 });
  const { removed, nextInSeconds } = await withContext(pool, apiRoleContext(project, 'service_role'), (c) => expireUploads(ref, c, age));
  if (removed) helpers.logger.info(`storage: removed ${removed} abandoned upload(s) of ${ref}`);
  // graphile-worker clears the key of this running job, so this queues a new one.
  if (nextInSeconds !== undefined) await queueUploadExpiry(ref, nextInSeconds, age);
};

export default task;
