// Runs one build of a site from its git repository (server/src/sites/build-job.ts). Queued by
// platform_private.queue_site_build with max_attempts 1: a build is never re-run behind the user's back.
import type { Task } from 'graphile-worker';
import { runSiteBuild } from '../../../server/src/sites/build-job.ts';

const task: Task = async (payload) => {
  await runSiteBuild((payload as { build_id: string }).build_id);
};

export default task;
