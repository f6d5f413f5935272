// The table builder: tables, columns, indexes and policy shorthand through the Management API, compiled to plain
// SQL run as the owner, visible in psql and in the migration history, undone by DELETE; hostile names and
// defaults stay data; the shorthand policies checked through REST as two users.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { columnSql, parsePolicy, policySql } from '../../server/src/management/table-sql.ts';
import { adminClient, createProject, http, ownerClient, signup, type Project } from '../helpers/platform.ts';

let p: Project;
const path = (rest = '') => `/v1/projects/${p.ref}/tables${rest}`;
const as = (body?: unknown) => ({ token: p.owner.token, body });

before(async () => { p = await createProject(); });

async function jwtSecret(ref: string): Promise<string> {
  const c = await adminClient();
  try {
    return (await c.query(`select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id
      where p.ref = $1`, [ref])).rows[0].jwt_secret;
  } finally { await c.end(); }
}

async function rest(method: string, table: string, opts: { token?: string; body?: unknown; query?: string } = {}) {
  const res = await fetch(`${p.url}/rest/v1/${encodeURIComponent(table)}${opts.query ?? ''}`, {
    method,
    headers: { apikey: p.anonKey, 'content-type': 'application/json', prefer: 'return=representation', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

test('compiler: exact SQL for a column, a default and the policy shorthand', () => {
  assert.equal(columnSql({ name: 'ti"tle', type: 'text', not_null: true, unique: true, default: "x'); drop table t; --" }),
    `"ti""tle" text not null unique default 'x''); drop table t; --'::text`);
  assert.equal(columnSql({ name: 'author', type: 'references', references: 'au"thors', on_delete: 'cascade' }, { type: 'bigint', column: 'id' }),
    `"author" bigint references public."au""thors" ("id") on delete cascade`);
  assert.equal(columnSql({ name: 'at', type: 'timestamptz', default_expression: 'now()' }), '"at" timestamptz default pg_catalog.now()');
  assert.equal(policySql('notes', parsePolicy('owner only by user_id', 0), true),
    'create policy "owner only by user_id" on public."notes" as permissive for all to authenticated using ("user_id" = (select auth.uid())) with check ("user_id" = (select auth.uid()));');
  assert.equal(policySql('notes', parsePolicy('public  read', 0), false),
    'create policy "public read" on public."notes" as permissive for select to anon, authenticated using (true);');
  assert.equal(policySql('notes', parsePolicy('authenticated insert', 0), false),
    'create policy "authenticated insert" on public."notes" as permissive for insert to authenticated with check (true);');
  assert.equal(policySql('n', parsePolicy('owner delete by who', 0), false),
    `create policy "owner delete by who" on public."n" as permissive for delete to authenticated using ("who"::text = (select auth.jwt() ->> 'sub'));`);
  for (const bad of ['public', 'owner read', 'public read by x', 'anyone read', 'public only', 'owner read by ']) {
    assert.throws(() => parsePolicy(bad, 0), /is not a policy/, bad);
  }
});

test('tables: created as the owner from typed columns, visible in psql and the history, altered, dropped', async () => {
  const made = await http('POST', path(), as({
    name: 'authors', comment: 'people who write',
    columns: [{ name: 'id', type: 'uuid', primary_key: true, default_expression: 'gen_random_uuid()' }, { name: 'name', type: 'text', not_null: true, unique: true }],
  }));
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const books = await http('POST', path(), as({
    name: 'books',
    columns: [
      { name: 'title', type: 'text', not_null: true, default: 'untitled' },
      { name: 'pages', type: 'integer', default: 1 }, { name: 'sold', type: 'bigint' }, { name: 'price', type: 'numeric', default: '9.50' },
      { name: 'public', type: 'boolean', default: false }, { name: 'at', type: 'timestamptz', default_expression: 'now()' },
      { name: 'day', type: 'date' }, { name: 'meta', type: 'jsonb', default: { a: 1 } },
      { name: 'author', type: 'references', references: 'authors', on_delete: 'cascade', index: true },
    ],
    indexes: [{ columns: ['title', 'day'], unique: true }],
  }));
  assert.equal(books.status, 201, JSON.stringify(books.body));
  const b = books.body;
  assert.equal(b.name, 'books');
  assert.equal(b.rls_enabled, true);
  const col = (n: string) => b.columns.find((c: { name: string }) => c.name === n);
  assert.deepEqual({ ...col('id') }, { name: 'id', type: 'bigint', not_null: true, default: null, identity: true, primary_key: true, unique: true, references: null });
  assert.equal(col('title').default, "'untitled'::text");
  assert.equal(col('meta').type, 'jsonb');
  assert.equal(col('author').type, 'uuid');
  assert.equal(col('author').references, 'authors');
  assert.equal(b.indexes.length, 3);
  assert.ok(b.indexes.some((i: string) => /UNIQUE INDEX .* \(title, day\)/.test(i)));

  // psql sees the owner's table; the history holds the SQL that made it, with its rollback.
  const c = await ownerClient(p);
  try {
    const { rows: [t] } = await c.query(`select tableowner from pg_tables where schemaname = 'public' and tablename = 'books'`);
    assert.equal(t.tableowner, p.ref);
    const { rows } = await c.query(`select name, statements, rollback from supabase_migrations.schema_migrations order by version`);
    assert.deepEqual(rows.map((r) => r.name), ['create table authors', 'create table books']);
    assert.match(rows[1].statements[0], /^create table public\."books" \(/);
    assert.deepEqual(rows[1].rollback, ['drop table public."books";']);
    assert.equal((await c.query(`select obj_description('public.authors'::regclass) as d`)).rows[0].d, 'people who write');
  } finally { await c.end(); }

  const added = await http('POST', path('/books/columns'), as({ name: 'isbn', type: 'text', unique: true }));
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.ok(added.body.columns.some((x: { name: string; unique: boolean }) => x.name === 'isbn' && x.unique));
  const renamed = await http('PATCH', path('/books'), as({ name: 'novels', comment: 'long books' }));
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assert.equal(renamed.body.name, 'novels');
  assert.equal(renamed.body.comment, 'long books');
  assert.equal((await http('GET', path('/books'), as())).status, 404);
  assert.equal((await http('GET', path('/novels'), as())).body.name, 'novels');
  const listed = await http('GET', path(), as());
  assert.deepEqual(listed.body.map((t: { name: string }) => t.name), ['authors', 'novels']);

  // Dropping the referenced table first is Postgres's error, as a 400 with its SQLSTATE; in order it works.
  const blocked = await http('DELETE', path('/authors'), as());
  assert.equal(blocked.status, 400);
  assert.equal(blocked.body.code, '2BP01');
  assert.equal((await http('DELETE', path('/novels'), as())).status, 200);
  assert.equal((await http('DELETE', path('/authors'), as())).status, 200);
  assert.deepEqual((await http('GET', path(), as())).body, []);
  const history = await http('GET', `/v1/projects/${p.ref}/database/migrations`, as());
  assert.deepEqual(history.body.map((m: { name: string }) => m.name),
    ['create table authors', 'create table books', 'add column isbn to books', 'alter table books', 'drop table novels', 'drop table authors']);
});

test('tables: hostile names and defaults stay names and values', async () => {
  const evil = 'x"; drop table victims; --';
  await http('POST', path(), as({ name: 'victims', columns: [{ name: 'v', type: 'text' }] }));
  const res = await http('POST', path(), as({
    name: evil,
    columns: [{ name: 'a"b', type: 'text', default: "'); drop table victims; --" }, { name: 'n', type: 'integer', default: '1); drop table victims; --' }],
  }));
  // The integer default is not an integer: Postgres refuses it, nothing is made.
  assert.equal(res.status, 400);
  assert.equal(res.body.code, '22P02');
  const ok = await http('POST', path(), as({ name: evil, columns: [{ name: 'a"b', type: 'text', default: "'); drop table victims; --" }],
    policies: ['public all'] }));
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal(ok.body.name, evil);
  const c = await ownerClient(p);
  try {
    assert.equal((await c.query(`select to_regclass('public.victims') is not null as ok`)).rows[0].ok, true);
    await c.query(`insert into public."x""; drop table victims; --" default values`);
    const { rows } = await c.query(`select "a""b" as v from public."x""; drop table victims; --"`);
    assert.deepEqual(rows, [{ v: "'); drop table victims; --" }]);
  } finally { await c.end(); }
  const got = await http('GET', path(`/${encodeURIComponent(evil)}`), as());
  assert.equal(got.status, 200);
  assert.equal((await http('DELETE', path(`/${encodeURIComponent(evil)}`), as())).status, 200);
  assert.equal((await http('GET', path('/victims'), as())).status, 200);
  // A default expression outside the fixed list is refused before any SQL.
  const expr = await http('POST', path(), as({ name: 't2', columns: [{ name: 'a', type: 'text', default_expression: 'pg_sleep(10)' }] }));
  assert.equal(expr.status, 400);
  assert.match(expr.body.message, /default_expression must be one of/);
});

test('tables: errors are 4xx with stable codes', async () => {
  const cases: [unknown, RegExp][] = [
    [{}, /name must be a non-empty string/],
    [{ name: 't', columns: [] }, /columns must have 1 to 200 items/],
    [{ name: 't', columns: [{ name: 'a', type: 'money' }] }, /type must be one of text, integer/],
    [{ name: 't', columns: [{ name: 'a', type: 'text', sql: 'x' }] }, /columns\[0\]\.sql is not a column option/],
    [{ name: 'x'.repeat(64), columns: [{ name: 'a', type: 'text' }] }, /at most 63 bytes/],
    [{ name: 't', columns: [{ name: 'a', type: 'references' }] }, /references must be a non-empty string/],
    [{ name: 't', columns: [{ name: 'a', type: 'references', references: 'nope' }] }, /referenced table "nope" does not exist/],
    [{ name: 't', columns: [{ name: 'a', type: 'text' }], policies: ['everyone read'] }, /is not a policy/],
    [{ name: 't', columns: [{ name: 'a', type: 'text' }], policies: ['owner only by nope'] }, /column "nope" does not exist/],
    [{ name: 't', columns: [{ name: 'pw', type: 'password', identifier: 'a' }, { name: 'a', type: 'text' }] }, /identifier column "a" must exist and be unique/],
  ];
  for (const [body, message] of cases) {
    const res = await http('POST', path(), as(body));
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, 'invalid_body', JSON.stringify(res.body));
    assert.match(res.body.message, message);
  }
  assert.equal((await http('GET', path('/t'), as())).status, 404, 'a refused table leaves nothing behind');
  for (const [method, rest, body] of [['GET', '/nope', undefined], ['PATCH', '/nope', { comment: 'x' }], ['DELETE', '/nope', undefined],
    ['POST', '/nope/columns', { name: 'a', type: 'text' }], ['PUT', '/nope/policies', { policies: [] }]] as const) {
    const res = await http(method, path(rest), as(body));
    assert.equal(res.status, 404, `${method} ${rest}`);
    assert.deepEqual(res.body, { message: 'Table not found', code: 'not_found' });
  }
  const twice = await http('POST', path(), as({ name: 'dup', columns: [{ name: 'a', type: 'text' }] }));
  assert.equal(twice.status, 201);
  const again = await http('POST', path(), as({ name: 'dup', columns: [{ name: 'a', type: 'text' }] }));
  assert.equal(again.status, 400);
  assert.equal(again.body.code, '42P07');
});

test('tables: another account cannot see or change a project\'s tables', async () => {
  const stranger = await signup();
  for (const [method, rest, body] of [['GET', '', undefined], ['POST', '', { name: 'z', columns: [{ name: 'a', type: 'text' }] }],
    ['GET', '/dup', undefined], ['DELETE', '/dup', undefined], ['PUT', '/dup/policies', { policies: ['public read'] }]] as const) {
    const res = await http(method, path(rest), { token: stranger.token, body });
    assert.equal(res.status, 404, `${method} ${rest}`);
    assert.equal(res.body.code, 'project_not_found');
  }
  assert.equal((await http('GET', path('/dup'), as())).status, 200);
});

test('policies: the shorthand, checked through REST as anon and two users', async () => {
  const secret = await jwtSecret(p.ref);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const [u1, u2] = [crypto.randomUUID(), crypto.randomUUID()];
  const [t1, t2] = [u1, u2].map((sub) => signJwt({ sub, role: 'authenticated', aud: 'authenticated', exp }, secret));
  const made = await http('POST', path(), as({
    name: 'notes',
    columns: [{ name: 'user_id', type: 'uuid', not_null: true, default_expression: 'auth.uid()' }, { name: 'body', type: 'text' }],
    policies: ['authenticated insert', 'owner read by user_id', 'owner update by user_id'],
  }));
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.deepEqual(made.body.policies.map((x: { name: string; command: string }) => `${x.name}:${x.command}`),
    ['authenticated insert:INSERT', 'owner read by user_id:SELECT', 'owner update by user_id:UPDATE']);
  assert.equal((await rest('POST', 'notes', { token: t1, body: { body: 'one' } })).status, 201);
  assert.equal((await rest('POST', 'notes', { token: t2, body: { body: 'two' } })).status, 201);
  assert.equal((await rest('POST', 'notes', { body: { body: 'anon' } })).status, 401);
  const read = async (token?: string) => (await rest('GET', 'notes', { token, query: '?select=body&order=body' })).body.map((r: { body: string }) => r.body);
  assert.deepEqual(await read(t1), ['one']);
  assert.deepEqual(await read(t2), ['two']);
  assert.deepEqual(await read(), []);
  // User 2 cannot change user 1's note; user 1 can; nobody may delete (no delete policy).
  assert.deepEqual((await rest('PATCH', 'notes', { token: t2, body: { body: 'hacked' }, query: '?body=eq.one' })).body, []);
  assert.equal((await rest('PATCH', 'notes', { token: t1, body: { body: 'one!' }, query: '?body=eq.one' })).body.length, 1);
  assert.deepEqual((await rest('DELETE', 'notes', { token: t1, query: '?body=eq.one!' })).body, []);

  const replaced = await http('PUT', path('/notes/policies'), as({ policies: ['public read', 'owner only by user_id'] }));
  assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
  assert.deepEqual(replaced.body.policies.map((x: { name: string }) => x.name), ['owner only by user_id', 'public read']);
  assert.deepEqual(await read(), ['one!', 'two']);
  assert.equal((await rest('POST', 'notes', { token: t2, body: { body: 'y', user_id: u1 } })).status, 403);
  assert.equal((await rest('POST', 'notes', { token: t2, body: { body: 'y' } })).status, 201);
  assert.equal((await rest('DELETE', 'notes', { token: t2, query: '?body=eq.one!' })).body.length, 0);
  assert.equal((await rest('DELETE', 'notes', { token: t1, query: '?body=eq.one!' })).body.length, 1);
  // An empty list removes them all: RLS stays on, so the API roles see nothing.
  const none = await http('PUT', path('/notes/policies'), as({ policies: [] }));
  assert.deepEqual(none.body.policies, []);
  assert.deepEqual(await read(t2), []);
  const dup = await http('PUT', path('/notes/policies'), as({ policies: ['public read', 'Public  Read'] }));
  assert.equal(dup.status, 400);
});
