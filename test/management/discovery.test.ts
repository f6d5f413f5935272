// Discovery and lifecycle: regions, plans and backend types readable without a token; `frontend` projects (a
// site, no database APIs); a project's services and their restart, which rebuilds that project's caches alone;
// database credentials: metadata, an audited reveal, and a rotation after which the old password is refused.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import WebSocket from 'ws';
import { cachedProjects } from '../../server/src/graphql/instances.ts';
import { cachedSchemaProjects } from '../../server/src/rest/schema-cache.ts';
import { makeZip, uploadZip, waitDeploy } from '../sites/helpers.ts';
import { deploy, invoke } from '../functions/helpers.ts';
import { startChildLoam } from '../resilience/child-loam.ts';
import { upgradeStatus } from '../realtime/helpers.ts';
import { adminClient, createProject, http, loam, organizationTeam, passwordsChecked, signup, waitForStatus, type Project } from '../helpers/platform.ts';

let a: Project, b: Project;
before(async () => {
  const owner = await signup();
  [a, b] = await Promise.all([createProject(owner, 'project a'), createProject(owner, 'project b')]);
});

test('regions, plans and backend types are readable without a token', async () => {
  const regions = await http('GET', '/v1/regions');
  assert.equal(regions.status, 200);
  assert.ok(regions.body.some((r: { id: string }) => r.id === 'local'));
  const plans = await http('GET', '/v1/plans');
  assert.equal(plans.status, 200);
  // `limits` is every column of the plan besides id and name, as the table holds them.
  const db = await adminClient();
  try {
    const { rows } = await db.query(`select id, to_jsonb(p) - 'id' - 'name' as cols from platform.plans p`);
    for (const { id, cols } of rows) {
      const plan = plans.body.find((p: { id: string }) => p.id === id);
      assert.deepEqual(Object.keys(plan.limits).sort(), Object.keys(cols).sort(), id);
      for (const [k, v] of Object.entries(cols)) if (v !== null) assert.deepEqual(plan.limits[k], v, `${id}.${k}`);
    }
  } finally {
    await db.end();
  }
  const types = await http('GET', '/v1/backend-types');
  assert.equal(types.status, 200);
  assert.deepEqual(types.body.map((t: { id: string; database_apis: boolean }) => [t.id, t.database_apis]), [['frontend', false], ['shared', true]]);
  for (const t of types.body) assert.deepEqual(Object.keys(t).sort(), ['database_apis', 'description', 'id', 'name']);
});

test('a frontend project has a site and no database APIs; an unknown backend type creates nothing', async () => {
  const owner = await signup();
  const bad = await http('POST', '/v1/projects', { token: owner.token, body: { name: 'x', organization_slug: owner.org, db_pass: 'long enough', backend_type: 'dedicated' } });
  assert.deepEqual([bad.status, bad.body.code], [400, 'invalid_backend_type']);
  assert.deepEqual((await http('GET', '/v1/projects', { token: owner.token })).body, []);

  const created = await http('POST', '/v1/projects', { token: owner.token, body: { name: 'site only', organization_slug: owner.org, db_pass: 'long enough', backend_type: 'frontend' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const ref = created.body.ref;
  await waitForStatus(owner.token, ref, 'ACTIVE_HEALTHY');
  const keys = await http('GET', `/v1/projects/${ref}/api-keys`, { token: owner.token });
  const anon = keys.body.find((k: { name: string }) => k.name === 'anon').api_key;
  const { url } = await loam();
  for (const [method, path] of [['GET', '/rest/v1/'], ['POST', '/graphql/v1'], ['GET', '/auth/v1/settings'], ['GET', '/storage/v1/bucket'], ['GET', '/functions/v1/hello']]) {
    const res = await fetch(`${url}/project/${ref}${path}`, { method, headers: { apikey: anon, 'content-type': 'application/json' }, body: method === 'POST' ? '{"query":"{__typename}"}' : undefined });
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { message: 'this project is a frontend project: it has a site and no database APIs', code: 'database_api_disabled' });
  }
  const services = await http('GET', `/v1/projects/${ref}/services`, { token: owner.token });
  const status = Object.fromEntries(services.body.map((s: { name: string; status: string }) => [s.name, s.status]));
  assert.deepEqual(status, { db: 'ACTIVE_HEALTHY', rest: 'DISABLED', graphql: 'DISABLED', auth: 'DISABLED', storage: 'DISABLED', realtime: 'DISABLED', functions: 'DISABLED', sites: 'ACTIVE_HEALTHY' });
  // Supabase's health endpoint says the same: the database is up, the APIs on it are not.
  const health = await http('GET', `/v1/projects/${ref}/health`, { token: owner.token });
  assert.deepEqual(health.body.map((s: { name: string; healthy: boolean }) => [s.name, s.healthy]), [['auth', false], ['db', true], ['rest', false], ['storage', false]]);
  assert.equal(health.body.find((s: { name: string }) => s.name === 'rest').error, 'this project is a frontend project: it has a site and no database APIs');
  // Realtime refuses the WebSocket upgrade; the data login of the table builder refuses too.
  assert.equal(await upgradeStatus(`${url}/project/${ref}/realtime/v1/websocket?apikey=${anon}&vsn=1.0.0`), 404);
  const login = await fetch(`${url}/v1/data/${ref}/users/login`, { method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' }, body: '{}' });
  assert.deepEqual([login.status, (await login.json()).code], [404, 'database_api_disabled']);
  // The project MCP endpoint with the service key (its tools are the database's) refuses too.
  const service = keys.body.find((k: { name: string }) => k.name === 'service_role').api_key;
  const mcp = await fetch(`${url}/v1/projects/${ref}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
  assert.deepEqual([mcp.status, (await mcp.json()).code], [404, 'database_api_disabled']);
  // A backend type that is not a string is refused like any bad body.
  const typed = await http('POST', '/v1/projects', { token: owner.token, body: { name: 'x', organization_slug: owner.org, db_pass: 'long enough', backend_type: 5 } });
  assert.deepEqual([typed.status, typed.body.code], [400, 'invalid_body']);
  assert.equal(created.body.backend_type, 'frontend');
  for (const k of ['endpoint', 'rest_url', 'graphql_url', 'auth_url', 'storage_url']) assert.equal(k in created.body, false, k);
  assert.equal((await http('GET', `/v1/projects/${ref}`, { token: owner.token })).body.backend_type, 'frontend');

  // The site works: deployed, published and served.
  const sub = `fe-${ref.slice(0, 12)}`;
  const site = await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { name: 'home', subdomain: sub } });
  assert.equal(site.status, 201, JSON.stringify(site.body));
  const up = await uploadZip(owner.token, ref, site.body.id, makeZip([{ name: 'index.html', data: '<h1>frontend</h1>' }]));
  assert.equal(up.status, 202, JSON.stringify(up.body));
  assert.equal((await waitDeploy(owner.token, ref, site.body.id, up.body.id)).status, 'ready');
  assert.equal((await http('POST', `/v1/projects/${ref}/sites/${site.body.id}/deploys/${up.body.id}/publish`, { token: owner.token })).status, 200);
  const served = await fetch(`${url}/sites/${sub}/`);
  assert.deepEqual([served.status, await served.text()], [200, '<h1>frontend</h1>']);

  // No way to a frontend project with database APIs: the project cannot be switched, and a branch of it is
  // frontend too (and counts as a project of the plan).
  const patched = await http('PATCH', `/v1/projects/${ref}`, { token: owner.token, body: { name: 'site only', backend_type: 'shared' } });
  assert.equal(patched.status, 200);
  assert.equal((await http('GET', `/v1/projects/${ref}`, { token: owner.token })).body.backend_type, 'frontend');
  const branch = await http('POST', `/v1/projects/${ref}/branches`, { token: owner.token, body: { branch_name: 'preview' } });
  assert.equal(branch.status, 201, JSON.stringify(branch.body));
  assert.equal((await http('GET', `/v1/projects/${branch.body.project_ref}`, { token: owner.token })).body.backend_type, 'frontend');
  // The shared projects still serve.
  assert.equal((await fetch(`${a.url}/rest/v1/`, { headers: { apikey: a.anonKey } })).status, 200);
});

async function warm(p: Project): Promise<void> {
  assert.equal((await fetch(`${p.url}/rest/v1/`, { headers: { apikey: p.anonKey } })).status, 200);
  const gql = await fetch(`${p.url}/graphql/v1`, { method: 'POST', headers: { apikey: p.anonKey, 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' });
  assert.equal(gql.status, 200);
}

test('services: each one\'s status; a restart rebuilds that project\'s caches and leaves another project\'s alone', async () => {
  const t = a.owner.token;
  await warm(a);
  await warm(b);
  const list = await http('GET', `/v1/projects/${a.ref}/services`, { token: t });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.map((s: { name: string }) => s.name), ['db', 'rest', 'graphql', 'auth', 'storage', 'realtime', 'functions', 'sites']);
  for (const s of list.body) assert.deepEqual([s.status, s.healthy, s.enabled], ['ACTIVE_HEALTHY', true, true], s.name);
  assert.equal(list.body.find((s: { name: string }) => s.name === 'rest').schema_cached, true);
  assert.equal(list.body.find((s: { name: string }) => s.name === 'graphql').instance_cached, true);

  const rest = await http('POST', `/v1/projects/${a.ref}/services/rest/restart`, { token: t });
  assert.deepEqual([rest.status, rest.body], [200, { name: 'rest', restarted: true }]);
  assert.equal(cachedSchemaProjects().includes(a.ref), false);
  assert.equal(cachedSchemaProjects().includes(b.ref), true);
  const graphql = await http('POST', `/v1/projects/${a.ref}/services/graphql/restart`, { token: t });
  assert.equal(graphql.status, 200);
  assert.equal(cachedProjects().includes(a.ref), false);
  assert.equal(cachedProjects().includes(b.ref), true);
  const after = await http('GET', `/v1/projects/${a.ref}/services`, { token: t });
  assert.equal(after.body.find((s: { name: string }) => s.name === 'rest').schema_cached, false);
  // The next requests build them again.
  await warm(a);
  assert.equal(cachedSchemaProjects().includes(a.ref), true);
  for (const name of ['db', 'auth', 'storage', 'realtime', 'functions', 'sites']) {
    assert.equal((await http('POST', `/v1/projects/${a.ref}/services/${name}/restart`, { token: t })).status, 200, name);
  }
  await warm(a);
  assert.equal(cachedProjects().includes(b.ref), true);

  const unknown = await http('POST', `/v1/projects/${a.ref}/services/kafka/restart`, { token: t });
  assert.deepEqual([unknown.status, unknown.body.code], [404, 'service_not_found']);
  const stranger = await signup();
  for (const [method, path] of [['GET', '/services'], ['POST', '/services/rest/restart']] as const) {
    const res = await http(method, `/v1/projects/${a.ref}${path}`, { token: stranger.token });
    assert.deepEqual([res.status, res.body.code], [404, 'project_not_found'], path);
  }
  const db = await adminClient();
  try {
    const { rows } = await db.query(`select target from platform.audit_log l join platform.projects p on p.id = l.project_id
      where p.ref = $1 and l.action = 'service.restarted' order by l.id`, [a.ref]);
    assert.deepEqual(rows.map((r) => r.target), ['rest', 'graphql', 'db', 'auth', 'storage', 'realtime', 'functions', 'sites']);
  } finally {
    await db.end();
  }
});

const statusOf = (body: { name: string; status: string }[]) => Object.fromEntries(body.map((s) => [s.name, s.status]));

test('services reflect reality: a database that refuses connections, a paused project (whose sites still serve)', async () => {
  const c = await createProject();
  const t = c.owner.token, services = `/v1/projects/${c.ref}/services`;
  const sub = `svc-${c.ref.slice(0, 12)}`;
  const site = await http('POST', `/v1/projects/${c.ref}/sites`, { token: t, body: { name: 'home', subdomain: sub } });
  const up = await uploadZip(t, c.ref, site.body.id, makeZip([{ name: 'index.html', data: 'up' }]));
  assert.equal((await waitDeploy(t, c.ref, site.body.id, up.body.id)).status, 'ready');
  assert.equal((await http('POST', `/v1/projects/${c.ref}/sites/${site.body.id}/deploys/${up.body.id}/publish`, { token: t })).status, 200);

  const db = await adminClient();
  try {
    await db.query(`alter database ${c.ref} allow_connections false`);
    await db.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [c.ref]);
    const broken = await http('GET', services, { token: t });
    assert.equal(broken.status, 200);
    for (const s of broken.body) {
      if (s.name === 'sites') assert.deepEqual([s.status, s.healthy, s.error], ['ACTIVE_HEALTHY', true, undefined]);
      else {
        assert.deepEqual([s.status, s.healthy], ['UNHEALTHY', false], s.name);
        assert.match(s.error, /not currently accepting connections/, s.name);
      }
    }
  } finally {
    await db.query(`alter database ${c.ref} allow_connections true`);
    await db.end();
  }
  assert.equal((await http('POST', `/v1/projects/${c.ref}/services/db/restart`, { token: t })).status, 200);
  for (const s of (await http('GET', services, { token: t })).body) assert.equal(s.status, 'ACTIVE_HEALTHY', s.name);

  assert.equal((await http('POST', `/v1/projects/${c.ref}/pause`, { token: t })).status, 200);
  await waitForStatus(t, c.ref, 'INACTIVE');
  assert.deepEqual(statusOf((await http('GET', services, { token: t })).body), {
    db: 'INACTIVE', rest: 'INACTIVE', graphql: 'INACTIVE', auth: 'INACTIVE', storage: 'INACTIVE', realtime: 'INACTIVE', functions: 'INACTIVE', sites: 'ACTIVE_HEALTHY',
  });
  const served = await fetch(`${(await loam()).url}/sites/${sub}/`);
  assert.deepEqual([served.status, await served.text()], [200, 'up']);
});

test('a restart reaches every API process; realtime and functions restarts end that project\'s sockets and workers alone', async () => {
  const { databaseUrl } = await loam();
  const t = a.owner.token;
  const child = await startChildLoam('api', { DATABASE_URL: databaseUrl });
  try {
    // The other process has the project's REST schema cached; a restart through this one drops it there too.
    assert.equal((await fetch(`${child.url}/project/${a.ref}/rest/v1/`, { headers: { apikey: a.anonKey } })).status, 200);
    const cachedThere = async () => (await child.call('GET', `/v1/projects/${a.ref}/services`, { headers: { authorization: `Bearer ${t}` } }))
      .body.find((s: { name: string }) => s.name === 'rest').schema_cached;
    assert.equal(await cachedThere(), true);
    assert.equal((await http('POST', `/v1/projects/${a.ref}/services/rest/restart`, { token: t })).status, 200);
    for (let i = 0; await cachedThere(); i++) {
      assert.ok(i < 50, 'the other process still has the schema cached');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await child.stop();
  }

  // Realtime: a's socket is closed with 1012 (service restart); b's stays open.
  const open = (p: Project) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${p.url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${p.anonKey}&vsn=1.0.0`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const [wa, wb] = await Promise.all([open(a), open(b)]);
  const closed = new Promise<number>((r) => wa.once('close', (code) => r(code)));
  assert.equal((await http('POST', `/v1/projects/${a.ref}/services/realtime/restart`, { token: t })).status, 200);
  assert.equal(await closed, 1012);
  assert.equal(wb.readyState, WebSocket.OPEN);
  wb.close();

  // Functions: a's worker is replaced (a new module instance answers); b's keeps running.
  const code = { 'index.ts': 'const id = crypto.randomUUID();\nDeno.serve(() => new Response(id));\n' };
  for (const p of [a, b]) assert.equal((await deploy(p, 'whoami', code, { verify_jwt: false })).status, 201);
  const id = async (p: Project) => (await invoke(p, 'whoami')).text;
  const [a1, b1] = [await id(a), await id(b)];
  assert.equal(await id(a), a1, 'a warm worker answers again');
  assert.equal((await http('POST', `/v1/projects/${a.ref}/services/functions/restart`, { token: t })).status, 200);
  const a2 = await id(a);
  assert.match(a2, /^[0-9a-f-]{36}$/);
  assert.notEqual(a2, a1);
  assert.equal(await id(b), b1);
});

async function canLogIn(p: Project, password: string): Promise<boolean> {
  const u = new URL((await loam()).databaseUrl);
  const c = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: p.ref, password, database: p.ref });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

test('database credentials: metadata, an audited reveal, a rotation that refuses the old password', async () => {
  const t = b.owner.token, base = `/v1/projects/${b.ref}/database/credentials`;
  const meta = await http('GET', base, { token: t });
  assert.equal(meta.status, 200);
  assert.equal(meta.body.user, b.ref);
  assert.equal(meta.body.database, b.ref);
  assert.equal(meta.body.revealable, true);
  assert.equal(meta.body.last_revealed_at, null);
  assert.equal('password' in meta.body, false);

  const revealed = await http('POST', `${base}/reveal`, { token: t });
  assert.equal(revealed.status, 200);
  assert.equal(revealed.body.password, b.dbPass);
  assert.match(revealed.body.connection_string, new RegExp(`^postgresql://${b.ref}:`));
  assert.ok((await http('GET', base, { token: t })).body.last_revealed_at);

  // A session opened with the old password (say, by whoever it leaked to) ends with the rotation.
  const u = new URL((await loam()).databaseUrl);
  const live = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: b.ref, password: b.dbPass, database: b.ref });
  live.on('error', () => {});
  await live.connect();
  assert.equal((await live.query('select 1 as one')).rows[0].one, 1);
  const rotated = await http('POST', `${base}/rotate`, { token: t });
  assert.equal(rotated.status, 200);
  assert.notEqual(rotated.body.password, b.dbPass);
  assert.ok(rotated.body.password.length >= 24);
  assert.equal((await http('POST', `${base}/reveal`, { token: t })).body.password, rotated.body.password);
  assert.equal(await canLogIn(b, rotated.body.password), true);
  if (await passwordsChecked()) assert.equal(await canLogIn(b, b.dbPass), false);
  await assert.rejects(live.query('select 1'), /terminat|connection error|closed/i);
  await live.end().catch(() => {});

  const db = await adminClient();
  try {
    const { rows } = await db.query(`select l.action, l.account_id from platform.audit_log l join platform.projects p on p.id = l.project_id
      where p.ref = $1 and l.action like 'database.%' order by l.id`, [b.ref]);
    assert.deepEqual(rows.map((r) => r.action), ['database.credentials_revealed', 'database.password_set', 'database.credentials_revealed']);
    assert.ok(rows.every((r) => r.account_id === b.owner.user.id));
    // A password Loam never held (set before it kept them sealed) cannot be revealed until rotated.
    await db.query(`update platform_private.project_secrets set db_pass_sealed = null where project_id = (select id from platform.projects where ref = $1)`, [b.ref]);
  } finally {
    await db.end();
  }
  const none = await http('POST', `${base}/reveal`, { token: t });
  assert.deepEqual([none.status, none.body.code], [409, 'credentials_not_revealable']);
  assert.equal((await http('GET', base, { token: t })).body.revealable, false);

  const stranger = await signup();
  for (const [method, path] of [['GET', ''], ['POST', '/reveal'], ['POST', '/rotate']] as const) {
    const res = await http(method, `${base}${path}`, { token: stranger.token });
    assert.deepEqual([res.status, res.body.code], [404, 'project_not_found'], path);
  }
});

test('database credentials by organization role: every member sees the metadata; only Administrators and Owners reveal or rotate, and the audit names the token', async () => {
  const team = await organizationTeam();
  const base = `/v1/projects/${team.project.ref}/database/credentials`;
  for (const m of [team.ro, team.dev]) {
    assert.equal((await http('GET', base, { token: m.token })).status, 200);
    for (const action of ['reveal', 'rotate']) {
      const res = await http('POST', `${base}/${action}`, { token: m.token });
      assert.deepEqual([res.status, res.body.code], [403, 'insufficient_role'], action);
    }
  }
  // A personal token of the Administrator: the reveal records who, when and with which token.
  const created = await http('POST', '/v1/auth/tokens', { token: team.admin.token, body: { name: 'reveal' } });
  const revealed = await http('POST', `${base}/reveal`, { token: created.body.token });
  assert.equal(revealed.status, 200);
  assert.equal(revealed.body.password, team.project.dbPass);
  const audit = await http('GET', `/v1/organizations/${team.owner.org}/audit`, { token: team.owner.token });
  const entry = audit.body.find((e: { action: string }) => e.action === 'database.credentials_revealed');
  assert.equal(entry.user_id, team.admin.user.id);
  assert.equal(entry.token_id, created.body.id);
  assert.equal(entry.project_ref, team.project.ref);
  assert.ok(Date.now() - Date.parse(entry.created_at) < 60_000);
  // Nothing the refused members asked for was recorded or changed.
  assert.deepEqual(audit.body.filter((e: { action: string }) => e.action.startsWith('database.')).map((e: { action: string }) => e.action), ['database.credentials_revealed']);
  assert.equal(await canLogIn(team.project, team.project.dbPass), true);
  // A token that may only read may not reveal.
  const readOnly = await http('POST', '/v1/auth/tokens', { token: team.owner.token, body: { name: 'ro', scopes: ['database:read'] } });
  const scoped = await http('POST', `${base}/reveal`, { token: readOnly.body.token });
  assert.deepEqual([scoped.status, scoped.body.code], [403, 'insufficient_scope']);
});
