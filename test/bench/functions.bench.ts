// Edge functions against Deno serving the same function directly, side by side in one run: cold start (first
// request to a new version: process start + module load + Deno.serve), warm latency overhead (sequential
// requests, p50), and throughput (keep-alive load from a separate process, interleaved rounds).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import inspector from 'node:inspector';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { functionSettings } from '../../db/src/config.ts';
import { createBenchProject, load, startLoam, table, type LoadResult, type Scenario } from './harness.ts';

const SECONDS = Number(process.env.BENCH_SECONDS || 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 32);
const HELLO = `Deno.serve((req) => Response.json({ message: 'hello', path: new URL(req.url).pathname }));`;

const loam = await startLoam();
const p = await createBenchProject(loam);

async function deploy(version: number) {
  const form = new FormData();
  form.append('metadata', JSON.stringify({ entrypoint_path: 'index.ts', verify_jwt: false }));
  form.append('file', new Blob([`${HELLO}\n// v${version}`]), 'index.ts');
  const res = await fetch(`${loam.url}/v1/projects/${p.ref}/functions/deploy?slug=hello`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` }, body: form });
  if (res.status !== 201) throw new Error(`deploy: ${res.status} ${await res.text()}`);
}

const fnUrl = `${p.url.replace('localhost', '127.0.0.1')}/functions/v1/hello`;
const headers = { apikey: p.anonKey };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Cold starts: each deploy is a new version, so its first request starts a new worker.
const cold: number[] = [];
for (let i = 1; i <= 5; i++) {
  await deploy(i);
  const t = performance.now();
  const res = await fetch(fnUrl, { headers });
  await res.text();
  if (res.status !== 200) throw new Error(`cold invoke: ${res.status}`);
  cold.push(performance.now() - t);
}

// Deno serving the same function directly on a port.
const port: number = await new Promise((resolve) => { const s = net.createServer().listen(0, () => { const a = s.address() as net.AddressInfo; s.close(() => resolve(a.port)); }); });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-fn-bench-'));
fs.writeFileSync(path.join(dir, 'index.ts'), HELLO.replace('Deno.serve(', `Deno.serve({ port: ${port}, hostname: '127.0.0.1', onListen() {} }, `));
const direct = spawn(functionSettings().denoPath, ['run', '--no-config', '--no-lock', '--allow-net', path.join(dir, 'index.ts')], { stdio: 'ignore', detached: true });
const directUrl = `http://127.0.0.1:${port}/hello`;
for (let i = 0; ; i++) {
  try { await (await fetch(directUrl)).text(); break; } catch { if (i > 100) throw new Error('direct deno did not start'); await new Promise((r) => setTimeout(r, 50)); }
}

async function sequential(url: string, h: Record<string, string>, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch(url, { headers: h })).text();
    times.push(performance.now() - t);
  }
  return median(times);
}
await sequential(directUrl, {}, 200);
await sequential(fnUrl, headers, 200);
const latDirect = median([await sequential(directUrl, {}, 500), await sequential(directUrl, {}, 500)]);
const latLoam = median([await sequential(fnUrl, headers, 500), await sequential(fnUrl, headers, 500)]);

const scenarios: Scenario[] = [
  { name: 'Deno directly', method: 'GET', url: directUrl },
  { name: 'Loam /functions/v1', method: 'GET', url: fnUrl, headers },
];
const results = new Map<string, LoadResult[]>(scenarios.map((s) => [s.name, []]));
// BENCH_CPU_PROF=<file>: a CPU profile of Loam's process during the Loam rounds (open it in Chrome's devtools).
const profiler = process.env.BENCH_CPU_PROF ? new inspector.Session() : undefined;
const post = (method: string, params?: object) => new Promise<any>((resolve, reject) => profiler!.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
if (profiler) { profiler.connect(); await post('Profiler.enable'); }
// CPU time per request of each process serving it (from /proc, so it does not depend on how busy the machine
// is): Deno alone when direct; Loam's process plus its Deno worker through Loam. On an idle machine with
// enough cores, throughput follows the busiest process; on two shared cores, the sum.
const TICK_US = 1e6 / 100; // USER_HZ
const cpuOf = (pid: number) => { try { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * TICK_US; } catch { return 0; } };
const children = (pid: number) => fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
const workerPids = () => children(process.pid).filter((c) => { try { return fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'deno'; } catch { return false; } });
const cpu = { direct: 0, loam: 0, worker: 0, directReqs: 0, loamReqs: 0, idlePerSec: 0 };
// What Loam's process spends with no requests at all (its job runner, timers), subtracted below.
{
  const t = performance.now();
  const c = cpuOf(process.pid);
  await new Promise((r) => setTimeout(r, 2000));
  cpu.idlePerSec = (cpuOf(process.pid) - c) / ((performance.now() - t) / 1000);
}
for (let r = 0; r < ROUNDS; r++) {
  for (const s of scenarios) {
    const isLoam = s === scenarios[1];
    if (profiler && isLoam) await post('Profiler.start');
    const before = { direct: cpuOf(direct.pid!), loam: cpuOf(process.pid), worker: workerPids().reduce((a, p) => a + cpuOf(p), 0) };
    const t = performance.now();
    const result = await load(s, SECONDS, CONNECTIONS);
    results.get(s.name)!.push(result);
    if (isLoam) {
      cpu.loam += cpuOf(process.pid) - before.loam - cpu.idlePerSec * (performance.now() - t) / 1000;
      cpu.worker += workerPids().reduce((a, p) => a + cpuOf(p), 0) - before.worker;
      cpu.loamReqs += result.requests;
    } else {
      cpu.direct += cpuOf(direct.pid!) - before.direct;
      cpu.directReqs += result.requests;
    }
    if (profiler && isLoam) fs.appendFileSync(process.env.BENCH_CPU_PROF!, JSON.stringify((await post('Profiler.stop')).profile) + '\n');
  }
}
const summary = scenarios.map((s) => {
  const rs = results.get(s.name)!;
  return { name: s.name, rps: median(rs.map((x) => x.rps)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), errors: rs.reduce((a, x) => a + x.errors, 0) };
});

console.log(`\nEdge functions bench: hello world, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS}s, medians\n`);
const rows: (string | number)[][] = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors']];
for (const s of summary) rows.push([s.name, s.rps, s.p50, s.p99, s.errors]);
console.log(table(rows));
const ratio = summary[1].rps / summary[0].rps;
const overhead = latLoam - latDirect;
console.log(`\ncold start (median of ${cold.length}): ${median(cold).toFixed(1)} ms  [${cold.map((c) => c.toFixed(0)).join(', ')}]`);
console.log(`sequential p50: direct ${latDirect.toFixed(3)} ms, Loam ${latLoam.toFixed(3)} ms, overhead ${overhead.toFixed(3)} ms`);
const per = (us: number, n: number) => (n ? us / n : 0).toFixed(1);
console.log(`CPU per request: Deno directly ${per(cpu.direct, cpu.directReqs)} µs; through Loam ${per(cpu.loam, cpu.loamReqs)} µs (Loam, less its idle ${(cpu.idlePerSec / 1000).toFixed(1)} ms/s) + ${per(cpu.worker, cpu.loamReqs)} µs (its Deno worker)`);
console.log(`load average during the run: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
const target = (name: string, ok: boolean, text: string) => console.log(`${ok ? 'PASS' : 'MISS'}  ${name}: ${text}`);
console.log('');
target('cold start ≤ 300 ms', median(cold) <= 300, `${median(cold).toFixed(1)} ms`);
target('warm overhead ≤ 2 ms p50', overhead <= 2, `${overhead.toFixed(3)} ms`);
target('throughput ≥ 0.5 × Deno directly', ratio >= 0.5, ratio.toFixed(2));
try { process.kill(-direct.pid!, 'SIGKILL'); } catch { /* gone */ }
fs.rmSync(dir, { recursive: true, force: true });
await loam.stop();
process.exit(0);
