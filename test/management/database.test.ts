// A project's database through the Management API (SQL as the owner, read-only mode, errors, the owner's
// password) and the psql isolation between projects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlDatabaseName } from '../../db/src/pools.ts';
import { adminClient, createProject, http, ownerClient, passwordsChecked, sql, type Project } from '../helpers/platform.ts';

const query = (p: Project, body: unknown) => http('POST', `/v1/projects/${p.ref}/database/query`, { token: p.owner.token, body });

test('query: runs as the owner and returns the rows of the last statement', async () => {
  const p = await createProject();
  const res = await query(p, { query: `create table items (id int primary key, name text);
    insert into items values (1, 'one'), (2, 'two');
    select * from items order by id` });
  assert.equal(res.status, 201);
  assert.deepEqual(res.body, [{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
  assert.deepEqual((await query(p, { query: 'insert into items values (3, \'three\')' })).body, []);
  // bigint is a JSON number when it fits, a string when it would lose digits.
  const big = await query(p, { query: 'select 42::bigint as small, 9007199254740993::bigint as huge, count(*) as n from items' });
  assert.deepEqual(big.body, [{ small: 42, huge: '9007199254740993', n: 3 }]);
  const params = await query(p, { query: 'select name from items where id = $1', parameters: [3] });
  assert.deepEqual(params.body, [{ name: 'three' }]);
  // What the SQL creates belongs to the owner, who can use it over psql.
  const [{ owner }] = await sql(p, `select tableowner as owner from pg_tables where tablename = 'items'`);
  assert.equal(owner, p.ref);
  const client = await ownerClient(p);
  assert.equal((await client.query('select count(*)::int as n from items')).rows[0].n, 3);
  await client.end();
});

test('query: read_only blocks writes, even after a COMMIT in the text', async () => {
  const p = await createProject();
  await sql(p, 'create table t (id int)');
  const ok = await query(p, { query: 'select count(*)::int as n from t', read_only: true });
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.body, [{ n: 0 }]);
  const write = await query(p, { query: 'insert into t values (1)', read_only: true });
  assert.equal(write.status, 400);
  assert.deepEqual(write.body, { message: 'cannot execute INSERT in a read-only transaction', code: '25006' });
  const escape = await query(p, { query: 'commit; insert into t values (2)', read_only: true });
  assert.equal(escape.status, 400);
  assert.equal(escape.body.code, '42601');
  const ddl = await query(p, { query: 'drop table t', read_only: true });
  assert.equal(ddl.status, 400);
  assert.deepEqual(await sql(p, 'select count(*)::int as n from t'), [{ n: 0 }]);
});

test('query: SQL errors are 400 with Postgres\'s message and SQLSTATE; the transaction is rolled back', async () => {
  const p = await createProject();
  const missing = await query(p, { query: 'select * from nope' });
  assert.equal(missing.status, 400);
  // Where the error is, as psql and Supabase's endpoint show it: the line, and a caret under the character.
  assert.deepEqual(missing.body, { message: `relation "nope" does not exist\nLINE 1: select * from nope\n${' '.repeat(22)}^`, code: '42P01' });
  const second = await query(p, { query: 'select 1,\n  nope_col' });
  assert.equal(second.body.message, `column "nope_col" does not exist\nLINE 2:   nope_col\n${' '.repeat(10)}^`);
  const syntax = await query(p, { query: 'selec 1' });
  assert.equal(syntax.status, 400);
  assert.equal(syntax.body.code, '42601');
  assert.match(syntax.body.message, /syntax error at or near "selec"/);
  const partial = await query(p, { query: 'create table half (id int); select 1/0' });
  assert.equal(partial.status, 400);
  assert.deepEqual(partial.body, { message: 'division by zero', code: '22012' });
  assert.deepEqual(await sql(p, `select count(*)::int as n from pg_tables where tablename = 'half'`), [{ n: 0 }]);
  // Session state the SQL leaves behind does not leak into the next request.
  await query(p, { query: `set search_path = nowhere` });
  assert.deepEqual((await query(p, { query: 'show search_path' })).body, [{ search_path: '"$user", public' }]);

  for (const [body, message] of [[{}, /query is required/], [{ query: '' }, /query must be at least 1 characters/],
    [{ query: 'select 1', read_only: 'yes' }, /read_only must be a boolean/], [{ query: 'select 1', parameters: 1 }, /parameters must be an array/]] as const) {
    const res = await query(p, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, 'invalid_body');
    assert.match(res.body.message, message);
  }
  // The owner cannot grant itself more than it has.
  const superuser = await query(p, { query: `alter role "${p.ref}" superuser` });
  assert.equal(superuser.status, 400);
  assert.equal(superuser.body.code, '42501');
});

test('the owner\'s database password can be changed: the new one logs in, the old one no longer does', async () => {
  const p = await createProject();
  const short = await http('PATCH', `/v1/projects/${p.ref}/database/password`, { token: p.owner.token, body: { password: 'short' } });
  assert.equal(short.status, 400);
  assert.equal(short.body.message, 'password must be at least 8 characters');
  const res = await http('PATCH', `/v1/projects/${p.ref}/database/password`, { token: p.owner.token, body: { password: 'a new db password' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { message: 'Database password updated' });
  if (await passwordsChecked()) await assert.rejects(ownerClient(p), /password authentication failed/);
  const client = await ownerClient({ ...p, dbPass: 'a new db password' });
  assert.deepEqual((await client.query('select current_user as u')).rows, [{ u: p.ref }]);
  await client.end();
  // Only a SCRAM verifier is kept, never the password.
  const db = await adminClient();
  const { rows } = await db.query(`select s.db_pass_verifier as v from platform_private.project_secrets s
    join platform.projects p on p.id = s.project_id where p.ref = $1`, [p.ref]);
  await db.end();
  assert.match(rows[0].v, /^SCRAM-SHA-256\$4096:/);
  assert.ok(!rows[0].v.includes('a new db password'));
});

test('psql isolation: a project owner reaches its own database only', async () => {
  const a = await createProject();
  const b = await createProject();
  const own = await ownerClient(a);
  assert.deepEqual((await own.query('select current_database() as db')).rows, [{ db: a.ref }]);
  await own.end();
  for (const database of [b.ref, 'postgres', controlDatabaseName(), `${controlDatabaseName()}_template`, 'template1']) {
    await assert.rejects(ownerClient(a, database), /permission denied for database|not currently accepting connections/, database);
  }
  // The owner's role cannot log into B's database as B's roles either, nor read the control database.
  if (await passwordsChecked()) await assert.rejects(ownerClient({ ...a, ref: b.ref }), /password authentication failed/);
  const db = await adminClient();
  // (template0 accepts no connections from anyone, whatever its ACL says.)
  const { rows } = await db.query(`select datname from pg_database d
    where d.datallowconn and has_database_privilege($1, d.oid, 'connect') order by datname`, [a.ref]);
  await db.end();
  assert.deepEqual(rows.map((r) => r.datname), [a.ref]);
});
