// The real Supabase CLI against Loam: `gen types typescript --project-id` through the Management API, and
// `migration list` / `db push` over a direct connection to the project database as its owner login, the way a
// user points them at a self-hosted database (`--db-url`).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createProject, http, loam, sql, type Project } from '../helpers/platform.ts';

const run = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, '../../node_modules/.bin/supabase');

interface Cli { workdir: string; cli: (...args: string[]) => Promise<{ stdout: string; stderr: string }> }

/** A temp HOME, SUPABASE_HOME and project folder, and the CLI run in them against this Loam with the owner's token. */
async function cliFor(p: Project): Promise<Cli> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-cli-'));
  const workdir = path.join(root, 'project');
  fs.mkdirSync(path.join(workdir, 'supabase', 'migrations'), { recursive: true });
  fs.writeFileSync(path.join(workdir, 'supabase', 'config.toml'), `project_id = "loam-cli-test"\n`);
  const token = await http('POST', '/v1/auth/tokens', { token: p.owner.token, body: { name: 'cli' } });
  assert.equal(token.status, 201);
  const env = {
    PATH: process.env.PATH, HOME: path.join(root, 'home'), SUPABASE_HOME: path.join(root, 'supabase-home'),
    SUPABASE_API_URL: (await loam()).url, SUPABASE_ACCESS_TOKEN: token.body.token,
    SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', CI: '1',
  };
  fs.mkdirSync(env.HOME, { recursive: true });
  // A CLI profile naming Loam's Management API (the CLI's --profile takes a YAML file as well as a name).
  const profile = path.join(root, 'loam-profile.yaml');
  fs.writeFileSync(profile, `name: loam\napi_url: ${env.SUPABASE_API_URL}\ndashboard_url: ${env.SUPABASE_API_URL}\nproject_host: localhost\n`);
  test.after?.(() => fs.rmSync(root, { recursive: true, force: true }));
  return {
    workdir,
    cli: async (...args) => {
      try {
        return await run(CLI, [...args, '--workdir', workdir, '--profile', profile], { env, timeout: 120_000, maxBuffer: 16 << 20 });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`supabase ${args.join(' ')} failed: ${e.message}\n${e.stdout}\n${e.stderr}`);
      }
    },
  };
}

/** The owner's psql login, as a percent-encoded connection string (what `--db-url` takes), over TLS: the
 *  embedded server accepts it (README: "Using the Supabase CLI and MCP with Loam"). */
async function dbUrl(p: Project): Promise<string> {
  const u = new URL((await loam()).databaseUrl);
  return `postgresql://${encodeURIComponent(p.ref)}:${encodeURIComponent(p.dbPass)}@${u.hostname}:${u.port || 5432}/${p.ref}?sslmode=${process.env.LOAM_TEST_EMBEDDED_POSTGRES ? 'require' : 'disable'}`; // the embedded server has TLS; a DATABASE_URL one may not
}

test('CLI: gen types typescript --project-id prints the types the Management API generates', async () => {
  const p = await createProject();
  await sql(p, `create type mood as enum ('happy', 'sad'); create table people (id bigint primary key, name text not null, mood mood)`);
  const { cli } = await cliFor(p);
  const { stdout } = await cli('gen', 'types', 'typescript', '--project-id', p.ref);
  // The CLI asks for its default schemas, public and graphql_public (which every project has, as on Supabase).
  const api = await http('GET', `/v1/projects/${p.ref}/types/typescript?included_schemas=public,graphql_public`, { token: p.owner.token });
  assert.equal(stdout.trim(), api.body.types.trim());
  assert.match(stdout, /graphql_public: \{/);
  assert.match(stdout, /people: \{/);
  assert.match(stdout, /mood: "happy" \| "sad"/);
});

test('CLI: db push applies local migrations; migration list, migration repair and the Management API agree on the history', async () => {
  const p = await createProject();
  const { cli, workdir } = await cliFor(p);
  const url = await dbUrl(p);
  // One migration through the API first: the CLI sees it as remote-only.
  const viaApi = await http('POST', `/v1/projects/${p.ref}/database/migrations`, { token: p.owner.token, body: { name: 'from_api', query: 'create table from_api (id int primary key)' } });
  assert.equal(viaApi.status, 200);
  const listed = await cli('migration', 'list', '--db-url', url);
  assert.ok(listed.stdout.includes(viaApi.body.version), listed.stdout + listed.stderr);

  // Local files the database has not seen: the CLI names them by timestamp, newer than the API's.
  const dir = path.join(workdir, 'supabase', 'migrations');
  fs.writeFileSync(path.join(dir, `${viaApi.body.version}_from_api.sql`), 'create table from_api (id int primary key);\n');
  fs.writeFileSync(path.join(dir, '29990101000000_widgets.sql'), 'create table widgets (id bigint primary key, name text);\ninsert into widgets values (1, \'one\');\n');
  fs.writeFileSync(path.join(dir, '29990102000000_gadgets.sql'), 'create table gadgets (id bigint primary key references widgets (id));\n');
  await cli('db', 'push', '--db-url', url, '--yes');
  assert.deepEqual(await sql(p, 'select name from widgets'), [{ name: 'one' }]);
  const [{ owner }] = await sql(p, `select tableowner as owner from pg_tables where tablename = 'gadgets'`);
  assert.equal(owner, p.ref);

  const history = await http('GET', `/v1/projects/${p.ref}/database/migrations`, { token: p.owner.token });
  assert.deepEqual(history.body, [
    { version: viaApi.body.version, name: 'from_api' },
    { version: '29990101000000', name: 'widgets' },
    { version: '29990102000000', name: 'gadgets' },
  ]);
  const entry = await http('GET', `/v1/projects/${p.ref}/database/migrations/29990101000000`, { token: p.owner.token });
  assert.equal(entry.body.statements.length, 2);
  const after = await cli('migration', 'list', '--db-url', url);
  for (const v of ['29990101000000', '29990102000000']) assert.ok(after.stdout.includes(v), after.stdout);
  // Nothing left to push.
  const again = await cli('db', 'push', '--db-url', url, '--yes');
  assert.match(again.stdout + again.stderr, /up to date/i);

  // migration repair edits the same history the API reads.
  await cli('migration', 'repair', '--status', 'reverted', '29990102000000', '--db-url', url);
  const repaired = await http('GET', `/v1/projects/${p.ref}/database/migrations`, { token: p.owner.token });
  assert.deepEqual(repaired.body.map((m: { version: string }) => m.version), [viaApi.body.version, '29990101000000']);
  await cli('migration', 'repair', '--status', 'applied', '29990102000000', '--db-url', url);
  const restored = await http('GET', `/v1/projects/${p.ref}/database/migrations/29990102000000`, { token: p.owner.token });
  assert.equal(restored.status, 200);
  assert.equal(restored.body.name, 'gadgets');
});
