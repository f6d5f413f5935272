// Realtime bench, both numbers in one run: broadcast fan-out to BENCH_RT_CLIENTS (500) sockets — messages/s
// delivered and p50/p99 latency from send to receipt — and insert-to-delivery latency of postgres changes with
// BENCH_RT_SUBSCRIBERS (100) subscribers, each a different user under an `auth.uid()` policy, so every change
// is checked under RLS for each of them. Loam runs here; the sockets live in a child process (this file with
// `clients`), so they never share an event loop with the server they measure. Targets on a 2-core machine:
// p99 ≤ 100 ms for broadcast, ≤ 250 ms for postgres changes.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import pg from 'pg';
import WebSocket from 'ws';
import { createBenchProject, projectDbUrl, startLoam, userToken } from './harness.ts';

const CLIENTS = Number(process.env.BENCH_RT_CLIENTS || 500);
const MESSAGES = Number(process.env.BENCH_RT_MESSAGES || 100);
const SUBSCRIBERS = Number(process.env.BENCH_RT_SUBSCRIBERS || 100);
const CHANGES = Number(process.env.BENCH_RT_CHANGES || 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };

/** A vsn 1.0.0 socket joined to `topic`; `onMsg` gets each non-reply message. */
async function socket(url: string, topic: string, config: object, token: string | undefined, onMsg: (m: any) => void): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  const joined = new Promise<void>((res, rej) => {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.event === 'phx_reply' && m.ref === 'j') return m.payload.status === 'ok' ? res() : rej(new Error(JSON.stringify(m.payload)));
      onMsg(m);
    });
  });
  ws.send(JSON.stringify({ topic: `realtime:${topic}`, event: 'phx_join', ref: 'j', join_ref: 'j', payload: { config, ...(token ? { access_token: token } : {}) } }));
  await joined;
  return ws;
}

if (process.argv[2] === 'clients') {
  // Child: open the sockets, report "ready", collect latencies until told to stop, print them.
  const { url, mode, tokens } = JSON.parse(process.argv[3]);
  const lat: number[] = [];
  const sockets: WebSocket[] = [];
  const n = mode === 'broadcast' ? CLIENTS : tokens.length;
  for (let i = 0; i < n; i += 50) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => mode === 'broadcast'
      ? socket(url, 'bench', { broadcast: { self: false } }, undefined, (m) => { if (m.event === 'broadcast') lat.push(Date.now() - m.payload.payload.t); })
      : socket(url, 'changes', { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'items' }] }, tokens[i + j],
        (m) => { if (m.event === 'postgres_changes') lat.push(Date.now() - Number(m.payload.data.record.t)); }))));
  }
  const beat = setInterval(() => { for (const s of sockets) s.send(JSON.stringify({ topic: 'phoenix', event: 'heartbeat', ref: 'h', payload: {} })); }, 20_000);
  process.stdout.write('ready\n');
  process.stdin.once('data', () => {
    clearInterval(beat);
    for (const s of sockets) s.terminate();
    // Exit only once the (large) line is written: a pipe takes it in pieces.
    process.stdout.write(JSON.stringify(lat) + '\n', () => process.exit(0));
  });
} else {
  const loam = await startLoam();
  const p = await createBenchProject(loam);
  const wsUrl = `${loam.url.replace('http', 'ws')}/project/${p.ref}/realtime/v1/websocket?apikey=${p.anonKey}&vsn=1.0.0`;

  async function clients(mode: string, tokens: string[] = []) {
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'clients', JSON.stringify({ url: wsUrl, mode, tokens })], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    while (!out.includes('ready\n')) { if (child.exitCode !== null) throw new Error('clients exited'); await sleep(50); }
    return {
      async stop(): Promise<number[]> {
        child.stdin!.write('stop\n');
        await new Promise((r) => child.once('exit', r));
        return JSON.parse(out.split('\n')[1]);
      },
    };
  }

  // Broadcast fan-out.
  process.env.LOAM_REALTIME_MAX_CONCURRENT_USERS = String(CLIENTS + 10);
  await fetch(`${loam.url}/v1/projects/${p.ref}/config/realtime`, {
    method: 'PATCH', headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ max_concurrent_users: CLIENTS + 10, max_events_per_second: 1000, max_joins_per_second: CLIENTS + SUBSCRIBERS }),
  });
  await sleep(200);
  const receivers = await clients('broadcast');
  const sender = await socket(wsUrl, 'bench', {}, undefined, () => {});
  const t0 = Date.now();
  for (let i = 0; i < MESSAGES; i++) {
    sender.send(JSON.stringify({ topic: 'realtime:bench', event: 'broadcast', ref: String(i), join_ref: 'j', payload: { type: 'broadcast', event: 'tick', payload: { t: Date.now() } } }));
    await sleep(20);
  }
  await sleep(1000);
  const bl = await receivers.stop();
  const seconds = (Date.now() - t0 - 1000) / 1000;
  sender.terminate();

  // Postgres changes under RLS.
  const db = new pg.Client({ connectionString: projectDbUrl(loam, p.ref) });
  await db.connect();
  await db.query(`create table public.items (id bigint generated always as identity primary key, owner uuid not null, t bigint not null);
    alter table public.items enable row level security;
    create policy select_own on public.items for select to authenticated using (auth.uid() = owner);
    grant select on public.items to authenticated;
    alter publication supabase_realtime add table public.items;`);
  const users = Array.from({ length: SUBSCRIBERS }, () => crypto.randomUUID());
  const subs = await clients('changes', users.map((u) => userToken(p, u)));
  for (let i = 0; i < CHANGES; i++) {
    await db.query('insert into public.items (owner, t) values ($1, $2)', [users[i % users.length], Date.now()]);
    await sleep(20);
  }
  await sleep(5000); // a loaded machine delivers late: late is measured, not lost
  const cl = await subs.stop();
  await db.end();

  console.log(`realtime broadcast: ${CLIENTS} clients × ${MESSAGES} messages: ${bl.length} delivered (${Math.round(bl.length / seconds)} msg/s), p50 ${pct(bl, 0.5)} ms, p99 ${pct(bl, 0.99)} ms (target p99 ≤ 100 ms)`);
  console.log(`realtime postgres changes: ${SUBSCRIBERS} RLS-checked subscribers, ${CHANGES} inserts: ${cl.length} delivered (expected ${CHANGES}), p50 ${pct(cl, 0.5)} ms, p99 ${pct(cl, 0.99)} ms (target p99 ≤ 250 ms)`);
  await loam.stop();
  process.exit(0);
}
