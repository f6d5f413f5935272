// The request log's writer: each data-plane request (and each Postgres error one met) becomes a record kept in
// memory and written in batches (one statement per half second at most, or sooner past 500 records) to the
// control database, which trims each project's log by rows and age (sql/platform/functions/logs.sql). Past
// 5,000 waiting records new ones are dropped and counted, a failed write is dropped too: logging never fails,
// slows or grows without bound under a request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { controlPool } from '../../db/src/pools.ts';
import { liveSettings } from '../../db/src/config.ts';

export type Service = 'rest' | 'graphql' | 'auth' | 'storage' | 'realtime' | 'functions' | 'postgres';

interface LogRecord {
  project_id: string; at: string; service: Service; method?: string; path?: string; status?: number;
  duration_ms?: number; user_agent?: string; ip?: string; error_code?: string; message?: string;
}

const MAX_PENDING = 5000;
const BATCH = 500;
const FLUSH_MS = 500;
// Per project: LOAM_REQUEST_LOG_ROWS rows (default 10,000), LOAM_REQUEST_LOG_HOURS hours (default 7 days).

let pending: LogRecord[] = [];
let timer: NodeJS.Timeout | undefined;
let flushing: Promise<void> | undefined;
export const requestLogStats = { written: 0, dropped: 0 };

function push(r: LogRecord): void {
  if (pending.length >= MAX_PENDING) { requestLogStats.dropped++; return; }
  pending.push(r);
  if (flushing) return; // the write under way starts the next one when it ends
  if (pending.length >= BATCH) { clearTimeout(timer); timer = undefined; void flushRequestLog(); }
  else timer ??= setTimeout(() => { timer = undefined; void flushRequestLog(); }, FLUSH_MS).unref();
}

/** Writes what is waiting (one statement at a time); resolves when all of it is written or dropped. */
export function flushRequestLog(): Promise<void> {
  if (flushing) return flushing.then(flushRequestLog);
  const batch = pending;
  if (!batch.length) return Promise.resolve();
  pending = [];
  flushing = Promise.resolve().then(() => controlPool().query('select platform_private.record_requests($1::jsonb, $2, $3)', [JSON.stringify(batch), liveSettings.requestLogRows, liveSettings.requestLogHours * 3600]))
    .then(() => { requestLogStats.written += batch.length; }, () => { requestLogStats.dropped += batch.length; })
    .finally(() => {
      flushing = undefined;
      // What arrived meanwhile: at once when a batch is full, else within the usual half second.
      if (pending.length >= BATCH) void flushRequestLog();
      else if (pending.length) timer ??= setTimeout(() => { timer = undefined; void flushRequestLog(); }, FLUSH_MS).unref();
    });
  return flushing;
}

export async function stopRequestLog(): Promise<void> {
  clearTimeout(timer);
  timer = undefined;
  await flushRequestLog();
}

const PG_ERROR = Symbol('loam.pgError');
type Tracked = ServerResponse & { [PG_ERROR]?: { code: string; message: string } };

/** Records the request when its response is done (or abandoned: 499), with the Postgres error it met, if any.
 *  `path` is relative to the project (`/rest/v1/todos`), without its query string (which may carry tokens). */
export function trackRequest(projectId: string, service: Service, req: IncomingMessage, res: ServerResponse, path: string, started = performance.now()): void {
  res.once('close', () => {
    const at = new Date().toISOString();
    const ip = (req as { ip?: string }).ip ?? req.socket?.remoteAddress;
    const status = res.writableFinished ? res.statusCode : 499;
    const pgError = (res as Tracked)[PG_ERROR];
    push({
      project_id: projectId, at, service, method: req.method, path: path.split('?')[0], status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100, user_agent: req.headers['user-agent'], ip,
      error_code: pgError?.code, message: pgError?.message,
    });
    if (pgError) recordPostgresError(projectId, pgError, at);
  });
}

/** A realtime socket the project accepted (101), recorded when it opens: it may stay open for hours. */
export function recordSocket(projectId: string, req: IncomingMessage, path: string): void {
  push({
    project_id: projectId, at: new Date().toISOString(), service: 'realtime', method: req.method, path: path.split('?')[0],
    status: 101, duration_ms: 0, user_agent: req.headers['user-agent'], ip: req.socket?.remoteAddress,
  });
}

/** Marks the response as having met this Postgres error (REST calls it where it maps one). */
export function notePostgresError(res: ServerResponse, err: unknown): void {
  const e = err as { code?: unknown; message?: unknown; severity?: unknown };
  if (typeof e?.severity !== 'string' || typeof e.message !== 'string') return;
  (res as Tracked)[PG_ERROR] = { code: typeof e.code === 'string' ? e.code : 'XX000', message: e.message };
}

/** A Postgres error of the project's database, as its postgres_logs show it. */
export function recordPostgresError(projectId: string, err: { code?: string; message: string }, at = new Date().toISOString()): void {
  push({ project_id: projectId, at, service: 'postgres', error_code: err.code ?? 'XX000', message: err.message });
}
