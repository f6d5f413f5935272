// Edge function limits and places, read once from the environment (README "Configuration" lists them).
import os from 'node:os';
import path from 'node:path';
import { config, envInt } from '../../../db/src/config.ts';

export interface FunctionSettings {
  /** Longest one invocation may take before its worker is killed (Supabase: 150 s). */
  wallClockMs: number;
  /** V8 heap of one worker; the RSS watchdog kills at twice this. */
  memoryMb: number;
  maxBodyBytes: number;
  /** Idle time after which a worker is stopped. */
  idleMs: number;
  maxWorkersPerProject: number;
  maxWorkers: number;
  /** Where deployed code is unpacked and Deno caches npm: packages, per project. */
  dir: string;
  /** Parent of the workers' socket folder (a socket path may not exceed 107 bytes, so not the data dir). */
  socketDir: string;
  denoPath: string;
  /** Hosts functions may not reach (Deno --deny-net). */
  denyNet: string[];
  /** How long a deploy request waits for its validation before answering with the version still validating. */
  deployWaitMs: number;
  /** How long an unpacked version folder nothing uses is kept (workers touch theirs every few seconds). */
  pruneGraceMs: number;
  /** Connections the project's `<ref>_functions` login (SUPABASE_DB_URL) may hold at once. */
  dbConnectionLimit: number;
}

export function functionSettings(env = process.env): FunctionSettings {
  return {
    wallClockMs: envInt('LOAM_FUNCTIONS_WALL_CLOCK_MS', 150_000, 100),
    memoryMb: envInt('LOAM_FUNCTIONS_MEMORY_MB', 256, 16),
    maxBodyBytes: envInt('LOAM_FUNCTIONS_MAX_BODY_BYTES', 20 * 1024 * 1024, 1),
    idleMs: envInt('LOAM_FUNCTIONS_IDLE_MS', 60_000, 100),
    maxWorkersPerProject: envInt('LOAM_FUNCTIONS_MAX_WORKERS_PER_PROJECT', 10, 1),
    maxWorkers: envInt('LOAM_FUNCTIONS_MAX_WORKERS', 50, 1),
    dir: path.join(config.dataDir, 'functions'),
    socketDir: os.tmpdir(),
    denoPath: env.LOAM_DENO_PATH || denoBinary(),
    denyNet: (env.LOAM_FUNCTIONS_DENY_NET ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    deployWaitMs: envInt('LOAM_FUNCTIONS_DEPLOY_WAIT_MS', 60_000, 0),
    pruneGraceMs: envInt('LOAM_FUNCTIONS_PRUNE_GRACE_MS', 60_000, 0),
    dbConnectionLimit: envInt('LOAM_FUNCTIONS_DB_CONNECTION_LIMIT', 10, 1),
  };
}

function denoBinary(): string {
  // The deno npm package puts the binary for this platform in its own folder and a launcher in .bin.
  return path.resolve(new URL('../../../node_modules/.bin/deno', import.meta.url).pathname);
}
