// Loam's own MCP endpoints (`/v1/projects/{ref}/mcp`, `/mcp`) driven by the MCP SDK's Streamable HTTP client:
// the tool list, tool calls that reach the project, and the boundaries — no token, another account's project,
// a read-only token's writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createProject, http, loam, sql, waitForStatus, type Project } from '../helpers/platform.ts';

async function connect(path: string, token?: string): Promise<Client> {
  const { url } = await loam();
  const client = new Client({ name: 'loam-test', version: '1.0.0' });
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url + path), { requestInit: { headers } }));
  return client;
}

type ToolResult = { isError?: boolean; content: { type: string; text: string }[] };
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; text: string; json: any }> {
  const r = await client.callTool({ name, arguments: args }) as ToolResult;
  const text = r.content.map((c) => c.text).join('');
  let json: unknown;
  try { json = JSON.parse(text); } catch { /* an error message */ }
  return { isError: r.isError === true, text, json };
}

async function ok(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = await call(client, name, args);
  assert.equal(r.isError, false, `${name}: ${r.text}`);
  return r.json;
}

let project: Project;
let client: Client;

test('setup', async () => {
  project = await createProject();
  await sql(project, 'create table todos (id bigint generated always as identity primary key, title text not null); alter table todos enable row level security;');
  client = await connect(`/v1/projects/${project.ref}/mcp`, project.owner.token);
});

test('the project endpoint lists the Supabase tools with project_id filled in', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const n of ['list_tables', 'list_extensions', 'execute_sql', 'apply_migration', 'list_migrations', 'get_advisors', 'get_logs',
    'generate_typescript_types', 'get_project_url', 'get_anon_key', 'get_publishable_keys', 'list_edge_functions', 'get_edge_function',
    'deploy_edge_function', 'list_storage_buckets', 'get_storage_config', 'run_sql', 'get_table_schema', 'list_auth_users',
    'create_auth_user', 'delete_auth_user', 'get_project_info']) assert.ok(names.includes(n), `missing ${n}`);
  assert.ok(!names.includes('list_projects'), 'account tools belong to the platform endpoint');
  const exec = tools.find((t) => t.name === 'execute_sql')!;
  assert.deepEqual(exec.inputSchema.required, ['query']);
  assert.equal(exec.annotations?.readOnlyHint, false);
  assert.equal(tools.find((t) => t.name === 'list_tables')!.annotations?.readOnlyHint, true);
});

test('database tools: list_tables, get_table_schema, execute_sql, run_sql, list_extensions', async () => {
  const tables = await ok(client, 'list_tables', { schemas: ['public'] });
  const todos = tables.find((t: any) => t.name === 'todos');
  assert.equal(todos.schema, 'public');
  assert.equal(todos.rls_enabled, true);
  assert.deepEqual(todos.primary_keys, ['id']);
  assert.deepEqual(todos.columns.map((c: any) => c.name), ['id', 'title']);
  const cols = await ok(client, 'get_table_schema', { table: 'todos' });
  assert.deepEqual(cols.map((c: any) => [c.column_name, c.nullable]), [['id', false], ['title', false]]);
  await ok(client, 'execute_sql', { query: "insert into todos (title) values ('from mcp')" });
  assert.deepEqual(await ok(client, 'run_sql', { query: 'select title from todos', read_only: true }), [{ title: 'from mcp' }]);
  const bad = await call(client, 'execute_sql', { query: 'select * from nope' });
  assert.equal(bad.isError, true);
  assert.match(bad.text, /^400: relation "nope" does not exist/);
  const ext = await ok(client, 'list_extensions');
  assert.ok(ext.some((e: any) => e.name === 'plpgsql' && e.installed_version));
});

test('development tools: project URL, keys, project info', async () => {
  const { url } = await ok(client, 'get_project_url');
  assert.equal(url, project.url);
  assert.deepEqual(await ok(client, 'get_anon_key'), { anon_key: project.anonKey });
  const { keys } = await ok(client, 'get_publishable_keys');
  assert.deepEqual(keys.map((k: any) => [k.name, k.type, k.api_key]), [['anon', 'legacy', project.anonKey]]);
  const info = await ok(client, 'get_project_info');
  assert.equal(info.ref, project.ref);
  assert.equal(info.anon_key, project.anonKey);
});

test('migrations, advisors and types: apply_migration records, list_migrations lists, get_advisors lints, generate_typescript_types', async () => {
  assert.deepEqual(await ok(client, 'list_migrations'), []);
  await ok(client, 'apply_migration', { name: 'create_comments', query: 'create table comments (id bigint primary key, todo_id bigint references todos (id), body text)' });
  const listed = await ok(client, 'list_migrations');
  assert.deepEqual(listed.map((m: any) => m.name), ['create_comments']);
  assert.match(listed[0].version, /^\d{14}$/);
  assert.deepEqual(await sql(project, 'select name from supabase_migrations.schema_migrations'), [{ name: 'create_comments' }]);
  const broken = await call(client, 'apply_migration', { name: 'broken', query: 'create table comments (id int)' });
  assert.equal(broken.isError, true);
  assert.match(broken.text, /already exists/);
  assert.equal((await ok(client, 'list_migrations')).length, 1);

  const security = await ok(client, 'get_advisors', { type: 'security' });
  const rls = security.lints.filter((l: any) => l.name === 'rls_disabled_in_public');
  assert.deepEqual(rls.map((l: any) => l.metadata.name), ['comments']);
  assert.equal(rls[0].level, 'ERROR');
  assert.deepEqual(rls[0].categories, ['SECURITY']);
  assert.equal(typeof rls[0].cache_key, 'string');
  const performance = await ok(client, 'get_advisors', { type: 'performance' });
  assert.ok(performance.lints.some((l: any) => l.name === 'unindexed_foreign_keys' && l.metadata.name === 'comments'), JSON.stringify(performance));
  const bad = await call(client, 'get_advisors', { type: 'cost' });
  assert.equal(bad.isError, true);

  const { types } = await ok(client, 'generate_typescript_types');
  assert.match(types, /export type Database = \{/);
  assert.match(types, /comments: \{\s*Row: \{\s*body: string \| null\s*id: number\s*todo_id: number \| null/);
  assert.match(types, /referencedRelation: "todos"/);
  await sql(project, 'drop table comments');
});

test('auth users: create, list, delete through the project\'s auth admin API', async () => {
  const user = await ok(client, 'create_auth_user', { email: 'mcp-user@example.com', password: 'a long password 1' });
  assert.equal(user.email, 'mcp-user@example.com');
  const listed = await ok(client, 'list_auth_users');
  assert.deepEqual(listed.users.map((u: any) => u.email), ['mcp-user@example.com']);
  await ok(client, 'delete_auth_user', { user_id: user.id });
  assert.deepEqual((await ok(client, 'list_auth_users')).users, []);
  const bad = await call(client, 'delete_auth_user', { user_id: '../../x' });
  assert.equal(bad.isError, true);
});

test('storage and logs', async () => {
  assert.deepEqual(await ok(client, 'list_storage_buckets'), []);
  const cfg = await ok(client, 'get_storage_config');
  assert.equal(typeof cfg.fileSizeLimit, 'number');
  // A data-plane request, then the API log shows it.
  await http('GET', `/project/${project.ref}/rest/v1/todos`, { headers: { apikey: project.anonKey } });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const logs = await ok(client, 'get_logs', { service: 'api' });
    if (logs.result.some((r: any) => r.path === '/rest/v1/todos' && r.method === 'GET')) break;
    assert.ok(Date.now() < deadline, JSON.stringify(logs));
    await new Promise((r) => setTimeout(r, 200));
  }
  const pg = await ok(client, 'get_logs', { service: 'postgres' });
  assert.ok(pg.result.some((r: any) => /relation "nope" does not exist/.test(r.event_message)), JSON.stringify(pg));
});

test('no token: the connection is refused with 401', async () => {
  await assert.rejects(connect(`/v1/projects/${project.ref}/mcp`), /401|nauthorized/);
  await assert.rejects(connect('/mcp'), /401|nauthorized/);
  const raw = await http('POST', '/mcp', { body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers: { accept: 'application/json, text/event-stream' } });
  assert.equal(raw.status, 401);
});

test('another account: its token cannot open this project\'s endpoint, nor reach the project through /mcp', async () => {
  const other = await createProject();
  await assert.rejects(connect(`/v1/projects/${project.ref}/mcp`, other.owner.token), /404|not found/i);
  const platform = await connect('/mcp', other.owner.token);
  try {
    const projects = await ok(platform, 'list_projects');
    assert.deepEqual(projects.map((p: any) => p.ref), [other.ref]);
    for (const [name, args] of [['execute_sql', { query: 'select 1' }], ['list_tables', {}], ['get_anon_key', {}], ['list_auth_users', {}], ['list_migrations', {}],
      ['apply_migration', { name: 'evil', query: 'drop table todos' }], ['get_advisors', { type: 'security' }], ['generate_typescript_types', {}]] as const) {
      const r = await call(platform, name, { project_id: project.ref, ...args });
      assert.equal(r.isError, true, name);
      assert.match(r.text, /^404: Project not found/, name);
    }
    const theirs = await ok(platform, 'execute_sql', { project_id: other.ref, query: 'select 1 as one' });
    assert.deepEqual(theirs, [{ one: 1 }]);
    const bad = await call(platform, 'get_project', { id: '..' });
    assert.equal(bad.isError, true);
  } finally { await platform.close(); }
});

test('a read-only token reads but cannot write', async () => {
  const created = await http('POST', '/v1/auth/tokens', { token: project.owner.token, body: { name: 'ro', scopes: ['read'] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const ro = await connect(`/v1/projects/${project.ref}/mcp`, created.body.token);
  try {
    assert.ok((await ok(ro, 'list_tables')).some((t: any) => t.name === 'todos'));
    assert.deepEqual(await ok(ro, 'run_sql', { query: 'select count(*)::int as n from todos', read_only: true }), [{ n: 1 }]);
    const write = await call(ro, 'execute_sql', { query: 'delete from todos' });
    assert.equal(write.isError, true);
    assert.match(write.text, /^403: /);
    // Auth-user writes go through the service key, which a read token may read: the tool asks for write itself.
    const create = await call(ro, 'create_auth_user', { email: 'x@example.com', password: 'another long one 2' });
    assert.equal(create.isError, true);
    assert.match(create.text, /^403: .*projects:write/);
    assert.ok(Array.isArray((await ok(ro, 'list_auth_users')).users));
    assert.equal((await ok(ro, 'get_project_info')).ref, project.ref);
  } finally { await ro.close(); }
  assert.deepEqual(await ok(client, 'run_sql', { query: 'select count(*)::int as n from todos', read_only: true }), [{ n: 1 }]);
});

test('the platform endpoint: account tools, and GET answers the connection config', async () => {
  const platform = await connect('/mcp', project.owner.token);
  try {
    const { tools } = await platform.listTools();
    const exec = tools.find((t) => t.name === 'execute_sql')!;
    assert.deepEqual(exec.inputSchema.required, ['project_id', 'query']);
    const orgs = await ok(platform, 'list_organizations');
    assert.equal(orgs[0].id, project.owner.org);
    assert.equal((await ok(platform, 'get_organization', { id: project.owner.org })).id, project.owner.org);
    assert.equal((await ok(platform, 'get_project', { id: project.ref })).status, 'ACTIVE_HEALTHY');
    // create_project takes Supabase's region codes.
    const created = await ok(platform, 'create_project', { name: 'mcp made', organization_id: project.owner.org, region: 'ap-southeast-1' });
    assert.equal(created.region, 'ap-southeast-1');
    await waitForStatus(project.owner.token, created.id, 'ACTIVE_HEALTHY', 60_000);
    assert.equal((await http('DELETE', `/v1/projects/${created.id}`, { token: project.owner.token })).status, 200);
  } finally { await platform.close(); }
  const { url } = await loam();
  const cfg = await http('GET', `/v1/projects/${project.ref}/mcp`, { token: project.owner.token });
  assert.equal(cfg.status, 200);
  assert.equal(cfg.body.mcpServers.loam.url, `${url}/v1/projects/${project.ref}/mcp`);
  assert.equal(cfg.body.mcpServers.loam.type, 'http');
  assert.equal((await http('GET', '/mcp')).body.mcpServers.loam.url, `${url}/mcp`);
});

test('edge functions: deploy, list, get (with files), and their logs', async () => {
  const source = 'Deno.serve(() => { console.log("hi from mcp"); return Response.json({ ok: true }); });';
  const fn = await ok(client, 'deploy_edge_function', { name: 'hello-mcp', files: [{ name: 'index.ts', content: source }], verify_jwt: false });
  assert.equal(fn.slug, 'hello-mcp');
  assert.deepEqual((await ok(client, 'list_edge_functions')).map((f: any) => f.slug), ['hello-mcp']);
  const got = await ok(client, 'get_edge_function', { function_slug: 'hello-mcp' });
  assert.deepEqual(got.files, [{ name: 'index.ts', content: source }]);
  const inv = await fetch(`${project.url}/functions/v1/hello-mcp`, { method: 'POST', headers: { apikey: project.anonKey } });
  assert.deepEqual(await inv.json(), { ok: true });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const logs = await ok(client, 'get_logs', { service: 'edge-function' });
    const row = logs.result.find((r: any) => r.function_id === fn.id);
    if (row) {
      assert.equal(row.status_code, 200);
      assert.equal(row.method, 'POST');
      assert.equal(row.version, '1');
      break;
    }
    assert.ok(Date.now() < deadline, JSON.stringify(logs));
    await new Promise((r) => setTimeout(r, 200));
  }
});

test('the project\'s service key opens the project endpoint with the tools the data plane serves for it', async () => {
  const keyed = await connect(`/v1/projects/${project.ref}/mcp`, project.serviceKey);
  try {
    const names = (await keyed.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['create_auth_user', 'delete_auth_user', 'get_project_url', 'list_auth_users', 'list_storage_buckets']);
    assert.deepEqual(await ok(keyed, 'get_project_url'), { url: project.url });
    const user = await ok(keyed, 'create_auth_user', { email: 'keyed@example.com', password: 'a long password 3' });
    assert.ok((await ok(keyed, 'list_auth_users')).users.some((u: any) => u.id === user.id));
    await ok(keyed, 'delete_auth_user', { user_id: user.id });
    assert.deepEqual(await ok(keyed, 'list_storage_buckets'), []);
    const sqlTool = await call(keyed, 'execute_sql', { query: 'select 1' });
    assert.equal(sqlTool.isError, true, 'a key connection has no SQL tool');
  } finally { await keyed.close(); }
  // The anon key, another project's service key, and this project's key on another project's endpoint: refused.
  await assert.rejects(connect(`/v1/projects/${project.ref}/mcp`, project.anonKey), /403|service_role/);
  const other = await createProject();
  await assert.rejects(connect(`/v1/projects/${project.ref}/mcp`, other.serviceKey), /401|nauthorized/);
  await assert.rejects(connect(`/v1/projects/${other.ref}/mcp`, project.serviceKey), /401|nauthorized/);
  // A key is no access token: the platform endpoint and the Management API refuse it.
  await assert.rejects(connect('/mcp', project.serviceKey), /401|nauthorized/);
});

test('teardown', async () => { await client.close(); });
