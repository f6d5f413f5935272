// Per-token daily request quotas (plan limits the operator sets with `loam plans set`), counted exactly across two
// API processes (bursts, a killed process, the UTC day's turn, what counts); the discovery endpoints' per-address
// limit; the scopes each operation needs, listed in /v1/openapi.json and enforced; whoami's limits and usage.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import type pg from 'pg';
import { adminClient, createProject, http, loam, signup, type Account } from '../helpers/platform.ts';
import { startChildLoam } from '../resilience/child-loam.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** `loam <args>` against the test's database, as an operator runs it. */
async function loamCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const { databaseUrl } = await loam();
  const child = spawn(process.execPath, [path.join(root, 'server/bin/loam.ts'), ...args], {
    cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(timer);
  return { code, out };
}

/** A plan of the test's own (the shared ones stay as other test files expect), the account's org on it. */
async function ownPlan(a: Account): Promise<string> {
  const plan = `quota_${a.org}`;
  const db = await adminClient();
  await db.query(`insert into platform.plans (id, name, max_projects, max_organizations, rate_limit_per_minute, db_size_mb, storage_size_mb)
                  values ($1, 'Quota test', 5, 5, 100000, 100, 100)`, [plan]);
  await db.query('update platform.organizations set plan = $1 where slug = $2', [plan, a.org]);
  await db.end();
  return plan;
}

async function pat(a: Account, scopes: string[] = []): Promise<string> {
  const res = await http('POST', '/v1/auth/tokens', { token: a.token, body: { name: 'quota', scopes } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token;
}

test('loam plans set changes a plan limit; bad limits, values and plans are refused without a change', async () => {
  const a = await signup();
  const plan = await ownPlan(a);
  const set = await loamCli(['plans', 'set', plan, 'daily_requests_per_token=1234', 'rate_limit_per_minute=500']);
  assert.equal(set.code, 0, set.out);
  assert.match(set.out, new RegExp(`${plan}\\t.*daily_requests_per_token=1234`));
  const who = await http('GET', '/v1/whoami', { token: a.token });
  assert.equal(who.body.plan.id, plan);
  assert.equal(who.body.plan.daily_requests_per_token, 1234);
  assert.equal(who.body.plan.rate_limit_per_minute, 500);
  // GET /v1/plans (no token) shows the plan's limits, the new one included.
  const plans = await http('GET', '/v1/plans');
  assert.equal(plans.status, 200);
  const shown = plans.body.find((x: { id: string }) => x.id === plan);
  assert.equal(shown?.limits?.daily_requests_per_token, 1234, JSON.stringify(shown));

  for (const [args, message] of [
    [['plans', 'set', plan, 'no_such_limit=5'], /plans have no limit "no_such_limit"/],
    [['plans', 'set', plan, 'max_projects=unlimited'], /limit "max_projects" cannot be unlimited/],
    [['plans', 'set', plan, 'daily_requests_per_token=-3'], /is not <limit>=<n>/],
    [['plans', 'set', 'no_such_plan', 'max_projects=3'], /no plan "no_such_plan"/],
    // One bad limit of several: none of them is applied.
    [['plans', 'set', plan, 'daily_requests_per_token=7', 'bogus=1'], /plans have no limit "bogus"/],
  ] as const) {
    const r = await loamCli([...args]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, message);
  }
  const after = await http('GET', '/v1/whoami', { token: a.token });
  assert.equal(after.body.plan.daily_requests_per_token, 1234);
  const unlimited = await loamCli(['plans', 'set', plan, 'daily_requests_per_token=unlimited']);
  assert.equal(unlimited.code, 0, unlimited.out);
  assert.equal((await http('GET', '/v1/whoami', { token: a.token })).body.plan.daily_requests_per_token, null);
});

test('loam plans set sets every limit column; a second API process shows the change at once', async () => {
  const { databaseUrl } = await loam();
  const a = await signup();
  const plan = await ownPlan(a);
  const db = await adminClient();
  const { rows } = await db.query(`select column_name as name, data_type as type from information_schema.columns
    where table_schema = 'platform' and table_name = 'plans' and data_type in ('integer', 'bigint', 'smallint') order by ordinal_position`);
  await db.end();
  assert.ok(rows.length >= 10, JSON.stringify(rows));
  // Each column a value of its own; the per-minute rate limit high enough not to get in the way; a bigint past 2^31.
  const want = Object.fromEntries(rows.map((c, i) => [c.name,
    c.name === 'rate_limit_per_minute' ? 100_000 + i : c.type === 'bigint' ? 5_000_000_000 + i : 1000 + i]));
  const child = await startChildLoam('api', { DATABASE_URL: databaseUrl });
  try {
    // Read before the change in the other process: it caches nothing.
    assert.ok((await child.call('GET', '/v1/plans')).body.some((x: { id: string }) => x.id === plan));
    const set = await loamCli(['plans', 'set', plan, ...Object.entries(want).map(([k, v]) => `${k}=${v}`)]);
    assert.equal(set.code, 0, set.out);
    for (const shown of [(await http('GET', '/v1/plans')).body, (await child.call('GET', '/v1/plans')).body]) {
      const limits = shown.find((x: { id: string }) => x.id === plan).limits;
      for (const [k, v] of Object.entries(want)) assert.equal(Number(limits[k]), v, k);
    }
  } finally {
    await child.stop();
  }
  // A per-minute rate limit left unset is the operator's LOAM_RATE_LIMIT_PER_MINUTE, not unlimited: the listing
  // says so, and `unlimited` is refused for it.
  const refused = await loamCli(['plans', 'set', plan, 'rate_limit_per_minute=unlimited']);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /limit "rate_limit_per_minute" cannot be unlimited/);
  const tooBig = await loamCli(['plans', 'set', plan, 'max_projects=2147483648']);
  assert.equal(tooBig.code, 1, tooBig.out);
  assert.match(tooBig.out, /limit "max_projects" must be between 0 and 2147483647/);
  const usage = await loamCli(['plans', 'set', plan]);
  assert.equal(usage.code, 1, usage.out);
  assert.match(usage.out, /usage: loam plans set <plan> <limit>=<n>/);
  const unknown = await loamCli(['plans', 'sett', plan, 'max_projects=3']);
  assert.equal(unknown.code, 1, unknown.out);
  assert.match(unknown.out, /unknown command "plans sett"/);
  const list = await loamCli(['plans']);
  assert.equal(list.code, 0, list.out);
  assert.match(list.out, /(^|\n)free\t.*rate_limit_per_minute=\d+\(default\)/);
});

test('a token past its daily quota gets 429 with the quota and reset time; other tokens and accounts are not affected', async () => {
  const a = await signup();
  const b = await signup();
  const plan = await ownPlan(a);
  const db = await adminClient();
  await db.query('update platform.plans set daily_requests_per_token = 4 where id = $1', [plan]);
  await db.end();
  const t = await pat(a);
  for (let i = 0; i < 4; i++) assert.equal((await http('GET', '/v1/organizations', { token: t })).status, 200);
  const over = await http('GET', '/v1/organizations', { token: t });
  assert.equal(over.status, 429);
  assert.equal(over.body.code, 'daily_quota_exceeded');
  assert.equal(over.body.quota, 4);
  const tomorrow = new Date();
  tomorrow.setUTCHours(24, 0, 0, 0);
  assert.equal(over.body.reset_at, tomorrow.toISOString());
  assert.match(over.body.message, /daily quota of 4 requests; it resets at /);
  assert.equal(over.headers.get('x-ratelimit-limit'), '4');
  assert.equal(over.headers.get('x-ratelimit-remaining'), '0');
  const retry = Number(over.headers.get('retry-after'));
  assert.ok(retry > 0 && retry <= 86400, String(retry));
  // Every route counts, whoami too.
  assert.equal((await http('GET', '/v1/whoami', { token: t })).status, 429);

  // Another token of the same account has its own count; another account is not touched.
  const t2 = await pat(a);
  assert.equal((await http('GET', '/v1/organizations', { token: t2 })).status, 200);
  assert.equal((await http('GET', '/v1/organizations', { token: b.token })).status, 200);

  // The operator raises the limit: the token works again at once.
  const r = await loamCli(['plans', 'set', plan, 'daily_requests_per_token=50']);
  assert.equal(r.code, 0, r.out);
  assert.equal((await http('GET', '/v1/organizations', { token: t })).status, 200);
});

test('whoami shows the plan limits and today\'s usage of the token, which is its own count', async () => {
  const a = await signup();
  const plan = await ownPlan(a);
  const db = await adminClient();
  await db.query('update platform.plans set daily_requests_per_token = 1000 where id = $1', [plan]);
  await db.end();
  const t = await pat(a);
  for (let i = 0; i < 3; i++) await http('GET', '/v1/organizations', { token: t });
  const who = await http('GET', '/v1/whoami', { token: t });
  assert.equal(who.status, 200);
  assert.equal(who.body.plan.daily_requests_per_token, 1000);
  assert.equal(who.body.usage.token_requests, 4, 'three requests and whoami itself');
  assert.equal(who.body.usage.token_quota_day, new Date().toISOString().slice(0, 10));
  // The session token of the same account has counted only its own requests.
  // (signup's organization list, the token's creation, and this whoami)
  const mine = await http('GET', '/v1/whoami', { token: a.token });
  assert.equal(mine.body.usage.token_requests, 3, JSON.stringify(mine.body.usage));
  assert.equal(mine.body.token.kind, 'session');
});

/** A request with the token to a process at `base`: its status and headers. */
async function call(base: string, token: string, route = '/v1/organizations'): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(base + route, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
}

async function counted(db: pg.Client, token: string): Promise<number> {
  const { rows } = await db.query(`select coalesce(sum(u.requests), 0)::int as n from platform_private.token_usage_daily u
    join platform_private.access_token_hashes h on h.token_id = u.token_id where h.token_hash = sha256($1::text::bytea)
    and u.day = (now() at time zone 'utc')::date`, [token]);
  return rows[0].n;
}

test('a quota holds exactly across two API processes, requests sent one by one or in one burst', async () => {
  const { url, databaseUrl } = await loam();
  const a = await signup();
  const plan = await ownPlan(a);
  const db = await adminClient();
  const child = await startChildLoam('api', { DATABASE_URL: databaseUrl, LOAM_RATE_LIMIT_PER_MINUTE: '100000' });
  try {
    // One by one, alternating between the processes.
    await db.query('update platform.plans set daily_requests_per_token = 30 where id = $1', [plan]);
    const t = await pat(a);
    const served = { first: 0, second: 0 };
    for (let i = 0; i < 40; i++) {
      const which = i % 2 ? 'second' : 'first';
      const r = await call(which === 'first' ? url : child.url, t);
      if (r.status === 200) served[which]++;
      else assert.deepEqual([r.status, r.body.code], [429, 'daily_quota_exceeded']);
    }
    assert.deepEqual(served, { first: 15, second: 15 });
    assert.equal(await counted(db, t), 30);

    // A burst of 300 requests at once, half to each process: exactly the quota is served, and counted.
    await db.query('update platform.plans set daily_requests_per_token = 120 where id = $1', [plan]);
    const t2 = await pat(a);
    const statuses = await Promise.all(Array.from({ length: 300 }, (_, i) => call(i % 2 ? child.url : url, t2).then((r) => [i % 2, r.status])));
    const ok = statuses.filter(([, s]) => s === 200);
    assert.equal(ok.length, 120, JSON.stringify(statuses.filter(([, s]) => s !== 200 && s !== 429)));
    assert.equal(statuses.filter(([, s]) => s === 429).length, 180);
    assert.ok(ok.some(([w]) => w === 0) && ok.some(([w]) => w === 1), 'both processes served');
    assert.equal(await counted(db, t2), 120, 'the refused requests are not counted');
  } finally {
    await child.stop();
    await db.end();
  }
});

test('a process killed mid-stream loses no count; the day (UTC) rolls over to a fresh count', async () => {
  const { databaseUrl } = await loam();
  const a = await signup();
  const plan = await ownPlan(a);
  const db = await adminClient();
  try {
    await db.query('update platform.plans set daily_requests_per_token = 1000 where id = $1', [plan]);
    const t = await pat(a);
    const child = await startChildLoam('api', { DATABASE_URL: databaseUrl });
    for (let i = 0; i < 17; i++) assert.equal((await call(child.url, t)).status, 200);
    child.process.kill('SIGKILL');
    await new Promise((r) => child.process.once('exit', r));
    assert.equal(await counted(db, t), 17);

    // Yesterday's count (at the quota) does not count today; today's first request clears rows older than a week.
    await db.query('update platform.plans set daily_requests_per_token = 5 where id = $1', [plan]);
    const t2 = await pat(a);
    const { rows: [{ id }] } = await db.query('select token_id as id from platform_private.access_token_hashes where token_hash = sha256($1::text::bytea)', [t2]);
    await db.query(`insert into platform_private.token_usage_daily (token_id, day, requests) values
      ($1, (now() at time zone 'utc')::date - 1, 5), ($1, (now() at time zone 'utc')::date - 8, 5)`, [id]);
    const first = await http('GET', '/v1/organizations', { token: t2 });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-remaining'), '4');
    const { rows } = await db.query(`select (now() at time zone 'utc')::date - day as ago, requests from platform_private.token_usage_daily
      where token_id = $1 order by day`, [id]);
    assert.deepEqual(rows, [{ ago: 1, requests: 5 }, { ago: 0, requests: 1 }]);
  } finally {
    await db.end();
  }
});

test('what counts: served requests (refused by a scope too); not 429s or the discovery endpoints', async () => {
  const a = await signup();
  const plan = await ownPlan(a);
  const db = await adminClient();
  try {
    await db.query('update platform.plans set daily_requests_per_token = 10, rate_limit_per_minute = 100000 where id = $1', [plan]);
    const t = await pat(a, ['organizations:read']);
    const ok = await http('GET', '/v1/organizations', { token: t });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-ratelimit-limit'), '10');
    assert.equal(ok.headers.get('x-ratelimit-remaining'), '9');
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    assert.equal(ok.headers.get('x-ratelimit-reset'), String(tomorrow.getTime() / 1000));
    assert.equal((await http('GET', '/v1/projects', { token: t })).status, 403); // counted: the token was used
    assert.equal(await counted(db, t), 2);
    for (const route of ['/v1/plans', '/v1/regions', '/v1/backend-types', '/v1/openapi.json']) {
      assert.equal((await http('GET', route, { token: t })).status, 200, route);
    }
    assert.equal(await counted(db, t), 2);
    // Refused by the per-minute rate limit: not counted against the day.
    await db.query('update platform.plans set rate_limit_per_minute = 0 where id = $1', [plan]);
    const limited = await http('GET', '/v1/organizations', { token: t });
    assert.deepEqual([limited.status, limited.body.code], [429, 'rate_limited']);
    assert.equal(await counted(db, t), 2);
    // Refused by the quota: not counted either (the count stays at the quota), and the plan without a quota
    // sends no X-RateLimit headers.
    await db.query('update platform.plans set rate_limit_per_minute = 100000, daily_requests_per_token = 2 where id = $1', [plan]);
    for (let i = 0; i < 3; i++) assert.equal((await http('GET', '/v1/organizations', { token: t })).status, 429);
    assert.equal(await counted(db, t), 2);
    // A quota of 0 refuses every request.
    await db.query('update platform.plans set daily_requests_per_token = 0 where id = $1', [plan]);
    const zero = await http('GET', '/v1/organizations', { token: a.token });
    assert.deepEqual([zero.status, zero.body.code, zero.body.quota], [429, 'daily_quota_exceeded', 0]);
    await db.query('update platform.plans set daily_requests_per_token = null where id = $1', [plan]);
    const free = await http('GET', '/v1/organizations', { token: t });
    assert.equal(free.status, 200);
    assert.equal(free.headers.get('x-ratelimit-limit'), null);
  } finally {
    await db.end();
  }
});

test('the discovery endpoints need no token and are rate limited per address across API processes', async () => {
  const { databaseUrl } = await loam();
  // Both children allow 6 a minute; started away from a minute's edge so that the window does not turn mid-test.
  const first = await startChildLoam('api', { DATABASE_URL: databaseUrl, LOAM_RATE_LIMIT_PER_MINUTE: '6' });
  const second = await startChildLoam('api', { DATABASE_URL: databaseUrl, LOAM_RATE_LIMIT_PER_MINUTE: '6' });
  try {
    while (new Date().getSeconds() > 50) await new Promise((r) => setTimeout(r, 1000));
    // Addresses of this test's own (through the proxy header a loopback peer may send): other files' reads of
    // these endpoints count against their own addresses.
    const me = `2001:db8::${crypto.randomBytes(4).toString('hex').replace(/(....)(....)/, '$1:$2')}`;
    const other = `2001:db8::${crypto.randomBytes(4).toString('hex').replace(/(....)(....)/, '$1:$2')}`;
    const routes = ['/v1/regions', '/v1/plans', '/v1/backend-types'];
    const results: { status: number; retry: string | null; code?: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch((i % 2 ? second : first).url + routes[i % 3], { headers: { 'x-forwarded-for': me } });
      const body = await res.json();
      results.push({ status: res.status, retry: res.headers.get('retry-after'), code: body.code });
      if (res.status === 200) assert.equal(res.headers.get('cache-control'), 'no-cache');
    }
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
    for (const r of results.slice(6)) {
      assert.equal(r.code, 'rate_limited');
      assert.ok(Number(r.retry) >= 1 && Number(r.retry) <= 60, String(r.retry));
    }
    // Keys of addresses that never come back do not stay: a new key's first hit sweeps rows a day old.
    const db = await adminClient();
    try {
      await db.query(`insert into platform_private.rate_limits (key, window_start, hits)
        select 'discovery:gone-' || g || '-' || $1, now() - interval '2 days', 1 from generate_series(1, 3) g`, [me]);
      assert.equal((await fetch(`${first.url}/v1/plans`, { headers: { 'x-forwarded-for': other } })).status, 200);
      const { rows: [{ n }] } = await db.query(`select count(*)::int as n from platform_private.rate_limits where key like 'discovery:gone-%-' || $1`, [me]);
      assert.equal(n, 0);
    } finally {
      await db.end();
    }
  } finally {
    await first.stop();
    await second.stop();
  }
});

test('every operation lists the scopes it needs in /v1/openapi.json, and the routes enforce exactly those', async () => {
  const spec = (await http('GET', '/v1/openapi.json')).body;
  const ops = Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([p, o]) => Object.entries(o).map(([m, op]) => ({ path: p, method: m, op })));
  for (const { path: p, method, op } of ops) {
    assert.ok(Array.isArray(op['x-required-scopes']), `${method} ${p} lists x-required-scopes`);
    if (op.security?.length === 0) assert.deepEqual(op['x-required-scopes'], [], `${method} ${p} needs no token`);
  }
  // What needs a token and no scope: the account itself, and the MCP endpoint (each tool calls /v1 with the
  // caller's token, where the tool's own operation's scope applies).
  const anyToken = ops.filter((o) => o.op.security?.length !== 0 && !o.op['x-required-scopes'].length).map((o) => `${o.method} ${o.path}`);
  assert.deepEqual(anyToken.sort(), ['get /v1/auth/me', 'get /v1/profile', 'get /v1/projects/{ref}/mcp', 'get /v1/whoami', 'post /v1/projects/{ref}/mcp']);

  // Every operation that needs a scope, with every path parameter filled in (the owner's project and
  // organization, made-up ids): refused with a token of every other area's write scope; a write refused with
  // its own area's read scope; a read let past the check with the scope the document names. The checks come
  // before anything is looked up or changed, so nothing here changes the project.
  const p = await createProject();
  await ownPlan(p.owner); // a rate limit the walk through every route does not reach
  const areas = ['organizations', 'projects', 'database', 'tokens'];
  const fill: Record<string, string> = {
    ref: p.ref, slug: p.owner.org, function_slug: 'no-such-function', target: 'functions', environment: 'production',
    name: 'nothing', table: 'nothing', version: '20240101000000', kind: 'functions', branch_id_or_ref: 'abcdefghijklmnopqrst',
    token: 'no-such-token',
  };
  const tokenFor = new Map<string, string>();
  const tokenWith = async (scopes: string[]) => {
    const key = scopes.join(' ');
    if (!tokenFor.has(key)) tokenFor.set(key, await pat(p.owner, scopes));
    return tokenFor.get(key)!;
  };
  const scoped = ops.filter((o) => o.op['x-required-scopes'].length);
  assert.ok(scoped.length > 180, `${scoped.length} operations checked`);
  const wrong: string[] = [];
  for (const { path: route, method, op } of scoped) {
    const [needed, access] = op['x-required-scopes'] as string[];
    const [area] = needed.split(':');
    assert.ok(areas.includes(area) && (access === 'read' || access === 'write') && needed === `${area}:${access}`, `${route}: ${needed}`);
    const url = route.replace(/\{([^}]+)\}/g, (_m, k: string) => fill[k] ?? '00000000-0000-4000-8000-000000000000');
    const send = (token: string) => http(method.toUpperCase(), url, { token, ...(method === 'get' || method === 'delete' ? {} : { body: {} }) });
    const others = await send(await tokenWith(areas.filter((s) => s !== area).map((s) => `${s}:write`)));
    if (others.status !== 403 || others.body?.code !== 'insufficient_scope') wrong.push(`${method} ${route} with the other areas' scopes: ${others.status} ${JSON.stringify(others.body).slice(0, 120)}`);
    if (access === 'write') {
      const read = await send(await tokenWith([`${area}:read`]));
      if (read.status !== 403 || read.body?.message !== `This access token lacks the "${area}:write" scope`) wrong.push(`${method} ${route} with ${area}:read: ${read.status} ${JSON.stringify(read.body).slice(0, 120)}`);
    } else {
      const allowed = await send(await tokenWith([`${area}:read`]));
      if (allowed.body?.code === 'insufficient_scope') wrong.push(`${method} ${route} with ${needed}: ${JSON.stringify(allowed.body)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('a scoped token may not write where it may only read; unknown scopes are refused at creation', async () => {
  const p = await createProject();
  const t = await pat(p.owner, ['projects:read']);
  assert.equal((await http('GET', `/v1/projects/${p.ref}/secrets`, { token: t })).status, 200);
  const write = await http('POST', `/v1/projects/${p.ref}/secrets`, { token: t, body: [{ name: 'A', value: 'b' }] });
  assert.equal(write.status, 403);
  assert.deepEqual(write.body, { message: 'This access token lacks the "projects:write" scope', code: 'insufficient_scope' });
  const bad = await http('POST', '/v1/auth/tokens', { token: p.owner.token, body: { name: 'x', scopes: ['everything'] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'invalid_scope');
});
