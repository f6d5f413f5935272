// Projects: creation (shape, validation with nothing created), listing, get, rename, health, and 404 for
// every project endpoint of another account.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminClient, createProject, http, loam, signup, waitForStatus } from '../helpers/platform.ts';

async function projectCount(orgSlug: string): Promise<number> {
  const db = await adminClient();
  try {
    const { rows } = await db.query(
      `select count(*)::int as n from platform.projects p join platform.organizations o on o.id = p.organization_id where o.slug = $1`, [orgSlug]);
    return rows[0].n;
  } finally {
    await db.end();
  }
}

test('POST /v1/projects → 201 COMING_UP in Supabase\'s shape, then ACTIVE_HEALTHY with its URLs and database', async () => {
  const a = await signup();
  const res = await http('POST', '/v1/projects', { token: a.token, body: { name: 'My App', organization_id: a.org, db_pass: 'long enough', plan: 'free' } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const p = res.body;
  assert.match(p.ref, /^[a-z]{20}$/);
  assert.equal(p.id, p.ref);
  assert.equal(p.organization_id, a.org);
  assert.equal(p.organization_slug, a.org);
  assert.equal(p.name, 'My App');
  assert.equal(p.region, 'local');
  assert.equal(p.status, 'COMING_UP');
  assert.ok(!Number.isNaN(Date.parse(p.created_at)));

  const healthy = await waitForStatus(a.token, p.ref, 'ACTIVE_HEALTHY');
  const { url, databaseUrl } = await loam();
  assert.equal(healthy.endpoint, `http://localhost:${new URL(url).port}/project/${p.ref}`);
  assert.equal(healthy.rest_url, `${healthy.endpoint}/rest/v1/`);
  assert.equal(healthy.auth_url, `${healthy.endpoint}/auth/v1/`);
  assert.equal(healthy.graphql_url, `${healthy.endpoint}/graphql/v1`);
  assert.equal(healthy.storage_url, `${healthy.endpoint}/storage/v1/`);
  assert.equal(healthy.database.name, p.ref);
  assert.equal(healthy.database.user, p.ref);
  assert.equal(healthy.database.port, Number(new URL(databaseUrl).port));
  assert.equal(healthy.database.host, 'localhost');
  const admin = await adminClient();
  const serverVersion: string = (await admin.query('show server_version')).rows[0].server_version.split(' ')[0];
  await admin.end();
  assert.equal(healthy.database.version, serverVersion);
  assert.equal(healthy.database.postgres_engine, serverVersion.split('.')[0]);

  const list = await http('GET', '/v1/projects', { token: a.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.map((x: { ref: string }) => x.ref), [p.ref]);
  assert.equal(list.body[0].status, 'ACTIVE_HEALTHY');

  // organization_slug (Supabase's current name) works too.
  const bySlug = await http('POST', '/v1/projects', { token: a.token, body: { name: 'Second', organization_slug: a.org, db_pass: 'long enough', region_selection: { type: 'specific', code: 'local' } } });
  assert.equal(bySlug.status, 201);
});

test('bad input → 400 with a clear message, and nothing is created', async () => {
  const a = await signup();
  const other = await signup();
  const ok = { name: 'fine', organization_id: a.org, db_pass: 'long enough' };
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...ok, name: 'x'.repeat(300) }, 'invalid_body', /name must be at most 256 characters/],
    [{ ...ok, name: 'bad<name>' }, 'invalid_name', /name must be 1-256 characters: letters, digits/],
    [{ ...ok, name: ' leading space' }, 'invalid_name', /name must be/],
    [{ ...ok, name: '' }, 'invalid_name', /name must be/],
    [{ ...ok, name: undefined }, 'invalid_body', /name is required/],
    [{ ...ok, organization_id: 'nosuchorganizationxx' }, 'organization_unknown', /organization "nosuchorganizationxx" not found/],
    [{ ...ok, organization_id: other.org }, 'organization_unknown', /not found/],
    [{ ...ok, organization_id: undefined }, 'invalid_body', /organization_slug \(or organization_id\) is required/],
    [{ ...ok, db_pass: undefined }, 'invalid_body', /db_pass is required/],
    [{ ...ok, db_pass: 'short' }, 'invalid_body', /db_pass must be at least 8 characters/],
    [{ ...ok, region: 'mars-1' }, 'invalid_region', /region "mars-1" does not exist/],
    [{ ...ok, region_selection: 'local' }, 'invalid_body', /region_selection must be/],
  ];
  for (const [body, code, message] of cases) {
    const res = await http('POST', '/v1/projects', { token: a.token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, code, JSON.stringify(res.body));
    assert.match(res.body.message, message);
  }
  assert.equal(await projectCount(a.org), 0);
  assert.equal(await projectCount(other.org), 0);
  assert.deepEqual((await http('GET', '/v1/projects', { token: a.token })).body, []);
});

test('the plan\'s project limit → 402 and nothing created', async () => {
  const a = await signup();
  const db = await adminClient();
  const plan = `one_${a.org}`;
  await db.query(`insert into platform.plans (id, name, max_projects, max_organizations, db_size_mb, storage_size_mb) values ($1, 'One', 1, 1, 10, 10)`, [plan]);
  await db.query('update platform.organizations set plan = $1 where slug = $2', [plan, a.org]);
  await db.end();
  const body = { name: 'first', organization_id: a.org, db_pass: 'long enough' };
  assert.equal((await http('POST', '/v1/projects', { token: a.token, body })).status, 201);
  const over = await http('POST', '/v1/projects', { token: a.token, body: { ...body, name: 'second' } });
  assert.equal(over.status, 402);
  assert.equal(over.body.code, 'quota_exceeded');
  assert.equal(await projectCount(a.org), 1);
});

test('rename: PATCH returns {id, ref, name}; bad names are 400', async () => {
  const p = await createProject();
  const res = await http('PATCH', `/v1/projects/${p.ref}`, { token: p.owner.token, body: { name: 'Renamed app' } });
  assert.equal(res.status, 200);
  assert.equal(typeof res.body.id, 'number');
  assert.deepEqual({ ref: res.body.ref, name: res.body.name }, { ref: p.ref, name: 'Renamed app' });
  assert.equal((await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token })).body.name, 'Renamed app');
  for (const body of [{}, { name: 'semi;colon' }, { name: 'x'.repeat(257) }]) {
    const bad = await http('PATCH', `/v1/projects/${p.ref}`, { token: p.owner.token, body });
    assert.equal(bad.status, 400, JSON.stringify(body));
  }
  assert.equal((await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token })).body.name, 'Renamed app');
});

test('health: Supabase\'s shape per service; unknown services are 400', async () => {
  const p = await createProject();
  const res = await http('GET', `/v1/projects/${p.ref}/health?services=db,rest`, { token: p.owner.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, [
    { name: 'db', healthy: true, status: 'ACTIVE_HEALTHY', info: { healthy: true, db_connected: true, replication_connected: false, connected_cluster: 1 } },
    { name: 'rest', healthy: true, status: 'ACTIVE_HEALTHY' },
  ]);
  const all = await http('GET', `/v1/projects/${p.ref}/health`, { token: p.owner.token });
  assert.deepEqual(all.body.map((s: { name: string }) => s.name), ['auth', 'db', 'rest', 'storage']);
  const bad = await http('GET', `/v1/projects/${p.ref}/health?services=db,warp`, { token: p.owner.token });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /unknown service "warp"/);
});

test('another account\'s project is 404 on every project endpoint, and nothing changes', async () => {
  const p = await createProject();
  const intruder = await signup();
  const ref = p.ref;
  const calls: [string, string, unknown?][] = [
    ['GET', `/v1/projects/${ref}`],
    ['PATCH', `/v1/projects/${ref}`, { name: 'pwned' }],
    ['DELETE', `/v1/projects/${ref}`],
    ['GET', `/v1/projects/${ref}/health`],
    ['POST', `/v1/projects/${ref}/pause`],
    ['POST', `/v1/projects/${ref}/restore`],
    ['GET', `/v1/projects/${ref}/api-keys`],
    ['POST', `/v1/projects/${ref}/api-keys/rotate`],
    ['POST', `/v1/projects/${ref}/database/query`, { query: 'select 1' }],
    ['PATCH', `/v1/projects/${ref}/database/password`, { password: 'taken over!' }],
    ['GET', `/v1/projects/${ref}/config/auth`],
    ['PATCH', `/v1/projects/${ref}/config/auth`, { site_url: 'https://evil.example.com' }],
    ['GET', `/v1/projects/${ref}/postgrest`],
    ['PATCH', `/v1/projects/${ref}/postgrest`, { max_rows: 1 }],
    ['GET', `/v1/projects/${ref}/config/storage`],
    ['PATCH', `/v1/projects/${ref}/config/storage`, { fileSizeLimit: 1 }],
    ['GET', `/v1/projects/${ref}/storage/buckets`],
  ];
  for (const [method, path, body] of calls) {
    const res = await http(method, path, { token: intruder.token, body });
    assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, { message: 'Project not found', code: 'project_not_found' }, `${method} ${path}`);
  }
  assert.deepEqual((await http('GET', '/v1/projects', { token: intruder.token })).body, []);
  // An unknown ref looks the same.
  assert.equal((await http('GET', '/v1/projects/abcdefghijklmnopqrst', { token: p.owner.token })).status, 404);
  const mine = await http('GET', `/v1/projects/${ref}`, { token: p.owner.token });
  assert.equal(mine.body.status, 'ACTIVE_HEALTHY');
  assert.equal(mine.body.name, 'test project');
});

test('project endpoints need an access token', async () => {
  const p = await createProject();
  for (const [method, path] of [['GET', '/v1/projects'], ['POST', '/v1/projects'], ['GET', `/v1/projects/${p.ref}`],
    ['GET', `/v1/projects/${p.ref}/api-keys`], ['POST', `/v1/projects/${p.ref}/database/query`]]) {
    const res = await http(method, path, { body: method === 'POST' ? {} : undefined });
    assert.equal(res.status, 401, `${method} ${path}`);
  }
});
