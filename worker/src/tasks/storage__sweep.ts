// Removes a project's stored bytes that no object row refers to (see server/src/storage/sweep.ts). Bytes written
// in the last hour are left alone: an upload commits its bytes just before its row.
import type { Task } from 'graphile-worker';
import { withClient } from '../../../db/src/pools.ts';
import { loadRuntime } from '../../../db/src/projects.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { sweepOrphans } from '../../../server/src/storage/sweep.ts';

const GRACE_MS = 3600_000;

const task: Task = async (payload, helpers) => {
  const { ref } = payload as { ref: string };
  const project = await loadRuntime(ref);
  if (!project || project.deleted || project.status !== 'ACTIVE_HEALTHY' || !project.database_server_id) return;
  const versions = await withClient(await serverAdminAddress(project.database_server_id), project.db_name, async (c) =>
    new Set((await c.query<{ version: string }>('select version from storage.objects where version is not null')).rows.map((r) => r.version)));
  const removed = await sweepOrphans(ref, versions, new Date(Date.now() - GRACE_MS));
  if (removed) helpers.logger.info(`storage sweep of ${ref}: removed ${removed} unreferenced object(s) or variant set(s)`);
};

export default task;
