// The table builder: tables, columns, indexes and policy shorthand through the Management API, compiled to plain
// SQL run as the owner, visible in psql and in the migration history, undone by DELETE; hostile names and
// defaults stay data; the shorthand policies checked through REST as two users.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { columnGrantSql, columnSql, keyGuardSql, keyGuardUndoSql, parsePolicy, policySql } from '../../server/src/management/table-sql.ts';
import { adminClient, createProject, http, organizationTeam, ownerClient, signup, type Project } from '../helpers/platform.ts';

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
  // A login table's key guard: the API roles' INSERT/UPDATE narrowed to every column but the key, and given back.
  const grants = [{ grantee: 'anon', privilege: 'INSERT' }, { grantee: 'anon', privilege: 'UPDATE' }, { grantee: 'public', privilege: 'UPDATE' }] as const;
  assert.equal(keyGuardSql('m', 'id', ['id', 'e"mail', 'pw'], [...grants]),
    'revoke insert, update on public."m" from anon;\ngrant insert ("e""mail", "pw"), update ("e""mail", "pw") on public."m" to anon;\n'
    + 'revoke update on public."m" from public;\ngrant update ("e""mail", "pw") on public."m" to public;');
  assert.equal(keyGuardUndoSql('m', [...grants]),
    'revoke insert, update on public."m" from anon;\ngrant insert, update on public."m" to anon;\nrevoke update on public."m" from public;\ngrant update on public."m" to public;');
  assert.equal(columnGrantSql('m', 'nick', [...grants]), 'grant insert ("nick"), update ("nick") on public."m" to anon;\ngrant update ("nick") on public."m" to public;');
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
  assert.deepEqual({ ...col('id') }, { name: 'id', type: 'bigint', not_null: true, default: null, identity: true, primary_key: true, unique: true, references: null, on_delete: null });
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
    [{ name: 't', columns: [{ name: 'pw', type: 'password', identifier: 'a', not_null: true }, { name: 'a', type: 'text', unique: true }] }, /a password column takes no primary_key, not_null/],
    [{ name: 't', columns: [{ name: 'pw', type: 'password', identifier: 'a', role: 'service_role' }, { name: 'a', type: 'text', unique: true }] }, /role must be one of authenticated, anon/],
    [{ name: 't', columns: [{ name: 'pw', type: 'password' }] }, /identifier must be a non-empty string/],
    [{ name: 't', columns: [{ name: 'a', type: 'text', role: 'anon' }] }, /identifier and role belong to columns of type password/],
    [{ name: 't', columns: [{ name: 'id', type: 'bigint', primary_key: true }, { name: 'a', type: 'text', unique: true }, { name: 'pw', type: 'password', identifier: 'a' }] },
      /needs a uuid primary key with a default/],
    [{ name: 't', columns: [{ name: 'a', type: 'text', unique: true }, { name: 'p1', type: 'password', identifier: 'a' }, { name: 'p2', type: 'password', identifier: 'a' }] },
      /a table can have one password column/],
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
  for (const [body, message] of [[{ policies: 'public read' }, /policies must be an array/], [{ policies: ['everyone read'] }, /is not a policy/],
    [{ policies: ['owner only by nope'] }, /column "nope" does not exist/], [{ policies: [1] }, /policies\[0\] must be a string/],
    [{ policies: ['public read', 'public read'] }, /policies must not repeat/]] as const) {
    const res = await http('PUT', path('/dup/policies'), as(body));
    assert.deepEqual([res.status, res.body.code], [400, 'invalid_body'], JSON.stringify(body));
    assert.match(res.body.message, message);
  }
  assert.equal(twice.status, 201);
  const again = await http('POST', path(), as({ name: 'dup', columns: [{ name: 'a', type: 'text' }] }));
  assert.equal(again.status, 400);
  assert.equal(again.body.code, '42P07');
});

test('tables: another account cannot see or change a project\'s tables', async () => {
  const stranger = await signup();
  for (const [method, rest, body] of [['GET', '', undefined], ['POST', '', { name: 'z', columns: [{ name: 'a', type: 'text' }] }],
    ['GET', '/dup', undefined], ['PATCH', '/dup', { name: 'stolen' }], ['DELETE', '/dup', undefined], ['POST', '/dup/columns', { name: 'b', type: 'text' }],
    ['PUT', '/dup/policies', { policies: ['public read'] }]] as const) {
    const res = await http(method, path(rest), { token: stranger.token, body });
    assert.equal(res.status, 404, `${method} ${rest}`);
    assert.equal(res.body.code, 'project_not_found');
  }
  const dup = await http('GET', path('/dup'), as());
  assert.deepEqual([dup.status, dup.body.columns.map((x: { name: string }) => x.name), dup.body.policies], [200, ['id', 'a'], []]);
  // Nor can a stranger's token name this project in the row login.
  const theirs = await createProject(stranger);
  const res = await http('POST', `/v1/data/${p.ref}/dup/login`, { body: { identifier: 'a', password: 'b' }, headers: { apikey: theirs.anonKey } });
  assert.deepEqual([res.status, res.body.code], [401, 'invalid_api_key']);
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

  // PUT replaces hand-written policies too; its rollback makes them again as they were (and RLS as it was).
  const c = await ownerClient(p);
  try {
    await c.query(`create policy "by hand" on public.notes as restrictive for update to authenticated, anon using (body <> 'locked' and auth.uid() is not null) with check (length(body) < 100)`);
    await c.query('alter table public.notes disable row level security');
    const definitions = async () => (await c.query(`select policyname, permissive, roles::text[], cmd, qual, with_check from pg_policies where tablename = 'notes' order by policyname`)).rows;
    const before = await definitions();
    const put = await http('PUT', path('/notes/policies'), as({ policies: ['public read'] }));
    assert.deepEqual([put.body.rls_enabled, put.body.policies.map((x: { name: string }) => x.name)], [true, ['public read']]);
    const last = (await http('GET', `/v1/projects/${p.ref}/database/migrations`, as())).body.at(-1);
    assert.equal(last.name, 'policies of notes');
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${last.version}`, as())).status, 200);
    assert.deepEqual(await definitions(), before);
    assert.equal((await c.query(`select relrowsecurity from pg_class where oid = 'public.notes'::regclass`)).rows[0].relrowsecurity, false);
    await c.query('alter table public.notes enable row level security');
  } finally { await c.end(); }
});

test('policies: every shorthand form through REST, as anon and two users; PUT replaces the whole set', async () => {
  const secret = await jwtSecret(p.ref);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const [u1, u2] = [crypto.randomUUID(), crypto.randomUUID()];
  const tokens: Record<string, string | undefined> = { anon: undefined,
    u1: signJwt({ sub: u1, role: 'authenticated', aud: 'authenticated', exp }, secret), u2: signJwt({ sub: u2, role: 'authenticated', aud: 'authenticated', exp }, secret) };
  const made = await http('POST', path(), as({ name: 'matrix', columns: [{ name: 'owner_id', type: 'uuid', default_expression: 'auth.uid()' },
    { name: 'owner_text', type: 'text' }, { name: 'v', type: 'text' }, { name: 'note', type: 'text' }], policies: ['public read'] }));
  assert.equal(made.status, 201, JSON.stringify(made.body));
  // u1 owns row a, u2 owns row b. Per policy set and caller: the rows it reads, whether it may insert, the rows
  // its update and its delete reach.
  type Want = { read: string[]; insert: boolean; update: string[]; delete: string[] };
  const none: Want = { read: [], insert: false, update: [], delete: [] };
  const all: Want = { read: ['a', 'b'], insert: true, update: ['a', 'b'], delete: ['a', 'b'] };
  const matrix: [string[], Record<string, Want>][] = [
    [['public read'], { anon: { ...none, read: ['a', 'b'] }, u1: { ...none, read: ['a', 'b'] }, u2: { ...none, read: ['a', 'b'] } }],
    [['public select'], { anon: { ...none, read: ['a', 'b'] }, u1: { ...none, read: ['a', 'b'] }, u2: { ...none, read: ['a', 'b'] } }],
    [['authenticated read'], { anon: none, u1: { ...none, read: ['a', 'b'] }, u2: { ...none, read: ['a', 'b'] } }],
    [['public insert'], { anon: { ...none, insert: true }, u1: { ...none, insert: true }, u2: { ...none, insert: true } }],
    [['authenticated insert'], { anon: none, u1: { ...none, insert: true }, u2: { ...none, insert: true } }],
    [['public all'], { anon: all, u1: all, u2: all }],
    [['authenticated write'], { anon: none, u1: all, u2: all }],
    [['public read', 'authenticated update'], { anon: { ...none, read: ['a', 'b'] }, u1: { ...none, read: ['a', 'b'], update: ['a', 'b'] }, u2: { ...none, read: ['a', 'b'], update: ['a', 'b'] } }],
    [['public read', 'public delete'], { anon: { ...none, read: ['a', 'b'], delete: ['a', 'b'] }, u1: { ...none, read: ['a', 'b'], delete: ['a', 'b'] }, u2: { ...none, read: ['a', 'b'], delete: ['a', 'b'] } }],
    [['owner only by owner_id'], { anon: none, u1: { read: ['a'], insert: true, update: ['a'], delete: ['a'] }, u2: { read: ['b'], insert: true, update: ['b'], delete: ['b'] } }],
    [['owner write by owner_id'], { anon: none, u1: { read: ['a'], insert: true, update: ['a'], delete: ['a'] }, u2: { read: ['b'], insert: true, update: ['b'], delete: ['b'] } }],
    [['public read', 'owner insert by owner_id', 'owner update by owner_id', 'owner delete by owner_id'],
      { anon: { ...none, read: ['a', 'b'] }, u1: { read: ['a', 'b'], insert: true, update: ['a'], delete: ['a'] }, u2: { read: ['a', 'b'], insert: true, update: ['b'], delete: ['b'] } }],
    [['owner read by owner_id'], { anon: none, u1: { ...none, read: ['a'] }, u2: { ...none, read: ['b'] } }],
    // An owner column that is not a uuid compares the token's sub as text.
    [['owner read by owner_text', 'owner update by owner_text'], { anon: none, u1: { ...none, read: ['a'], update: ['a'] }, u2: { ...none, read: ['b'], update: ['b'] } }],
    [[], { anon: none, u1: none, u2: none }],
  ];
  const c = await ownerClient(p);
  try {
    const reset = async () => {
      await c.query('truncate public.matrix');
      await c.query(`insert into public.matrix (owner_id, owner_text, v) values ($1::uuid, $1::text, 'a'), ($2::uuid, $2::text, 'b')`, [u1, u2]);
    };
    const minimal = (method: string, token: string | undefined, body?: unknown) => fetch(`${p.url}/rest/v1/matrix?v=in.(a,b)`, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { apikey: p.anonKey, 'content-type': 'application/json', prefer: 'return=minimal', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    for (const [policies, callers] of matrix) {
      const put = await http('PUT', path('/matrix/policies'), as({ policies }));
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body.policies.map((x: { name: string }) => x.name).sort(), [...policies].sort(), 'the old policies are gone');
      for (const [who, want] of Object.entries(callers)) {
        const token = tokens[who];
        const label = `${policies.join(', ') || '(none)'} as ${who}`;
        await reset();
        const read = await rest('GET', 'matrix', { token, query: '?select=v&order=v' });
        assert.deepEqual(read.body.map((r: { v: string }) => r.v), want.read, `${label}: read`);
        const insert = await fetch(`${p.url}/rest/v1/matrix`, { method: 'POST', body: JSON.stringify({ v: 'new', owner_text: token ? (who === 'u1' ? u1 : u2) : null }),
          headers: { apikey: p.anonKey, 'content-type': 'application/json', prefer: 'return=minimal', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
        assert.equal(insert.status === 201, want.insert, `${label}: insert ${insert.status}`);
        if (!want.insert) assert.equal(insert.status, token ? 403 : 401, `${label}: insert`);
        await reset();
        await minimal('PATCH', token, { note: who });
        assert.deepEqual((await c.query('select v from public.matrix where note = $1 order by v', [who])).rows.map((r) => r.v), want.update, `${label}: update`);
        await reset();
        await minimal('DELETE', token);
        const left = (await c.query('select v from public.matrix order by v')).rows.map((r) => r.v);
        assert.deepEqual(['a', 'b'].filter((v) => !left.includes(v)), want.delete, `${label}: delete`);
      }
    }
  } finally { await c.end(); }
});

test('columns: every option on POST …/columns, recorded with its rollback; refused ones leave nothing', async () => {
  const made = await http('POST', path(), as({ name: 'people', columns: [{ name: 'id', type: 'uuid', primary_key: true, default_expression: 'gen_random_uuid()' }, { name: 'name', type: 'text' }] }));
  assert.equal(made.status, 201);
  assert.equal((await http('POST', path(), as({ name: 'pets', columns: [{ name: 'name', type: 'text' }] }))).status, 201);
  const c = await ownerClient(p);
  try {
    const { rows: [person] } = await c.query(`insert into public.people (name) values ('ann') returning id`);
    await c.query(`insert into public.pets (name) values ('rex')`);
    const add = (body: unknown) => http('POST', path('/pets/columns'), as(body));
    for (const body of [
      { name: 'legs', type: 'integer', not_null: true, default: 4, index: true },
      { name: 'tag', type: 'text', unique: true },
      { name: 'weight', type: 'numeric', default: '1.25' }, { name: 'chip', type: 'bigint' }, { name: 'born', type: 'date', default_expression: 'current_date' },
      { name: 'seen', type: 'timestamptz', default_expression: 'now()' }, { name: 'good', type: 'boolean', default: true, not_null: true },
      { name: 'uid', type: 'uuid', default_expression: 'gen_random_uuid()' }, { name: 'info', type: 'jsonb', default: { a: [1] } },
      { name: 'owner', type: 'references', references: 'people', on_delete: 'set null', index: true },
      { name: 'keeper', type: 'references', references: 'people', on_delete: 'cascade' },
    ]) {
      const res = await add(body);
      assert.equal(res.status, 201, `${body.name}: ${JSON.stringify(res.body)}`);
    }
    const { body: pets } = await http('GET', path('/pets'), as());
    const col = (n: string) => pets.columns.find((x: { name: string }) => x.name === n);
    assert.deepEqual([col('legs').type, col('legs').not_null, col('legs').default], ['integer', true, '4']);
    assert.equal(col('tag').unique, true);
    assert.deepEqual([col('owner').type, col('owner').references, col('owner').on_delete, col('keeper').on_delete], ['uuid', 'people', 'set null', 'cascade']);
    assert.equal(col('info').default, `'{"a": [1]}'::jsonb`);
    assert.ok(pets.indexes.some((i: string) => /\(legs\)/.test(i)) && pets.indexes.some((i: string) => /\(owner\)/.test(i)));
    const { rows: [rex] } = await c.query(`select legs, good, (born = current_date) as today, info from public.pets`);
    assert.deepEqual(rex, { legs: 4, good: true, today: true, info: { a: [1] } }, 'existing rows take the defaults');
    // The foreign keys' on delete rules are Postgres's.
    await c.query(`update public.pets set owner = $1, tag = 'x'`, [person.id]);
    await c.query(`insert into public.pets (name, keeper) values ('tom', $1)`, [person.id]);
    await c.query(`delete from public.people where id = $1`, [person.id]);
    assert.deepEqual((await c.query('select name, owner from public.pets')).rows, [{ name: 'rex', owner: null }]);
    // Two foreign keys on one column (made over psql) still read.
    await c.query('alter table public.pets add foreign key (owner) references public.people (id)');
    assert.equal((await http('GET', path('/pets'), as())).status, 200);
    // Postgres refuses: not null without a default on a table with rows, a duplicate, a unique column whose rows
    // repeat. Nothing of a refused column is left.
    const refused: [unknown, number, string][] = [
      [{ name: 'must', type: 'text', not_null: true }, 400, '23502'],
      [{ name: 'legs', type: 'integer' }, 400, '42701'],
      [{ name: 'same', type: 'text', default: 'x', unique: true }, 400, '23505'],
      [{ name: 'id', type: 'uuid', primary_key: true }, 400, 'invalid_body'],
      [{ name: 'x', type: 'money' }, 400, 'invalid_body'],
      [{ name: 'x', type: 'references', references: 'nope' }, 400, 'invalid_body'],
      [{ name: 'x', type: 'text', default_expression: 'now()', default: 'y' }, 400, 'invalid_body'],
      [{ name: 'x', type: 'text', on_delete: 'cascade' }, 400, 'invalid_body'],
      [{ name: 'pw', type: 'password', identifier: 'tag' }, 400, 'invalid_body'],
    ];
    await c.query(`insert into public.pets (name) values ('kit')`);
    for (const [body, status, code] of refused) {
      const res = await add(body);
      assert.deepEqual([res.status, res.body.code], [status, code], JSON.stringify([body, res.body]));
    }
    const { rows: cols } = await c.query(`select array_agg(attname::text order by attnum) as names from pg_attribute where attrelid = 'public.pets'::regclass and attnum > 0 and not attisdropped`);
    assert.deepEqual(cols[0].names, ['id', 'name', 'legs', 'tag', 'weight', 'chip', 'born', 'seen', 'good', 'uid', 'info', 'owner', 'keeper']);
    // Each added column is one migration with its SQL and the rollback that drops it.
    const { rows } = await c.query(`select statements[1] as sql, rollback[1] as rollback from supabase_migrations.schema_migrations where name = 'add column legs to pets'`);
    assert.deepEqual(rows, [{ sql: 'alter table public."pets" add column "legs" integer not null default \'4\'::integer;\ncreate index on public."pets" ("legs");', rollback: 'alter table public."pets" drop column "legs";' }]);
  } finally { await c.end(); }
});

test('PATCH: a rename and a comment, recorded with the rollback that undoes them', async () => {
  assert.equal((await http('POST', path(), as({ name: 'drafts', comment: 'first', columns: [{ name: 'body', type: 'text' }] }))).status, 201);
  const patched = await http('PATCH', path('/drafts'), as({ name: 'posts', comment: 'second' }));
  assert.deepEqual([patched.status, patched.body.name, patched.body.comment], [200, 'posts', 'second']);
  const history = (await http('GET', `/v1/projects/${p.ref}/database/migrations`, as())).body;
  const last = history.at(-1);
  assert.equal(last.name, 'alter table drafts');
  const c = await ownerClient(p);
  try {
    const { rows: [m] } = await c.query('select statements, rollback from supabase_migrations.schema_migrations where version = $1', [last.version]);
    assert.deepEqual(m, { statements: ['comment on table public."drafts" is \'second\';\nalter table public."drafts" rename to "posts";'],
      rollback: ['alter table public."posts" rename to "drafts";\ncomment on table public."drafts" is \'first\';'] });
  } finally { await c.end(); }
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${last.version}`, as())).status, 200);
  const back = await http('GET', path('/drafts'), as());
  assert.deepEqual([back.status, back.body.comment], [200, 'first']);
  for (const [body, message] of [[{}, /give name, comment, columns and\/or indexes/], [{ name: '' }, /name must be a non-empty string/], [{ comment: 1 }, /comment must be a string/]] as const) {
    const res = await http('PATCH', path('/drafts'), as(body));
    assert.deepEqual([res.status, res.body.code], [400, 'invalid_body']);
    assert.match(res.body.message, message);
  }
  const taken = await http('PATCH', path('/drafts'), as({ name: 'people' }));
  assert.deepEqual([taken.status, taken.body.code], [400, '42P07']);
});

test('org roles and token scopes: Read-only reads, Developer builds, a database:read token only reads', async () => {
  const team = await organizationTeam();
  const base = `/v1/projects/${team.project.ref}/tables`;
  const made = await http('POST', base, { token: team.dev.token, body: { name: 'shared', columns: [{ name: 'a', type: 'text' }] } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const writes = [['POST', '', { name: 'ro_made', columns: [{ name: 'a', type: 'text' }] }], ['PATCH', '/shared', { comment: 'ro' }],
    ['DELETE', '/shared', undefined], ['POST', '/shared/columns', { name: 'b', type: 'text' }], ['PUT', '/shared/policies', { policies: ['public read'] }]] as const;
  for (const [method, rest, body] of writes) {
    const res = await http(method, base + rest, { token: team.ro.token, body });
    assert.equal(res.status, 403, `${method} ${rest}`);
    assert.equal(res.body.code, 'insufficient_role');
  }
  assert.equal((await http('GET', base, { token: team.ro.token })).status, 200);
  assert.deepEqual((await http('GET', `${base}/shared`, { token: team.ro.token })).body.columns.map((x: { name: string }) => x.name), ['id', 'a']);
  const pat = await http('POST', '/v1/auth/tokens', { token: team.owner.token, body: { name: 'reader', scopes: ['database:read'] } });
  assert.equal(pat.status, 201, JSON.stringify(pat.body));
  assert.equal((await http('GET', base, { token: pat.body.token })).status, 200);
  for (const [method, rest, body] of writes) {
    const res = await http(method, base + rest, { token: pat.body.token, body });
    assert.equal(res.status, 403, `${method} ${rest}`);
    assert.equal(res.body.code, 'insufficient_scope');
  }
  for (const who of [team.dev, team.admin, team.owner]) {
    assert.equal((await http('PUT', `${base}/shared/policies`, { token: who.token, body: { policies: ['public read'] } })).status, 200);
  }
  assert.equal((await http('DELETE', `${base}/shared`, { token: team.admin.token })).status, 200);
});

test('PATCH columns: rename, not null, default, unique, drop and new indexes, recorded with the rollback that undoes them', async () => {
  assert.equal((await http('POST', path(), as({ name: 'items', comment: 'c0', columns: [{ name: 'a', type: 'text' }, { name: 'b', type: 'integer', default: 1 },
    { name: 'c', type: 'text', unique: true }, { name: 'd', type: 'jsonb' }] }))).status, 201);
  const c = await ownerClient(p);
  try {
    await c.query(`insert into public.items (a, b, c) values ('x', 2, 'y')`);
    const patched = await http('PATCH', path('/items'), as({ name: 'things', comment: 'c1', indexes: [{ columns: ['b'] }],
      columns: [{ name: 'a', rename: 'title', not_null: true, unique: true, default: 'untitled' }, { name: 'b', default: null }, { name: 'c', unique: false },
        { name: 'd', default: { tags: [] } }] }));
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const col = (n: string) => patched.body.columns.find((x: { name: string }) => x.name === n);
    assert.deepEqual(patched.body.columns.map((x: { name: string }) => x.name), ['id', 'title', 'b', 'c', 'd']);
    assert.deepEqual([col('title').not_null, col('title').unique, col('title').default], [true, true, "'untitled'::text"]);
    assert.deepEqual([col('b').default, col('c').unique, col('d').default], [null, false, `'{"tags": []}'::jsonb`]);
    assert.ok(patched.body.indexes.some((i: string) => /INDEX \S+ ON public\.things USING btree \(b\)$/.test(i)));
    await c.query(`insert into public.things (c) values ('y')`);
    assert.deepEqual((await c.query(`select title, d from public.things where b is null`)).rows, [{ title: 'untitled', d: { tags: [] } }]);
    await c.query('delete from public.things where b is null');
    // The history holds the SQL and its inverse; rolling it back restores the table as it was.
    const last = (await http('GET', `/v1/projects/${p.ref}/database/migrations`, as())).body.at(-1);
    const { rows: [m] } = await c.query('select statements[1] as sql, rollback[1] as rollback from supabase_migrations.schema_migrations where version = $1', [last.version]);
    assert.match(m.sql, /^alter table public\."items" alter column "a" set not null;\n/);
    assert.match(m.rollback, /^alter table public\."things" rename to "items";\n/);
    const before = await http('GET', path('/things'), as());
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${last.version}`, as())).status, 200);
    const back = await http('GET', path('/items'), as());
    assert.equal(back.status, 200);
    assert.deepEqual(back.body.columns, [
      { name: 'id', type: 'bigint', not_null: true, default: null, identity: true, primary_key: true, unique: true, references: null, on_delete: null },
      { name: 'a', type: 'text', not_null: false, default: null, identity: false, primary_key: false, unique: false, references: null, on_delete: null },
      { name: 'b', type: 'integer', not_null: false, default: '1', identity: false, primary_key: false, unique: false, references: null, on_delete: null },
      { name: 'c', type: 'text', not_null: false, default: null, identity: false, primary_key: false, unique: true, references: null, on_delete: null },
      { name: 'd', type: 'jsonb', not_null: false, default: null, identity: false, primary_key: false, unique: false, references: null, on_delete: null },
    ]);
    assert.deepEqual([back.body.comment, back.body.indexes.length, before.body.indexes.length], ['c0', 2, 3]);
    // A drop cannot be undone (its data is gone): recorded without a rollback.
    const dropped = await http('PATCH', path('/items'), as({ columns: [{ name: 'd', drop: true }] }));
    assert.deepEqual(dropped.body.columns.map((x: { name: string }) => x.name), ['id', 'a', 'b', 'c']);
    assert.equal((await c.query('select rollback from supabase_migrations.schema_migrations order by version desc limit 1')).rows[0].rollback, null);
    // Refused before any SQL, or by Postgres; either way nothing changes.
    const refused: [unknown, string, RegExp][] = [
      [{}, 'invalid_body', /give name, comment, columns and\/or indexes/],
      [{ columns: [{ name: 'a' }] }, 'invalid_body', /changes nothing/],
      [{ columns: [{ name: 'a', drop: true, rename: 'b' }] }, 'invalid_body', /a dropped column takes no other change/],
      [{ columns: [{ name: 'a', type: 'integer' }] }, 'invalid_body', /columns\[0\]\.type is not a column change/],
      [{ columns: [{ name: 'a', default_expression: 'pg_sleep(1)' }] }, 'invalid_body', /default_expression must be one of/],
      [{ columns: [{ name: 'nope', not_null: true }] }, 'invalid_body', /column "nope" does not exist/],
      [{ columns: [{ name: 'b', default: 'two' }] }, '22P02', /invalid input syntax for type integer/],
      [{ columns: [{ name: 'a', rename: 'z' }, { name: 'a', not_null: true }] }, 'invalid_body', /column "a" does not exist/],
      [{ columns: [{ name: 'id', not_null: false }] }, '42601', /is an identity column/],
      [{ indexes: [{ columns: ['nope'] }] }, '42703', /does not exist/],
    ];
    await c.query(`insert into public.items (a, b, c) values (null, 3, 'z')`);
    refused.push([{ columns: [{ name: 'a', not_null: true }] }, '23502', /contains null values/]);
    for (const [body, code, message] of refused) {
      const res = await http('PATCH', path('/items'), as(body));
      assert.deepEqual([res.status, res.body.code], [400, code], JSON.stringify([body, res.body]));
      assert.match(res.body.message, message);
    }
    assert.deepEqual((await http('GET', path('/items'), as())).body.columns.map((x: { name: string; not_null: boolean }) => `${x.name}:${x.not_null}`),
      ['id:true', 'a:false', 'b:false', 'c:false']);
  } finally { await c.end(); }
});
