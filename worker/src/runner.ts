// Starts graphile-worker with every task in ./tasks (a job's name is its file's name), and the liveness record
// that lets other workers unlock this one's jobs if the process dies (liveness.ts).
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { Logger, run, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import type pg from 'pg';
import { startLiveness } from './liveness.ts';
import { settings } from '../../db/src/config.ts';

const tasksDir = new URL('./tasks/', import.meta.url);

export async function loadTasks(): Promise<TaskList> {
  const list: TaskList = {};
  for (const file of fs.readdirSync(tasksDir).filter((f) => f.endsWith('.ts')).sort()) {
    list[file.replace(/\.ts$/, '')] = (await import(new URL(file, tasksDir).href)).default;
  }
  return list;
}

let silenced = false;
/** During shutdown the database may go first (Ctrl-C reaches PostgreSQL too): its complaints are noise then. */
export const silenceWorkerLogs = () => { silenced = true; };

const quietLogger = new Logger(() => (level, message) => {
  if (!silenced && (level === 'error' || level === 'warning')) console.error(`[worker] ${message}`);
});

export interface Worker {
  /** graphile-worker's pool id: what it writes in jobs.locked_by, and what this worker's heartbeat names. */
  id: string;
  stop(): Promise<void>;
}

export async function startWorker(pool: pg.Pool, concurrency = settings.workerConcurrency): Promise<Worker> {
  // graphile-worker draws its pool id at random and exposes it only through this event. The heartbeat is queued
  // from the handler, before the pool's workers ask for their first job.
  const events = new EventEmitter() as WorkerEvents;
  let liveness: ReturnType<typeof startLiveness> | undefined;
  let id: string | undefined;
  events.on('pool:create', ({ workerPool }) => {
    id = workerPool.id;
    liveness = startLiveness(pool, id, (level, m) => {
      if (level === 'info') console.log(`[worker] ${m}`);
      else if (!silenced) console.error(`[worker] ${m}`);
    });
  });
  const runner: Runner = await run({
    pgPool: pool, taskList: await loadTasks(), concurrency, noHandleSignals: true, pollInterval: 2000, logger: quietLogger, events,
  });
  if (!id) {
    await runner.stop();
    throw new Error('graphile-worker started no worker pool');
  }
  return {
    id,
    async stop() {
      await runner.stop();
      await liveness?.stop();
    },
  };
}
