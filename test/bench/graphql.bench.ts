// GraphQL bench: Loam's /graphql/v1 against a standalone PostGraphile v5 server (same presets, same database,
// same role and claims per request) side by side in one run, plus Loam's REST GET by id for the single-row
// case, the first-request latency of a cold project, and the memory one cached instance costs.
//   node_modules/.bin/node test/bench/graphql.bench.ts          (embedded PostgreSQL in a temp dir)
//   DATABASE_URL=postgres://… node_modules/.bin/node test/bench/graphql.bench.ts
// Knobs: BENCH_SECONDS (per comparison, default 5), BENCH_CONCURRENCY (default 16), BENCH_COLD_PROJECTS (8),
// BENCH_ONLY=<scenario prefix>, BENCH_DIAG=1 (Loam's bare GET /health vs the standalone's `{ __typename }`).
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';

const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
const COLD_PROJECTS = Number(process.env.BENCH_COLD_PROJECTS || 8);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;


// ---- the database and Loam ------------------------------------------------------------------------------
let stopEmbedded = async () => {};
if (!process.env.DATABASE_URL) {
  const { scratchPostgres } = await import('../helpers/postgres.ts');
  const server = await scratchPostgres('loam-bench-');
  process.env.DATABASE_URL = server.url;
  process.env.LOAM_DATA_DIR = server.dataDir;
  stopEmbedded = () => server.stop();
}
process.env.LOAM_RATE_LIMIT_PER_MINUTE ??= '100000000';
process.env.LOAM_BCRYPT_ROUNDS ??= '4';
process.env.LOAM_GRAPHQL_CACHE_SIZE ??= String(COLD_PROJECTS + 10);

const { startPlatform } = await import('../../server/src/platform.ts');
const loam = await startPlatform({ port: 0, log: () => {} });

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

interface Res { status: number; body: string }
function request(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function api(method: string, p: string, token?: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await request(loam.url + p, method, headers, body === undefined ? undefined : JSON.stringify(body));
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${res.body}`);
  return res.body ? JSON.parse(res.body) : undefined;
}

const email = `bench${crypto.randomBytes(4).toString('hex')}@example.com`;
const { token } = await api('POST', '/v1/auth/signup', undefined, { email, password: 'correct horse battery' });
const [org] = await api('GET', '/v1/organizations', token);

interface Proj { ref: string; anon: string; service: string }
async function createProject(): Promise<Proj> {
  const { ref } = await api('POST', '/v1/projects', token, { name: 'bench', organization_id: org.slug, db_pass: `pw-${crypto.randomBytes(8).toString('hex')}` });
  for (let i = 0; ; i++) {
    if ((await api('GET', `/v1/projects/${ref}`, token)).status === 'ACTIVE_HEALTHY') break;
    if (i > 1200) throw new Error('project did not come up');
    await new Promise((r) => setTimeout(r, 25));
  }
  const keys = await api('GET', `/v1/projects/${ref}/api-keys`, token);
  const key = (n: string) => keys.find((k: { name: string }) => k.name === n).api_key;
  return { ref, anon: key('anon'), service: key('service_role') };
}
const runSql = (p: Proj, query: string) => api('POST', `/v1/projects/${p.ref}/database/query`, token, { query });

const SCHEMA = `
  create table public.authors (id serial primary key, name text not null);
  create table public.posts (id serial primary key, author_id int not null references public.authors (id),
    title text not null, body text not null, likes int not null default 0);
  create index on public.posts (author_id);
  alter table public.authors enable row level security;
  alter table public.posts enable row level security;
  create policy select_all on public.authors for select using (true);
  create policy select_all on public.posts for select using (true);`;
const SEED = `
  insert into public.authors (name) select 'author ' || i from generate_series(1, 100) i;
  insert into public.posts (author_id, title, body, likes)
    select 1 + i % 100, 'post ' || i, repeat('lorem ipsum ', 20), i % 97 from generate_series(1, 10000) i;
  analyze;`;

const main = await createProject();
await runSql(main, SCHEMA + SEED);

// ---- the standalone PostGraphile baseline ----------------------------------------------------------------
// What one would run by hand for one project: postgraphile + grafserv's node adapter, Amber + aggregates,
// connecting as the authenticator and switching to anon per request through pgSettings.
const { postgraphile } = await import('postgraphile');
const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
const { PgAggregatesPreset } = await import('@graphile/pg-aggregates');
const { makePgService } = await import('postgraphile/adaptors/pg');
const { grafserv } = await import('postgraphile/grafserv/node');
const { authenticatorAddress } = await import('../../db/src/servers.ts');
const { loadRuntime } = await import('../../db/src/projects.ts');
const runtime = (await loadRuntime(main.ref))!;
const auth = await authenticatorAddress(runtime);
const standaloneService = makePgService({
  connectionString: `postgres://${auth.user}:${encodeURIComponent(auth.password ?? '')}@${auth.host}:${auth.port}/${runtime.db_name}`,
  schemas: ['public'],
  pgSettings: () => ({ role: `${runtime.ref}_anon`, 'request.jwt.claims': JSON.stringify({ role: 'anon' }) }),
});
const standalone = postgraphile({
  extends: [PostGraphileAmberPreset, PgAggregatesPreset],
  pgServices: [standaloneService],
  grafserv: { graphqlPath: '/graphql', graphiql: false },
});
const serv = standalone.createServ(grafserv);
const standaloneServer = http.createServer();
serv.addTo(standaloneServer);
await new Promise<void>((r) => standaloneServer.listen(0, '127.0.0.1', () => r()));
const standaloneUrl = `http://127.0.0.1:${(standaloneServer.address() as net.AddressInfo).port}/graphql`;

// The same, mounted in an Express 5 app through grafserv's Express adapter: what Express alone costs, for
// comparison with Loam, which answers GraphQL POSTs on plain Node before Express.
const express = (await import('express')).default;
const { grafserv: expressGrafserv } = await import('postgraphile/grafserv/express/v4');
const expressService = makePgService({
  connectionString: `postgres://${auth.user}:${encodeURIComponent(auth.password ?? '')}@${auth.host}:${auth.port}/${runtime.db_name}`,
  schemas: ['public'],
  pgSettings: () => ({ role: `${runtime.ref}_anon`, 'request.jwt.claims': JSON.stringify({ role: 'anon' }) }),
});
const inExpress = postgraphile({
  extends: [PostGraphileAmberPreset, PgAggregatesPreset],
  pgServices: [expressService],
  grafserv: { graphqlPath: '/graphql', graphiql: false },
});
const expressApp = express();
const expressServer = http.createServer(expressApp);
await inExpress.createServ(expressGrafserv).addTo(expressApp, expressServer, false);
await new Promise<void>((r) => expressServer.listen(0, '127.0.0.1', () => r()));
const expressUrl = `http://127.0.0.1:${(expressServer.address() as net.AddressInfo).port}/graphql`;

// ---- load ------------------------------------------------------------------------------------------------
interface Target { url: string; method: string; headers: Record<string, string>; body?: () => string | undefined; urlFor?: () => string }
interface Result { rps: number; p50: number; p99: number; errors: number }

async function load(t: Target, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const start = performance.now();
      const res = await request(t.urlFor ? t.urlFor() : t.url, t.method, t.headers, t.body?.());
      latencies.push(performance.now() - start);
      if (res.status !== 200 || res.body.includes('"errors"')) {
        if (errors++ === 0) console.error(`  first error from ${t.url}: ${res.status} ${res.body.slice(0, 300)}`);
      }
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * f))];
  return { rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors };
}

const randomId = () => 1 + Math.floor(Math.random() * 10000);
const QUERIES = {
  'single row by id': { query: 'query ($id: Int!) { postByRowId(rowId: $id) { rowId title likes } }', variables: () => ({ id: randomId() }) },
  'list of 20 + relation': { query: '{ allPosts(first: 20, orderBy: ROW_ID_ASC) { nodes { rowId title authorByAuthorId { name } } } }', variables: () => undefined },
  'aggregate': { query: '{ allPosts { totalCount aggregates { sum { likes } max { likes } average { likes } } } }', variables: () => undefined },
};

const ours = (query: string, variables: () => unknown): Target => ({
  url: `${loam.url}/project/${main.ref}/graphql/v1`, method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json', apikey: main.anon },
  body: () => JSON.stringify({ query, variables: variables() }),
});
const theirs = (query: string, variables: () => unknown): Target => ({
  url: standaloneUrl, method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body: () => JSON.stringify({ query, variables: variables() }),
});

const fmt = (n: number, d = 0) => n.toFixed(d);
console.log(`\nGraphQL bench: ${SECONDS}s per measurement, concurrency ${CONCURRENCY}, ${os.availableParallelism()} CPUs, node ${process.version}`);
console.log('(Loam, the standalone server and the load generator share this one process.)\n');
const rows: string[][] = [['scenario', 'Loam req/s', 'standalone req/s', 'ratio', 'standalone in Express req/s', 'ratio', 'Loam p50/p99 ms', 'standalone p50/p99 ms']];
const ratios: Record<string, number> = {};
// Other work on the machine drifts; alternating short rounds and taking medians keeps the two comparable.
const ROUNDS = 6;
async function compareAll(targets: Target[]): Promise<Result[]> {
  for (const t of targets) await load(t, 1);
  const results: Result[][] = targets.map(() => []);
  for (let i = 0; i < ROUNDS; i++) {
    const order = targets.map((_, j) => (j + i) % targets.length); // rotate who goes first
    for (const j of order) results[j].push(await load(targets[j], SECONDS / ROUNDS));
  }
  const med = (rs: Result[]) => [...rs].sort((x, y) => x.rps - y.rps)[Math.floor(rs.length / 2)];
  return results.map(med);
}
const compare = async (a: Target, b: Target) => await compareAll([a, b]) as [Result, Result];

for (const [name, q] of Object.entries({ ...QUERIES, 'no database ({ __typename })': { query: '{ __typename }', variables: () => undefined } })) {
  if (process.env.BENCH_ONLY && !name.startsWith(process.env.BENCH_ONLY)) continue;
  const [a, b, e] = await compareAll([ours(q.query, q.variables), theirs(q.query, q.variables), { ...theirs(q.query, q.variables), url: expressUrl }]);
  if (name in QUERIES) ratios[name] = a.rps / b.rps;
  rows.push([name, fmt(a.rps), fmt(b.rps), fmt(a.rps / b.rps, 2), fmt(e.rps), fmt(a.rps / e.rps, 2), `${fmt(a.p50, 1)}/${fmt(a.p99, 1)}`, `${fmt(b.p50, 1)}/${fmt(b.p99, 1)}`]);
}

if (process.env.BENCH_DIAG) {
  // Where fixed per-request cost goes: Loam's bare Express app vs the standalone's bare node server.
  const health: Target = { url: `${loam.url}/health`, method: 'GET', headers: {} };
  const typename = theirs('{ __typename }', () => undefined);
  const [h, t] = await compare(health, typename);
  console.log(`diag: Loam GET /health ${fmt(h.rps)} req/s, standalone { __typename } ${fmt(t.rps)} req/s`);
}

// single-row lookup: GraphQL vs Loam's own REST GET by id
const restTarget: Target = {
  url: '', method: 'GET', headers: { apikey: main.anon, accept: 'application/json' },
  urlFor: () => `${loam.url}/project/${main.ref}/rest/v1/posts?select=id,title,likes&id=eq.${randomId()}`,
};
const probe = await request(restTarget.urlFor!(), 'GET', restTarget.headers);
let restLine = 'REST GET by id: not available in this build (status ' + probe.status + ')';
if (probe.status === 200) {
  const [g, r] = await compare(ours(QUERIES['single row by id'].query, QUERIES['single row by id'].variables), restTarget);
  restLine = `single row: GraphQL ${fmt(g.rps)} req/s vs REST GET by id ${fmt(r.rps)} req/s → ratio ${fmt(g.rps / r.rps, 2)} (target ≥ 0.5)`;
}

// cold projects: the first request builds the instance; memory per cached instance
const cold: Proj[] = [];
for (let i = 0; i < COLD_PROJECTS; i++) {
  const p = await createProject();
  await runSql(p, SCHEMA);
  cold.push(p);
}
gc(); gc();
const heapBefore = process.memoryUsage().heapUsed;
const rssBefore = process.memoryUsage().rss;
const firsts: number[] = [];
const seconds: number[] = [];
for (const p of cold) {
  const t = ours(QUERIES['list of 20 + relation'].query, () => undefined);
  const hdr = { ...t.headers, apikey: p.anon };
  const url = `${loam.url}/project/${p.ref}/graphql/v1`;
  let start = performance.now();
  const first = await request(url, 'POST', hdr, t.body!());
  firsts.push(performance.now() - start);
  if (first.status !== 200) throw new Error(`cold project: ${first.status} ${first.body}`);
  start = performance.now();
  await request(url, 'POST', hdr, t.body!());
  seconds.push(performance.now() - start);
}
gc(); gc();
const perInstanceHeap = (process.memoryUsage().heapUsed - heapBefore) / COLD_PROJECTS;
const perInstanceRss = (process.memoryUsage().rss - rssBefore) / COLD_PROJECTS;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log('| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |');
console.log(`\nratio target: ≥ 1.0 of standalone PostGraphile → ${Object.values(ratios).every((r) => r >= 1.0) ? 'met' : 'NOT met'} (${Object.entries(ratios).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ')})`);
console.log(restLine);
console.log(`cold project, first GraphQL request (builds the instance): median ${fmt(median(firsts))} ms, max ${fmt(Math.max(...firsts))} ms over ${COLD_PROJECTS} projects; second request median ${fmt(median(seconds), 1)} ms`);
console.log(`memory per cached instance (2-table schema): heap ${fmt(perInstanceHeap / 1024 / 1024, 1)} MiB, RSS ${fmt(perInstanceRss / 1024 / 1024, 1)} MiB`);

agent.destroy();
await new Promise<void>((r) => standaloneServer.close(() => r()));
await new Promise<void>((r) => expressServer.close(() => r()));
await standalone.release();
await standaloneService.release?.();
await inExpress.release();
await expressService.release?.();
const { releaseAll } = await import('../../server/src/graphql/instances.ts');
await releaseAll();
await loam.stop();
await stopEmbedded();
process.exit(0);
