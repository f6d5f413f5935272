// The clients people use, unmodified, against Loam: the Supabase CLI (`functions deploy --use-api`, `functions
// list`, `functions delete`, `secrets set/list/unset`) and the Supabase MCP server over stdio
// (list_edge_functions, get_edge_function, deploy_edge_function), with a personal access token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { adminClient, createProject, http, loam, type Project } from '../helpers/platform.ts';
import { invoke } from './helpers.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const CLI = path.join(root, 'node_modules/.bin/supabase');

/** Runs the CLI with its state in a scratch home, telemetry off, against Loam's Management API: a profile file
 *  (the CLI's way to name another platform) points it at Loam. */
function cli(p: Project, home: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  const origin = new URL(p.url).origin;
  const profile = path.join(home, 'loam-profile.yaml');
  fs.writeFileSync(profile, `name: loam\napi_url: ${origin}\ndashboard_url: ${origin}\nproject_host: localhost\n`);
  return new Promise((resolve) => {
    const child = spawn(CLI, [...args, '--workdir', home, '--profile', profile], {
      cwd: home,
      env: {
        PATH: process.env.PATH, HOME: home, SUPABASE_HOME: path.join(home, '.supabase-home'),
        SUPABASE_API_URL: new URL(p.url).origin, SUPABASE_ACCESS_TOKEN: p.owner.token,
        SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', SUPABASE_DASHBOARD_URL: new URL(p.url).origin, NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

function writeFunction(home: string, slug: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    const full = path.join(home, 'supabase', 'functions', slug, name);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, text);
  }
}

test('the Supabase CLI and MCP server manage edge functions and secrets', async () => {
  const a = await createProject();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-cli-'));
  try {
    await test('supabase functions deploy --use-api, list, delete', async () => {
      writeFunction(home, 'hello-cli', {
        'index.ts': `import { greet } from './lib/greet.ts';\nDeno.serve(() => new Response(greet('cli') + ' ' + (Deno.env.get('CLI_SECRET') ?? 'unset')));`,
        'lib/greet.ts': `export const greet = (n: string) => 'hello ' + n;`,
      });
      const d = await cli(a, home, ['functions', 'deploy', 'hello-cli', '--use-api', '--no-verify-jwt', '--project-ref', a.ref]);
      assert.equal(d.code, 0, d.err + d.out);
      assert.equal((await invoke(a, 'hello-cli')).text, 'hello cli unset');
      const list = await cli(a, home, ['functions', 'list', '--project-ref', a.ref]);
      assert.equal(list.code, 0, list.err);
      assert.match(list.out, /hello-cli/);
    });

    await test('deploying several functions at once: bundle-only uploads, then one bulk update', async () => {
      writeFunction(home, 'first', { 'index.ts': `Deno.serve(() => new Response('first'));` });
      writeFunction(home, 'second', { 'index.ts': `Deno.serve(() => new Response('second'));` });
      const d = await cli(a, home, ['functions', 'deploy', '--use-api', '--no-verify-jwt', '--project-ref', a.ref, '--debug']);
      assert.equal(d.code, 0, d.err + d.out);
      assert.match(d.err, /HTTP PUT: \S+\/v1\/projects\/[a-z]{20}\/functions\b/, 'it made them live in one request');
      // Each was uploaded bundle-only (it validated without going live), and the bulk update made it live.
      const admin = await adminClient();
      const { rows } = await admin.query(`select f.slug, v.go_live, f.live_version_id = v.id as live from platform.function_versions v
        join platform.functions f on f.id = v.function_id join platform.projects p on p.id = f.project_id
        where p.ref = $1 and f.slug in ('first', 'second') order by f.slug`, [a.ref]).finally(() => admin.end());
      assert.deepEqual(rows, [{ slug: 'first', go_live: false, live: true }, { slug: 'second', go_live: false, live: true }]);
      assert.equal((await invoke(a, 'first')).text, 'first');
      assert.equal((await invoke(a, 'second')).text, 'second');
      assert.equal((await invoke(a, 'hello-cli')).text, 'hello cli unset', 'redeployed alongside');
    });

    await test('supabase secrets set, list, unset', async () => {
      const set = await cli(a, home, ['secrets', 'set', 'CLI_SECRET=from-the-cli', '--project-ref', a.ref]);
      assert.equal(set.code, 0, set.err);
      assert.equal((await invoke(a, 'hello-cli')).text, 'hello cli from-the-cli');
      const list = await cli(a, home, ['secrets', 'list', '--project-ref', a.ref]);
      assert.equal(list.code, 0, list.err);
      assert.match(list.out, /CLI_SECRET/);
      assert.doesNotMatch(list.out, /from-the-cli/);
      const unset = await cli(a, home, ['secrets', 'unset', 'CLI_SECRET', '--project-ref', a.ref, '--yes']);
      assert.equal(unset.code, 0, unset.err);
      assert.equal((await invoke(a, 'hello-cli')).text, 'hello cli unset');
    });

    await test('supabase functions delete', async () => {
      const del = await cli(a, home, ['functions', 'delete', 'hello-cli', '--project-ref', a.ref]);
      assert.equal(del.code, 0, del.err);
      assert.equal((await invoke(a, 'hello-cli')).status, 404);
    });

    await test('MCP server: deploy_edge_function, list_edge_functions, get_edge_function', async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [path.join(root, 'node_modules/@supabase/mcp-server-supabase/dist/cli.js'), '--api-url', new URL(a.url).origin,
          '--access-token', a.owner.token, '--features', 'functions'],
        env: { PATH: process.env.PATH ?? '', HOME: home, DO_NOT_TRACK: '1' },
        stderr: 'pipe',
      });
      let stderr = '';
      transport.stderr?.on('data', (c) => { stderr += c; });
      const client = new Client({ name: 'loam-test', version: '1.0.0' });
      await client.connect(transport);
      const call = async (name: string, args: Record<string, unknown>) => {
        const r = await client.callTool({ name, arguments: args }) as { isError?: boolean; content: { type: string; text: string }[] };
        const text = r.content.map((c) => c.text).join('');
        assert.ok(!r.isError, `${name}: ${text}\n${stderr}`);
        return JSON.parse(text);
      };
      try {
        const tools = (await client.listTools()).tools.map((t) => t.name);
        for (const t of ['list_edge_functions', 'get_edge_function', 'deploy_edge_function']) assert.ok(tools.includes(t), t);
        const deployed = await call('deploy_edge_function', {
          project_id: a.ref, name: 'from-mcp', entrypoint_path: 'index.ts', verify_jwt: false,
          files: [
            { name: 'index.ts', content: `import { word } from './word.ts';\nDeno.serve(() => new Response(word));` },
            { name: 'word.ts', content: `export const word = 'mcp';` },
          ],
        });
        assert.equal(deployed.slug, 'from-mcp');
        assert.equal(deployed.version, 1);
        assert.equal((await invoke(a, 'from-mcp')).text, 'mcp');
        const list = await call('list_edge_functions', { project_id: a.ref });
        const mine = list.functions.find((f: { slug: string }) => f.slug === 'from-mcp');
        assert.equal(mine.entrypoint_path, 'index.ts', 'the MCP server reads our paths back as bundle paths');
        const one = await call('get_edge_function', { project_id: a.ref, function_slug: 'from-mcp' });
        assert.equal(one.entrypoint_path, 'index.ts');
        assert.deepEqual(one.files.map((f: { name: string; content: string }) => [f.name, f.content]).sort(), [
          ['index.ts', `import { word } from './word.ts';\nDeno.serve(() => new Response(word));`],
          ['word.ts', `export const word = 'mcp';`],
        ]);
        // A second deploy through the MCP server is a new version.
        const again = await call('deploy_edge_function', {
          project_id: a.ref, name: 'from-mcp', entrypoint_path: 'index.ts', verify_jwt: false,
          files: [{ name: 'index.ts', content: `Deno.serve(() => new Response('mcp v2'));` }],
        });
        assert.equal(again.version, 2);
        assert.equal((await invoke(a, 'from-mcp')).text, 'mcp v2');
      } finally {
        await client.close();
      }
    });
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
