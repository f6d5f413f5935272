// Starts graphile-worker with every task in ./tasks (a job's name is its file's name).
import fs from 'node:fs';
import { Logger, run, type Runner, type TaskList } from 'graphile-worker';
import type pg from 'pg';

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

export async function startWorker(pool: pg.Pool, concurrency = Number(process.env.LOAM_WORKER_CONCURRENCY || 4)): Promise<Runner> {
  return run({ pgPool: pool, taskList: await loadTasks(), concurrency, noHandleSignals: true, pollInterval: 2000, logger: quietLogger });
}
