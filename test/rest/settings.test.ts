// Per-project REST settings through the Management API (GET/PATCH /v1/projects/{ref}/postgrest): exposed
// schemas with Accept-Profile / Content-Profile, max_rows, the aggregates switch, and the rate limit (429).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, http, signup, sql, type Project } from '../helpers/platform.ts';
import { rest } from './fixture.ts';

let p: Project;
before(async () => {
  p = await createProject();
  await sql(p, `create table things (id int primary key, kind text, n int);
    insert into things select g, case when g % 2 = 0 then 'even' else 'odd' end, g from generate_series(1, 10) g;
    create schema api; create table api.widgets (id int primary key, name text); insert into api.widgets values (1, 'w');
    grant usage on schema api to anon; grant select, insert on all tables in schema public, api to anon;`);
});

const settings = (body?: unknown, token = p.owner.token) => http(body === undefined ? 'GET' : 'PATCH', `/v1/projects/${p.ref}/postgrest`, { token, body });

test('defaults in Supabase shape', async () => {
  const r = await settings();
  assert.equal(r.status, 200);
  const { rate_limit_per_minute: rate, ...rest } = r.body;
  assert.deepEqual(rest, { db_schema: 'public', db_extra_search_path: 'public, extensions', max_rows: 1000, db_pool: null, db_pool_acquisition_timeout: null, db_aggregates_enabled: false, db_plan_enabled: false });
  assert.equal(rate, Number(process.env.LOAM_REST_RATE_LIMIT_PER_MINUTE || 60_000));
});

test('validation and access', async () => {
  for (const body of [{ max_rows: 0 }, { max_rows: 'x' }, { db_schema: 'public; drop' }, { db_schema: '_loam' }, { db_aggregates_enabled: 'yes' }, { rate_limit_per_minute: -1 }]) {
    const r = await settings(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.code, 'invalid_body');
  }
  const stranger = await signup();
  const r = await settings({ max_rows: 5 }, stranger.token);
  assert.equal(r.status, 404);
  assert.equal((await settings(undefined, stranger.token)).status, 404);
});

test('exposed schemas and profiles', async () => {
  const before = await rest(p, 'GET', '/widgets', { headers: { 'Accept-Profile': 'api' } });
  assert.equal(before.status, 406);
  assert.equal(before.body.code, 'PGRST106');
  assert.equal((await settings({ db_schema: 'public, api' })).body.db_schema, 'public, api');
  const r = await rest(p, 'GET', '/widgets', { headers: { 'Accept-Profile': 'api' } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 1, name: 'w' }]);
  const w = await rest(p, 'POST', '/widgets', { headers: { 'Content-Profile': 'api', Prefer: 'return=representation' }, body: { id: 2, name: 'x' } });
  assert.equal(w.status, 201);
  assert.equal((await rest(p, 'GET', '/widgets')).status, 404, 'the first schema stays the default');
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false }, db: { schema: 'api' } });
  const { data, error } = await db.from('widgets').select('id').order('id');
  assert.equal(error, null);
  assert.deepEqual(data, [{ id: 1 }, { id: 2 }]);
  const bad = await rest(p, 'GET', '/widgets', { headers: { 'Accept-Profile': 'nope' } });
  assert.deepEqual(bad.body, { code: 'PGRST106', details: null, hint: 'Only the following schemas are exposed: public, api', message: 'Invalid schema: nope' });
});

test('max_rows caps reads', async () => {
  await settings({ max_rows: 3 });
  const r = await rest(p, 'GET', '/things?select=id&order=id', { headers: { Prefer: 'count=exact' } });
  assert.deepEqual(r.body.map((x: { id: number }) => x.id), [1, 2, 3]);
  assert.equal(r.headers.get('content-range'), '0-2/10');
  assert.equal(r.status, 206);
  await settings({ max_rows: null });
  assert.equal((await rest(p, 'GET', '/things')).body.length, 10);
});

test('aggregates are off by default, then on', async () => {
  const off = await rest(p, 'GET', '/things?select=count()');
  assert.equal(off.status, 400);
  assert.deepEqual(off.body, { code: 'PGRST123', details: null, hint: null, message: 'Use of aggregate functions is not allowed' });
  await settings({ db_aggregates_enabled: true });
  const all = await rest(p, 'GET', '/things?select=count(),n.sum(),n.avg()::int,n.max()');
  assert.deepEqual(all.body, [{ count: 10, sum: 55, avg: 6, max: 10 }]);
  const grouped = await rest(p, 'GET', '/things?select=kind,total:n.sum(),count()&order=kind');
  assert.deepEqual(grouped.body, [{ kind: 'even', total: 30, count: 5 }, { kind: 'odd', total: 25, count: 5 }]);
});

test('rate limit: 429 with Retry-After, per project', async () => {
  const q = await createProject();
  const r = await http('PATCH', `/v1/projects/${q.ref}/postgrest`, { token: q.owner.token, body: { rate_limit_per_minute: 5 } });
  assert.equal(r.body.rate_limit_per_minute, 5);
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await rest(q, 'GET', '/nothing')).status);
  assert.deepEqual(statuses.slice(0, 5), [404, 404, 404, 404, 404]);
  const limited = await rest(q, 'GET', '/nothing');
  assert.equal(limited.status, 429);
  assert.equal(limited.body.message, 'API rate limit exceeded');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal((await rest(p, 'GET', '/things?limit=1')).status, 200, 'another project is not limited');
});
