// Supabase's own MCP server (@supabase/mcp-server-supabase 0.13, unmodified) over stdio with `--api-url` at
// Loam and a Loam personal access token, driven by the MCP SDK's client: every tool Loam's `/v1` serves today.
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
    args: ['--api-url', url, '--features', 'account,database,debugging,development,functions,storage', ...extra],
    env: { PATH: process.env.PATH ?? '', HOME: home, SUPABASE_ACCESS_TOKEN: token, DO_NOT_TRACK: '1' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'loam-test', version: '1.0.0' });
  await client.connect(transport, { timeout: 30_000 });
  return client;
}

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: Record<string, unknown> };
async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 }) as ToolResult;
  const text = r.content.map((c) => c.text).join('');
  return { isError: r.isError === true, text, structured: r.structuredContent };
}
async function ok(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = await call(client, name, args);
  assert.equal(r.isError, false, `${name}: ${r.text}`);
  return r;
}
/** The JSON the server wraps in its untrusted-data boundary (execute_sql, get_logs). */
function wrapped(r: { text: string; structured?: Record<string, unknown> }): any {
  let text = typeof r.structured?.result === 'string' ? r.structured.result : r.text;
  try { text = JSON.parse(text).result ?? text; } catch { /* the text itself */ }
  const m = /<untrusted-data-([0-9a-f-]+)>\s*\n([\s\S]*?)\n\s*<\/untrusted-data-\1>/.exec(text);
  assert.ok(m, text);
  return JSON.parse(m[2]);
}

let project: Project;
let client: Client;

test('setup: a project with a table, and the server connected over stdio', async () => {
  project = await createProject();
  await sql(project, 'create table items (id bigint generated always as identity primary key, name text not null); alter table items enable row level security;');
  client = await start(project.owner.token);
});

test('tool list', async () => {
  const names = (await client.listTools()).tools.map((t) => t.name);
  for (const n of ['list_organizations', 'get_organization', 'list_projects', 'get_project', 'list_tables', 'list_extensions',
    'execute_sql', 'get_project_url', 'get_publishable_keys', 'list_edge_functions', 'get_edge_function',
    'list_storage_buckets', 'get_storage_config']) assert.ok(names.includes(n), `${n} in ${names}`);
});

test('account tools: organizations and projects', async () => {
  const orgs = await ok(client, 'list_organizations');
  assert.match(orgs.text, new RegExp(project.owner.org));
  assert.match((await ok(client, 'get_organization', { id: project.owner.org })).text, new RegExp(project.owner.org));
  assert.match((await ok(client, 'list_projects')).text, new RegExp(project.ref));
  assert.match((await ok(client, 'get_project', { id: project.ref })).text, /ACTIVE_HEALTHY/);
});

test('database tools: list_tables, execute_sql, list_extensions', async () => {
  const tables = await ok(client, 'list_tables', { project_id: project.ref, schemas: ['public'] });
  assert.match(tables.text, /items/);
  await ok(client, 'execute_sql', { project_id: project.ref, query: "insert into items (name) values ('one')" });
  const rows = await ok(client, 'execute_sql', { project_id: project.ref, query: 'select name from items' });
  assert.deepEqual(wrapped(rows), [{ name: 'one' }]);
  assert.match((await ok(client, 'list_extensions', { project_id: project.ref })).text, /plpgsql/);
});

test('development tools: project URL and publishable keys', async () => {
  // The server builds the URL itself from the API host (not from Loam): it answers, but with its own domain.
  assert.match((await ok(client, 'get_project_url', { project_id: project.ref })).text, new RegExp(`https://${project.ref}\\.`));
  assert.match((await ok(client, 'get_publishable_keys', { project_id: project.ref })).text, new RegExp(project.anonKey.slice(0, 40)));
});

test('edge function and storage tools', async () => {
  const deployed = await ok(client, 'deploy_edge_function', {
    project_id: project.ref, name: 'hello', entrypoint_path: 'index.ts', verify_jwt: false,
    files: [{ name: 'index.ts', content: 'Deno.serve(() => new Response("hi"));' }],
  });
  assert.match(deployed.text, /"slug":"hello"/);
  assert.equal(await (await fetch(`${project.url}/functions/v1/hello`, { headers: { apikey: project.anonKey } })).text(), 'hi');
  // Supabase answers `entrypoint_path` as a file:// URL, which this server turns into a path; Loam answers
  // the bundle-relative path, so the server's own URL parsing fails (Invalid URL) until functions answer URLs.
  for (const [name, args] of [['list_edge_functions', {}], ['get_edge_function', { function_slug: 'hello' }]] as const) {
    const r = await call(client, name, { project_id: project.ref, ...args });
    if (!r.isError) assert.match(r.text, /hello/);
    else assert.match(r.text, /Invalid URL/, `${name}: ${r.text}`);
  }
  assert.match((await ok(client, 'list_storage_buckets', { project_id: project.ref })).text, /\[\]/);
  assert.match((await ok(client, 'get_storage_config', { project_id: project.ref })).text, /fileSizeLimit/);
  await ok(client, 'update_storage_config', { project_id: project.ref, config: { fileSizeLimit: 1_000_000, features: { imageTransformation: { enabled: false }, s3Protocol: { enabled: true } } } });
  assert.match((await ok(client, 'get_storage_config', { project_id: project.ref })).text, /"fileSizeLimit":1000000/);
});

test('logs: the server\'s own log query for the API reaches Loam\'s request log', async () => {
  await http('GET', `/project/${project.ref}/rest/v1/items`, { headers: { apikey: project.anonKey } });
  const names = (await client.listTools()).tools.map((t) => t.name);
  // 0.13 hides get_logs behind query_logs on the Management API platform; a hidden tool still answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await ok(client, 'get_logs', { project_id: project.ref, service: 'api' });
    const rows = wrapped(r).result as any[];
    if (rows.some((x) => x.path === '/rest/v1/items')) break;
    assert.ok(Date.now() < deadline, r.text);
    await new Promise((res) => setTimeout(res, 300));
  }
  // Every service's query is understood (answers `{result: [...]}`), whatever it holds yet.
  for (const service of ['postgres', 'edge-function', 'edge-function-runtime', 'auth', 'storage', 'realtime', 'branch-action']) {
    const r = await ok(client, 'get_logs', { project_id: project.ref, service });
    assert.ok(Array.isArray(wrapped(r).result), `${service}: ${r.text}`);
  }
  const fn = wrapped(await ok(client, 'get_logs', { project_id: project.ref, service: 'edge-function' })).result as any[];
  assert.ok(fn.some((x) => x.status_code === 200 && x.method === 'GET'), JSON.stringify(fn));
  if (names.includes('query_logs')) {
    const r = await ok(client, 'query_logs', { project_id: project.ref, sql: "select id, timestamp, log_attributes['request.path'] as path from logs where source = 'edge_logs' order by timestamp desc limit 5" });
    assert.ok((wrapped(r).result as any[]).some((x) => x.path === '/rest/v1/items'), r.text);
  }
});

test('project tools: cost confirmation', async () => {
  assert.match((await ok(client, 'get_cost', { type: 'project', organization_id: project.owner.org })).text, /"amount":0/);
  assert.match((await ok(client, 'confirm_cost', { type: 'project', recurrence: 'monthly', amount: 0 })).text, /confirmation_id/);
});

test('another account\'s token sees none of the project', async () => {
  const other = await createProject();
  const theirs = await start(other.owner.token);
  try {
    const r = await call(theirs, 'execute_sql', { project_id: project.ref, query: 'select 1' });
    assert.equal(r.isError, true);
    assert.match(r.text, /not found/i);
    assert.doesNotMatch((await ok(theirs, 'list_projects')).text, new RegExp(project.ref));
  } finally { await theirs.close(); }
});

test('pause_project and restore_project', async () => {
  await ok(client, 'pause_project', { project_id: project.ref });
  await waitForStatus(project.owner.token, project.ref, 'INACTIVE');
  await ok(client, 'restore_project', { project_id: project.ref });
  await waitForStatus(project.owner.token, project.ref, 'ACTIVE_HEALTHY', 60_000);
});

test('teardown', async () => { await client.close(); });
