// Static sites: Loam serving a published deploy (path form, no API key) against plain Express + serve-static on
// the same files, side by side in interleaved rounds: a small HTML page, a 50 KB asset, and a 304 revalidation.
// Prints req/s, p50/p99, the ratio (target ≥ 0.7 × serve-static) and the absolute target (≥ 5,000 req/s for a
// small cached file).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeZip } from '../sites/zip-writer.ts';
import { load, startLoam, table, type LoadResult, type Scenario } from './harness.ts';

const SECONDS = Number(process.env.BENCH_SECONDS || 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 32);

const loam = await startLoam();
const call = async (method: string, p: string, token?: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(loam.url + p, {
    method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : body instanceof Uint8Array ? new Blob([body as Uint8Array<ArrayBuffer>]) : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
};
const { token } = await call('POST', '/v1/auth/signup', undefined, { email: `bench-${crypto.randomBytes(4).toString('hex')}@example.com`, password: 'correct horse battery' });
const [org] = await call('GET', '/v1/organizations', token);
const { ref } = await call('POST', '/v1/projects', token, { name: 'sites bench', organization_id: org.slug, db_pass: 'pw-0123456789' });
const subdomain = `bench-${crypto.randomBytes(3).toString('hex')}`;
const site = await call('POST', `/v1/projects/${ref}/sites`, token, { subdomain });

const files: Record<string, Buffer> = {
  'index.html': Buffer.from('<!doctype html><title>bench</title><h1>Hello from a Loam site</h1>\n'),
  'assets/app.3f2a9c1b.js': crypto.randomBytes(50 * 1024),
};
const zip = makeZip(Object.entries(files).map(([name, data]) => ({ name, data })));
const deploy = await call('POST', `/v1/projects/${ref}/sites/${site.id}/deploys`, token, new Uint8Array(zip), { 'content-type': 'application/zip' });
for (let i = 0; ; i++) {
  const d = await call('GET', `/v1/projects/${ref}/sites/${site.id}/deploys/${deploy.id}`, token);
  if (d.status === 'ready') break;
  if (d.status === 'failed' || i > 400) throw new Error(`deploy did not become ready: ${JSON.stringify(d)}`);
  await new Promise((r) => setTimeout(r, 50));
}
await call('POST', `/v1/projects/${ref}/sites/${site.id}/deploys/${deploy.id}/publish`, token);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-sites-bench-'));
for (const [name, data] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  fs.writeFileSync(path.join(dir, name), data);
}
const baseline = spawn(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'static-baseline.ts')], {
  env: { ...process.env, BASELINE_DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'],
});
const basePort: number = await new Promise((resolve) => baseline.stdout!.once('data', (d) => resolve(JSON.parse(String(d)).port)));

const loamBase = `${loam.url.replace('localhost', '127.0.0.1')}/sites/${subdomain}`;
const staticBase = `http://127.0.0.1:${basePort}`;
const etag = `"${crypto.createHash('sha256').update(files['index.html']).digest('hex')}"`;
const baselineEtag = (await fetch(`${staticBase}/index.html`)).headers.get('etag')!;
const pairs: [string, Scenario, Scenario][] = [
  ['small HTML', { name: 'loam small HTML', method: 'GET', url: `${loamBase}/` }, { name: 'serve-static small HTML', method: 'GET', url: `${staticBase}/index.html` }],
  ['50 KB asset', { name: 'loam 50 KB asset', method: 'GET', url: `${loamBase}/assets/app.3f2a9c1b.js` }, { name: 'serve-static 50 KB asset', method: 'GET', url: `${staticBase}/assets/app.3f2a9c1b.js` }],
  ['304 revalidation', { name: 'loam 304', method: 'GET', url: `${loamBase}/`, headers: { 'if-none-match': etag }, expect: 304 },
    { name: 'serve-static 304', method: 'GET', url: `${staticBase}/index.html`, headers: { 'if-none-match': baselineEtag }, expect: 304 }],
];
const scenarios = pairs.flatMap(([, a, b]) => [a, b]);
for (const s of scenarios) {
  const w = await load(s, 1, 8);
  if (w.errors) throw new Error(`${s.name} failed during warm-up: ${w.firstError}`);
}
const results = new Map<string, LoadResult[]>();
for (let r = 0; r < ROUNDS; r++) {
  for (const s of scenarios) {
    const res = await load(s, SECONDS, CONNECTIONS);
    if (res.errors) console.log(`  ${s.name}: ${res.errors} errors, first: ${res.firstError}`);
    results.set(s.name, [...(results.get(s.name) ?? []), res]);
  }
}
baseline.kill('SIGTERM');
fs.rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = (name: string) => {
  const rs = results.get(name)!;
  return { rps: median(rs.map((x) => x.rps)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), errors: rs.reduce((a, x) => a + x.errors, 0) };
};
const rows: (string | number)[][] = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs serve-static']];
for (const [, a, b] of pairs) {
  const la = m(a.name), lb = m(b.name);
  rows.push([a.name, la.rps, la.p50, la.p99, la.errors, (la.rps / lb.rps).toFixed(2)]);
  rows.push([b.name, lb.rps, lb.p50, lb.p99, lb.errors, '1.00']);
}
console.log(`\nSites bench: ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS}s, medians\n`);
console.log(table(rows));
const target = (name: string, ok: boolean, text: string) => console.log(`${ok ? 'PASS' : 'MISS'}  ${name}: ${text}`);
const small = m('loam small HTML').rps;
console.log('');
for (const [label, a, b] of pairs) target(`${label} ≥ 0.7 × serve-static`, m(a.name).rps / m(b.name).rps >= 0.7, (m(a.name).rps / m(b.name).rps).toFixed(2));
target('small cached file ≥ 5,000 req/s', small >= 5000, String(Math.round(small)));
await loam.stop();
process.exit(0);
