// This API process among the others that serve realtime: a heartbeat row in the control database
// (platform_private.realtime_processes) every LOAM_REALTIME_HEARTBEAT_MS, and the list of live processes that
// each beat returns — a process that stops reporting for its LOAM_REALTIME_DEAD_AFTER_MS (kill -9, a lost
// machine) is forgotten by all: its presence entries leave, its sockets stop counting, its streams are taken
// over. Also the one session connection whose advisory locks say which process reads which project's WAL.
import crypto from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { controlPool } from '../../../db/src/pools.ts';
import { settings } from '../../../db/src/config.ts';

export const PROCESS_ID = crypto.randomUUID();
export const HEARTBEAT_MS = settings.realtimeHeartbeatMs;
const DEAD_AFTER_MS = settings.realtimeDeadAfterMs;

type Tick = (live: Set<string>, reborn: boolean) => void | Promise<void>;
const ticks = new Set<Tick>();
const lockLost = new Set<() => void>();
let timer: NodeJS.Timeout | undefined;
let running = false;
let url = '';
let lockClient: Promise<pg.Client> | undefined;
let beating: Promise<void> | undefined;

/** Runs `fn` after every heartbeat with the live processes (this one included); `reborn` when this process
 *  had been presumed dead and is back (the others dropped what it had told them). */
export function onTick(fn: Tick): void { ticks.add(fn); }
/** Runs `fn` when the lock connection is lost: every lock it held is gone. */
export function onLockLost(fn: () => void): void { lockLost.add(fn); }

async function beat(first: boolean): Promise<void> {
  const { rows: [h] } = await controlPool().query('select platform_private.realtime_heartbeat($1, $2, $3, $4) as new',
    [PROCESS_ID, os.hostname(), process.pid, DEAD_AFTER_MS]);
  const { rows: [l] } = await controlPool().query('select platform_private.realtime_live_processes() as live');
  const live = new Set<string>(l.live);
  // Not awaited: what they do (a stream that takes seconds to start) must never hold up the next heartbeat.
  for (const fn of ticks) void Promise.resolve().then(() => fn(live, h.new && !first)).catch(() => {});
}

function schedule(): void {
  if (!running) return;
  timer = setTimeout(() => {
    beating = beat(false).catch(() => {}).finally(() => { beating = undefined; schedule(); });
  }, HEARTBEAT_MS);
  timer.unref();
}

export async function startCluster(databaseUrl: string): Promise<void> {
  url = databaseUrl;
  running = true;
  await controlPool().query('select platform_private.realtime_heartbeat($1, $2, $3, $4)', [PROCESS_ID, os.hostname(), process.pid, DEAD_AFTER_MS]);
  schedule();
}

/** Beats now (tests, and a join that waits for a stream). */
export const beatNow = () => beat(false);

/** A query on the lock connection (session advisory locks live as long as it). */
export async function lockQuery<T extends pg.QueryResultRow = any>(text: string, params: unknown[]): Promise<pg.QueryResult<T>> {
  if (!running) throw new Error('realtime is stopping');
  lockClient ??= (async () => {
    const c = new pg.Client({ connectionString: url, application_name: 'loam realtime locks' });
    const lost = () => {
      if (!lockClient) return;
      lockClient = undefined;
      for (const fn of lockLost) fn();
    };
    c.on('error', lost);
    c.on('end', lost);
    await c.connect();
    return c;
  })();
  lockClient.catch(() => { lockClient = undefined; });
  return (await lockClient).query<T>(text, params);
}

export async function stopCluster(): Promise<void> {
  if (!running) return;
  running = false;
  clearTimeout(timer);
  await beating;
  const c = lockClient;
  lockClient = undefined;
  await (await c?.catch(() => undefined))?.end().catch(() => {});
  await controlPool().query('select platform_private.realtime_stopped($1)', [PROCESS_ID]).catch(() => {});
}
