// Provisioning bench: time from POST /v1/projects to ACTIVE_HEALTHY (median of N, one after another), and the
// resident memory of an idle `npm start` process (API + worker + embedded PostgreSQL) with 0 and with M projects.
// It runs what `npm start` runs (`node server/bin/loam.ts start`) as a child with its own port, PostgreSQL port
// and data directory, so nothing else on the machine is touched.
//   node_modules/.bin/node test/bench/provision.bench.ts
// Knobs: BENCH_PROVISION_RUNS (default 10), BENCH_PROJECTS (default 50), BENCH_IDLE_SECONDS (default 8).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/postgres.ts';

const RUNS = Number(process.env.BENCH_PROVISION_RUNS || 10);
const PROJECTS = Number(process.env.BENCH_PROJECTS || 50);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS || 8);
const root = new URL('../../', import.meta.url).pathname;


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory in MB of one process (VmRSS) and of its whole process tree (embedded PostgreSQL included). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]);
      if (ppid === pid) out.push(Number(d), ...descendants(Number(d)));
    } catch { /* gone */ }
  }
  return out;
}
/** Proportional set size (shared pages split between the processes that map them), for the PostgreSQL tree. */
function pssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch { /* gone or not readable */ }
  }
  return kb / 1024;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-bench-provision-'));
fs.chmodSync(dataDir, 0o755);
const port = await freePort();
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PORT: String(port), LOAM_PG_PORT: String(await freePort()), LOAM_DATA_DIR: dataDir,
  LOAM_RATE_LIMIT_PER_MINUTE: '100000000', LOAM_BCRYPT_ROUNDS: '4',
};
delete env.DATABASE_URL;
const child = spawn(process.execPath, [path.join(root, 'server/bin/loam.ts'), 'start'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
let output = '';
child.stdout!.on('data', (d) => { output += d; });
const base = `http://localhost:${port}`;

async function api(method: string, p: string, token?: string, body?: unknown) {
  const res = await fetch(base + p, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function stop() {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

try {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`loam exited (${child.exitCode}):\n${output}`);
    try { if ((await fetch(`${base}/health`)).status === 200) break; } catch { /* not listening yet */ }
    if (Date.now() - started > 120_000) throw new Error(`loam did not become healthy:\n${output}`);
    await sleep(100);
  }
  const bootMs = Date.now() - started;

  const email = `bench-${crypto.randomBytes(4).toString('hex')}@example.com`;
  const token: string = (await api('POST', '/v1/auth/signup', undefined, { email, password: 'bench password' })).body.token;
  const org: string = (await api('GET', '/v1/organizations', token)).body[0].slug;

  await sleep(IDLE_SECONDS * 1000);
  const idleEmpty = rssMb(child.pid!);
  const pgEmpty = pssMb(descendants(child.pid!));

  async function provision(name: string): Promise<number> {
    const t0 = performance.now();
    const res = await api('POST', '/v1/projects', token, { name, organization_id: org, db_pass: 'bench db password' });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
    for (;;) {
      const { body } = await api('GET', `/v1/projects/${res.body.ref}`, token);
      if (body.status === 'ACTIVE_HEALTHY') return performance.now() - t0;
      if (body.status === 'INIT_FAILED') throw new Error(`provisioning failed: ${body.status_reason}`);
      await sleep(5);
    }
  }

  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await provision(`timed ${i}`));
  for (let i = RUNS; i < PROJECTS; i++) await provision(`filler ${i}`);
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;

  await sleep(IDLE_SECONDS * 1000);
  const idleFull = rssMb(child.pid!);
  const pgFull = pssMb(descendants(child.pid!));

  const result = {
    boot_ms: bootMs,
    provision_ms: { median: Math.round(median), min: Math.round(sorted[0]), max: Math.round(sorted.at(-1)!), runs: times.map(Math.round) },
    idle_rss_mb: { projects_0: Math.round(idleEmpty), [`projects_${Math.max(PROJECTS, RUNS)}`]: Math.round(idleFull) },
    postgres_pss_mb: { projects_0: Math.round(pgEmpty), [`projects_${Math.max(PROJECTS, RUNS)}`]: Math.round(pgFull) },
  };
  console.log(`provision: POST /v1/projects → ACTIVE_HEALTHY, median of ${RUNS}: ${result.provision_ms.median} ms (min ${result.provision_ms.min}, max ${result.provision_ms.max})`);
  console.log(`idle loam process RSS: ${result.idle_rss_mb.projects_0} MB with 0 projects, ${Math.round(idleFull)} MB with ${Math.max(PROJECTS, RUNS)}`);
  console.log(`embedded PostgreSQL (PSS of its processes): ${Math.round(pgEmpty)} MB with 0 projects, ${Math.round(pgFull)} MB with ${Math.max(PROJECTS, RUNS)}`);
  console.log(JSON.stringify(result));
} finally {
  await stop();
}
