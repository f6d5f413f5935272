// The schema cache follows DDL made any way — the SQL endpoint, psql as the owner — without a restart, and
// `NOTIFY pgrst, 'reload schema'` reloads it too. Also the OpenAPI document at the root.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { adminClient, createProject, ownerClient, sql, type Project } from '../helpers/platform.ts';
import { rest } from './fixture.ts';

let p: Project;
before(async () => { p = await createProject(); });

test('DDL through the SQL endpoint is visible on the next request', async () => {
  assert.equal((await rest(p, 'GET', '/gadgets')).status, 404);
  await sql(p, 'create table gadgets (id int primary key, name text); grant select on gadgets to anon; insert into gadgets values (1, $$g$$);');
  const r = await rest(p, 'GET', '/gadgets');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, [{ id: 1, name: 'g' }]);
  await sql(p, 'alter table gadgets add column color text default $$red$$');
  assert.deepEqual((await rest(p, 'GET', '/gadgets')).body, [{ id: 1, name: 'g', color: 'red' }]);
});

test('DDL through psql as the owner, including relationships and functions', async () => {
  const c = await ownerClient(p);
  try {
    await c.query(`create table makers (id int primary key, name text); insert into makers values (7, 'acme');
      alter table gadgets add column maker_id int references makers(id); update gadgets set maker_id = 7;
      grant select on makers to anon;
      create function gadget_count() returns int language sql stable as 'select count(*)::int from gadgets';`);
  } finally { await c.end(); }
  const r = await rest(p, 'GET', '/gadgets?select=id,makers(name)');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 1, makers: { name: 'acme' } }]);
  assert.equal((await rest(p, 'POST', '/rpc/gadget_count', { body: {} })).body, 1);
  const drop = await ownerClient(p);
  await drop.query('drop function gadget_count()');
  await drop.end();
  assert.equal((await rest(p, 'POST', '/rpc/gadget_count', { body: {} })).status, 404);
});

test("NOTIFY pgrst, 'reload schema' reloads a cache the version signal missed", async () => {
  await rest(p, 'GET', '/gadgets'); // the project is active: its listener is up
  const admin = await adminClient(p.ref);
  try {
    // Hide the DDL from the version signal, as a change made outside event triggers would be.
    await admin.query('alter event trigger loam_ddl_command_end disable');
    await admin.query('create table hidden (id int primary key); grant select on hidden to anon');
    await admin.query('alter event trigger loam_ddl_command_end enable');
    assert.equal((await rest(p, 'GET', '/hidden')).status, 404, 'stale cache');
    await admin.query(`notify pgrst, 'reload schema'`);
    const until = Date.now() + 3000;
    let status = 0;
    while (Date.now() < until && (status = (await rest(p, 'GET', '/hidden')).status) !== 200) await new Promise((r) => setTimeout(r, 50));
    assert.equal(status, 200);
  } finally {
    await admin.query('alter event trigger loam_ddl_command_end enable').catch(() => {});
    await admin.end();
  }
});

test('OpenAPI document at the root with info.version', async () => {
  const r = await rest(p, 'GET', '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^application\/openapi\+json/);
  assert.equal(r.body.swagger, '2.0');
  assert.match(r.body.info.version, /^\d+\.\d+\.\d+$/);
  assert.ok(r.body.paths['/gadgets']);
  assert.ok(r.body.paths['/rpc/gadget_count'] === undefined);
  assert.deepEqual(Object.keys(r.body.definitions.gadgets.properties), ['id', 'name', 'color', 'maker_id']);
  const bad = await rest(p, 'POST', '/');
  assert.equal(bad.status, 405);
  assert.equal(bad.body.code, 'PGRST117');
});

test('a path deeper than a resource is 404 PGRST125', async () => {
  const r = await rest(p, 'GET', '/gadgets/1');
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { code: 'PGRST125', details: null, hint: null, message: 'Invalid path specified in request URL' });
});

test('hot statements survive a column type change', async () => {
  await sql(p, 'create table retyped (id int primary key, v int); insert into retyped values (1, 10); grant select on retyped to anon;');
  for (let i = 0; i < 6; i++) assert.deepEqual((await rest(p, 'GET', '/retyped?v=eq.10&select=id')).body, [{ id: 1 }]);
  await sql(p, 'alter table retyped alter column v type text');
  for (let i = 0; i < 3; i++) {
    const r = await rest(p, 'GET', '/retyped?v=eq.10&select=id');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, [{ id: 1 }]);
  }
});
