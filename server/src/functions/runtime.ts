// Function workers: one Deno process per (project, function version), started on the first request, reused
// while warm, stopped when idle, when a newer version or a changed environment replaces it (after its in-flight
// requests finish), when it exceeds its memory, or when Loam stops. Deno's permissions are the sandbox: network
// yes; environment variables only the function's own; reading only its own code, its socket and its project's
// Deno cache; writing only its socket; no subprocesses, FFI or system information.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { materialize, pruneVersions, removeProject, sandbox, type VersionInfo } from './code.ts';
import { functionSettings, type FunctionSettings } from '../../../db/src/config.ts';
import type { Pool } from 'undici';
import { upstreamPool } from './proxy.ts';

const BOOT_TIMEOUT_MS = 15_000;
const BOOT_FAILURE_MS = 5_000;
const READY = '\u0000LOAM_READY\n';
const OUTPUT_MAX = 16_000;

export class WorkerError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) { super(message); this.status = status; this.code = code; }
}

export class FunctionWorker {
  /** Keep-alive connections to the worker's socket (proxy.ts). */
  readonly upstream: Pool;
  inflight = 0;
  lastUsed = Date.now();
  /** No new requests: it exits once the ones in flight finish. */
  draining = false;
  dead = false;
  exitReason = '';
  /** Console output since the oldest request in flight began (bounded), for the invocation log. */
  output = '';
  private proc: ChildProcess | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** The version's unpacked folder, touched while the worker runs so no process prunes it (code.ts). */
  private dir: string | undefined;
  private touched = 0;
  readonly ready: Promise<void>;
  private exitedResolve!: () => void;
  /** Settles when the worker is gone. */
  readonly gone = new Promise<void>((r) => { this.exitedResolve = r; });

  readonly pool: WorkerPool;
  readonly ref: string;
  readonly slug: string;
  readonly versionId: string;
  readonly envDigest: string;
  readonly socket: string;

  constructor(pool: WorkerPool, ref: string, slug: string, versionId: string, envDigest: string, socket: string, env: Record<string, string>) {
    this.pool = pool; this.ref = ref; this.slug = slug; this.versionId = versionId; this.envDigest = envDigest; this.socket = socket;
    this.upstream = upstreamPool(socket);
    this.ready = this.start(env);
    this.ready.catch((err) => {
      this.kill('failed to boot');
      if (err instanceof WorkerError && err.code === 'BOOT_ERROR') pool.bootFailed(this, err);
    });
  }

  private async start(env: Record<string, string>): Promise<void> {
    const s = this.pool.settings;
    const v: VersionInfo | undefined = await materialize(s.dir, this.versionId);
    if (!v) throw new WorkerError(404, 'NOT_FOUND', 'Requested function was not found');
    if (this.dead) throw new WorkerError(503, 'BOOT_ERROR', 'Function worker was stopped while starting');
    this.dir = v.dir;
    this.touch();
    fs.rmSync(this.socket, { force: true });
    const { args, env: childEnv } = sandbox(v, s, env, this.socket);
    let proc: ChildProcess;
    try {
      proc = spawn(s.denoPath, args, { cwd: v.dir, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      // Node throws rather than emits for most spawn failures: E2BIG when the secrets are more than Linux passes.
      const why = (e as NodeJS.ErrnoException).code === 'E2BIG' ? 'its secrets are larger than a process environment may be' : (e as Error).message;
      throw new WorkerError(503, 'BOOT_ERROR', `Function failed to start: ${why}`);
    }
    this.proc = proc;
    proc.stdin!.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      let boot = '';
      let booted = false;
      const timer = setTimeout(() => reject(new WorkerError(503, 'BOOT_ERROR', 'Function did not call Deno.serve in time')), BOOT_TIMEOUT_MS);
      const collect = (c: Buffer) => {
        let text = c.toString();
        if (!booted) {
          boot += text;
          const at = boot.indexOf(READY);
          if (at === -1) { this.append(text); return; }
          booted = true;
          clearTimeout(timer);
          text = text.replace(READY, '');
          resolve();
        }
        this.append(text);
      };
      proc.stdout!.on('data', collect);
      proc.stderr!.on('data', collect);
      proc.on('error', (e) => { clearTimeout(timer); reject(new WorkerError(503, 'BOOT_ERROR', `Function failed to start: ${e.message}`)); });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.onExit(code, signal);
        const detail = this.output.replaceAll(`file://${v.dir}/`, '').replaceAll(`${v.dir}/`, '').trim().slice(-2000);
        reject(new WorkerError(503, 'BOOT_ERROR', `Function failed to start${detail ? `: ${detail}` : ''}`));
      });
    });
    this.watchdog = setInterval(() => this.checkMemory(), 500);
    this.watchdog.unref();
  }

  private append(text: string) {
    if (this.inflight === 0 && this.output) this.output = '';
    this.output = (this.output + text).slice(-OUTPUT_MAX);
  }

  private touch() {
    const now = new Date();
    this.touched = now.getTime();
    if (this.dir) fs.utimes(this.dir, now, now, () => {});
  }

  /** Resident memory beyond twice the heap limit (plus Deno's own ~64 MB) means memory outside the V8 heap
   *  (buffers, wasm) is growing: the worker is stopped. The version's folder is touched here too. */
  private checkMemory() {
    if (this.dead || !this.proc?.pid) return;
    if (Date.now() - this.touched > 5_000) this.touch();
    fs.readFile(`/proc/${this.proc.pid}/status`, 'utf8', (err, status) => {
      if (err) return;
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (kb > (this.pool.settings.memoryMb * 2 + 64) * 1024) this.kill('memory limit exceeded');
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null) {
    if (!this.exitReason) this.exitReason = /heap out of memory|OOM/i.test(this.output) ? 'memory limit exceeded' : `worker exited (${signal ?? code})`;
    this.finish();
  }

  private finish() {
    if (this.dead && !this.proc) return;
    this.dead = true;
    this.exitedResolve();
    clearInterval(this.watchdog);
    // Requests still in flight end with an error (the caller answers from exitReason).
    this.upstream.destroy(new Error(`function worker stopped: ${this.exitReason}`)).catch(() => {});
    this.pool.forget(this);
    this.pool.prune(this.ref);
    fs.rm(this.socket, { force: true }, () => {});
  }

  /** Stops the whole process group at once. */
  kill(reason: string) {
    if (!this.exitReason) this.exitReason = reason;
    this.dead = true;
    const pid = this.proc?.pid;
    if (pid) { try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ } }
    this.finish();
    this.proc = undefined;
  }

  release() {
    this.inflight--;
    this.lastUsed = Date.now();
    if (this.draining && this.inflight === 0) this.kill('replaced');
  }
}

export class WorkerPool {
  readonly settings: FunctionSettings;
  private readonly workers = new Map<string, FunctionWorker>();
  private seq = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(settings: FunctionSettings = functionSettings()) {
    // A fresh, private folder (mkdtemp: nobody can have planted it) for this process' sockets.
    settings = { ...settings, socketDir: fs.mkdtempSync(path.join(settings.socketDir, 'loam-fn-')) };
    this.settings = settings;
  }

  all(): FunctionWorker[] { return [...this.workers.values()]; }

  /** The warm worker of this version with this environment, or a new one (replacing older ones of the same
   *  function, which finish what they are doing first). */
  acquire(ref: string, slug: string, versionId: string, env: Record<string, string>, envDigest: string): FunctionWorker {
    const key = `${ref}/${slug}`;
    const failed = this.failures.get(key);
    if (failed && failed.versionId === versionId && failed.envDigest === envDigest && Date.now() - failed.at < BOOT_FAILURE_MS) throw failed.error;
    const current = this.workers.get(key);
    if (current && !current.dead && !current.draining && current.versionId === versionId && current.envDigest === envDigest) {
      current.inflight++;
      current.lastUsed = Date.now();
      return current;
    }
    if (current) this.retire(current);
    this.makeRoom(ref);
    const w = new FunctionWorker(this, ref, slug, versionId, envDigest, path.join(this.settings.socketDir, `${++this.seq}.sock`), env);
    this.workers.set(key, w);
    this.retiring.delete(w);
    w.inflight++;
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(this.settings.idleMs, 10_000)).unref();
    return w;
  }

  // A version that failed to boot answers its error for a few seconds instead of starting Deno on every request.
  private readonly failures = new Map<string, { versionId: string; envDigest: string; at: number; error: WorkerError }>();

  bootFailed(w: FunctionWorker, error: WorkerError) {
    if (this.failures.size > 10_000) this.failures.clear();
    this.failures.set(`${w.ref}/${w.slug}`, { versionId: w.versionId, envDigest: w.envDigest, at: Date.now(), error });
  }

  /** Replaced workers still finishing requests: they count against the caps until they exit. */
  private readonly retiring = new Set<FunctionWorker>();

  private retire(w: FunctionWorker) {
    this.workers.delete(`${w.ref}/${w.slug}`);
    if (w.inflight === 0) { w.kill('replaced'); return; }
    w.draining = true;
    this.retiring.add(w);
  }

  private live(): FunctionWorker[] { return [...this.workers.values(), ...this.retiring].filter((w) => !w.dead); }

  private makeRoom(ref: string) {
    const s = this.settings;
    const evictIdle = (pool: FunctionWorker[]) => {
      const idle = pool.filter((w) => w.inflight === 0).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!idle) return false;
      idle.kill('evicted');
      return true;
    };
    let ofProject = this.live().filter((w) => w.ref === ref);
    while (ofProject.length >= s.maxWorkersPerProject) {
      if (!evictIdle(ofProject)) throw new WorkerError(503, 'WORKER_LIMIT', `This project runs ${s.maxWorkersPerProject} functions at once already; try again shortly`);
      ofProject = this.live().filter((w) => w.ref === ref);
    }
    let total = this.live();
    while (total.length >= s.maxWorkers) {
      if (!evictIdle(total)) throw new WorkerError(503, 'WORKER_LIMIT', 'All function workers are busy; try again shortly');
      total = this.live();
    }
  }

  forget(w: FunctionWorker) {
    this.retiring.delete(w);
    const key = `${w.ref}/${w.slug}`;
    if (this.workers.get(key) === w) this.workers.delete(key);
  }

  // Old versions' folders go once no worker here runs them (and none elsewhere touched them lately).
  private readonly pruning = new Map<string, NodeJS.Timeout>();

  prune(ref: string, delay = 200) {
    if (this.pruning.has(ref)) return;
    this.pruning.set(ref, setTimeout(() => {
      this.pruning.delete(ref);
      const busy = new Set(this.live().filter((w) => w.ref === ref).map((w) => w.versionId));
      pruneVersions(this.settings.dir, ref, busy, this.settings.pruneGraceMs).then(({ waiting }) => {
        // Folders left for their grace period: look again once it is over.
        if (waiting && !this.stopped) this.prune(ref, this.settings.pruneGraceMs + 1_000);
      }, () => {});
    }, delay).unref());
  }

  private stopped = false;

  private sweep() {
    const now = Date.now();
    for (const w of this.live()) if (w.inflight === 0 && now - w.lastUsed > this.settings.idleMs) w.kill('idle');
  }

  /** Stops every worker of a project (deleted, paused, or a function removed when `slug` is given). */
  stopProject(ref: string, slug?: string) {
    for (const w of this.live()) if (w.ref === ref && (slug === undefined || w.slug === slug)) w.kill('stopped');
  }

  removeProject(ref: string) {
    this.stopProject(ref);
    removeProject(this.settings.dir, ref);
  }

  stopAll() {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const t of this.pruning.values()) clearTimeout(t);
    this.pruning.clear();
    this.sweeper = undefined;
    for (const w of this.live()) w.kill('Loam is stopping');
    fs.rmSync(this.settings.socketDir, { recursive: true, force: true });
  }
}
