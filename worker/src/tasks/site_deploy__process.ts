// Unpacks a zip deploy into its site's content-addressed files and stages it (server/src/sites/deploys.ts).
// Queued by platform.create_zip_deploy in the transaction that recorded the deploy; the payload carries ids.
import type { Task } from 'graphile-worker';
import { processZipDeploy } from '../../../server/src/sites/deploys.ts';

const task: Task = async (payload, helpers) => {
  const { ref, deploy_id: deployId } = payload as { ref: string; deploy_id: string };
  const outcome = await processZipDeploy(ref, deployId);
  if (outcome === 'failed') helpers.logger.info(`site deploy ${deployId} of ${ref} was refused`);
};

export default task;
