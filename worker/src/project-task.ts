// The shape every project job shares: re-read the project, act only if it is still in the state the job was
// queued for, record the outcome; on the last failed attempt, record the failure state with a readable reason.
import type { Task } from 'graphile-worker';
import { controlPool } from '../../db/src/pools.ts';
import { loadRuntimeById, type ProjectRuntime } from '../../db/src/projects.ts';
import { serverAdminAddress } from '../../db/src/servers.ts';
import type { ServerAddress } from '../../db/src/pools.ts';

interface Transition {
  from: string;
  to: string;
  failed: string;
  /** Does the work; may return the template version the database is now at. */
  run(address: ServerAddress, project: ProjectRuntime): Promise<number | void>;
}

export function projectTask(t: Transition): Task {
  return async (payload, helpers) => {
    const { project_id } = payload as { project_id: string };
    const project = await loadRuntimeById(project_id);
    if (!project || project.status !== t.from) return;
    try {
      const serverId = project.database_server_id
        ?? (await controlPool().query('select platform_private.place_project($1) as id', [project_id])).rows[0].id;
      const version = await t.run(await serverAdminAddress(serverId), project);
      await controlPool().query('select platform_private.project_job_done($1, $2, $3, $4)',
        [project_id, t.from, t.to, version ?? null]);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      helpers.logger.error(`project ${project.ref}: ${t.from} → ${t.to} failed: ${reason}`);
      if (helpers.job.attempts >= helpers.job.max_attempts) {
        await controlPool().query('select platform_private.project_job_failed($1, $2, $3, $4)',
          [project_id, t.from, t.failed, reason]);
        return;
      }
      throw err;
    }
  };
}
