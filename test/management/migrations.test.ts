// A project's migration history through the Management API: applied as the owner in one transaction, recorded
// in supabase_migrations.schema_migrations (the Supabase CLI's table), rolled back by version range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject, http, ownerClient, signup, sql, type Project } from '../helpers/platform.ts';

const path = (p: Project, rest = '') => `/v1/projects/${p.ref}/database/migrations${rest}`;

test('migrations: applied as the owner, recorded as the CLI records them, listed in version order', async () => {
  const p = await createProject();
  assert.deepEqual((await http('GET', path(p), { token: p.owner.token })).body, []);
  const first = await http('POST', path(p), { token: p.owner.token, body: { name: 'create_widgets', query: 'create table widgets (id bigint primary key)', rollback: 'drop table widgets' } });
  assert.equal(first.status, 200);
  assert.match(first.body.version, /^\d{14}$/);
  const second = await http('POST', path(p), { token: p.owner.token, body: { name: 'add_name', query: 'alter table widgets add column name text; insert into widgets values (1, \'a\')' } });
  assert.equal(second.status, 200);
  assert.ok(BigInt(second.body.version) > BigInt(first.body.version));
  const list = await http('GET', path(p), { token: p.owner.token });
  assert.deepEqual(list.body, [{ version: first.body.version, name: 'create_widgets' }, { version: second.body.version, name: 'add_name' }]);
  // The owner owns what the migration made and the history table itself, as over psql.
  const [row] = await sql(p, `select tableowner from pg_tables where tablename = 'widgets'`);
  assert.equal(row.tableowner, p.ref);
  const client = await ownerClient(p);
  const { rows } = await client.query('select version, name, statements from supabase_migrations.schema_migrations order by version');
  await client.end();
  assert.deepEqual(rows[0], { version: first.body.version, name: 'create_widgets', statements: ['create table widgets (id bigint primary key)'] });
  const one = await http('GET', path(p, `/${first.body.version}`), { token: p.owner.token });
  assert.equal(one.status, 200);
  assert.deepEqual({ ...one.body, created_by: undefined }, { version: first.body.version, name: 'create_widgets',
    statements: ['create table widgets (id bigint primary key)'], rollback: ['drop table widgets'], created_by: undefined });
  const patched = await http('PATCH', path(p, `/${second.body.version}`), { token: p.owner.token, body: { rollback: 'alter table widgets drop column name' } });
  assert.equal(patched.status, 200);
  assert.equal((await http('GET', path(p, '/1'), { token: p.owner.token })).status, 404);
});

test('migrations: a failing migration is a 400 with the Postgres error, and nothing is applied or recorded', async () => {
  const p = await createProject();
  const ok = await http('POST', path(p), { token: p.owner.token, body: { name: 'one', query: 'create table one (id int)' } });
  assert.equal(ok.status, 200);
  const bad = await http('POST', path(p), { token: p.owner.token, body: { name: 'two', query: 'create table two (id int); select 1/0' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { message: 'division by zero', code: '22012' });
  assert.deepEqual(await sql(p, `select count(*)::int as n from pg_tables where tablename = 'two'`), [{ n: 0 }]);
  assert.deepEqual((await http('GET', path(p), { token: p.owner.token })).body.map((m: { name: string }) => m.name), ['one']);
  // The owner cannot reach past its own rights through a migration.
  const escalate = await http('POST', path(p), { token: p.owner.token, body: { query: `alter role "${p.ref}" superuser` } });
  assert.equal(escalate.status, 400);
  assert.equal(escalate.body.code, '42501');
  for (const [body, message] of [[{}, /query is required/], [{ query: '' }, /at least 1/], [{ query: 'select 1', name: 5 }, /name must be a string/]] as const) {
    const res = await http('POST', path(p), { token: p.owner.token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.message, message);
  }
  // SQL that ends the transaction itself is refused and recorded nothing; the timeout still holds after it.
  const commit = await http('POST', path(p), { token: p.owner.token, body: { name: 'sneaky', query: `commit;
    do $$ begin if current_setting('statement_timeout') = '0' then raise exception 'no timeout after commit'; end if; end $$` } });
  assert.equal(commit.status, 400);
  assert.match(commit.body.message, /cannot end its own transaction/);
  assert.deepEqual((await http('GET', path(p), { token: p.owner.token })).body.map((m: { name: string }) => m.name), ['one']);
  assert.equal((await http('DELETE', path(p, '?gte=abc'), { token: p.owner.token })).status, 400);
  assert.equal((await http('GET', path(p, '/12x'), { token: p.owner.token })).status, 400);
});

test('migrations: an Idempotency-Key is tracked once (POST); PUT replaces its entry', async () => {
  const p = await createProject();
  const headers = { 'idempotency-key': 'deploy-42' };
  const a = await http('POST', path(p), { token: p.owner.token, headers, body: { name: 'counter', query: 'create table c (n int); insert into c values (1)' } });
  const b = await http('POST', path(p), { token: p.owner.token, headers, body: { name: 'counter', query: 'create table c (n int); insert into c values (1)' } });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(b.body.version, a.body.version);
  assert.deepEqual(await sql(p, 'select count(*)::int as n from c'), [{ n: 1 }]);
  const put = await http('PUT', path(p), { token: p.owner.token, headers, body: { name: 'counter2', query: 'insert into c values (2)' } });
  assert.equal(put.status, 200);
  assert.equal(put.body.version, a.body.version);
  assert.deepEqual((await http('GET', path(p), { token: p.owner.token })).body, [{ version: a.body.version, name: 'counter2' }]);
  assert.deepEqual(await sql(p, 'select count(*)::int as n from c'), [{ n: 2 }]);
});

test('migrations: DELETE ?gte= rolls back newer migrations, newest first, running their rollback SQL', async () => {
  const p = await createProject();
  const apply = (name: string, query: string, rollback?: string) =>
    http('POST', path(p), { token: p.owner.token, body: { name, query, rollback } }).then((r) => r.body.version as string);
  const v1 = await apply('a', 'create table a (id int primary key)', 'drop table a');
  const v2 = await apply('b', 'create table b (id int references a (id) unique)', 'drop table b');
  await apply('c', 'create index on b (id)');
  const res = await http('DELETE', path(p, `?gte=${v2}`), { token: p.owner.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.versions.length, 2);
  assert.deepEqual((await http('GET', path(p), { token: p.owner.token })).body, [{ version: v1, name: 'a' }]);
  assert.deepEqual(await sql(p, `select tablename from pg_tables where schemaname = 'public' order by 1`), [{ tablename: 'a' }]);
  // A rollback that fails undoes the whole delete.
  await sql(p, `update supabase_migrations.schema_migrations set rollback = array['drop table nope'] where version = '${v1}'`);
  const failed = await http('DELETE', path(p, `?gte=0`), { token: p.owner.token });
  assert.equal(failed.status, 400);
  assert.equal(failed.body.code, '42P01');
  assert.equal((await http('GET', path(p), { token: p.owner.token })).body.length, 1);
});

test('migrations: scopes and another account', async () => {
  const p = await createProject();
  const other = await signup();
  for (const [method, rest] of [['GET', ''], ['POST', ''], ['PUT', ''], ['DELETE', '?gte=0'], ['GET', '/1'], ['PATCH', '/1']] as const) {
    const res = await http(method, path(p, rest), { token: other.token, body: method === 'GET' || method === 'DELETE' ? undefined : { query: 'create table x (id int)' } });
    assert.equal(res.status, 404, `${method} ${rest}`);
    assert.equal(res.body.code, 'project_not_found');
  }
  assert.deepEqual(await sql(p, `select count(*)::int as n from pg_tables where tablename = 'x'`), [{ n: 0 }]);
  const token = await http('POST', '/v1/auth/tokens', { token: p.owner.token, body: { name: 'ro', scopes: ['database:read'] } });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  assert.equal((await http('GET', path(p), { token: token.body.token })).status, 200);
  const denied = await http('POST', path(p), { token: token.body.token, body: { query: 'create table x (id int)' } });
  assert.equal(denied.status, 403);
});
