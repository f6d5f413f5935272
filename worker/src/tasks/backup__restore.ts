// Restores a backup into a project (its own, or a new one made for the restore). The project is out of service
// (RESTORING_BACKUP) from the request on; its live database is closed but left as it is while the restored one
// is built beside it (db/src/backups.ts), and only a complete, secured database is swapped in. Crash safety:
// before the swap, a run that died (kill -9) is simply started over (the half-built database is dropped); once
// the restore row says 'swapping', a new run finishes the swap. After the last failed attempt the half-built
// database goes, the live one reopens, and the project is back in service as it was (a new project made for the
// restore is left INIT_FAILED with the reason).
import path from 'node:path';
import type { Task } from 'graphile-worker';
import {
  abandonRestore, BackupError, buildRestoredDatabase, closeLiveDatabase, currentTemplateVersion, findPgTools,
  serverVersionNum, swapInRestoredDatabase,
} from '../../../db/src/backups.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { loadRuntimeById } from '../../../db/src/projects.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { fetchDump, restoreFiles, workDir } from '../backups.ts';

interface RestoreJob {
  restore_id: string; backup_id: string; step: string; status: string; source_project_id: string; source_ref: string;
  target_project_id: string; target_ref: string; backup_template_version: number | null;
}

const readJob = async (id: string): Promise<RestoreJob | undefined> =>
  (await controlPool().query<RestoreJob>('select * from platform_private.restore_job($1)', [id])).rows[0];

const task: Task = async (payload, helpers) => {
  const { restore_id } = payload as { restore_id: string };
  const job = await readJob(restore_id);
  if (!job || !['QUEUED', 'RUNNING'].includes(job.status)) return;
  const newProject = job.source_project_id !== job.target_project_id;
  const progress = (step: string | null, p: string) =>
    controlPool().query('select platform_private.restore_progress($1, $2, $3)', [restore_id, step, p]).then(() => {});
  const target = await loadRuntimeById(job.target_project_id);
  if (!target || target.status !== 'RESTORING_BACKUP' || !target.database_server_id) {
    await controlPool().query('select platform_private.restore_finished($1, $2, null)', [restore_id, 'the project is no longer being restored']);
    return;
  }
  const admin = await serverAdminAddress(target.database_server_id);
  let templateVersion: number | undefined;
  try {
    templateVersion = await currentTemplateVersion(admin);
    if (job.step !== 'swapping') {
      if (job.backup_template_version !== templateVersion) {
        throw new BackupError('LMK09', `backup ${job.backup_id} was taken at project-template version ${job.backup_template_version}; `
          + `the platform is at ${templateVersion}: restore it on a Loam of that version`);
      }
      const tools = await findPgTools(await serverVersionNum(admin));
      await progress('preparing', 'closing the project\'s database');
      if (!newProject) await closeLiveDatabase(admin, target);
      const work = workDir(`restore-${restore_id}`);
      try {
        await progress('restoring', 'fetching the backup');
        const dumpFile = path.join(work.dir, 'database.dump');
        await fetchDump(job.source_ref, job.backup_id, dumpFile);
        await buildRestoredDatabase({ tools, admin, target, dumpFile, workDir: work.dir, progress: (s, p) => progress(s, p) });
        await progress(null, 'copying stored files');
        const files = await restoreFiles(job.source_ref, job.backup_id, target.ref, (p) => progress(null, p));
        await controlPool().query('select platform_private.count_restored_storage($1, $2)', [target.id, files.bytes]);
      } finally {
        work.cleanup();
      }
      await progress('swapping', 'putting the restored database in place');
    }
    await swapInRestoredDatabase(admin, target);
    await controlPool().query('select platform_private.restore_finished($1, null, $2)', [restore_id, templateVersion]);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    helpers.logger.error(`restore ${restore_id} into ${target.ref} failed: ${reason}`);
    const final = ['LMK01', 'LMK09'].includes((err as { code?: string }).code ?? '');
    if (helpers.job.attempts < helpers.job.max_attempts && !final) throw err;
    const now = await readJob(restore_id);
    if (now?.step === 'swapping') {
      // The restored database was complete: putting it in place is the way out (one more try).
      await swapInRestoredDatabase(admin, target).catch(() => {});
    } else {
      await abandonRestore(admin, target, !newProject).catch(() => {});
    }
    await controlPool().query('select platform_private.restore_finished($1, $2, null)', [restore_id, reason]);
  }
};
export default task;
