// Takes a base backup of a database server for point-in-time restore (pg_basebackup into the server's base backup
// directory: db/src/pitr.ts), then removes those past LOAM_PITR_RETENTION_DAYS and the archived WAL only they
// needed. A run cut off by a crash is run again (the half-written directory is replaced); after the last attempt
// the base backup is marked FAILED with the reason.
import type { Task } from 'graphile-worker';
import { serverVersionNum } from '../../../db/src/backups.ts';
import { config } from '../../../db/src/config.ts';
import { findPitrTools, removeBaseBackup, serverPitr, takeBaseBackup } from '../../../db/src/pitr.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';

const task: Task = async (payload, helpers) => {
  const { base_backup_id: id } = payload as { base_backup_id: string };
  const { rows: [row] } = await controlPool().query('select id, server_id, status from platform.base_backups where id = $1', [id]);
  if (!row || !['QUEUED', 'RUNNING'].includes(row.status)) return;
  const progress = (p: string) => controlPool().query('select platform_private.base_backup_progress($1, $2)', [id, p]).then(() => {});
  try {
    const s = await serverPitr(row.server_id);
    if (!s) throw new Error('the server no longer has a WAL archive and base backup directory configured');
    const admin = await serverAdminAddress(row.server_id);
    const version = await serverVersionNum(admin);
    const tools = await findPitrTools(version);
    await progress('taking the base backup (pg_basebackup)');
    const r = await takeBaseBackup(tools, admin, s, id);
    await controlPool().query('select platform_private.base_backup_done($1, $2, $3, $4)', [id, version, r.startWalFile, r.bytes]);
    const { rows: expired } = await controlPool().query<{ id: string }>(
      'select platform_private.expired_base_backups($1, make_interval(days => $2)) as id', [row.server_id, config.pitrRetentionDays]);
    for (const e of expired) {
      const { rows: [kept] } = await controlPool().query('select platform_private.base_backup_removed($1) as oldest', [e.id]);
      await removeBaseBackup(tools, s, e.id, kept.oldest);
    }
    if (expired.length) helpers.logger.info(`server ${row.server_id}: ${expired.length} base backup(s) past retention removed`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    helpers.logger.error(`base backup ${id} failed: ${reason}`);
    if (helpers.job.attempts >= helpers.job.max_attempts || (err as { code?: string }).code === 'LMJ01') {
      await controlPool().query('select platform_private.base_backup_failed($1, $2)', [id, reason]);
      return;
    }
    throw err;
  }
};
export default task;
