// Removes a site's deploys past the retention count and the stored files no deploy refers to any more
// (server/src/sites/sweep.ts). Queued by platform_private.queue_site_sweep when a deploy is staged, published or
// rolled back to; the payload carries the site id only.
import type { Task } from 'graphile-worker';
import { sweepSite } from '../../../server/src/sites/sweep.ts';

const task: Task = async (payload, helpers) => {
  const siteId = (payload as { site_id: string }).site_id;
  const { deploys, files } = await sweepSite(siteId);
  if (deploys || files) helpers.logger.info(`site ${siteId}: ${deploys} old deploy(s) and ${files} unreferenced file(s) removed`);
};

export default task;
