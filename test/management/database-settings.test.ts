// A project's database settings through the Management API: Postgres parameters per database, the pooler
// connection string, read-only mode, add-ons, snippets — and that no account reaches another's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminClient, createProject, http, ownerClient, signup, sql } from '../helpers/platform.ts';

const postgres = (ref: string) => `/v1/projects/${ref}/config/database/postgres`;

test('postgres config: per-database settings apply to new sessions; PUT replaces; server-wide ones are refused by name', async () => {
  const p = await createProject();
  const token = p.owner.token;
  assert.deepEqual((await http('GET', postgres(p.ref), { token })).body, {});
  const put = await http('PUT', postgres(p.ref), { token, body: { statement_timeout: '5s', work_mem: '8MB', max_parallel_workers_per_gather: 1 } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body, { statement_timeout: '5s', work_mem: '8MB', max_parallel_workers_per_gather: 1 });
  assert.deepEqual((await http('GET', postgres(p.ref), { token })).body, put.body);
  const c = await ownerClient(p);
  assert.equal((await c.query('show statement_timeout')).rows[0].statement_timeout, '5s');
  assert.equal((await c.query('show work_mem')).rows[0].work_mem, '8MB');
  await c.end();

  // Replaces: what the body leaves out goes back to the server's value.
  assert.deepEqual((await http('PUT', postgres(p.ref), { token, body: { work_mem: '16MB' } })).body, { work_mem: '16MB' });
  const c2 = await ownerClient(p);
  assert.equal((await c2.query('show statement_timeout')).rows[0].statement_timeout, '0');
  await c2.end();

  const server = await http('PUT', postgres(p.ref), { token, body: { max_connections: 1000, shared_buffers: '1GB', work_mem: '1MB' } });
  assert.equal(server.status, 400);
  assert.equal(server.body.code, 'invalid_postgres_config');
  assert.match(server.body.message, /^max_connections, shared_buffers cannot be set for one project's database: they are server-wide/);
  const superuser = await http('PUT', postgres(p.ref), { token, body: { session_replication_role: 'replica' } });
  assert.equal(superuser.status, 400);
  assert.match(superuser.body.message, /session_replication_role cannot be set.*superuser/);
  for (const [body, message] of [
    [{ nope: 1 }, /"nope" is not a Postgres setting the API accepts/],
    [{ work_mem: 5 }, /work_mem must be a string/],
    [{ max_parallel_workers: '2' }, /max_parallel_workers must be an integer/],
    [{ work_mem: 'lots' }, /invalid value for parameter "work_mem"/],
    [{ statement_timeout: "1s'; drop database x; --" }, /invalid value for parameter "statement_timeout"/],
  ] as const) {
    const res = await http('PUT', postgres(p.ref), { token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, 'invalid_postgres_config');
    assert.match(res.body.message, message);
  }
  // Nothing of a refused PUT was applied.
  assert.deepEqual((await http('GET', postgres(p.ref), { token })).body, { work_mem: '16MB' });
});

test('pooler: the project\'s own login, direct, with TLS when the server offers it; no transaction mode', async () => {
  const p = await createProject();
  const res = await http('GET', `/v1/projects/${p.ref}/config/database/pooler`, { token: p.owner.token });
  assert.equal(res.status, 200);
  const [entry] = res.body;
  assert.equal(entry.db_user, p.ref);
  assert.equal(entry.db_name, p.ref);
  assert.equal(entry.pool_mode, 'session');
  assert.equal(entry.database_type, 'PRIMARY');
  const admin = await adminClient();
  const ssl = (await admin.query('show ssl')).rows[0].ssl === 'on';
  await admin.end();
  assert.equal(entry.ssl, ssl);
  assert.equal(entry.connection_string, `postgresql://${p.ref}:[YOUR-PASSWORD]@${entry.db_host}:${entry.db_port}/${p.ref}${ssl ? '?sslmode=require' : ''}`);
  const tx = await http('PATCH', `/v1/projects/${p.ref}/config/database/pooler`, { token: p.owner.token, body: { pool_mode: 'transaction' } });
  assert.equal(tx.status, 400);
  assert.equal(tx.body.code, 'invalid_pooler_config');
  assert.deepEqual((await http('PATCH', `/v1/projects/${p.ref}/config/database/pooler`, { token: p.owner.token, body: { pool_mode: 'session' } })).body,
    { default_pool_size: null, pool_mode: 'session' });
});

test('read-only mode: the owner\'s psql and the data plane cannot write; a temporary override lets them; the job ends it', async () => {
  const p = await createProject();
  const token = p.owner.token;
  const c = await ownerClient(p);
  await c.query('create table notes (id int)');
  await c.end();
  assert.deepEqual((await http('GET', `/v1/projects/${p.ref}/readonly`, { token })).body,
    { enabled: false, override_enabled: false, override_active_until: '' });

  const admin = await adminClient();
  await admin.query('select platform_private.set_readonly($1, true)', [p.ref]);
  // The job applies it: wait until a new session is read-only.
  const { applyReadonly } = await import('../../db/src/readonly.ts');
  assert.equal(await applyReadonly(p.ref), true);
  const ro = await ownerClient(p);
  await assert.rejects(ro.query('insert into notes values (1)'), /read-only transaction/);
  await ro.end();
  const rest = await fetch(`${p.url}/rest/v1/notes`, { method: 'POST', headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}`, 'content-type': 'application/json' }, body: '{"id":1}' });
  assert.equal(rest.status >= 400, true, `REST write in read-only mode: ${rest.status}`);
  assert.equal((await http('GET', `/v1/projects/${p.ref}/readonly`, { token })).body.enabled, true);

  const off = await http('POST', `/v1/projects/${p.ref}/readonly/temporary-disable`, { token });
  assert.equal(off.status, 201);
  const status = (await http('GET', `/v1/projects/${p.ref}/readonly`, { token })).body;
  assert.equal(status.enabled, true);
  assert.equal(status.override_enabled, true);
  const until = Date.parse(status.override_active_until) - Date.now();
  assert.ok(until > 14 * 60_000 && until <= 15 * 60_000, `override for ${until} ms`);
  const rw = await ownerClient(p);
  await rw.query('insert into notes values (2)');
  await rw.end();
  // The override's end (the job queued for it, run here early) puts the database back in read-only mode.
  await admin.query(`update platform_private.project_network set readonly_override_until = now() - interval '1 second'
    where project_id = (select id from platform.projects where ref = $1)`, [p.ref]);
  assert.equal(await applyReadonly(p.ref), true);
  const again = await ownerClient(p);
  await assert.rejects(again.query('insert into notes values (3)'), /read-only transaction/);
  await again.end();
  const { rows } = await admin.query(`select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = 'project__readonly' and j.payload->>'ref' = $1 and j.run_at > now() + interval '14 minutes'`, [p.ref]);
  assert.equal(rows[0].n, 1);
  await admin.query('select platform_private.set_readonly($1, false)', [p.ref]);
  await admin.end();
});

test('billing add-ons: an honest empty list', async () => {
  const p = await createProject();
  const res = await http('GET', `/v1/projects/${p.ref}/billing/addons`, { token: p.owner.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { selected_addons: [], available_addons: [] });
});

test('snippets: saved per account and project, listed and read in Supabase\'s shape', async () => {
  const p = await createProject();
  const token = p.owner.token;
  const created = await http('POST', '/v1/snippets', { token, body: { project_ref: p.ref, name: 'Count users', sql: 'select count(*) from auth.users' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const s = created.body;
  assert.equal(s.type, 'sql');
  assert.equal(s.visibility, 'user');
  assert.equal(s.project.name, 'test project');
  assert.equal(typeof s.project.id, 'number');
  assert.equal(typeof s.owner.id, 'number');
  assert.equal(s.owner.username, p.owner.email);
  assert.deepEqual(s.content, { schema_version: '1.0', sql: 'select count(*) from auth.users', favorite: false });
  await http('POST', '/v1/snippets', { token, body: { project_ref: p.ref, name: 'Another', sql: 'select 1' } });
  const list = await http('GET', `/v1/snippets?project_ref=${p.ref}&sort_by=name&sort_order=asc&limit=1`, { token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((x: { name: string }) => x.name), ['Another']);
  assert.equal(list.body.cursor, '1');
  const next = await http('GET', `/v1/snippets?project_ref=${p.ref}&sort_by=name&sort_order=asc&limit=1&cursor=1`, { token });
  assert.deepEqual(next.body.data.map((x: { name: string }) => x.name), ['Count users']);
  assert.equal(next.body.cursor, undefined);
  assert.equal((await http('GET', `/v1/snippets/${s.id}`, { token })).body.content.sql, 'select count(*) from auth.users');
  assert.equal((await http('GET', '/v1/snippets/00000000-0000-0000-0000-000000000000', { token })).body.code, 'snippet_not_found');
  assert.equal((await http('GET', '/v1/snippets/not-a-uuid', { token })).status, 404);
  assert.equal((await http('GET', '/v1/snippets?sort_by=owner', { token })).status, 400);
  assert.equal((await http('POST', '/v1/snippets', { token, body: { project_ref: p.ref, name: 'x', sql: 'select 1', visibility: 'public' } })).status, 400);
});

test('attacker: another account cannot read or change any of a project\'s database settings or snippets', async () => {
  const victim = await createProject();
  const snippet = (await http('POST', '/v1/snippets', { token: victim.owner.token, body: { project_ref: victim.ref, name: 'secret', sql: 'select 42' } })).body;
  const attacker = await signup();
  const token = attacker.token;
  const calls: [string, string, unknown?][] = [
    ['GET', postgres(victim.ref)], ['PUT', postgres(victim.ref), { statement_timeout: '1ms' }],
    ['GET', `/v1/projects/${victim.ref}/config/database/pooler`], ['PATCH', `/v1/projects/${victim.ref}/config/database/pooler`, {}],
    ['GET', `/v1/projects/${victim.ref}/readonly`], ['POST', `/v1/projects/${victim.ref}/readonly/temporary-disable`],
    ['GET', `/v1/projects/${victim.ref}/billing/addons`],
  ];
  for (const [method, path, body] of calls) {
    const res = await http(method, path, { token, body });
    assert.equal(res.status, 404, `${method} ${path}: ${res.status}`);
    assert.equal(res.body.code, 'project_not_found');
    assert.equal((await http(method, path, { body })).status, 401, `${method} ${path} without a token`);
  }
  assert.equal((await http('GET', `/v1/snippets/${snippet.id}`, { token })).status, 404);
  assert.deepEqual((await http('GET', '/v1/snippets', { token })).body.data, []);
  assert.equal((await http('GET', `/v1/snippets?project_ref=${victim.ref}`, { token })).status, 404);
  assert.equal((await http('POST', '/v1/snippets', { token, body: { project_ref: victim.ref, name: 'x', sql: 'select 1' } })).status, 404);
  // The victim's settings are as they were.
  assert.deepEqual((await http('GET', postgres(victim.ref), { token: victim.owner.token })).body, {});
  // A project member's snippets stay their own unless shared with the project.
  const colleagueProject = await createProject(attacker);
  const mine = await http('POST', '/v1/snippets', { token, body: { project_ref: colleagueProject.ref, name: 'mine', sql: 'select 1' } });
  assert.equal(mine.status, 201);
  assert.equal((await http('GET', `/v1/snippets/${mine.body.id}`, { token: victim.owner.token })).status, 404);
});

test('GET /v2/projects/{ref}/config: the settings of every block in Supabase\'s envelope; another account gets 404', async () => {
  const p = await createProject();
  await http('PUT', postgres(p.ref), { token: p.owner.token, body: { work_mem: '8MB' } });
  const res = await http('GET', `/v2/projects/${p.ref}/config`, { token: p.owner.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.type, 'project_config');
  const a = res.body.data.attributes;
  assert.deepEqual(Object.keys(a).sort(), ['api', 'auth', 'database', 'pooler', 'storage']);
  assert.equal(a.database.major_version, Math.floor(Number((await sql(p, 'show server_version_num'))[0].server_version_num) / 10000));
  assert.deepEqual(a.database.postgres_settings, { work_mem: '8MB' });
  assert.deepEqual(a.database.network_restrictions.allowed_cidrs, [{ address: '0.0.0.0/0', type: 'v4' }, { address: '::/0', type: 'v6' }]);
  assert.equal(a.database.ssl_enforced, false);
  assert.equal(a.api.db_schema, (await http('GET', `/v1/projects/${p.ref}/postgrest`, { token: p.owner.token })).body.db_schema);
  assert.equal(a.auth.site_url, (await http('GET', `/v1/projects/${p.ref}/config/auth`, { token: p.owner.token })).body.site_url);
  assert.equal(typeof a.storage.file_size_limit, 'number');
  const attacker = await signup();
  const stolen = await http('GET', `/v2/projects/${p.ref}/config`, { token: attacker.token });
  assert.equal(stolen.status, 404);
  assert.equal(stolen.body.code, 'project_not_found');
  assert.equal((await http('GET', `/v2/projects/${p.ref}/config`)).status, 401);
  assert.equal((await http('GET', '/v2/nothing', { token: p.owner.token })).status, 404);
});
