// Removes every stored byte of a deleted site (its content-addressed files and any zip not yet unpacked).
import type { Task } from 'graphile-worker';
import { blobStore, sitePrefix } from '../../../server/src/storage/backend.ts';

const task: Task = async (payload) => {
  const { ref, site_id: siteId } = payload as { ref: string; site_id: string };
  await blobStore().removePrefix(sitePrefix(ref, siteId));
};

export default task;
