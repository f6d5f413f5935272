// A project's life: healthy → SQL as its owner → pause (database closed, data plane 503) → restore with data
// intact → delete (database and roles dropped, gone from listings).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminClient, createProject, http, ownerClient, sql, waitForStatus } from '../helpers/platform.ts';

async function controlStatus(ref: string): Promise<string> {
  const db = await adminClient();
  try {
    return (await db.query('select status from platform.projects where ref = $1', [ref])).rows[0]?.status;
  } finally {
    await db.end();
  }
}

async function waitForControlStatus(ref: string, status: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while ((await controlStatus(ref)) !== status) {
    if (Date.now() > until) throw new Error(`project ${ref} did not reach ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a new project becomes healthy and runs SQL as its owner', async () => {
  const p = await createProject();
  const rows = await sql(p, 'select current_user as who');
  assert.deepEqual(rows, [{ who: p.ref }]);
  const health = await http('GET', `/v1/projects/${p.ref}/health?services=db`, { token: p.owner.token });
  assert.equal(health.status, 200);
  assert.equal(health.body[0].status, 'ACTIVE_HEALTHY');
});

test('pause closes the database and the data plane (503 "project is paused"); restore brings it back with data intact', async () => {
  const p = await createProject();
  await sql(p, `create table notes (id int primary key, body text); insert into notes values (1, 'kept')`);
  const open = await ownerClient(p);
  open.on('error', () => {});

  const paused = await http('POST', `/v1/projects/${p.ref}/pause`, { token: p.owner.token });
  assert.equal(paused.status, 200);
  assert.ok(['PAUSING', 'INACTIVE'].includes(paused.body.status), paused.body.status);
  // At once, before the job has run: the data plane no longer serves the project.
  const plane = await fetch(`${p.url}/rest/v1/`, { headers: { apikey: p.anonKey } });
  assert.equal(plane.status, 503);
  assert.deepEqual(await plane.json(), { message: 'project is paused', code: 'project_paused' });
  await waitForStatus(p.owner.token, p.ref, 'INACTIVE');

  // The database refuses logins, and the session that was open has been closed.
  await assert.rejects(ownerClient(p), /not currently accepting connections/);
  await assert.rejects(open.query('select 1'));
  assert.equal((await fetch(`${p.url}/rest/v1/notes`, { headers: { apikey: p.anonKey } })).status, 503);
  const query = await http('POST', `/v1/projects/${p.ref}/database/query`, { token: p.owner.token, body: { query: 'select 1' } });
  assert.equal(query.status, 503);
  assert.deepEqual(query.body, { message: 'project is paused', code: 'project_unavailable' });
  const health = await http('GET', `/v1/projects/${p.ref}/health?services=db`, { token: p.owner.token });
  assert.equal(health.body[0].status, 'UNHEALTHY');

  const again = await http('POST', `/v1/projects/${p.ref}/pause`, { token: p.owner.token });
  assert.equal(again.status, 400);
  assert.deepEqual(again.body, { message: 'cannot pause a project whose status is INACTIVE', code: 'invalid_project_state' });

  const restored = await http('POST', `/v1/projects/${p.ref}/restore`, { token: p.owner.token });
  assert.equal(restored.status, 200);
  await waitForStatus(p.owner.token, p.ref, 'ACTIVE_HEALTHY');
  assert.deepEqual(await sql(p, 'select * from notes'), [{ id: 1, body: 'kept' }]);
  const client = await ownerClient(p);
  assert.deepEqual((await client.query('select body from notes')).rows, [{ body: 'kept' }]);
  await client.end();
  assert.notEqual((await fetch(`${p.url}/rest/v1/`, { headers: { apikey: p.anonKey } })).status, 503);

  const restoreActive = await http('POST', `/v1/projects/${p.ref}/restore`, { token: p.owner.token });
  assert.equal(restoreActive.status, 400);
  assert.equal(restoreActive.body.code, 'invalid_project_state');
});

test('delete drops the database and roles and the project disappears', async () => {
  const p = await createProject();
  const keep = await createProject(p.owner, 'keeper');
  await sql(p, 'create table doomed (id int)');
  const res = await http('DELETE', `/v1/projects/${p.ref}`, { token: p.owner.token });
  assert.equal(res.status, 200);
  assert.equal(typeof res.body.id, 'number');
  assert.deepEqual({ ref: res.body.ref, name: res.body.name }, { ref: p.ref, name: 'test project' });

  // Gone from the API at once.
  const list = await http('GET', '/v1/projects', { token: p.owner.token });
  assert.deepEqual(list.body.map((x: { ref: string }) => x.ref), [keep.ref]);
  assert.equal((await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token })).status, 404);
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}`, { token: p.owner.token })).status, 404);
  const plane = await fetch(`${p.url}/rest/v1/`, { headers: { apikey: p.anonKey } });
  assert.equal(plane.status, 404);

  await waitForControlStatus(p.ref, 'REMOVED');
  const db = await adminClient();
  const dbs = await db.query('select datname from pg_database where datname = $1', [p.ref]);
  const roles = await db.query(`select rolname from pg_roles where rolname = $1 or rolname like $1 || '\\_%'`, [p.ref]);
  await db.end();
  assert.equal(dbs.rowCount, 0, 'database dropped');
  assert.equal(roles.rowCount, 0, 'roles dropped');
  await assert.rejects(ownerClient(p));
  // The other project of the same organization is untouched.
  assert.equal((await http('GET', `/v1/projects/${keep.ref}`, { token: p.owner.token })).body.status, 'ACTIVE_HEALTHY');
  assert.deepEqual(await sql(keep, 'select 1 as ok'), [{ ok: 1 }]);
});
