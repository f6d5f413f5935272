// Shared pieces for *.bench.ts: start Loam against the run's database, create an account and a project through
// the Management API, sign user JWTs, and drive HTTP load from a separate process (load.ts) so the load
// generator never shares an event loop with the server it measures.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { signJwt } from '../../server/src/project/jwt.ts';
import { startPlatform, type Platform } from '../../server/src/platform.ts';

export interface BenchProject { ref: string; url: string; anonKey: string; serviceKey: string; secret: string; dbPass: string; token: string }

export async function startLoam(): Promise<Platform> {
  return startPlatform({ port: 0, log: () => {} });
}

async function call(base: string, method: string, p: string, token: string | undefined, body?: unknown) {
  const res = await fetch(base + p, {
    method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** The Management API as `token`: JSON in and out, an Error for any status of 300 or more. */
export const managementApi = (loam: Platform, token: string) =>
  (method: string, path: string, body?: unknown) => call(loam.url, method, path, token, body);

export async function createBenchProject(loam: Platform): Promise<BenchProject> {
  const email = `bench-${crypto.randomBytes(4).toString('hex')}@example.com`;
  const { token } = await call(loam.url, 'POST', '/v1/auth/signup', undefined, { email, password: 'correct horse battery' });
  const [org] = await call(loam.url, 'GET', '/v1/organizations', token);
  const dbPass = `pw-${crypto.randomBytes(8).toString('hex')}`;
  const { ref } = await call(loam.url, 'POST', '/v1/projects', token, { name: 'bench', organization_id: org.slug, db_pass: dbPass });
  for (let i = 0; ; i++) {
    const p = await call(loam.url, 'GET', `/v1/projects/${ref}`, token);
    if (p.status === 'ACTIVE_HEALTHY') break;
    if (i > 600) throw new Error('project did not come up');
    await new Promise((r) => setTimeout(r, 50));
  }
  const keys: { name: string; api_key: string }[] = await call(loam.url, 'GET', `/v1/projects/${ref}/api-keys`, token);
  const admin = new pg.Client({ connectionString: loam.databaseUrl });
  await admin.connect();
  const { rows } = await admin.query('select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1', [ref]);
  await admin.end();
  return {
    ref, dbPass, token, secret: rows[0].jwt_secret, url: `${loam.url}/project/${ref}`,
    anonKey: keys.find((k) => k.name === 'anon')!.api_key, serviceKey: keys.find((k) => k.name === 'service_role')!.api_key,
  };
}

/** A superuser connection string to the project's database (for seeding and for the raw baseline). */
export function projectDbUrl(loam: Platform, ref: string): string {
  const u = new URL(loam.databaseUrl);
  u.pathname = `/${ref}`;
  return u.href;
}

export function userToken(p: BenchProject, sub: string): string {
  return signJwt({ sub, role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600 }, p.secret);
}

export interface Scenario {
  name: string;
  method: string;
  /** URL; `{id}` and `{author}` are replaced per request with random values in [1, idMax] / [1, authorMax]. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  idMax?: number;
  authorMax?: number;
  expect?: number;
}

export interface LoadResult { name: string; requests: number; errors: number; rps: number; p50: number; p99: number; firstError?: string }

/** Runs one scenario for `seconds` with `connections` keep-alive connections, in a child process. */
export function load(s: Scenario, seconds: number, connections: number): Promise<LoadResult> {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'load.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify({ ...s, seconds, connections })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      resolve(JSON.parse(out));
    });
  });
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ')).join('\n');
}

/** CPU seconds (user + system) a process has used, read from /proc (Linux); undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return undefined;
  }
}

/** The pids of every process of the PostgreSQL server behind `url` (backends and background processes) that run
 *  on this machine. */
export async function postgresPids(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>('select pid from pg_stat_activity');
    return rows.map((r) => r.pid).filter((pid) => fs.existsSync(`/proc/${pid}`));
  } finally {
    await c.end();
  }
}

/** Runs `fn` and returns the CPU seconds a Node process and the database server used meanwhile. Backends that
 *  connect during `fn` count whole; one that ends during it counts nothing. */
export async function cpuSplit<T>(nodePid: number, dbUrl: string, fn: () => Promise<T>): Promise<{ value: T; node: number; db: number }> {
  const before = new Map((await postgresPids(dbUrl)).map((pid) => [pid, cpuSeconds(pid) ?? 0]));
  const n0 = cpuSeconds(nodePid) ?? 0;
  const value = await fn();
  const node = (cpuSeconds(nodePid) ?? n0) - n0;
  let db = 0;
  for (const pid of new Set([...before.keys(), ...await postgresPids(dbUrl)])) {
    const now = cpuSeconds(pid);
    if (now !== undefined) db += now - (before.get(pid) ?? 0);
  }
  return { value, node, db };
}
