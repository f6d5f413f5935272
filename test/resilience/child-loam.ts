// A Loam in a child process (`node server/bin/loam.ts <command>`), for tests that must show the process itself
// survives: an in-process Loam that died would take the test runner with it and prove nothing about which
// request did it. Its output is kept so that a failed test can show why the child stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface Reply { status: number; body: any; type: string }

export interface ChildLoam {
  url: string;
  /** fetch against it: a JSON body out, the body back parsed when it is JSON (as text when not). */
  call(method: string, path: string, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<Reply>;
  process: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

// Children still running when the test process ends (a failed or timed-out test never reached stop(), or the
// runner forced the exit) go with it, rather than serving on after the run.
const running = new Set<ChildProcess>();
process.once('exit', () => { for (const c of running) c.kill('SIGKILL'); });

export async function startChildLoam(command: 'api' | 'start' | 'worker', env: Record<string, string>): Promise<ChildLoam> {
  const child = spawn(process.execPath, [path.join(root, 'server/bin/loam.ts'), command], {
    cwd: root,
    env: { ...process.env, PORT: '0', LOAM_RATE_LIMIT_PER_MINUTE: '100000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  running.add(child);
  const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; running.delete(child); resolve(); }));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child Loam did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+) /.exec(out) ?? (command === 'worker' && /worker running/.test(out) ? ['', ''] : null);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout!.on('data', check);
    void exit.then(() => { clearTimeout(timer); reject(new Error(`child Loam exited (${child.exitCode}):\n${out}`)); });
  });
  return {
    url,
    async call(method, p, opts = {}) {
      const res = await fetch(url + p, {
        method, headers: { ...opts.headers, ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
      const text = await res.text();
      let body: any = text;
      try { body = JSON.parse(text); } catch { /* not JSON: the assertions say so */ }
      return { status: res.status, body, type: res.headers.get('content-type') ?? '' };
    },
    process: child,
    output: () => out,
    alive: () => !exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
