// Takes a backup of a project: its database (pg_dump as the project's own management login) and its stored
// files, recorded with progress in platform.backups; then removes the backups past the plan's retention.
// A run cut off by a crash is run again by graphile-worker (its dump is redone and the copy skips what is there);
// after the last attempt the backup is marked FAILED with the reason.
import type { Task } from 'graphile-worker';
import { controlPool } from '../../../db/src/pools.ts';
import { loadRuntimeById } from '../../../db/src/projects.ts';
import { removeExpiredBackups, takeBackup } from '../backups.ts';

const task: Task = async (payload, helpers) => {
  const { backup_id } = payload as { backup_id: string };
  const { rows: [backup] } = await controlPool().query('select id, project_id, status from platform.backups where id = $1', [backup_id]);
  if (!backup || !['QUEUED', 'RUNNING'].includes(backup.status)) return;
  const progress = (p: string) => controlPool().query('select platform_private.backup_progress($1, $2, $3)', [backup_id, 'RUNNING', p]).then(() => {});
  try {
    const project = await loadRuntimeById(backup.project_id);
    if (!project || project.deleted || !project.database_server_id) throw new Error('the project no longer exists');
    if (project.status !== 'ACTIVE_HEALTHY') throw new Error(`the project's status is ${project.status}`);
    await progress('starting');
    const r = await takeBackup(project, backup_id, progress);
    await controlPool().query('select platform_private.backup_done($1, $2, $3, $4, $5, $6)',
      [backup_id, r.version, project.template_version, r.databaseBytes, r.files.count, r.files.bytes]);
    const removed = await removeExpiredBackups(String(project.id), project.ref);
    if (removed) helpers.logger.info(`project ${project.ref}: ${removed} backup(s) past retention removed`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    helpers.logger.error(`backup ${backup_id} failed: ${reason}`);
    // A missing tool does not come back by retrying.
    if (helpers.job.attempts >= helpers.job.max_attempts || (err as { code?: string }).code === 'LMK01') {
      await controlPool().query('select platform_private.backup_failed($1, $2)', [backup_id, reason]);
      return;
    }
    throw err;
  }
};
export default task;
