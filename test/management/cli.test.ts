// The real Supabase CLI (2.117, node_modules/.bin/supabase) against Loam's Management API, as a user drives it:
// a --profile naming Loam (test/helpers/cli.ts), a Loam access token, a temporary HOME and work directory.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cliUser, type Cli } from '../helpers/cli.ts';
import { http, loam, signup, waitForStatus, type Account } from '../helpers/platform.ts';

async function ok(cli: Cli, args: string[]): Promise<string> {
  const r = await cli.run(args);
  assert.equal(r.code, 0, `supabase ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let account: Account;
let cli: Cli;
let ref: string;
const dbPass = `pw-${crypto.randomBytes(8).toString('hex')}`;

test('orgs list, projects create (a Supabase region code) and list, api-keys', async () => {
  account = await signup();
  cli = cliUser((await loam()).url, account.token);
  const orgs = await ok(cli, ['orgs', 'list', '-o', 'json']);
  assert.ok(JSON.parse(orgs).some((o: { id: string }) => o.id === account.org), orgs);

  const created = await ok(cli, ['projects', 'create', 'cli project', '--org-id', account.org, '--db-password', dbPass, '--region', 'us-east-1', '-o', 'json']);
  const project = JSON.parse(created);
  ref = project.id ?? project.ref;
  assert.match(ref, /^[a-z]{20}$/);
  assert.equal(project.region, 'us-east-1');
  await waitForStatus(account.token, ref, 'ACTIVE_HEALTHY');

  const list = JSON.parse(await ok(cli, ['projects', 'list', '-o', 'json']));
  assert.deepEqual(list.map((p: { id: string }) => p.id), [ref]);
  const keys = JSON.parse(await ok(cli, ['projects', 'api-keys', '--project-ref', ref, '-o', 'json']));
  const api = (await http('GET', `/v1/projects/${ref}/api-keys`, { token: account.token })).body;
  for (const name of ['anon', 'service_role']) {
    assert.equal(keys.find((k: { name: string }) => k.name === name)?.api_key, api.find((k: { name: string }) => k.name === name).api_key);
  }
});

test('link, then postgres-config, ssl-enforcement, network-restrictions and snippets of the linked project', async () => {
  const linked = await cli.run(['link', '--project-ref', ref, '--password', dbPass]);
  assert.equal(linked.code, 0, linked.stderr);
  assert.match(linked.stdout + linked.stderr, /Finished supabase link/);
  assert.equal(fs.readFileSync(path.join(cli.workdir, 'supabase', '.temp', 'project-ref'), 'utf8'), ref);

  await http('PUT', `/v1/projects/${ref}/config/database/postgres`, { token: account.token, body: { statement_timeout: '10s' } });
  const pgConfig = await cli.run(['postgres-config', 'get', '--project-ref', ref, '--experimental']);
  assert.equal(pgConfig.code, 0, pgConfig.stderr);
  assert.match(pgConfig.stdout, /statement_timeout\s*\|\s*10s/);

  const ssl = await ok(cli, ['ssl-enforcement', 'get', '--project-ref', ref, '--experimental']);
  assert.match(ssl, /SSL is \*NOT\* being enforced/);
  if (process.env.LOAM_TEST_EMBEDDED_POSTGRES) { // enforcement needs the embedded server's TLS and pg_hba.conf section
    await http('PUT', `/v1/projects/${ref}/ssl-enforcement`, { token: account.token, body: { requestedConfig: { database: true } } });
    assert.match(await ok(cli, ['ssl-enforcement', 'get', '--project-ref', ref, '--experimental']), /SSL is being enforced/);
    await http('PUT', `/v1/projects/${ref}/ssl-enforcement`, { token: account.token, body: { requestedConfig: { database: false } } });
  }

  const restrictions = await ok(cli, ['network-restrictions', 'get', '--project-ref', ref, '--experimental']);
  assert.match(restrictions, /DB Allowed IPv4 CIDRs: &?\[0\.0\.0\.0\/0\]/);
  assert.match(restrictions, /DB Allowed IPv6 CIDRs: &?\[::\/0\]/);
  assert.match(restrictions, /Restrictions applied successfully: true/);

  await http('POST', '/v1/snippets', { token: account.token, body: { project_ref: ref, name: 'Active users', sql: 'select 1' } });
  const snippets = await ok(cli, ['snippets', 'list', '--project-ref', ref, '-o', 'json']);
  assert.deepEqual(JSON.parse(snippets).data.map((s: { name: string }) => s.name), ['Active users']);
});

test('config push of a small config.toml changes the API and auth settings', async () => {
  fs.writeFileSync(path.join(cli.workdir, 'supabase', 'config.toml'), `project_id = "cli-test"

[api]
enabled = true
schemas = ["public", "graphql_public"]
extra_search_path = ["public", "extensions"]
max_rows = 250

[db]
major_version = 17

[auth]
enabled = true
site_url = "https://app.example.com"
additional_redirect_urls = ["https://app.example.com/callback"]
jwt_expiry = 1800
enable_signup = true

[auth.email]
enable_signup = true
enable_confirmations = false

[storage]
enabled = false
`);
  const pushed = await cli.run(['config', 'push', '--project-ref', ref, '--yes']);
  assert.equal(pushed.code, 0, `${pushed.stdout}\n${pushed.stderr}`);
  const postgrest = (await http('GET', `/v1/projects/${ref}/postgrest`, { token: account.token })).body;
  assert.equal(postgrest.max_rows, 250);
  const auth = (await http('GET', `/v1/projects/${ref}/config/auth`, { token: account.token })).body;
  assert.equal(auth.site_url, 'https://app.example.com');
  assert.equal(auth.jwt_exp, 1800);
  assert.match(auth.uri_allow_list, /https:\/\/app\.example\.com\/callback/);
  // A second push finds nothing to change.
  const again = await cli.run(['config', 'push', '--project-ref', ref, '--yes']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /Remote API config is up to date/);
});

test('branches create, list, get and delete', async () => {
  const created = JSON.parse((await ok(cli, ['branches', 'create', 'cli-branch', '--project-ref', ref, '-o', 'json'])).replace(/^[^{]*/, ''));
  assert.equal(created.name, 'cli-branch');
  assert.equal(created.parent_project_ref, ref);
  const until = Date.now() + 60_000;
  for (;;) {
    const b = (await http('GET', `/v1/projects/${ref}/branches`, { token: account.token })).body.find((x: { id: string }) => x.id === created.id);
    if (b?.status === 'MIGRATIONS_PASSED') break;
    assert.ok(Date.now() < until && b?.status !== 'MIGRATIONS_FAILED', JSON.stringify(b));
    await new Promise((r) => setTimeout(r, 250));
  }
  const list = JSON.parse(await ok(cli, ['branches', 'list', '--project-ref', ref, '-o', 'json']));
  assert.deepEqual(list.map((b: { name: string; is_default: boolean }) => [b.name, b.is_default]), [['main', true], ['cli-branch', false]]);
  const got = await ok(cli, ['branches', 'get', 'cli-branch', '--project-ref', ref]);
  assert.match(got, /ACTIVE_HEALTHY/);
  const del = await cli.run(['branches', 'delete', 'cli-branch', '--project-ref', ref]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stderr, new RegExp(`Deleted preview branch: ${created.project_ref}`));
  assert.deepEqual((await http('GET', `/v1/projects/${ref}/branches`, { token: account.token })).body.map((b: { name: string }) => b.name), ['main']);
});

test('projects delete', async () => {
  const deleted = await cli.run(['projects', 'delete', ref, '--yes']);
  assert.equal(deleted.code, 0, `${deleted.stdout}\n${deleted.stderr}`);
  const res = await http('GET', `/v1/projects/${ref}`, { token: account.token });
  assert.equal(res.status, 404);
});
