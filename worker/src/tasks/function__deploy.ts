// Validates a deployed edge function version: unpacks it, lets Deno resolve its module graph (which parses every
// module, fetches `npm:`/`jsr:`/remote imports into the project's cache) and marks the version READY — it then
// becomes live — or FAILED with Deno's message, leaving the live version serving.
import { spawn } from 'node:child_process';
import type { Task } from 'graphile-worker';
import { controlPool } from '../../../db/src/pools.ts';
import { baseEnv, configFlags, inside, materialize } from '../../../server/src/functions/code.ts';
import { functionSettings } from '../../../server/src/functions/settings.ts';

const CHECK_TIMEOUT_MS = 120_000;

function run(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const add = (c: Buffer) => { if (output.length < 64_000) output += c.toString(); };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } output += '\nvalidation timed out'; }, CHECK_TIMEOUT_MS);
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
  let entry: string;
  try {
    entry = inside(v.dir, v.entrypointPath);
  } catch (e) {
    entry = '';
    error = (e as Error).message;
  }
  if (entry) {
    const { code, output } = await run(settings.denoPath, ['install', ...configFlags(v), '--entrypoint', entry],
      baseEnv(settings.dir, v.ref, v.files), v.dir);
    ok = code === 0;
    // Deno's message names files by their full path on this machine; the owner knows them by bundle path.
    if (!ok) error = output.replaceAll(`file://${v.dir}/`, '').replaceAll(`${v.dir}/`, '').replace(/\n\s*Stack backtrace:[\s\S]*/, '').trim() || `deno exited with ${code}`;
  }
  await controlPool().query('select platform_private.finish_function_version($1, $2, $3)', [versionId, ok, error]);
};

export default task;
