// Supabase's own MCP server (@supabase/mcp-server-supabase 0.13, unmodified) over stdio with `--api-url` at
// Loam and a Loam personal access token, driven by the MCP SDK's client. Every tool the server offers that
// Loam's `/v1` makes possible is called here and its answer asserted:
//   account:     list_organizations, get_organization, list_projects, get_project, get_cost, confirm_cost,
//                create_project (a Supabase region code), pause_project, restore_project
//   database:    list_tables (compact and verbose), list_extensions, list_migrations, apply_migration, execute_sql
//   debugging:   get_logs (every service; listed hidden, as 0.13 offers query_logs instead), query_logs,
//                get_advisors (security and performance)
//   development: get_project_url, get_publishable_keys (legacy anon and sb_publishable_ keys), generate_typescript_types
//   functions:   deploy_edge_function, list_edge_functions, get_edge_function
//   storage:     list_storage_buckets, get_storage_config, update_storage_config
//   branching:   create_branch (after get_cost/confirm_cost), list_branches, merge_branch, rebase_branch,
//                reset_branch, delete_branch
// Tools that cannot work against Loam, and why:
//   search_docs (docs): queries supabase.com's content API, not the Management API — nothing Loam serves.
//   create_edge_function_secret: offered only by a server configured with a dashboard URL for the user to type
//     the value into (elicitation); the stdio server has none. Loam serves the secrets API it would read
//     (/v1/projects/{ref}/secrets), which the CLI's `secrets` commands use.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createProject, http, loam, sql, waitForStatus, type Project } from '../helpers/platform.ts';

const BIN = path.resolve('node_modules/.bin/mcp-server-supabase');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-mcp-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

async function start(token: string, extra: string[] = []): Promise<Client> {
  const { url } = await loam();
  const transport = new StdioClientTransport({
    command: BIN,
    // No docs tools: they fetch supabase.com, which a self-hosted platform's tests must not depend on.
    args: ['--api-url', url, '--features', 'account,database,debugging,development,functions,storage,branching', ...extra],
    env: { PATH: process.env.PATH ?? '', HOME: home, SUPABASE_ACCESS_TOKEN: token, DO_NOT_TRACK: '1' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'loam-test', version: '1.0.0' });
  await client.connect(transport, { timeout: 30_000 });
  return client;
}

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: Record<string, any> };
async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 }) as ToolResult;
  const text = r.content.map((c) => c.text).join('');
  let json: any;
  try { json = JSON.parse(text); } catch { /* an error message */ }
  return { isError: r.isError === true, text, json: r.structuredContent ?? json };
}
async function ok(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = await call(client, name, args);
  assert.equal(r.isError, false, `${name}: ${r.text}`);
  return r;
}
/** The JSON the server wraps in its untrusted-data boundary (execute_sql, get_logs, get_advisors). */
function wrapped(r: { text: string; json?: any }): any {
  const text = typeof r.json?.result === 'string' ? r.json.result : r.text;
  const m = /<untrusted-data-([0-9a-f-]+)>\s*\n([\s\S]*?)\n\s*<\/untrusted-data-\1>/.exec(text);
  if (!m) return r.json?.result ?? r.json;
  return JSON.parse(m[2]);
}
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    assert.ok(Date.now() < deadline, `timed out: ${what}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

let project: Project;
let client: Client;
const id = { project_id: '' };

test('setup: a project with a table, and the server connected over stdio', async () => {
  project = await createProject();
  id.project_id = project.ref;
  await sql(project, 'create table items (id bigint generated always as identity primary key, name text not null); alter table items enable row level security;');
  client = await start(project.owner.token);
});

test('tool list: every group Loam serves is offered', async () => {
  const names = (await client.listTools()).tools.map((t) => t.name);
  for (const n of ['list_organizations', 'get_organization', 'list_projects', 'get_project', 'get_cost', 'confirm_cost', 'create_project',
    'pause_project', 'restore_project', 'list_tables', 'list_extensions', 'list_migrations', 'apply_migration', 'execute_sql',
    'get_advisors', 'get_project_url', 'get_publishable_keys', 'generate_typescript_types', 'list_edge_functions',
    'get_edge_function', 'deploy_edge_function', 'list_storage_buckets', 'get_storage_config', 'update_storage_config',
    'list_branches', 'query_logs']) assert.ok(names.includes(n), `${n} in ${names}`);
});

test('account tools: organizations and projects', async () => {
  const orgs = await ok(client, 'list_organizations');
  assert.ok(orgs.json.organizations.some((o: any) => o.id === project.owner.org), orgs.text);
  const org = await ok(client, 'get_organization', { id: project.owner.org });
  assert.equal(org.json.id, project.owner.org);
  const projects = await ok(client, 'list_projects');
  assert.ok(projects.json.projects.some((p: any) => p.id === project.ref && p.status === 'ACTIVE_HEALTHY'), projects.text);
  const got = await ok(client, 'get_project', { id: project.ref });
  assert.equal(got.json.id, project.ref);
  assert.equal(got.json.status, 'ACTIVE_HEALTHY');
});

test('create_project with a Supabase region code, after the cost confirmation', async () => {
  const cost = await ok(client, 'get_cost', { type: 'project', organization_id: project.owner.org });
  assert.match(cost.text, /"amount":0/);
  const confirmed = await ok(client, 'confirm_cost', { type: 'project', recurrence: 'monthly', amount: 0 });
  const created = await ok(client, 'create_project', {
    name: 'from mcp', region: 'eu-central-1', organization_id: project.owner.org, confirm_cost_id: confirmed.json.confirmation_id,
  });
  assert.equal(created.json.region, 'eu-central-1', created.text);
  assert.equal(created.json.organization_id, project.owner.org);
  await waitForStatus(project.owner.token, created.json.id, 'ACTIVE_HEALTHY', 60_000);
  const got = await ok(client, 'get_project', { id: created.json.id });
  assert.equal(got.json.name, 'from mcp');
  // A code Supabase does not have is refused by the server's own schema before it reaches Loam.
  const bad = await call(client, 'create_project', { name: 'x', region: 'mars-1', organization_id: project.owner.org, confirm_cost_id: confirmed.json.confirmation_id });
  assert.equal(bad.isError, true);
  assert.equal((await http('DELETE', `/v1/projects/${created.json.id}`, { token: project.owner.token })).status, 200);
});

test('database tools: list_tables, execute_sql, list_extensions', async () => {
  const tables = await ok(client, 'list_tables', { ...id, schemas: ['public'] });
  assert.deepEqual(tables.json.tables.map((t: any) => [t.name, t.rls_enabled]), [['public.items', true]]);
  const verbose = await ok(client, 'list_tables', { ...id, schemas: ['public'], verbose: true });
  const items = verbose.json.tables[0];
  assert.deepEqual(items.primary_keys, ['id']);
  assert.deepEqual(items.columns.map((c: any) => c.name), ['id', 'name']);
  await ok(client, 'execute_sql', { ...id, query: "insert into items (name) values ('one')" });
  assert.deepEqual(wrapped(await ok(client, 'execute_sql', { ...id, query: 'select name from items' })), [{ name: 'one' }]);
  const ext = await ok(client, 'list_extensions', id);
  assert.ok(ext.json.extensions.some((e: any) => e.name === 'plpgsql' && e.installed_version), ext.text);
  // The server hands Loam's error back as the tool's answer ({error: {message}}).
  const bad = await call(client, 'execute_sql', { ...id, query: 'select * from nope' });
  assert.match(bad.text, /"error":.*relation \\"nope\\" does not exist/);
});

test('migrations: apply_migration runs and records, list_migrations lists it', async () => {
  assert.deepEqual((await ok(client, 'list_migrations', id)).json.migrations, []);
  const applied = await ok(client, 'apply_migration', { ...id, name: 'create_notes', query: 'create table notes (id bigint primary key, item_id bigint references items (id), body text)' });
  assert.deepEqual(applied.json, { success: true });
  assert.deepEqual(await sql(project, `select count(*)::int as n from pg_tables where schemaname = 'public' and tablename = 'notes'`), [{ n: 1 }]);
  const listed = (await ok(client, 'list_migrations', id)).json.migrations;
  assert.equal(listed.length, 1);
  assert.equal(listed[0].name, 'create_notes');
  assert.match(listed[0].version, /^\d{14}$/);
  // The CLI's history table holds the same row.
  assert.deepEqual(await sql(project, 'select name from supabase_migrations.schema_migrations'), [{ name: 'create_notes' }]);
  // A failing migration is not recorded.
  const bad = await call(client, 'apply_migration', { ...id, name: 'broken', query: 'create table notes (id int)' });
  assert.equal(bad.isError, true);
  assert.match(bad.text, /already exists/);
  assert.equal((await ok(client, 'list_migrations', id)).json.migrations.length, 1);
});

test('advisors: security and performance lints of the project\'s schema', async () => {
  await sql(project, 'create table open_table (id int primary key)');
  const security = wrapped(await ok(client, 'get_advisors', { ...id, type: 'security' }));
  const rls = security.lints.find((l: any) => l.name === 'rls_disabled_in_public');
  assert.ok(rls, JSON.stringify(security));
  assert.equal(rls.level, 'ERROR');
  assert.equal(rls.facing, 'EXTERNAL');
  assert.deepEqual(rls.categories, ['SECURITY']);
  assert.ok(rls.findings.some((f: any) => f.metadata.name === 'open_table'), JSON.stringify(rls));
  assert.ok(!rls.findings.some((f: any) => f.metadata.name === 'items'), 'items has RLS on');
  const performance = wrapped(await ok(client, 'get_advisors', { ...id, type: 'performance' }));
  const fk = performance.lints.find((l: any) => l.name === 'unindexed_foreign_keys');
  assert.ok(fk, JSON.stringify(performance));
  assert.ok(fk.findings.some((f: any) => f.metadata.name === 'notes'), JSON.stringify(fk));
});

test('development tools: project URL, publishable keys (legacy and new), TypeScript types', async () => {
  // The server builds the URL itself from the API host (not from Loam): it answers, with its own domain.
  assert.match((await ok(client, 'get_project_url', id)).json.url, new RegExp(`^https://${project.ref}\\.`));
  const created = await http('POST', `/v1/projects/${project.ref}/api-keys`, { token: project.owner.token, body: { type: 'publishable', name: 'web_app' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { keys } = (await ok(client, 'get_publishable_keys', id)).json;
  assert.ok(keys.some((k: any) => k.type === 'legacy' && k.name === 'anon' && k.api_key === project.anonKey), JSON.stringify(keys));
  assert.ok(keys.some((k: any) => k.type === 'publishable' && k.name === 'web_app' && /^sb_publishable_/.test(k.api_key)), JSON.stringify(keys));
  const types = await ok(client, 'generate_typescript_types', id);
  assert.match(types.json.types, /export type Database = \{/);
  assert.match(types.json.types, /items: \{\s*Row: \{\s*id: number\s*name: string/);
  assert.match(types.json.types, /referencedRelation: "items"/);
});

test('edge functions: deploy, list, get (with files), invoke', async () => {
  const source = 'Deno.serve(() => new Response("hi"));';
  const deployed = await ok(client, 'deploy_edge_function', {
    ...id, name: 'hello', entrypoint_path: 'index.ts', verify_jwt: false, files: [{ name: 'index.ts', content: source }],
  });
  assert.equal(deployed.json.slug, 'hello', deployed.text);
  assert.equal(await (await fetch(`${project.url}/functions/v1/hello`, { headers: { apikey: project.anonKey } })).text(), 'hi');
  const listed = (await ok(client, 'list_edge_functions', id)).json.functions;
  assert.deepEqual(listed.map((f: any) => [f.slug, f.status, f.version]), [['hello', 'ACTIVE', 1]]);
  const got = (await ok(client, 'get_edge_function', { ...id, function_slug: 'hello' })).json;
  assert.equal(got.slug, 'hello');
  assert.equal(got.entrypoint_path, 'index.ts');
  assert.deepEqual(got.files.map((f: any) => [f.name, f.content]), [['index.ts', source]]);
  // A second deploy is version 2.
  await ok(client, 'deploy_edge_function', { ...id, name: 'hello', files: [{ name: 'index.ts', content: 'Deno.serve(() => new Response("v2"));' }] });
  assert.equal((await ok(client, 'get_edge_function', { ...id, function_slug: 'hello' })).json.version, 2);
});

test('storage tools: buckets and storage config', async () => {
  assert.deepEqual((await ok(client, 'list_storage_buckets', id)).json.buckets, []);
  const made = await fetch(`${project.url}/storage/v1/bucket`, {
    method: 'POST', headers: { apikey: project.serviceKey, authorization: `Bearer ${project.serviceKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'avatars', public: true }),
  });
  assert.equal(made.status, 200, await made.text());
  const buckets = (await ok(client, 'list_storage_buckets', id)).json.buckets;
  assert.deepEqual(buckets.map((b: any) => [b.name, b.public]), [['avatars', true]]);
  assert.equal(typeof (await ok(client, 'get_storage_config', id)).json.fileSizeLimit, 'number');
  await ok(client, 'update_storage_config', { ...id, config: { fileSizeLimit: 1_000_000, features: { imageTransformation: { enabled: false }, s3Protocol: { enabled: true } } } });
  assert.equal((await ok(client, 'get_storage_config', id)).json.fileSizeLimit, 1_000_000);
});

test('logs: get_logs for every service and query_logs read Loam\'s logs of the project', async () => {
  await http('GET', `/project/${project.ref}/rest/v1/items`, { headers: { apikey: project.anonKey } });
  const logs = async (service: string) => wrapped(await ok(client, 'get_logs', { ...id, service })).result as any[];
  await until('the API request in the api log', async () => (await logs('api')).find((x) => x.path === '/rest/v1/items' && x.method === 'GET'));
  // The failing execute_sql above is in the Postgres log.
  await until('the error in the postgres log', async () => (await logs('postgres')).find((x) => /relation "nope" does not exist/.test(x.event_message)));
  await until('the invocation in the edge-function log', async () => (await logs('edge-function')).find((x) => x.status_code === 200 && x.method === 'GET'));
  for (const service of ['edge-function-runtime', 'auth', 'storage', 'realtime', 'branch-action']) {
    assert.ok(Array.isArray(await logs(service)), service);
  }
  // query_logs: the server's own ClickHouse-style query over the unified log stream.
  const r = await ok(client, 'query_logs', { ...id, sql: "select id, timestamp, log_attributes['request.path'] as path from logs where source = 'edge_logs' order by timestamp desc limit 5" });
  assert.ok((wrapped(r).result as any[]).some((x) => x.path === '/rest/v1/items'), r.text);
});

test('branching tools: create, list, apply on the branch, merge, rebase, reset, delete', async () => {
  // A parent whose whole schema is in its migration history (this file's project made `items` outside it, and
  // a branch is built from the history alone, as on Supabase).
  const parent = await createProject(project.owner);
  const pid = { project_id: parent.ref };
  const cost = await ok(client, 'get_cost', { type: 'branch', organization_id: project.owner.org });
  const confirmed = await ok(client, 'confirm_cost', { type: 'branch', recurrence: cost.json.recurrence ?? 'hourly', amount: cost.json.amount ?? 0.01344 });
  const created = await ok(client, 'create_branch', { ...pid, name: 'mcp-branch', confirm_cost_id: confirmed.json.confirmation_id });
  const branch = created.json;
  assert.equal(branch.name, 'mcp-branch');
  assert.equal(branch.parent_project_ref, parent.ref);
  const ready = async () => until('the branch built', async () => {
    const list = (await ok(client, 'list_branches', pid)).json.branches as any[];
    const b = list.find((x) => x.id === branch.id);
    assert.notEqual(b?.status, 'MIGRATIONS_FAILED', JSON.stringify(b));
    return b?.status === 'MIGRATIONS_PASSED' ? list : undefined;
  }, 60_000);
  const list = await ready();
  assert.deepEqual(list.map((b) => b.name), ['main', 'mcp-branch']);
  // A migration made on the branch reaches the parent by merge_branch.
  await ok(client, 'apply_migration', { project_id: branch.project_ref, name: 'mcp_branch_table', query: 'create table from_branch (id int)' });
  await ok(client, 'merge_branch', { branch_id: branch.id });
  assert.deepEqual(await sql(parent, `select to_regclass('public.from_branch')::text as t`), [{ t: 'from_branch' }]);
  // One made on the parent reaches the branch by rebase_branch (Supabase's push).
  await new Promise((r) => setTimeout(r, 1100)); // a new second, so the parent's next version is its own
  await ok(client, 'apply_migration', { ...pid, name: 'mcp_parent_table', query: 'create table from_parent (id int)' });
  await ok(client, 'rebase_branch', { branch_id: branch.id });
  const onBranch = await ok(client, 'execute_sql', { project_id: branch.project_ref, query: `select to_regclass('public.from_parent')::text as t` });
  assert.deepEqual(wrapped(onBranch), [{ t: 'from_parent' }]);
  await ok(client, 'reset_branch', { branch_id: branch.id });
  await ready();
  await ok(client, 'delete_branch', { branch_id: branch.id });
  assert.deepEqual((await ok(client, 'list_branches', pid)).json.branches.map((b: any) => b.name), ['main']);
  await http('DELETE', `/v1/projects/${parent.ref}`, { token: project.owner.token });
});

test('another account\'s token sees none of the project', async () => {
  const other = await createProject();
  const theirs = await start(other.owner.token);
  try {
    for (const [name, args] of [['execute_sql', { query: 'select 1' }], ['list_migrations', {}], ['get_advisors', { type: 'security' }],
      ['generate_typescript_types', {}], ['get_logs', { service: 'api' }], ['list_edge_functions', {}], ['list_storage_buckets', {}]] as const) {
      const r = await call(theirs, name, { ...id, ...args });
      assert.equal(r.isError, true, name);
      assert.match(r.text, /not found/i, name);
    }
    const apply = await call(theirs, 'apply_migration', { ...id, name: 'evil', query: 'drop table items' });
    assert.equal(apply.isError, true);
    assert.deepEqual(await sql(project, `select count(*)::int as n from pg_tables where tablename = 'items'`), [{ n: 1 }]);
    assert.doesNotMatch((await ok(theirs, 'list_projects')).text, new RegExp(project.ref));
  } finally { await theirs.close(); }
});

test('--read-only: the server hides write tools and its SQL runs in Loam\'s read-only transactions', async () => {
  const ro = await start(project.owner.token, ['--read-only']);
  try {
    const names = (await ro.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes('apply_migration') && !names.includes('deploy_edge_function'), names.join());
    assert.deepEqual(wrapped(await ok(ro, 'execute_sql', { ...id, query: 'select count(*)::int as n from items' })), [{ n: 1 }]);
    const write = await call(ro, 'execute_sql', { ...id, query: 'delete from items' });
    assert.match(write.text, /read-only transaction/);
    assert.deepEqual(await sql(project, 'select count(*)::int as n from items'), [{ n: 1 }]);
  } finally { await ro.close(); }
});

test('pause_project and restore_project', async () => {
  await ok(client, 'pause_project', id);
  await waitForStatus(project.owner.token, project.ref, 'INACTIVE');
  await ok(client, 'restore_project', id);
  await waitForStatus(project.owner.token, project.ref, 'ACTIVE_HEALTHY', 60_000);
});

test('teardown', async () => { await client.close(); });
