// One build of a site (the worker task site_build__run): clone, install, build in the sandbox (build.ts), then
// the output folder becomes a deploy in staging — and live with auto_publish. The log goes to the build's row
// as it grows; a cancel asked through the API is seen within the flush interval. A failed build changes
// nothing live.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { controlPool } from '../../../db/src/pools.ts';
import { BuildLog, clone, collectOutput, openOutputFile, repoUrlProblem, sandboxed, type StepResult } from './build.ts';
import { buildSettings } from '../../../db/src/config.ts';
import { deployRules, precompress, storeSiteFile, type Variants } from './deploys.ts';
import { openSecrets } from '../functions/env.ts';
import { contentTypeOf } from './paths.ts';
import { deployLimits } from './settings.ts';

const FLUSH_MS = 300;

interface Started {
  build_id: string; site_id: string; ref: string; repo_url: string; branch: string; install_command: string | null;
  build_command: string | null; output_dir: string; auto_publish: boolean; build_env: Record<string, string>;
}

class BuildFailed extends Error {
  readonly status: 'failed' | 'cancelled';
  constructor(status: 'failed' | 'cancelled', message: string) { super(message); this.status = status; }
}

export async function runSiteBuild(buildId: string): Promise<void> {
  const pool = controlPool();
  const { rows: [b] } = await pool.query<Started>('select * from platform_private.start_site_build($1)', [buildId]);
  if (!b) return; // cancelled while queued, or already run
  const settings = buildSettings();
  const log = new BuildLog(settings.maxLogBytes);
  const ac = new AbortController();
  let flushing = Promise.resolve();
  const flush = () => {
    flushing = flushing.then(async () => {
      const { rows: [r] } = await pool.query<{ site_build_progress: boolean }>('select platform_private.site_build_progress($1, $2)', [buildId, log.takePending()]);
      if (r?.site_build_progress && !ac.signal.aborted) ac.abort();
    }).catch(() => {});
    return flushing;
  };
  const timer = setInterval(flush, FLUSH_MS);
  const workdir = await fsp.mkdtemp(path.join(os.tmpdir(), 'loam-build-'));
  let status: 'succeeded' | 'failed' | 'cancelled' = 'succeeded';
  let error: string | null = null;
  let deployId: string | null = null;
  try {
    if (!settings.enabled) throw new BuildFailed('failed', 'builds are not enabled on this platform (LOAM_BUILDS_ENABLED)');
    const problem = repoUrlProblem(b.repo_url, settings.allowLocalRepos);
    if (problem) throw new BuildFailed('failed', problem);
    const deadline = Date.now() + settings.timeoutMs;
    const check = (step: string, r: StepResult) => {
      if (r.cancelled) throw new BuildFailed('cancelled', 'the build was cancelled');
      if (r.timedOut) throw new BuildFailed('failed', `the build ran past its time limit (${settings.timeoutMs} ms)`);
      if (r.limit === 'memory') throw new BuildFailed('failed', `${step} used more than the build's memory limit (${settings.memoryMb} MB)`);
      if (r.limit === 'processes') throw new BuildFailed('failed', `${step} started more than the build's process limit (${settings.maxProcesses} processes and threads)`);
      if (!r.ok) throw new BuildFailed('failed', `${step} failed (exit code ${r.code})`);
    };
    const { rows: [creds] } = await pool.query<{ deploy_key_private: string | null; repo_token: string | null }>(
      'select * from platform_private.site_build_credentials_for_job($1)', [b.site_id]);
    check('clone', await clone(workdir, b.repo_url, b.branch, log, deadline, ac.signal, settings.allowLocalRepos,
      { deployKey: creds?.deploy_key_private, token: creds?.repo_token }));
    // The secrets of the environment the site is bound to (none when unbound), under the site's own build_env.
    const { rows: secretRows } = await pool.query('select * from platform_private.site_build_secrets_of($1)', [b.site_id]);
    const env = { ...openSecrets(b.ref, secretRows), ...Object.fromEntries(Object.entries(b.build_env ?? {}).filter(([, v]) => typeof v === 'string')) };
    for (const [step, command] of [['install', b.install_command], ['build', b.build_command]] as const) {
      if (command) check(step, await sandboxed(workdir, command, env, log, deadline, ac.signal, settings));
    }
    const limits = deployLimits((await pool.query('select * from platform_private.site_plan_limits($1)', [b.site_id])).rows[0]);
    let files;
    try {
      files = await collectOutput(workdir, b.output_dir, limits.maxFiles);
    } catch (err) {
      throw new BuildFailed('failed', (err as Error).message);
    }
    log.append(`collected ${files.length} file(s) from ${b.output_dir}\n`);
    const stored: ({ path: string; sha256: string; size: number; content_type: string } & Variants)[] = [];
    let total = 0;
    for (const f of files) {
      const { sha256, size } = await storeSiteFile(b.ref, b.site_id, openOutputFile(f.abs), limits.maxFileBytes)
        .catch((err) => { throw new BuildFailed('failed', (err as Error).message); });
      total += size;
      if (total > limits.maxDeployBytes) throw new BuildFailed('failed', `the output is larger than ${limits.maxDeployBytes} bytes`);
      const type = contentTypeOf(f.path);
      stored.push({ path: f.path, sha256, size, content_type: type, ...await precompress(b.ref, b.site_id, sha256, size, type) });
    }
    const rules = await deployRules(b.ref, b.site_id, stored);
    const client = await pool.connect();
    try {
      await client.query('begin');
      const { rows: [d] } = await client.query<{ id: string }>('select id from platform_private.create_build_deploy($1, $2)', [b.site_id, `build ${buildId.slice(0, 8)} (${b.branch})`]);
      deployId = d.id;
      await client.query('select platform_private.add_deploy_files($1, $2)', [d.id, JSON.stringify(stored)]);
      await client.query('select platform_private.stage_deploy($1, $2, $3, $4)', [d.id, JSON.stringify(rules.headers), JSON.stringify(rules.redirects), limits.maxDeployBytes]);
      if (b.auto_publish) await client.query('select platform_private.publish_staged($1, $2)', [b.site_id, d.id]);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback');
      deployId = null;
      if ((err as { code?: string }).code?.startsWith('LMD')) throw new BuildFailed('failed', (err as Error).message);
      throw err;
    } finally {
      client.release();
    }
    log.append(b.auto_publish ? `deploy ${deployId} staged and published\n` : `deploy ${deployId} staged\n`);
  } catch (err) {
    status = err instanceof BuildFailed ? err.status : 'failed';
    error = err instanceof BuildFailed ? err.message : 'internal error while building';
    if (!(err instanceof BuildFailed)) console.error(err);
    log.append(`\n${error}\n`);
  } finally {
    clearInterval(timer);
    await flush();
    await pool.query('select platform_private.finish_site_build($1, $2, $3, $4)', [buildId, status, error, deployId]);
    await fsp.rm(workdir, { recursive: true, force: true }).catch(() => {});
  }
}
