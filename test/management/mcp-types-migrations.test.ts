// The Supabase MCP server (@supabase/mcp-server-supabase over stdio, --api-url at Loam) calling the endpoints
// its tools use: list_migrations, apply_migration, get_advisors, generate_typescript_types.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createProject, http, loam, sql } from '../helpers/platform.ts';

const SERVER = path.resolve(import.meta.dirname, '../../node_modules/@supabase/mcp-server-supabase/dist/cli.js');

test('MCP server: apply_migration, list_migrations, get_advisors and generate_typescript_types work against Loam', async () => {
  const p = await createProject();
  const pat = await http('POST', '/v1/auth/tokens', { token: p.owner.token, body: { name: 'mcp' } });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER, '--access-token', pat.body.token, '--api-url', (await loam()).url, '--project-ref', p.ref,
      '--features', 'database,debugging,development'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { if (stderr.length < 100_000) stderr += d; });
  const client = new Client({ name: 'loam-test', version: '1.0.0' });
  const timer = setTimeout(() => void transport.close(), 120_000);
  try {
    await client.connect(transport).catch((err) => { throw new Error(`${err}\n${stderr}`); });
    const call = async (name: string, args: Record<string, unknown> = {}) => {
      const res = await client.callTool({ name, arguments: args }) as { isError?: boolean; content: { type: string; text: string }[] };
      const text = res.content.map((c) => c.text).join('\n');
      assert.ok(!res.isError, `${name}: ${text}\n${stderr}`);
      return text;
    };
    await call('apply_migration', { name: 'create_notes', query: 'create table notes (id bigint primary key, body text)' });
    assert.deepEqual(await sql(p, `select count(*)::int as n from pg_tables where tablename = 'notes'`), [{ n: 1 }]);
    const listed = await call('list_migrations');
    assert.match(listed, /create_notes/);
    const security = await call('get_advisors', { type: 'security' });
    assert.match(security, /rls_disabled_in_public/);
    const performance = await call('get_advisors', { type: 'performance' });
    assert.match(performance, /lints/);
    const types = await call('generate_typescript_types');
    assert.match(types, /notes: \{/);
  } finally {
    clearTimeout(timer);
    await client.close().catch(() => {});
  }
});
