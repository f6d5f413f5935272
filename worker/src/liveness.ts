// Worker liveness: each worker pool reports itself alive in the control database every few seconds, and on the
// same tick unlocks the jobs of pools that stopped reporting (graphile-worker would hold them for 4 hours),
// queues again the deletions that gave up, and fails the emails whose delivery job gave up.
import os from 'node:os';
import type pg from 'pg';
import { findPgTools, serverVersionNum } from '../../db/src/backups.ts';
import { config, liveSettings } from '../../db/src/config.ts';
import { controlServerAddress } from '../../db/src/pools.ts';

let toolsPresent: Promise<boolean> | undefined;
/** Whether the control server's projects can be backed up here (asked once per process). */
const backupToolsPresent = () => toolsPresent ??= serverVersionNum(controlServerAddress()).then(findPgTools).then(() => true, () => false);

/** How long a worker may stay silent before others presume it dead and rerun its jobs. Long enough that a busy
 *  but healthy process (a long GC pause, a slow control database) is not taken for dead: its jobs would then run
 *  twice — harmless, since every job is idempotent, but wasted work. */
export const deadAfterMs = () => liveSettings.workerDeadAfterMs;

export interface Liveness { stop(): Promise<void> }

export function startLiveness(pool: pg.Pool, workerId: string, log: (level: 'error' | 'warning' | 'info', m: string) => void): Liveness {
  const deadAfter = deadAfterMs();
  // Three beats fit in the silence allowed, so one slow or lost beat does not get a healthy worker unlocked.
  const interval = Math.max(250, Math.min(5000, Math.floor(deadAfter / 3)));
  let first = true;
  let running: Promise<void> | undefined;
  let stopped = false;
  let lastBackupCheck = 0;
  let lastBaseBackupCheck = 0;

  const tick = async () => {
    try {
      const { rows: [beat] } = await pool.query('select platform_private.worker_heartbeat($1, $2, $3, $4) as inserted',
        [workerId, os.hostname(), process.pid, deadAfter]);
      if (beat.inserted && !first) log('warning', `worker ${workerId} was presumed dead by another worker; jobs it was running may run twice`);
      first = false;
      const { rows: [swept] } = await pool.query('select platform_private.unlock_dead_workers($1) as ids', [deadAfter]);
      if (swept.ids.length) log('info', `unlocked the jobs of dead worker(s) ${swept.ids.join(', ')}`);
      // The one stuck state no caller can get a project out of (see the function): retried from here.
      const { rows: [retried] } = await pool.query('select platform_private.retry_stalled_deletions() as refs');
      if (retried.refs.length) log('info', `deletion queued again for ${retried.refs.join(', ')}`);
      // Emails whose delivery job died with its worker on the last attempt: failed, rather than queued for ever.
      const { rows: [stalled] } = await pool.query('select platform_private.fail_stalled_emails() as n');
      if (stalled.n) log('warning', `${stalled.n} email(s) failed: their delivery job stopped during its last attempt`);
      // Scheduled backups (LOAM_BACKUP_EVERY_HOURS), only where the tools exist: a server without them would
      // fail a job per project per day; its refusal is in the start-up log and the API's answer instead.
      if (config.backupEveryHours > 0 && Date.now() - lastBackupCheck > 15_000 && await backupToolsPresent()) {
        lastBackupCheck = Date.now();
        const { rows: [due] } = await pool.query('select platform_private.queue_due_backups(make_interval(hours => $1)) as refs', [config.backupEveryHours]);
        if (due.refs.length) log('info', `scheduled backups queued for ${due.refs.join(', ')}`);
      }
      // Base backups of the servers whose WAL is archived (point-in-time restore), LOAM_PITR_BASE_BACKUP_EVERY_HOURS.
      if (config.pitrBaseBackupEveryHours > 0 && Date.now() - lastBaseBackupCheck > 15_000) {
        lastBaseBackupCheck = Date.now();
        const { rows: [due] } = await pool.query('select platform_private.queue_due_base_backups(make_interval(hours => $1)) as ids', [config.pitrBaseBackupEveryHours]);
        if (due.ids.length) log('info', `scheduled base backups queued for server(s) ${due.ids.join(', ')}`);
      }
    } catch (err) {
      // The control database may be briefly unreachable; the next tick tries again.
      if (!stopped) log('error', `worker liveness: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  // A tick slower than the interval is not overlapped by the next one: that one is skipped.
  const beat = () => { running ??= tick().finally(() => { running = undefined; }); };
  beat();
  const timer = setInterval(beat, interval);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      // A cleanly stopped worker holds no job: its record can go now rather than expire.
      await pool.query('select platform_private.worker_stopped($1)', [workerId]).catch(() => {});
    },
  };
}
