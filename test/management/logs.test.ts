// Project logs and usage counts: real data-plane requests land in the request log (batched), Postgres errors
// too; the analytics endpoints answer the exact queries Supabase's MCP server sends (both dialects) in
// Supabase's shape, refuse what they do not understand, keep the log bounded, and show nothing across accounts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { parseLogQuery } from '../../server/src/management/logs.ts';
import { adminClient, createProject, http, signup, sql, type Project } from '../helpers/platform.ts';

process.env.LOAM_REQUEST_LOG_ROWS = '60';

const hourAgo = () => new Date(Date.now() - 3600_000).toISOString();
const now = () => new Date(Date.now() + 1000).toISOString();

async function logs(p: Project, query: string, token = p.owner.token) {
  const qs = new URLSearchParams({ sql: query, iso_timestamp_start: hourAgo(), iso_timestamp_end: now() });
  return http('GET', `/v1/projects/${p.ref}/analytics/endpoints/logs.all?${qs}`, { token });
}

/** Polls until `ok` holds of the query's rows (the writer flushes every half second). */
async function until(p: Project, query: string, ok: (rows: any[]) => boolean): Promise<any[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await logs(p, query);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (ok(res.body.result)) return res.body.result;
    if (Date.now() > deadline) throw new Error(`log rows never matched: ${JSON.stringify(res.body.result).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// The queries @supabase/mcp-server-supabase 0.13 sends (ClickHouse dialect) and earlier versions sent (BigQuery).
const MCP_013 = {
  api: `select id, log_attributes['identifier'] as identifier, timestamp, event_message, log_attributes['request.method'] as method, log_attributes['request.path'] as path, log_attributes['response.status_code'] as status_code
        from logs
        where source = 'edge_logs'
        order by timestamp desc
        limit 100`,
  postgres: `select log_attributes['identifier'] as identifier, timestamp, id, event_message, log_attributes['parsed.error_severity'] as error_severity
        from logs
        where source = 'postgres_logs'
        order by timestamp desc
        limit 100`,
  auth: `select id, timestamp, event_message, log_attributes['level'] as level, log_attributes['status'] as status, log_attributes['path'] as path, log_attributes['msg'] as msg, log_attributes['error'] as error
        from logs
        where source = 'auth_logs'
        order by timestamp desc
        limit 100`,
};
const BIGQUERY = {
  api: `select id, identifier, timestamp, event_message, request.method, request.path, response.status_code
        from edge_logs
        cross join unnest(metadata) as m
        cross join unnest(m.request) as request
        cross join unnest(m.response) as response
        order by timestamp desc
        limit 100`,
  postgres: `select identifier, postgres_logs.timestamp, id, event_message, parsed.error_severity from postgres_logs
        cross join unnest(metadata) as m
        cross join unnest(m.parsed) as parsed
        order by timestamp desc
        limit 100`,
  storage: 'select id, storage_logs.timestamp, event_message from storage_logs\norder by timestamp desc\nlimit 100',
};

let project: Project;
const tablePath = () => `/project/${project.ref}/rest/v1/notes`;

test('setup: a project with a table, and requests to REST, auth and storage', async () => {
  project = await createProject();
  await sql(project, 'create table notes (id int primary key, body text not null); grant all on notes to anon, service_role;');
  const key = { apikey: project.serviceKey, authorization: `Bearer ${project.serviceKey}`, 'user-agent': 'logs-test/1.0' };
  assert.equal((await http('GET', `${tablePath()}?select=*`, { headers: key })).status, 200);
  assert.equal((await http('POST', tablePath(), { headers: key, body: { id: 1, body: 'a' } })).status, 201);
  // A duplicate key: REST answers 409 and the project's Postgres logs the error.
  assert.equal((await http('POST', tablePath(), { headers: key, body: { id: 1, body: 'b' } })).status, 409);
  assert.equal((await http('GET', `/project/${project.ref}/auth/v1/settings`, { headers: { apikey: project.anonKey } })).status, 200);
  assert.equal((await http('GET', `/project/${project.ref}/storage/v1/bucket`, { headers: key })).status, 200);
  // A SQL error through the Management API's SQL endpoint is a Postgres error of the project too.
  const bad = await http('POST', `/v1/projects/${project.ref}/database/query`, { token: project.owner.token, body: { query: 'select * from no_such_table' } });
  assert.equal(bad.status, 400);
});

test('edge_logs: every data-plane request, with method, path and status, in both dialects', async () => {
  for (const q of [MCP_013.api, BIGQUERY.api]) {
    const rows = await until(project, q, (r) => r.some((x) => x.status_code === 409));
    const dup = rows.find((x) => x.status_code === 409);
    assert.deepEqual(Object.keys(dup).sort(), ['event_message', 'id', 'identifier', 'method', 'path', 'status_code', 'timestamp']);
    assert.equal(dup.method, 'POST');
    assert.equal(dup.path, '/rest/v1/notes');
    assert.equal(dup.identifier, project.ref);
    assert.equal(typeof dup.timestamp, 'number');
    assert.ok(Math.abs(dup.timestamp / 1000 - Date.now()) < 60_000, 'timestamp is microseconds since the epoch');
    assert.match(dup.event_message, /^POST \| 409 \| .* \| \/rest\/v1\/notes \| logs-test\/1\.0$/);
    assert.ok(rows.some((x) => x.path === '/auth/v1/settings' && x.status_code === 200));
    assert.ok(rows.some((x) => x.path === '/storage/v1/bucket'));
    // Newest first.
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].timestamp >= rows[i].timestamp);
  }
});

test('postgres_logs: the Postgres errors the project\'s requests met', async () => {
  for (const q of [MCP_013.postgres, BIGQUERY.postgres]) {
    const rows = await until(project, q, (r) => r.length >= 2);
    assert.ok(rows.some((x) => /duplicate key value violates unique constraint "notes_pkey"/.test(x.event_message)), JSON.stringify(rows));
    assert.ok(rows.some((x) => /relation "no_such_table" does not exist/.test(x.event_message)));
    assert.ok(rows.every((x) => x.error_severity === 'ERROR' && x.identifier === project.ref));
  }
});

test('auth_logs and storage_logs: one service each', async () => {
  const auth = await until(project, MCP_013.auth, (r) => r.length >= 1);
  assert.ok(auth.every((x) => x.path.startsWith('/auth/v1/')));
  assert.deepEqual({ level: auth[0].level, status: auth[0].status, msg: auth[0].msg, error: auth[0].error }, { level: 'info', status: 200, msg: 'request completed', error: null });
  const storage = await until(project, BIGQUERY.storage, (r) => r.length >= 1);
  assert.deepEqual(Object.keys(storage[0]).sort(), ['event_message', 'id', 'timestamp']);
  assert.match(storage[0].event_message, /^GET \| 200 \| .*\/storage\/v1\/bucket/);
});

test('realtime_logs: a socket the project accepted', async () => {
  const ws = new WebSocket(`${project.url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${project.anonKey}&vsn=1.0.0`);
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.close();
  const rows = await until(project, 'select id, realtime_logs.timestamp, event_message from realtime_logs order by timestamp desc limit 100', (r) => r.length >= 1);
  assert.match(rows[0].event_message, /^GET \| 101 \| .* \| \/realtime\/v1\/websocket/);
  assert.doesNotMatch(rows[0].event_message, /apikey/, 'the query string (with the key) is not logged');
});

test('filters, order and limit are applied; the window bounds the rows', async () => {
  const rows = (await logs(project, "select id, log_attributes['response.status_code'] as s from logs where source = 'edge_logs' and log_attributes['response.status_code'] >= 400 order by timestamp asc limit 5")).body.result;
  assert.ok(rows.length >= 1 && rows.every((x: any) => x.s >= 400), JSON.stringify(rows));
  const one = await logs(project, 'select id from edge_logs limit 1');
  assert.equal(one.body.result.length, 1);
  const past = await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/logs.all?${new URLSearchParams({
    sql: 'select id from edge_logs', iso_timestamp_start: '2020-01-01T00:00:00Z', iso_timestamp_end: '2020-01-01T01:00:00Z' })}`, { token: project.owner.token });
  assert.deepEqual(past.body, { result: [] });
  // branch-action: Loam has no branches, so no workflow runs.
  assert.deepEqual((await logs(project, 'select workflow_run, workflow_run_logs.timestamp, id, event_message from workflow_run_logs order by timestamp desc limit 100')).body, { result: [] });
});

test('queries it does not understand, unknown sources and bad windows are 400 with a stable code', async () => {
  for (const q of ['delete from edge_logs', 'select count(*) from edge_logs', "select id from logs where source = 'pgbouncer_logs'",
    'select id from edge_logs where regexp_contains(event_message, \'x\')', 'select id from edge_logs order by id']) {
    const res = await logs(project, q);
    assert.equal(res.status, 400, q);
    assert.equal(res.body.code, 'unsupported_log_query', q);
  }
  const wide = await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/logs.all?${new URLSearchParams({
    sql: 'select id from edge_logs', iso_timestamp_start: '2025-01-01T00:00:00Z', iso_timestamp_end: '2025-01-03T00:00:00Z' })}`, { token: project.owner.token });
  assert.deepEqual([wide.status, wide.body.code], [400, 'invalid_timestamp']);
  const bad = await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/logs.all?iso_timestamp_end=yesterday`, { token: project.owner.token });
  assert.deepEqual([bad.status, bad.body.code], [400, 'invalid_timestamp']);
});

test('the recogniser: both dialects map to the same fields', () => {
  assert.deepEqual(parseLogQuery(BIGQUERY.api).columns, [
    { key: 'id', name: 'id' }, { key: 'identifier', name: 'identifier' }, { key: 'timestamp', name: 'timestamp' },
    { key: 'event_message', name: 'event_message' }, { key: 'request.method', name: 'method' },
    { key: 'request.path', name: 'path' }, { key: 'response.status_code', name: 'status_code' },
  ]);
  const ch = parseLogQuery(MCP_013.api);
  assert.equal(ch.source, 'edge_logs');
  assert.deepEqual(ch.columns, parseLogQuery(BIGQUERY.api).columns);
  assert.equal(ch.limit, 100);
});

test('usage counts: per-service buckets and the 24-hour total, in Supabase\'s shapes', async () => {
  const counts = await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/usage.api-counts?interval=1hr`, { token: project.owner.token });
  assert.equal(counts.status, 200);
  assert.equal(counts.body.result.length, 61);
  const sum = (k: string) => counts.body.result.reduce((n: number, b: any) => n + b[k], 0);
  assert.ok(sum('total_rest_requests') >= 3, JSON.stringify(counts.body.result.filter((b: any) => b.total_rest_requests)));
  assert.ok(sum('total_auth_requests') >= 1);
  assert.ok(sum('total_storage_requests') >= 1);
  assert.deepEqual(Object.keys(counts.body.result[0]).sort(), ['timestamp', 'total_auth_requests', 'total_realtime_requests', 'total_rest_requests', 'total_storage_requests']);
  const total = await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/usage.api-requests-count`, { token: project.owner.token });
  assert.equal(total.status, 200);
  assert.ok(total.body.result[0].count >= 5, JSON.stringify(total.body));
  const bad = await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/usage.api-counts?interval=2weeks`, { token: project.owner.token });
  assert.deepEqual([bad.status, bad.body.code], [400, 'invalid_interval']);
});

test('another account sees none of it: 404, as for any project it cannot see', async () => {
  const other = await signup();
  assert.equal((await logs(project, 'select id from edge_logs', other.token)).status, 404);
  assert.equal((await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/usage.api-counts`, { token: other.token })).status, 404);
  assert.equal((await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/usage.api-requests-count`, { token: other.token })).status, 404);
  assert.equal((await http('GET', `/v1/projects/${project.ref}/analytics/endpoints/logs.all`)).status, 401);
  // And its own project's log holds none of this project's requests.
  const mine = await createProject(other);
  await http('GET', `/project/${mine.ref}/auth/v1/settings`, { headers: { apikey: mine.anonKey } });
  const rows = await until(mine, 'select id, request.path from edge_logs cross join unnest(metadata) as m cross join unnest(m.request) as request', (r) => r.length >= 1);
  assert.ok(rows.every((x) => x.path === '/auth/v1/settings'), JSON.stringify(rows));
});

test('the log stays bounded: at most LOAM_REQUEST_LOG_ROWS rows per project', async () => {
  const headers = { apikey: project.anonKey };
  for (let i = 0; i < 25; i++) {
    await Promise.all([1, 2, 3, 4].map(() => http('GET', `/project/${project.ref}/auth/v1/health`, { headers })));
  }
  await until(project, 'select id from auth_logs limit 1000', (r) => r.length >= 50);
  const admin = await adminClient();
  try {
    const { rows } = await admin.query(`select count(*)::int as n from platform_private.request_logs l join platform.projects p on p.id = l.project_id where p.ref = $1`, [project.ref]);
    assert.ok(rows[0].n <= 60 + 4, `kept ${rows[0].n} rows`);
    assert.ok(rows[0].n >= 50);
  } finally { await admin.end(); }
});
