// Removes a project's stored bytes that no object row refers to (see server/src/storage/sweep.ts). Bytes written
// in the last hour are left alone: an upload commits its bytes just before its row.
import type { Task } from 'graphile-worker';
import { apiRoleContext, withContext } from '../../../db/src/context.ts';
import { projectPool } from '../../../db/src/pools.ts';
import { loadRuntime } from '../../../db/src/projects.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import { sweepOrphans } from '../../../server/src/storage/sweep.ts';

const GRACE_MS = 3600_000;

const task: Task = async (payload, helpers) => {
  const { ref } = payload as { ref: string };
  const project = await loadRuntime(ref);
  if (!project || project.deleted || project.status !== 'ACTIVE_HEALTHY' || !project.database_server_id) return;
  // Read as the project's service role: storage.objects is the owner's table (it may even be a view of theirs
  // calling their functions), so nothing stronger may read it.
  const pool = projectPool(await authenticatorAddress(project), project.db_name, { max: 1 });
  const versions = await withContext(pool, apiRoleContext(project, 'service_role'), async (c) =>
    new Set((await c.query<{ version: string }>('select version::text from storage.objects where version is not null')).rows.map((r) => r.version)),
  { readOnly: true });
  // S3 multipart parts (sql/project/migrations/0005): swept only when their rows could be read — the owner may
  // have dropped or changed the table, and then no part is judged.
  const parts = await withContext(pool, apiRoleContext(project, 'service_role'), async (c) =>
    new Set((await c.query<{ version: string }>('select version::text from storage.s3_multipart_uploads_parts')).rows.map((r) => r.version)),
  { readOnly: true }).catch(() => undefined);
  const removed = await sweepOrphans(ref, versions, new Date(Date.now() - GRACE_MS), parts);
  if (removed) helpers.logger.info(`storage sweep of ${ref}: removed ${removed} unreferenced object(s) or variant set(s)`);
};

export default task;
