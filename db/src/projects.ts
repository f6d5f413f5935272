// Project runtime records (where a project's database is, its secrets, its status), read from the control
// database and cached per process; a NOTIFY from the control database drops a stale entry in every process.
import pg from 'pg';
import { controlPool } from './pools.ts';
import type { ProjectRuntime } from './provisioning.ts';

export type { ProjectRuntime };

export async function loadRuntime(ref: string): Promise<ProjectRuntime | undefined> {
  const { rows } = await controlPool().query('select * from platform_private.project_runtime($1)', [ref]);
  return rows[0];
}

export async function loadRuntimeById(id: string | number): Promise<ProjectRuntime | undefined> {
  const { rows } = await controlPool().query(
    'select r.* from platform.projects p, platform_private.project_runtime(p.ref) r where p.id = $1', [id]);
  return rows[0];
}

const TTL_MS = 30_000;
const cache = new Map<string, { at: number; value: Promise<ProjectRuntime | undefined> }>();
const listeners = new Set<(ref: string) => void>();

/** Cached runtime; concurrent first requests share one query. Unknown refs are cached too (briefly). */
export function cachedRuntime(ref: string): Promise<ProjectRuntime | undefined> {
  const hit = cache.get(ref);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
  const value = loadRuntime(ref);
  cache.set(ref, { at: Date.now(), value });
  value.catch(() => cache.delete(ref));
  if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
  return value;
}

export function forgetRuntime(ref: string): void {
  cache.delete(ref);
  for (const fn of listeners) fn(ref);
}

/** Called when a project's runtime changes (rotation, pause, delete): lets caches keyed by project drop entries. */
export function onProjectChanged(fn: (ref: string) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** A per-project value (settings read from the control database) cached for `ttlMs` in this process and
 *  dropped at once when the project changes in any process. Concurrent first reads share one load; a failed
 *  load is not cached. */
export function projectCache<T>(load: (ref: string) => Promise<T>, ttlMs = TTL_MS) {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  onProjectChanged((ref) => entries.delete(ref));
  return {
    get(ref: string): Promise<T> {
      const hit = entries.get(ref);
      if (hit && Date.now() - hit.at < ttlMs) return hit.value;
      const value = load(ref);
      entries.set(ref, { at: Date.now(), value });
      value.catch(() => entries.delete(ref));
      return value;
    },
    forget(ref: string): void {
      entries.delete(ref);
    },
  };
}

const restartListeners = new Set<(ref: string, service: string) => void>();

/** Called in every API process when one of a project's services is restarted (platform.restart_service's
 *  `loam_service_restarted`, payload `<ref> <service>`). */
export function onServiceRestarted(fn: (ref: string, service: string) => void): () => void {
  restartListeners.add(fn);
  return () => restartListeners.delete(fn);
}

let listener: pg.Client | undefined;

/** Listens for `loam_project_changed`; reconnects if the connection drops (and then forgets everything). */
export async function listenForProjectChanges(url: string): Promise<void> {
  stopped = false;
  await listen(url);
}

async function listen(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  listener = client;
  client.on('notification', (msg) => {
    if (!msg.payload) return;
    if (msg.channel === 'loam_service_restarted') {
      const [ref, name] = msg.payload.split(' ');
      for (const fn of restartListeners) fn(ref, name);
    } else forgetRuntime(msg.payload);
  });
  client.on('error', () => {
    if (listener !== client) return;
    listener = undefined;
    for (const ref of [...cache.keys()]) forgetRuntime(ref);
    setTimeout(() => reconnect(url), 1000).unref();
  });
  await client.connect();
  await client.query('listen loam_project_changed; listen loam_service_restarted');
}

// Until the control database is back (it may be down for minutes): a failed connect emits no 'error', so the
// retry is scheduled here, or the process would miss every later change for good.
function reconnect(url: string): void {
  if (stopped) return;
  listen(url).catch(() => {
    if (stopped) return;
    setTimeout(() => reconnect(url), 1000).unref();
  });
}
let stopped = false;

export async function stopListening(): Promise<void> {
  stopped = true;
  const client = listener;
  listener = undefined;
  await client?.end().catch(() => {});
}
