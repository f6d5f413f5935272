// The load generator: N keep-alive connections each sending its next request as soon as the last one answered,
// for a fixed time; prints requests, errors, req/s and latency percentiles as JSON. Loopback only.
import http from 'node:http';

const cfg = JSON.parse(process.argv[2]) as {
  name: string; method: string; url: string; headers?: Record<string, string>; body?: string;
  idMax?: number; authorMax?: number; expect?: number; seconds: number; connections: number;
};
const target = new URL(cfg.url.replace(/\{id\}|\{author\}/g, '1'));
if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(target.hostname)) throw new Error('load generation targets loopback only');
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.connections });
const latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;
const end = Date.now() + cfg.seconds * 1000;
const rand = (max = 1) => 1 + Math.floor(Math.random() * max);

function one(): Promise<void> {
  return new Promise((resolve) => {
    const url = cfg.url.replace(/\{id\}/g, String(rand(cfg.idMax))).replace(/\{author\}/g, String(rand(cfg.authorMax)));
    const body = cfg.body?.replace(/\{uniq\}/g, () => String(Math.floor(Math.random() * 1e15)));
    const start = process.hrtime.bigint();
    const req = http.request(url, { method: cfg.method, agent, headers: { ...cfg.headers, ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (res.statusCode !== (cfg.expect ?? 200)) {
          errors++;
          firstError ??= `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`;
        }
        resolve();
      });
    });
    req.on('error', (e) => { errors++; firstError ??= String(e); resolve(); });
    if (body) req.write(body);
    req.end();
  });
}

async function worker() {
  while (Date.now() < end) await one();
}

const started = Date.now();
await Promise.all(Array.from({ length: cfg.connections }, worker));
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
agent.destroy();
process.stdout.write(JSON.stringify({ name: cfg.name, requests: latencies.length, errors, rps: Math.round(latencies.length / elapsed), p50: pct(0.5), p99: pct(0.99), firstError }));
