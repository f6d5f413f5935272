// Personal access tokens (created once, listed without the token, revoked, expiring, scoped), whoami, and the
// per-account rate limit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { adminClient, createProject, http, loam, signup, type Account } from '../helpers/platform.ts';

async function pat(a: Account, body: Record<string, unknown> = { name: 'ci' }) {
  const res = await http('POST', '/v1/auth/tokens', { token: a.token, body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

test('a personal access token is shown once, in the shape the Supabase CLI accepts, and works', async () => {
  const a = await signup();
  const t = await pat(a, { name: 'laptop' });
  assert.match(t.token, /^sbp_[0-9a-f]{40}$/);
  assert.equal(t.name, 'laptop');
  assert.deepEqual(t.scopes, []);
  assert.equal(t.token_prefix, t.token.slice(0, 8));
  assert.equal((await http('GET', '/v1/auth/me', { token: t.token })).status, 200);

  const list = await http('GET', '/v1/auth/tokens', { token: a.token });
  assert.equal(list.status, 200);
  assert.equal(list.body.length, 1, 'sessions are not listed');
  assert.deepEqual(Object.keys(list.body[0]).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'scopes', 'token_prefix']);
  assert.equal(list.body[0].id, t.id);
  assert.ok(list.body[0].last_used_at, 'last_used_at is recorded');
  assert.ok(!JSON.stringify(list.body).includes(t.token), 'the token is never listed');

  // Only a hash is stored.
  const db = await adminClient();
  const { rows } = await db.query(`select encode(token_hash, 'hex') as h from platform_private.access_token_hashes where token_id = $1`, [t.id]);
  await db.end();
  assert.equal(rows.length, 1);
  assert.ok(!rows[0].h.includes(Buffer.from(t.token).toString('hex')));
});

test('a revoked token gets 401 at once; deleting twice or another account\'s token is 404', async () => {
  const a = await signup();
  const b = await signup();
  const t = await pat(a);
  const foreign = await http('DELETE', `/v1/auth/tokens/${t.id}`, { token: b.token });
  assert.equal(foreign.status, 404);
  assert.deepEqual(foreign.body, { message: 'Access token not found', code: 'token_not_found' });
  assert.equal((await http('GET', '/v1/auth/me', { token: t.token })).status, 200);

  const del = await http('DELETE', `/v1/auth/tokens/${t.id}`, { token: a.token });
  assert.equal(del.status, 204);
  const after = await http('GET', '/v1/auth/me', { token: t.token });
  assert.equal(after.status, 401);
  assert.equal(after.body.code, 'unauthorized');
  assert.equal((await http('DELETE', `/v1/auth/tokens/${t.id}`, { token: a.token })).status, 404);
  const notUuid = await http('DELETE', '/v1/auth/tokens/not-a-uuid', { token: a.token });
  assert.equal(notUuid.status, 404);
  assert.equal(notUuid.body.code, 'token_not_found');
});

test('an expired token gets 401', async () => {
  const a = await signup();
  const t = await pat(a, { name: 'short-lived', expires_at: new Date(Date.now() + 3600_000).toISOString() });
  assert.ok(t.expires_at);
  assert.equal((await http('GET', '/v1/auth/me', { token: t.token })).status, 200);
  const db = await adminClient();
  await db.query(`update platform.access_tokens set expires_at = now() - interval '1 second' where id = $1`, [t.id]);
  await db.end();
  assert.equal((await http('GET', '/v1/auth/me', { token: t.token })).status, 401);
});

test('token creation rejects bad input with 400 and creates nothing', async () => {
  const a = await signup();
  const cases: [Record<string, unknown>, number, string, RegExp][] = [
    [{ name: 'x', scopes: ['admin'] }, 400, 'invalid_scope', /unknown scope "admin"/],
    [{ name: 'x', scopes: 'read' }, 400, 'invalid_body', /scopes must be an array of strings/],
    [{ name: 'x', expires_at: '2001-01-01T00:00:00Z' }, 400, 'invalid_expiry', /expires_at must be in the future/],
    [{ name: 'x', expires_at: 'tomorrow' }, 400, 'invalid_body', /expires_at must be an ISO 8601 timestamp/],
    [{}, 400, 'invalid_body', /name is required/],
    [{ name: '' }, 400, 'invalid_body', /name must be at least 1 characters/],
    [{ name: 'x'.repeat(257) }, 400, 'invalid_body', /name must be at most 256 characters/],
  ];
  for (const [body, status, code, message] of cases) {
    const res = await http('POST', '/v1/auth/tokens', { token: a.token, body });
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(res.body.code, code, JSON.stringify(res.body));
    assert.match(res.body.message, message);
  }
  assert.deepEqual((await http('GET', '/v1/auth/tokens', { token: a.token })).body, []);
});

test('scopes: a read-only token reads but cannot create, change or delete anything', async () => {
  const p = await createProject();
  const a = p.owner;
  const ro = (await pat(a, { name: 'read only', scopes: ['read'] })).token;
  const write = (await pat(a, { name: 'projects', scopes: ['projects:write'] })).token;
  const dbRead = (await pat(a, { name: 'db read', scopes: ['database:read'] })).token;

  for (const [method, path] of [['GET', '/v1/projects'], ['GET', `/v1/projects/${p.ref}`], ['GET', '/v1/organizations'],
    ['GET', `/v1/projects/${p.ref}/api-keys`], ['GET', '/v1/auth/tokens'], ['GET', '/v1/whoami']]) {
    assert.equal((await http(method, path, { token: ro })).status, 200, `${method} ${path}`);
  }
  const denied: [string, string, unknown, string][] = [
    ['POST', '/v1/projects', { name: 'nope', organization_id: a.org, db_pass: 'long enough' }, 'projects:write'],
    ['PATCH', `/v1/projects/${p.ref}`, { name: 'renamed' }, 'projects:write'],
    ['DELETE', `/v1/projects/${p.ref}`, undefined, 'projects:write'],
    ['POST', `/v1/projects/${p.ref}/pause`, undefined, 'projects:write'],
    ['POST', `/v1/projects/${p.ref}/api-keys/rotate`, undefined, 'projects:write'],
    ['POST', '/v1/organizations', { name: 'nope' }, 'organizations:write'],
    ['POST', '/v1/auth/tokens', { name: 'escalate' }, 'tokens:write'],
    ['PATCH', '/v1/auth/password', { current_password: a.password, new_password: 'taken over!' }, 'tokens:write'],
    ['POST', `/v1/projects/${p.ref}/database/query`, { query: 'create table t (id int)' }, 'database:write'],
    ['PATCH', `/v1/projects/${p.ref}/database/password`, { password: 'new db password' }, 'database:write'],
  ];
  for (const [method, path, body, scope] of denied) {
    const res = await http(method, path, { token: ro, body });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.deepEqual(res.body, { message: `This access token lacks the "${scope}" scope`, code: 'insufficient_scope' });
  }
  // Nothing happened.
  const projects = await http('GET', '/v1/projects', { token: a.token });
  assert.deepEqual(projects.body.map((x: { name: string }) => x.name), ['test project']);
  assert.equal((await http('GET', '/v1/organizations', { token: a.token })).body.length, 1);

  // A read-only query is a read; an area scope grants that area only.
  const q = await http('POST', `/v1/projects/${p.ref}/database/query`, { token: ro, body: { query: 'select 1 as one', read_only: true } });
  assert.equal(q.status, 201);
  assert.deepEqual(q.body, [{ one: 1 }]);
  assert.equal((await http('POST', `/v1/projects/${p.ref}/database/query`, { token: dbRead, body: { query: 'select 1', read_only: true } })).status, 201);
  assert.equal((await http('GET', '/v1/projects', { token: dbRead })).status, 403);
  assert.equal((await http('PATCH', `/v1/projects/${p.ref}`, { token: write, body: { name: 'renamed' } })).status, 200);
  assert.equal((await http('POST', `/v1/projects/${p.ref}/database/query`, { token: write, body: { query: 'select 1' } })).status, 403);
});

test('whoami: the account, the token, the plan limits and today\'s usage', async () => {
  const a = await signup();
  const t = await pat(a, { name: 'who', scopes: ['projects:read'] });
  const res = await http('GET', '/v1/whoami', { token: t.token });
  assert.equal(res.status, 200);
  assert.equal(res.body.account.id, a.user.id);
  assert.equal(res.body.account.email, a.email);
  assert.deepEqual(res.body.token, { id: t.id, prefix: t.token.slice(0, 8), scopes: ['projects:read'], kind: 'personal' });
  assert.equal(res.body.plan.id, 'free');
  assert.equal(typeof res.body.plan.max_projects, 'number');
  // The free plan leaves the per-minute rate limit to the operator: whoami shows the one that applies, as /v1/plans.
  const free = (await http('GET', '/v1/plans')).body.find((p: { id: string }) => p.id === 'free');
  assert.equal(res.body.plan.rate_limit_per_minute, free.limits.rate_limit_per_minute);
  assert.equal(typeof res.body.plan.rate_limit_per_minute, 'number');
  assert.equal(res.body.plan.daily_requests_per_token, free.limits.daily_requests_per_token);
  assert.equal(res.body.usage.organizations, 1);
  assert.equal(res.body.usage.projects, 0);
  assert.ok(res.body.usage.requests >= 2, 'counts the requests of the day');
  assert.equal((await http('GET', '/v1/whoami')).status, 401);
});

test('rate limit: over the plan\'s requests per minute → 429 with Retry-After, counted in the shared store', async () => {
  const a = await signup();
  const db = await adminClient();
  const plan = `tiny_${a.org}`;
  await db.query(`insert into platform.plans (id, name, max_projects, max_organizations, rate_limit_per_minute, db_size_mb, storage_size_mb)
                  values ($1, 'Tiny', 1, 1, 3, 10, 10)`, [plan]);
  await db.query('update platform.organizations set plan = $1 where slug = $2', [plan, a.org]);
  let limited;
  for (let i = 0; i < 8 && !limited; i++) {
    const res = await http('GET', '/v1/auth/me', { token: a.token });
    if (res.status === 429) limited = res;
    else assert.equal(res.status, 200);
  }
  assert.ok(limited, 'a request was rate limited');
  assert.deepEqual(limited.body, { message: 'Too many requests: try again later', code: 'rate_limited' });
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  // The counter lives in the control database, where every API process counts.
  const { rows } = await db.query(`select sum(hits)::int as hits from platform_private.rate_limits where key = $1`, [`account:${a.user.id}`]);
  assert.ok(rows[0].hits > 3);
  // The first request of a new minute clears the account's older windows: the table does not grow.
  await db.query(`update platform_private.rate_limits set window_start = window_start - interval '5 minutes' where key = $1`, [`account:${a.user.id}`]);
  assert.equal((await http('GET', '/v1/auth/me', { token: a.token })).status, 200);
  const { rows: windows } = await db.query(`select window_start = date_trunc('minute', now()) as current from platform_private.rate_limits where key = $1`, [`account:${a.user.id}`]);
  assert.deepEqual(windows, [{ current: true }]);
  // Another account is not affected.
  const b = await signup();
  assert.equal((await http('GET', '/v1/auth/me', { token: b.token })).status, 200);
  await db.end();
});

test('rate limit is shared by every API process: requests to two processes count against one limit', async () => {
  const { databaseUrl } = await loam();
  const a = await signup();
  const db = await adminClient();
  const plan = `shared_${a.org}`;
  const limit = 6;
  await db.query(`insert into platform.plans (id, name, max_projects, max_organizations, rate_limit_per_minute, db_size_mb, storage_size_mb)
                  values ($1, 'Shared', 1, 1, $2, 10, 10)`, [plan, limit]);
  await db.query('update platform.organizations set plan = $1 where slug = $2', [plan, a.org]);

  // A second API process (`loam api`) on the same control database.
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
  });
  const child = spawn(process.execPath, [new URL('../../server/bin/loam.ts', import.meta.url).pathname, 'api'],
    { env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port) }, stdio: 'ignore' });
  try {
    const second = `http://localhost:${port}`;
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${second}/health`)).ok) break; } catch { /* starting */ }
      if (i > 300) throw new Error('second API process did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The window is a calendar minute: start early in one, so the test does not straddle two.
    const { rows: [{ s }] } = await db.query('select extract(second from now())::float as s');
    if (s > 45) await new Promise((r) => setTimeout(r, (61 - s) * 1000));

    const { rows: [{ already }] } = await db.query(`select coalesce(sum(hits), 0)::int as already from platform_private.rate_limits
      where key = $1 and window_start = date_trunc('minute', now())`, [`account:${a.user.id}`]);
    const served = { first: 0, second: 0 };
    let limitedBy: 'first' | 'second' | undefined;
    for (let i = 0; i < 2 * limit && !limitedBy; i++) {
      const which = i % 2 ? 'second' : 'first';
      const res = which === 'first'
        ? await http('GET', '/v1/auth/me', { token: a.token })
        : await fetch(`${second}/v1/auth/me`, { headers: { authorization: `Bearer ${a.token}` } }).then((r) => ({ status: r.status }));
      if (res.status === 429) limitedBy = which;
      else { assert.equal(res.status, 200); served[which]++; }
    }
    assert.ok(limitedBy, 'a request was rate limited');
    assert.equal(already + served.first + served.second, limit);
    assert.ok(served.first > 0 && served.second > 0);
    // Neither process alone saw `limit` requests: only a shared count can have refused this one.
    assert.ok(served[limitedBy] < limit, JSON.stringify(served));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await db.end();
  }
});
