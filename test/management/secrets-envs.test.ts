// Environments of a project's secrets: per-environment lists (masked), bulk upsert and delete, the fallback
// chain (development → staging → production) seen by the resolved views and by a running function, bindings of
// functions and site builds, the audited reveal, Supabase's /secrets as the production environment of the same
// store, sealing at rest, and another account's reach (none).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { forgetRuntime } from '../../db/src/projects.ts';
import { openSecrets } from '../../server/src/functions/env.ts';
import { adminClient, createProject, http, joinOrganization, loam, signup, type Project } from '../helpers/platform.ts';
import { deploy, invoke } from '../functions/helpers.ts';

const ENV_FN = `Deno.serve(() => Response.json({ A: Deno.env.get('A') ?? null, B: Deno.env.get('B') ?? null, C: Deno.env.get('C') ?? null }));`;

const put = (p: Project, env: string, body: unknown, token = p.owner.token) =>
  http('PUT', `/v1/projects/${p.ref}/environments/${env}/secrets`, { token, body });

let p: Project;
let site: { id: string; subdomain: string };

test('setup: a project with a function and a site', async () => {
  p = await createProject();
  const d = await deploy(p, 'envs', { 'index.ts': ENV_FN }, { verify_jwt: false });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  site = (await http('POST', `/v1/projects/${p.ref}/sites`, { token: p.owner.token, body: { subdomain: `env-${crypto.randomBytes(5).toString('hex')}` } })).body;
  assert.ok(site.id);
});

test('environments list with their fallbacks; Supabase\'s /secrets is production', async () => {
  const sb = await http('POST', `/v1/projects/${p.ref}/secrets`, { token: p.owner.token, body: [{ name: 'A', value: 'prod-a' }, { name: 'B', value: 'prod-b' }, { name: 'C', value: 'prod-c' }] });
  assert.equal(sb.status, 201);
  const envs = await http('GET', `/v1/projects/${p.ref}/environments`, { token: p.owner.token });
  assert.equal(envs.status, 200);
  assert.deepEqual(envs.body.map((e: any) => [e.name, e.fallback, e.secrets]), [
    ['production', [], 3], ['staging', ['production'], 0], ['development', ['staging', 'production'], 0]]);
  const prod = await http('GET', `/v1/projects/${p.ref}/environments/production/secrets`, { token: p.owner.token });
  assert.deepEqual(prod.body.map((s: any) => [s.name, s.value, s.environment]), [['A', '********', 'production'], ['B', '********', 'production'], ['C', '********', 'production']]);
  assert.equal(prod.body[0].digest, crypto.createHash('sha256').update('prod-a').digest('hex'));
  assert.ok(!JSON.stringify(prod.body).includes('prod-a'));
});

test('bulk upsert per environment; the fallback chain resolves development → staging → production', async () => {
  const st = await put(p, 'staging', [{ name: 'B', value: 'stage-b' }, { name: 'C', value: 'stage-c' }]);
  assert.equal(st.status, 200, JSON.stringify(st.body));
  assert.deepEqual(st.body.map((s: any) => s.name), ['B', 'C']);
  const dev = await put(p, 'development', [{ name: 'C', value: 'dev-c' }]);
  assert.equal(dev.status, 200);
  // Upsert replaces the value of a name and keeps the others.
  assert.equal((await put(p, 'development', [{ name: 'C', value: 'dev-c2' }])).status, 200);

  const resolved = async (env: string) => (await http('GET', `/v1/projects/${p.ref}/environments/${env}/resolved`, { token: p.owner.token })).body;
  assert.deepEqual((await resolved('development')).secrets.map((s: any) => [s.name, s.environment]), [['A', 'production'], ['B', 'staging'], ['C', 'development']]);
  assert.deepEqual((await resolved('staging')).secrets.map((s: any) => [s.name, s.environment]), [['A', 'production'], ['B', 'staging'], ['C', 'staging']]);
  assert.deepEqual((await resolved('production')).secrets.map((s: any) => [s.name, s.environment]), [['A', 'production'], ['B', 'production'], ['C', 'production']]);
  // Supabase's list still shows production's three, nothing of the others.
  const sb = await http('GET', `/v1/projects/${p.ref}/secrets`, { token: p.owner.token });
  assert.deepEqual(sb.body.map((s: any) => s.name), ['A', 'B', 'C']);
  assert.equal(sb.body[1].value, crypto.createHash('sha256').update('prod-b').digest('hex'));
});

test('a function reads production until bound, then its environment through the chain', async () => {
  const before = await invoke(p, 'envs');
  assert.deepEqual(before.json, { A: 'prod-a', B: 'prod-b', C: 'prod-c' });
  const bind = await http('PUT', `/v1/projects/${p.ref}/secret-bindings/functions/envs`, { token: p.owner.token, body: { environment: 'development' } });
  assert.equal(bind.status, 200, JSON.stringify(bind.body));
  assert.equal(bind.body.environment, 'development');
  const after = await invoke(p, 'envs');
  assert.deepEqual(after.json, { A: 'prod-a', B: 'stage-b', C: 'dev-c2' });
  const view = await http('GET', `/v1/projects/${p.ref}/secret-bindings/functions/envs/secrets`, { token: p.owner.token });
  assert.equal(view.body.environment, 'development');
  assert.deepEqual(view.body.secrets.map((s: any) => [s.name, s.environment, s.value]), [['A', 'production', '********'], ['B', 'staging', '********'], ['C', 'development', '********']]);
  // A secret deleted from development falls back to staging's at the next invocation.
  const del = await http('DELETE', `/v1/projects/${p.ref}/environments/development/secrets`, { token: p.owner.token, body: ['C', 'NOPE'] });
  assert.deepEqual(del.body, { deleted: ['C'], missing: ['NOPE'] });
  assert.deepEqual((await invoke(p, 'envs')).json, { A: 'prod-a', B: 'stage-b', C: 'stage-c' });
  // Unbound: production again.
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/secret-bindings/functions/envs`, { token: p.owner.token })).status, 204);
  assert.deepEqual((await invoke(p, 'envs')).json, { A: 'prod-a', B: 'prod-b', C: 'prod-c' });
});

test('a site build reads no secrets until bound, then its environment\'s (what the build worker opens)', async () => {
  const target = `/v1/projects/${p.ref}/secret-bindings/sites/${site.id}`;
  const unbound = await http('GET', `${target}/secrets`, { token: p.owner.token });
  assert.deepEqual(unbound.body, { kind: 'sites', target: site.id, environment: null, secrets: [] });
  assert.equal((await http('PUT', target, { token: p.owner.token, body: { environment: 'staging' } })).status, 200);
  const bound = await http('GET', `${target}/secrets`, { token: p.owner.token });
  assert.equal(bound.body.environment, 'staging');
  assert.deepEqual(bound.body.secrets.map((s: any) => [s.name, s.environment]), [['A', 'production'], ['B', 'staging'], ['C', 'staging']]);
  const list = await http('GET', `/v1/projects/${p.ref}/secret-bindings`, { token: p.owner.token });
  assert.deepEqual(list.body.map((b: any) => [b.kind, b.target, b.environment]), [['functions', 'envs', 'production'], ['sites', site.id, 'staging']]);
  // The build job's read: the values, opened with the key of this platform.
  const db = await adminClient();
  const { rows } = await db.query('select * from platform_private.site_build_secrets_of($1)', [site.id]);
  await db.end();
  assert.deepEqual(openSecrets(p.ref, rows), { A: 'prod-a', B: 'stage-b', C: 'stage-c' });
});

test('a real site build sees its bound environment\'s secrets through the chain, under its own build_env; unbound, none', async () => {
  // A bare repository made here; the build writes what it sees into the page it deploys.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-envs-build-'));
  try {
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'build.sh'), 'mkdir -p dist && echo "A=${A:-none} B=${B:-none} C=${C:-none} D=${D:-none}" > dist/index.html\n');
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
    git(src, 'init');
    git(src, 'add', '.');
    git(src, 'commit', '-m', 'first');
    git(tmp, 'clone', '--bare', src, path.join(tmp, 'repo.git'));
    const sitePath = `/v1/projects/${p.ref}/sites/${site.id}`;
    const set = await http('PATCH', sitePath, { token: p.owner.token, body: {
      repo_url: path.join(tmp, 'repo.git'), build_command: 'sh build.sh', output_dir: 'dist', auto_publish: true, build_env: { D: 'from-build-env', C: 'build-env-wins' },
    } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const build = async () => {
      const started = await http('POST', `${sitePath}/builds`, { token: p.owner.token });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      for (const until = Date.now() + 60_000; ;) {
        const b = (await http('GET', `${sitePath}/builds/${started.body.id}`, { token: p.owner.token })).body;
        if (!['queued', 'running'].includes(b.status)) {
          assert.equal(b.status, 'succeeded', (await http('GET', `${sitePath}/builds/${b.id}/logs`, { token: p.owner.token })).body);
          const { url } = await loam();
          return (await (await fetch(`${url}/sites/${site.subdomain}/`)).text()).trim();
        }
        if (Date.now() > until) throw new Error(`build still ${b.status}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    // Bound to staging (the test above): A from production, B from staging; C is the site's own build_env.
    assert.equal(await build(), 'A=prod-a B=stage-b C=build-env-wins D=from-build-env');
    // Unbound: no secrets at all, only build_env.
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/secret-bindings/sites/${site.id}`, { token: p.owner.token })).status, 204);
    assert.equal(await build(), 'A=none B=none C=build-env-wins D=from-build-env');
    // Bound to development: its own value first, then staging's, then production's.
    assert.equal((await put(p, 'development', [{ name: 'A', value: 'dev-a' }])).status, 200);
    assert.equal((await http('PUT', `/v1/projects/${p.ref}/secret-bindings/sites/${site.id}`, { token: p.owner.token, body: { environment: 'development' } })).status, 200);
    assert.equal(await build(), 'A=dev-a B=stage-b C=build-env-wins D=from-build-env');
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/environments/development/secrets/A`, { token: p.owner.token })).status, 204);
    assert.equal((await http('PUT', `/v1/projects/${p.ref}/secret-bindings/sites/${site.id}`, { token: p.owner.token, body: { environment: 'staging' } })).status, 200);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('reveal shows the resolved value and is audited with who and when; values are sealed at rest', async () => {
  const r = await http('POST', `/v1/projects/${p.ref}/environments/development/secrets/B/reveal`, { token: p.owner.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { name: 'B', environment: 'staging', value: 'stage-b' });
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const audit = await http('GET', `/v1/projects/${p.ref}/secret-reveals`, { token: p.owner.token });
  assert.equal(audit.status, 200);
  assert.equal(audit.body.length, 1);
  assert.equal(audit.body[0].name, 'B');
  assert.equal(audit.body[0].environment, 'staging');
  assert.equal(audit.body[0].account_email, p.owner.email);
  assert.ok(Number.isInteger(audit.body[0].id), 'an integer, as the OpenAPI document says');
  assert.ok(Math.abs(Date.parse(audit.body[0].at) - Date.now()) < 60_000);
  const missing = await http('POST', `/v1/projects/${p.ref}/environments/staging/secrets/NOPE/reveal`, { token: p.owner.token });
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { message: 'secret NOPE not found in environment staging or its fallbacks', code: 'secret_not_found' });
  assert.equal((await http('GET', `/v1/projects/${p.ref}/secret-reveals`, { token: p.owner.token })).body.length, 1, 'a failed reveal is not a reveal');

  const db = await adminClient();
  const { rows } = await db.query(`select environment, value_enc from platform_private.function_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1`, [p.ref]);
  // A staging value moved to the production row of the same name does not open: the environment is sealed in.
  const stagingB = rows.find((x) => x.environment === 'staging')!;
  await db.end();
  assert.ok(rows.length >= 5);
  for (const row of rows) assert.ok(!row.value_enc.toString('latin1').includes('stage-'), 'ciphertext only');
  assert.deepEqual(openSecrets(p.ref, [{ name: 'B', source: 'production', value_enc: stagingB.value_enc }]), {});
});

test('errors: unknown environment, bad bodies, reserved names, unknown targets, one secret delete', async () => {
  const tok = p.owner.token;
  const badEnv = await http('GET', `/v1/projects/${p.ref}/environments/preview/secrets`, { token: tok });
  assert.equal(badEnv.status, 400);
  assert.deepEqual(badEnv.body, { message: 'unknown environment "preview": production, staging or development', code: 'invalid_environment' });
  assert.equal((await put(p, 'preview', [{ name: 'X', value: 'y' }])).body.code, 'invalid_environment');
  assert.equal((await http('GET', `/v1/projects/${p.ref}/environments/nope/resolved`, { token: tok })).status, 400);
  const notArray = await put(p, 'staging', { X: 'y' });
  assert.equal(notArray.status, 400);
  assert.equal(notArray.body.code, 'invalid_body');
  const reserved = await put(p, 'staging', [{ name: 'SUPABASE_URL', value: 'x' }]);
  assert.equal(reserved.status, 400);
  assert.equal(reserved.body.code, 'invalid_secret_name');
  const badName = await put(p, 'staging', [{ name: '1X', value: 'x' }, { name: 'OK', value: 'y' }]);
  assert.equal(badName.status, 400);
  assert.equal(badName.body.code, 'invalid_secret_name');
  assert.ok(!(await http('GET', `/v1/projects/${p.ref}/environments/staging/secrets`, { token: tok })).body.some((s: any) => s.name === 'OK'), 'all or none');
  const twice = await put(p, 'staging', [{ name: 'X', value: 'a' }, { name: 'X', value: 'b' }]);
  assert.equal(twice.body.code, 'invalid_body');
  const tooMany = await put(p, 'staging', Array.from({ length: 99 }, (_, i) => ({ name: `N${i}`, value: 'v' })));
  assert.equal(tooMany.status, 400);
  assert.deepEqual(tooMany.body, { message: 'an environment holds at most 100 secrets', code: 'too_many_secrets' });

  assert.equal((await http('PUT', `/v1/projects/${p.ref}/secret-bindings/functions/nope`, { token: tok, body: { environment: 'staging' } })).body.code, 'function_not_found');
  assert.equal((await http('PUT', `/v1/projects/${p.ref}/secret-bindings/sites/not-a-uuid`, { token: tok, body: { environment: 'staging' } })).body.code, 'site_not_found');
  const badKind = await http('PUT', `/v1/projects/${p.ref}/secret-bindings/databases/x`, { token: tok, body: { environment: 'staging' } });
  assert.equal(badKind.status, 400);
  assert.equal(badKind.body.code, 'invalid_binding_target');
  const badBindEnv = await http('PUT', `/v1/projects/${p.ref}/secret-bindings/functions/envs`, { token: tok, body: { environment: 'qa' } });
  assert.equal(badBindEnv.body.code, 'invalid_environment');
  assert.equal((await http('PUT', `/v1/projects/${p.ref}/secret-bindings/functions/envs`, { token: tok, body: {} })).body.code, 'invalid_body');
  assert.equal((await http('GET', `/v1/projects/${p.ref}/secret-reveals?limit=0`, { token: tok })).status, 400);
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/secret-bindings/functions/nope`, { token: tok })).body.code, 'function_not_found');
  const noView = await http('GET', `/v1/projects/${p.ref}/secret-bindings/sites/00000000-0000-0000-0000-000000000000/secrets`, { token: tok });
  assert.equal(noView.status, 404);
  assert.deepEqual(noView.body, { message: 'Site not found', code: 'site_not_found' });
  for (const bad of [[], { B: true }, [1], Array(101).fill('B')]) {
    const r = await http('DELETE', `/v1/projects/${p.ref}/environments/staging/secrets`, { token: tok, body: bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.deepEqual(r.body, { message: 'expected an array of 1 to 100 secret names', code: 'invalid_body' });
  }

  assert.equal((await put(p, 'development', [{ name: 'ONE', value: '1' }])).status, 200);
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/environments/development/secrets/ONE`, { token: tok })).status, 204);
  const gone = await http('DELETE', `/v1/projects/${p.ref}/environments/development/secrets/ONE`, { token: tok });
  assert.equal(gone.status, 404);
  assert.deepEqual(gone.body, { message: 'secret ONE not found in environment development', code: 'secret_not_found' });
});

test('another account reaches none of it: lists, upserts, reveals, bindings, audit', async () => {
  const other = await signup();
  const t = other.token;
  for (const [method, path, body] of [
    ['GET', `/v1/projects/${p.ref}/environments`],
    ['GET', `/v1/projects/${p.ref}/environments/staging/secrets`],
    ['PUT', `/v1/projects/${p.ref}/environments/staging/secrets`, [{ name: 'EVIL', value: 'x' }]],
    ['DELETE', `/v1/projects/${p.ref}/environments/staging/secrets`, ['B']],
    ['DELETE', `/v1/projects/${p.ref}/environments/staging/secrets/B`],
    ['GET', `/v1/projects/${p.ref}/environments/development/resolved`],
    ['POST', `/v1/projects/${p.ref}/environments/staging/secrets/B/reveal`],
    ['GET', `/v1/projects/${p.ref}/secret-reveals`],
    ['GET', `/v1/projects/${p.ref}/secret-bindings`],
    ['PUT', `/v1/projects/${p.ref}/secret-bindings/functions/envs`, { environment: 'development' }],
    ['DELETE', `/v1/projects/${p.ref}/secret-bindings/sites/${site.id}`],
    ['GET', `/v1/projects/${p.ref}/secret-bindings/functions/envs/secrets`],
  ] as const) {
    const r = await http(method, path, { token: t, body });
    assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'project_not_found');
  }
  // Nothing changed, and the audit holds no reveal of theirs.
  const staging = await http('GET', `/v1/projects/${p.ref}/environments/staging/secrets`, { token: p.owner.token });
  assert.ok(staging.body.some((s: any) => s.name === 'B'));
  assert.ok(!staging.body.some((s: any) => s.name === 'EVIL'));
  assert.equal((await http('GET', `/v1/projects/${p.ref}/secret-reveals`, { token: p.owner.token })).body.length, 1);
  // A read-only token of the owner may list but not reveal.
  const ro = (await http('POST', '/v1/auth/tokens', { token: p.owner.token, body: { name: 'ro', scopes: ['projects:read'] } })).body.token;
  assert.equal((await http('GET', `/v1/projects/${p.ref}/environments/staging/secrets`, { token: ro })).status, 200);
  const denied = await http('POST', `/v1/projects/${p.ref}/environments/staging/secrets/B/reveal`, { token: ro });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.code, 'insufficient_scope');
});

test('Supabase\'s /secrets writes and deletes production only: the other environments keep theirs', async () => {
  const staged = await put(p, 'staging', [{ name: 'SHARED', value: 'stage-shared' }]);
  assert.equal(staged.status, 200, JSON.stringify(staged.body));
  assert.equal((await http('POST', `/v1/projects/${p.ref}/secrets`, { token: p.owner.token, body: [{ name: 'SHARED', value: 'prod-shared' }] })).status, 201);
  const reveal = async (env: string) => (await http('POST', `/v1/projects/${p.ref}/environments/${env}/secrets/SHARED/reveal`, { token: p.owner.token })).body;
  assert.deepEqual(await reveal('staging'), { name: 'SHARED', environment: 'staging', value: 'stage-shared' });
  assert.deepEqual(await reveal('production'), { name: 'SHARED', environment: 'production', value: 'prod-shared' });
  // Supabase's list: production's digest, never a value.
  const list = (await http('GET', `/v1/projects/${p.ref}/secrets`, { token: p.owner.token })).body;
  assert.equal(list.find((s: any) => s.name === 'SHARED').value, crypto.createHash('sha256').update('prod-shared').digest('hex'));
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/secrets`, { token: p.owner.token, body: ['SHARED'] })).status, 200);
  assert.equal((await reveal('production')).code, 'secret_not_found');
  assert.deepEqual(await reveal('staging'), { name: 'SHARED', environment: 'staging', value: 'stage-shared' });
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/environments/staging/secrets/SHARED`, { token: p.owner.token })).status, 204);
});

test('a value that does not open (another key, or moved to another row) is a 409 on reveal, never a 500 or a value', async () => {
  const db = await adminClient();
  await db.query(`insert into platform_private.function_secrets (project_id, environment, name, value_enc, digest)
    select project_id, 'production', 'MOVED', value_enc, digest from platform_private.function_secrets s
    where s.environment = 'staging' and s.name = 'B' and s.project_id = (select id from platform.projects where ref = $1)`, [p.ref]);
  await db.end();
  const r = await http('POST', `/v1/projects/${p.ref}/environments/production/secrets/MOVED/reveal`, { token: p.owner.token });
  assert.equal(r.status, 409);
  assert.deepEqual(r.body, { message: 'this secret was sealed with another LOAM_SECRETS_KEY and cannot be read; set it again', code: 'secret_undecryptable' });
  // The function runtime (this process's, its cache dropped) leaves it out rather than fail: the others still arrive.
  forgetRuntime(p.ref);
  assert.deepEqual((await invoke(p, 'envs')).json, { A: 'prod-a', B: 'prod-b', C: 'prod-c' });
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/environments/production/secrets/MOVED`, { token: p.owner.token })).status, 204);
});

test('organization roles: a Developer or Read-only member lists masked values but neither reveals nor writes', async () => {
  const [dev, ro] = await Promise.all([signup(), signup()]);
  await joinOrganization(p.owner, dev, 'Developer');
  await joinOrganization(p.owner, ro, 'Read-only');
  const before = (await http('GET', `/v1/projects/${p.ref}/secret-reveals`, { token: p.owner.token })).body.length;
  for (const m of [dev, ro]) {
    const list = await http('GET', `/v1/projects/${p.ref}/environments/staging/secrets`, { token: m.token });
    assert.equal(list.status, 200);
    assert.ok(list.body.every((s: any) => s.value === '********'));
    const reveal = await http('POST', `/v1/projects/${p.ref}/environments/staging/secrets/B/reveal`, { token: m.token });
    assert.equal(reveal.status, 403, JSON.stringify(reveal.body));
    assert.ok(!JSON.stringify(reveal.body).includes('stage-b'));
    assert.equal((await put(p, 'staging', [{ name: 'B', value: 'hijacked' }], m.token)).status, 403);
    assert.equal((await http('PUT', `/v1/projects/${p.ref}/secret-bindings/functions/envs`, { token: m.token, body: { environment: 'staging' } })).status, 403);
  }
  assert.equal((await http('GET', `/v1/projects/${p.ref}/secret-reveals`, { token: p.owner.token })).body.length, before, 'a refused reveal is not recorded');
  const b = await http('POST', `/v1/projects/${p.ref}/environments/staging/secrets/B/reveal`, { token: p.owner.token });
  assert.equal(b.body.value, 'stage-b', 'unchanged');
});

test('what an environment resolves to must fit a process: values in bytes, 1 MiB of names and values through the chain', async () => {
  const q = await createProject();
  const wide = await put(q, 'staging', [{ name: 'WIDE', value: '中'.repeat(30_000) }]);
  assert.equal(wide.status, 400);
  assert.deepEqual(wide.body, { message: 'a secret name holds at most 256 characters, a value 65536 bytes (UTF-8)', code: 'invalid_body' });
  const chunk = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, value: 'v'.repeat(64 * 1024) }));
  assert.equal((await http('POST', `/v1/projects/${q.ref}/secrets`, { token: q.owner.token, body: chunk('P', 14) })).status, 201);
  // Production alone holds 14 × 64 KiB; development's two more would make what development resolves to pass 1 MiB.
  const over = await put(q, 'development', [{ name: 'SMALL', value: 'ok' }, ...chunk('D', 2)]);
  assert.equal(over.status, 413);
  assert.equal(over.body.code, 'secrets_too_large');
  assert.match(over.body.message, /^the secrets of development would take \d+ bytes with its fallbacks: an environment resolves to at most 1048576 bytes of names and values$/);
  assert.deepEqual((await http('GET', `/v1/projects/${q.ref}/environments/development/secrets`, { token: q.owner.token })).body, [], 'nothing written');
  // The same through Supabase's /secrets, which production's own count would pass.
  const sb = await http('POST', `/v1/projects/${q.ref}/secrets`, { token: q.owner.token, body: chunk('Q', 2) });
  assert.equal(sb.status, 413);
  assert.equal(sb.body.code, 'secrets_too_large');
  assert.equal((await http('GET', `/v1/projects/${q.ref}/secrets`, { token: q.owner.token })).body.length, 14);
  // Up to the cap, a real function starts with all of it (past Linux's limits it could not be spawned at all).
  const d = await deploy(q, 'sizes', { 'index.ts': `Deno.serve(() => Response.json(Object.keys(Deno.env.toObject()).filter((k) => /^P\\d+$/.test(k)).length));` }, { verify_jwt: false });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  const started = await invoke(q, 'sizes');
  assert.equal(started.status, 200, started.text);
  assert.equal(started.json, 14);
  // Replacing a value by a smaller one is always possible.
  assert.equal((await http('POST', `/v1/projects/${q.ref}/secrets`, { token: q.owner.token, body: [{ name: 'P0', value: 'small' }] })).status, 201);
});

// Last: its `%2e%2e` path values resolve (as URLs do) to the project itself, which a DELETE removes.
test('hostile path values and bodies on the environment and email routes answer 4xx, never 5xx', async () => {
  const values = ['%00', 'a%00b', '..%2f..%2fetc', '%2e%2e', 'x'.repeat(3000), encodeURIComponent('ü💥'), '-1', encodeURIComponent("' or 1=1 --"),
    '%25', '00000000-0000-0000-0000-000000000000', encodeURIComponent('\\'), '%C0%AF'];
  const bodies: unknown[] = [null, 1, 'x', [], {}, [null], [{ name: 'A\u0000', value: 'x' }], { environment: ['production'] }, { domain: 'a'.repeat(300) },
    { url: 'http://[::1]/x' }, { from: 1, to: {}, subject: [] }, { from: 'a@b.co', to: 'c@d.co', subject: 's', text: 't', attachments: 'x' }];
  const templates: [string, string][] = [
    ['GET', '/environments/{v}/secrets'], ['PUT', '/environments/{v}/secrets'], ['DELETE', '/environments/{v}/secrets/{v}'],
    ['POST', '/environments/{v}/secrets/{v}/reveal'], ['GET', '/environments/{v}/resolved'], ['PUT', '/secret-bindings/{v}/{v}'],
    ['GET', '/secret-bindings/{v}/{v}/secrets'], ['DELETE', '/secret-bindings/functions/{v}'], ['GET', '/email/domains/{v}'],
    ['POST', '/email/domains/{v}/verify'], ['DELETE', '/email/api-keys/{v}'], ['DELETE', '/email/webhooks/{v}'], ['GET', '/email/webhooks/{v}/deliveries'], ['GET', '/emails/{v}'],
    ['GET', '/secret-reveals?limit={v}'], ['GET', '/email/stats?days={v}'], ['GET', '/emails?limit={v}'],
  ];
  const bad: string[] = [];
  for (const [method, t] of templates) {
    for (const v of values) {
      const r = await http(method, `/v1/projects/${p.ref}${t.replaceAll('{v}', v)}`, { token: p.owner.token, body: method === 'GET' ? undefined : bodies[values.indexOf(v) % bodies.length] });
      if (r.status >= 500) bad.push(`${method} ${t} ${v.slice(0, 20)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
  }
  for (const [method, t] of [['PUT', '/environments/staging/secrets'], ['DELETE', '/environments/staging/secrets'], ['PUT', '/secret-bindings/functions/envs'],
    ['POST', '/email/domains'], ['POST', '/email/api-keys'], ['POST', '/email/webhooks'], ['POST', '/emails']] as const) {
    for (const b of bodies) {
      const r = await http(method, `/v1/projects/${p.ref}${t}`, { token: p.owner.token, body: b === null ? 'null' : b });
      if (r.status >= 500) bad.push(`${method} ${t} ${JSON.stringify(b).slice(0, 60)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
  }
  assert.deepEqual(bad, []);
});
