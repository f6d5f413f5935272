// Validates a deployed edge function version by loading it in the same sandbox it will run in (code.ts
// sandbox(), with the project's current environment): Deno parses every module, resolves the graph and fetches
// `npm:`/`jsr:`/remote imports into the project's cache, and the module's top level runs with Deno.serve made a
// no-op. The version is marked READY — it then becomes live — or FAILED with Deno's message, which leaves the
// live version serving. Never run `deno install`/`info`/`check` on tenant code here: outside the sandbox, the
// static module graph may read any local file (see sandbox()).
import { spawn } from 'node:child_process';
import type { Task } from 'graphile-worker';
import { controlPool } from '../../../db/src/pools.ts';
import { materialize, removeVersion, sandbox } from '../../../server/src/functions/code.ts';
import { functionEnv } from '../../../server/src/functions/env.ts';
import { functionSettings } from '../../../db/src/config.ts';

const CHECK_TIMEOUT_MS = 120_000;
const LOADED = '\u0000LOAM_LOADED\n';

function run(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const add = (c: Buffer) => { if (output.length < 64_000) output += c.toString(); };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } output += '\nloading the function timed out'; }, CHECK_TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

const task: Task = async (payload) => {
  const { version_id: versionId } = payload as { version_id: number };
  const settings = functionSettings();
  const v = await materialize(settings.dir, versionId);
  if (!v || v.status !== 'PENDING') return;
  let ok = false;
  let error: string | null = null;
  try {
    const { args, env } = sandbox(v, settings, await functionEnv(v.ref, v.slug));
    const { code, output } = await run(settings.denoPath, args, env, v.dir);
    ok = code === 0 && output.includes(LOADED);
    // Deno's message names files by their full path on this machine; the owner knows them by bundle path.
    if (!ok) error = output.replace(LOADED, '').replaceAll(`file://${v.dir}/`, '').replaceAll(`${v.dir}/`, '').trim().slice(-4000) || `deno exited with ${code}`;
  } catch (e) {
    error = (e as Error).message;
  }
  await controlPool().query('select platform_private.finish_function_version($1, $2, $3)', [versionId, ok, error]);
  // A failed version never runs: its folder goes now. Folders of versions this deploy made old are pruned by
  // the API processes, which know which versions their workers still run (runtime.ts WorkerPool.prune).
  if (!ok) removeVersion(settings.dir, v.ref, versionId);
};

export default task;
