// Brings one project's database back to a moment (restore-pitr) or to one of its restore points (undo), on
// PostgreSQL's recovery: the WAL up to now is archived, the newest base backup before the moment is copied and
// recovered in a temporary cluster (db/src/pitr.ts), the project's database is dumped from it with pg_dump (as the
// project's management login), the temporary cluster is stopped and removed, and the dump is restored beside the
// live database and swapped in exactly as a backup restore is (db/src/backups.ts). Other projects on the server are
// never touched. The project is out of service (RESTORING_BACKUP) from the request on, its live database kept as
// it is until the swap. Crash safety as in backup__restore: before the swap a new run starts over (a temporary
// cluster left running by a killed run is stopped first); once the step is 'swapping' it finishes the swap; after
// the last failed attempt everything temporary goes and the project is back in service as it was.
import path from 'node:path';
import type { Task } from 'graphile-worker';
import {
  abandonRestore, BackupError, buildRestoredDatabase, closeLiveDatabase, currentTemplateVersion, dumpProjectDatabase,
  serverVersionNum, swapInRestoredDatabase,
} from '../../../db/src/backups.ts';
import { archiveUpToNow, findPitrTools, removeTempCluster, serverPitr, startRecoveredCluster, type TempCluster } from '../../../db/src/pitr.ts';
import { controlPool, withClient } from '../../../db/src/pools.ts';
import { loadRuntimeById } from '../../../db/src/projects.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { restoreFiles, workDir } from '../backups.ts';

interface PitrJob {
  restore_id: string; step: string; status: string; kind: string; target_project_id: string; target_ref: string;
  recovery_target_time: Date; restore_point_id: string | null;
}

const readJob = async (id: string): Promise<PitrJob | undefined> =>
  (await controlPool().query<PitrJob>('select * from platform_private.restore_job($1)', [id])).rows[0];

const task: Task = async (payload, helpers) => {
  const { restore_id } = payload as { restore_id: string };
  const job = await readJob(restore_id);
  if (!job || job.kind !== 'pitr' || !['QUEUED', 'RUNNING'].includes(job.status)) return;
  const progress = (step: string | null, p: string) =>
    controlPool().query('select platform_private.restore_progress($1, $2, $3)', [restore_id, step, p]).then(() => {});
  const finished = (error: string | null, version: number | null) =>
    controlPool().query('select platform_private.restore_finished($1, $2, $3)', [restore_id, error, version]);
  const target = await loadRuntimeById(job.target_project_id);
  if (!target || target.status !== 'RESTORING_BACKUP' || !target.database_server_id) {
    await finished('the project is no longer being restored', null);
    return;
  }
  const admin = await serverAdminAddress(target.database_server_id);
  const server = await serverPitr(target.database_server_id);
  let templateVersion: number | undefined;
  try {
    templateVersion = await currentTemplateVersion(admin);
    if (job.step !== 'swapping') {
      if (!server) throw new BackupError('LMK07', 'the project\'s database server no longer has a WAL archive configured');
      const tools = await findPitrTools(await serverVersionNum(admin));
      const time = new Date(job.recovery_target_time);
      await progress('preparing', 'archiving the server\'s WAL up to now');
      await archiveUpToNow(admin, server);
      const { rows: [base] } = await controlPool().query('select id from platform_private.base_backup_for($1, $2) where id is not null',
        [target.database_server_id, time]);
      if (!base) throw new BackupError('LMJ02', `no base backup of the server ended before ${time.toISOString()}`);
      await progress('preparing', 'closing the project\'s database');
      await closeLiveDatabase(admin, target);
      const work = workDir(`pitr-${restore_id}`);
      try {
        const dumpFile = path.join(work.dir, 'database.dump');
        let cluster: TempCluster | undefined;
        try {
          await progress('restoring', `recovering base backup ${base.id} in a temporary cluster`);
          cluster = await startRecoveredCluster({
            tools, server, baseBackupId: base.id, restoreId: restore_id, adminUser: admin.user,
            target: job.restore_point_id ? { name: `loam_rp_${job.restore_point_id}` } : { time },
            progress: (p) => progress(null, p),
          });
          const asAdmin = cluster.address(admin.user);
          const exists = await withClient(asAdmin, 'postgres', async (c) => {
            const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [target.db_name]);
            if (rowCount) await c.query(`alter database ${c.escapeIdentifier(target.db_name)} with allow_connections true`);
            return Boolean(rowCount);
          });
          if (!exists) throw new BackupError('LMJ02', `the project's database did not exist yet at ${time.toISOString()}`);
          // Loam's own table (no tenant can alter it): the template version the database was at then.
          const then = await withClient(asAdmin, target.db_name, async (c) =>
            Number((await c.query('select coalesce(max(version), 0) as v from _loam.migrations')).rows[0].v));
          if (then !== templateVersion) {
            throw new BackupError('LMK09', `at ${time.toISOString()} the project was at project-template version ${then}; `
              + `the platform is at ${templateVersion}: restore it on a Loam of that version`);
          }
          await progress(null, 'dumping the project\'s database from the temporary cluster (pg_dump)');
          await dumpProjectDatabase(tools, cluster.address(target.mgmt_role), target.db_name, dumpFile);
        } finally {
          await progress(null, 'removing the temporary cluster');
          await cluster?.stop();
        }
        await buildRestoredDatabase({ tools, admin, target, dumpFile, workDir: work.dir, progress: (s, p) => progress(s, p) });
        // Stored files are not rewound (objects are immutable; those no restored row names are swept later), but any
        // the restored rows name and that were deleted since come back from the project's backups nearest the moment.
        const { rows: nearest } = await controlPool().query<{ id: string }>(`
          (select id from platform.backups where project_id = $1 and status = 'COMPLETED' and inserted_at <= $2 order by inserted_at desc limit 1)
          union all
          (select id from platform.backups where project_id = $1 and status = 'COMPLETED' and inserted_at > $2 order by inserted_at limit 1)`,
        [target.id, time]);
        for (const b of nearest) {
          await progress(null, `copying back stored files from backup ${b.id}`);
          const files = await restoreFiles(target.ref, b.id, target.ref, (p) => progress(null, p));
          await controlPool().query('select platform_private.count_restored_storage($1, $2)', [target.id, files.bytes]);
        }
      } finally {
        work.cleanup();
      }
      await progress('swapping', 'putting the restored database in place');
    }
    await swapInRestoredDatabase(admin, target);
    await finished(null, templateVersion);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    helpers.logger.error(`point-in-time restore ${restore_id} of ${target.ref} failed: ${reason}`);
    const final = ['LMK07', 'LMJ01', 'LMJ02', 'LMK09'].includes((err as { code?: string }).code ?? '');
    if (helpers.job.attempts < helpers.job.max_attempts && !final) throw err;
    const now = await readJob(restore_id);
    if (now?.step === 'swapping') {
      await swapInRestoredDatabase(admin, target).catch(() => {});
    } else {
      if (server) await removeTempCluster(server, restore_id).catch(() => {});
      await abandonRestore(admin, target, true).catch(() => {});
    }
    await finished(reason, null);
  }
};
export default task;
