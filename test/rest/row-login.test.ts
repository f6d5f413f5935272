// Password columns and row login: a write through REST stores a bcrypt hash out of reach (reads return null),
// `POST /v1/data/{ref}/{table}/login` returns a project JWT whose sub is the row's key, RLS policies use it,
// wrong password and unknown row answer alike, and keys and tokens of one project do nothing on another.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, http, ownerClient, type Project } from '../helpers/platform.ts';
import { gql } from '../graphql/helpers.ts';

let p: Project;
let other: Project;

const login = (project: Project, table: string, body: unknown, apikey: string | null = project.anonKey) =>
  http('POST', `/v1/data/${project.ref}/${encodeURIComponent(table)}/login`, { body, headers: apikey === null ? {} : { apikey } });

async function rest(project: Project, method: string, table: string, opts: { token?: string; key?: string; body?: unknown; query?: string } = {}) {
  const res = await fetch(`${project.url}/rest/v1/${table}${opts.query ?? ''}`, {
    method,
    headers: { apikey: opts.key ?? project.anonKey, 'content-type': 'application/json', prefer: 'return=representation',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  for (const project of [p, other]) {
    const members = await http('POST', `/v1/projects/${project.ref}/tables`, { token: project.owner.token, body: {
      name: 'members',
      columns: [{ name: 'id', type: 'uuid', primary_key: true, default_expression: 'gen_random_uuid()' },
        { name: 'email', type: 'text', not_null: true, unique: true }, { name: 'secret', type: 'password', identifier: 'email' }],
      policies: ['public insert', 'owner read by id'],
    } });
    assert.equal(members.status, 201, JSON.stringify(members.body));
    const diary = await http('POST', `/v1/projects/${project.ref}/tables`, { token: project.owner.token, body: {
      name: 'diary',
      columns: [{ name: 'member', type: 'references', references: 'members', not_null: true, default_expression: 'auth.uid()' }, { name: 'entry', type: 'text' }],
      policies: ['owner only by member'],
    } });
    assert.equal(diary.status, 201, JSON.stringify(diary.body));
  }
});

test('password column: written through REST, stored as a bcrypt hash elsewhere, read back as null', async () => {
  const made = await rest(p, 'POST', 'members', { key: p.serviceKey, token: p.serviceKey, body: [{ email: 'ann@example.com', secret: 'ann-pass-1' }, { email: 'bob@example.com', secret: 'bob-pass-1' }] });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.deepEqual(made.body.map((r: { secret: unknown }) => r.secret), [null, null]);
  const all = await rest(p, 'GET', 'members', { key: p.serviceKey, token: p.serviceKey, query: '?select=*' });
  assert.ok(all.body.every((r: { secret: unknown }) => r.secret === null));
  // Anyone may sign up (public insert); the password is hashed the same way.
  const signup = await rest(p, 'POST', 'members', { body: { email: 'cy@example.com', secret: 'cy-pass-1' }, query: '' });
  assert.equal(signup.status, 401, 'public insert with return=representation needs read access: anon cannot read the row back');
  const supa = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { error } = await supa.from('members').insert({ email: 'cy@example.com', secret: 'cy-pass-1' });
  assert.equal(error, null);
  const c = await ownerClient(p);
  try {
    const { rows } = await c.query(`select m.email, m.secret, pw.hash from public.members m join row_auth.passwords pw on pw.row_key = m.id::text order by m.email`);
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.equal(r.secret, null);
      assert.match(r.hash, /^\$2[ab]\$10\$/);
    }
    // The trigger and the hash store are the owner's, and visible in psql.
    const { rows: [fn] } = await c.query(`select pg_get_userbyid(proowner) as owner, prosecdef from pg_proc where proname = 'store_password'`);
    assert.deepEqual(fn, { owner: p.ref, prosecdef: true });
  } finally { await c.end(); }
  // An upsert cannot replace an existing row's password: the skipped insert (ignore-duplicates) stores
  // nothing, and the merge needs an update the caller may not make.
  const annId = made.body[0].id;
  for (const resolution of ['ignore-duplicates', 'merge-duplicates']) {
    const res = await fetch(`${p.url}/rest/v1/members?on_conflict=id`, { method: 'POST',
      headers: { apikey: p.anonKey, 'content-type': 'application/json', prefer: `resolution=${resolution},return=minimal` },
      body: JSON.stringify({ id: annId, email: 'ann@example.com', secret: 'evil-pass' }) });
    assert.ok(res.status === 201 || res.status === 401 || res.status === 403, `${resolution}: ${res.status}`);
  }
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'evil-pass' })).status, 400);
  // What a skipped row hashed is gone when its statement ends, so no later statement of the transaction stores it.
  const o = await ownerClient(p);
  try {
    await o.query('begin');
    await o.query(`insert into public.members (id, email, secret) values ($1, 'ann@example.com', 'evil-2') on conflict do nothing`, [annId]);
    assert.equal((await o.query(`select current_setting('row_auth.pending', true) as v`)).rows[0].v, '{}');
    await o.query(`update public.members set email = email where id = $1`, [annId]);
    await o.query('commit');
  } finally { await o.end(); }
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'evil-2' })).status, 400);
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-1' })).status, 200);
  // GraphQL writes go through the same trigger.
  const created = await gql(p, 'mutation { createMember(input: {member: {email: "dee@example.com", secret: "dee-pass-1"}}) { member { email secret } } }',
    { key: p.serviceKey, token: p.serviceKey });
  assert.deepEqual(created.body.data?.createMember?.member, { email: 'dee@example.com', secret: null }, JSON.stringify(created.body));
  assert.equal((await login(p, 'members', { identifier: 'dee@example.com', password: 'dee-pass-1' })).status, 200);
  // The builder reads the column back as a password column.
  const described = await http('GET', `/v1/projects/${p.ref}/tables/members`, { token: p.owner.token });
  assert.deepEqual(described.body.columns.find((x: { name: string }) => x.name === 'secret'),
    { name: 'secret', type: 'password', identifier: 'email', role: 'authenticated', not_null: false, default: null, identity: false, primary_key: false, unique: false, references: null });
  // The API roles cannot reach the hashes.
  const schema = await fetch(`${p.url}/rest/v1/passwords`, { headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}`, 'accept-profile': 'row_auth' } });
  assert.equal(schema.status, 406);
});

test('row login: a JWT with the row as sub, used by an RLS policy; wrong password and unknown row answer alike', async () => {
  const ann = await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-1' });
  assert.equal(ann.status, 200, JSON.stringify(ann.body));
  const bob = await login(p, 'members', { identifier: 'bob@example.com', password: 'bob-pass-1' });
  assert.equal(bob.status, 200);
  const a = claims(ann.body.access_token);
  assert.equal(a.role, 'authenticated');
  assert.equal(a.sub, ann.body.sub);
  assert.equal(a.table, 'members');
  assert.equal(ann.body.token_type, 'bearer');
  assert.ok(a.exp - a.iat > 60);

  // auth.uid() is the row: each member reads only itself, and only its own diary.
  const me = await rest(p, 'GET', 'members', { token: ann.body.access_token, query: '?select=email,secret' });
  assert.deepEqual(me.body, [{ email: 'ann@example.com', secret: null }]);
  assert.equal((await rest(p, 'POST', 'diary', { token: ann.body.access_token, body: { entry: 'dear diary' } })).status, 201);
  assert.equal((await rest(p, 'POST', 'diary', { token: bob.body.access_token, body: { entry: 'bob was here' } })).status, 201);
  assert.equal((await rest(p, 'POST', 'diary', { token: bob.body.access_token, body: { entry: 'as ann', member: a.sub } })).status, 403);
  const anns = await rest(p, 'GET', 'diary', { token: ann.body.access_token, query: '?select=entry,member' });
  assert.deepEqual(anns.body, [{ entry: 'dear diary', member: a.sub }]);
  assert.deepEqual((await rest(p, 'GET', 'diary', { query: '?select=entry' })).body, []);
  // supabase-js with the token as its access token works the same.
  const supa = createClient(p.url, p.anonKey, { auth: { persistSession: false }, accessToken: async () => bob.body.access_token });
  assert.deepEqual((await supa.from('diary').select('entry')).data, [{ entry: 'bob was here' }]);

  const wrong = await login(p, 'members', { identifier: 'ann@example.com', password: 'nope' });
  const unknown = await login(p, 'members', { identifier: 'nobody@example.com', password: 'nope' });
  assert.equal(wrong.status, 400);
  assert.deepEqual(wrong.body, { message: 'Invalid login credentials', code: 'invalid_credentials' });
  assert.deepEqual(unknown.body, wrong.body);
  assert.equal(unknown.status, 400);
  // A new password through REST replaces the hash; the old one stops working.
  const c = await ownerClient(p);
  try { await c.query(`update public.members set secret = 'ann-pass-2' where email = 'ann@example.com'`); } finally { await c.end(); }
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-1' })).status, 400);
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 200);
});

test('row login: errors, API keys, another project', async () => {
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'x' }, null)).status, 401);
  const foreignKey = await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' }, other.anonKey);
  assert.equal(foreignKey.status, 401);
  assert.equal(foreignKey.body.code, 'invalid_api_key');
  assert.equal((await login(p, 'diary', { identifier: 'x', password: 'y' })).status, 404);
  assert.equal((await login(p, 'nope', { identifier: 'x', password: 'y' })).status, 404);
  const missing = await login(p, 'members', { identifier: 'ann@example.com' });
  assert.equal(missing.status, 400);
  assert.match(missing.body.message, /password is required/);
  assert.equal((await http('POST', '/v1/data/abcdefghijklmnopqrst/members/login', { body: { identifier: 'a', password: 'b' }, headers: { apikey: p.anonKey } })).status, 404);

  // Project B has the same table and no such member; a token from A's row login is nothing on B.
  const ann = await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' });
  assert.equal((await login(other, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 400);
  const onOther = await rest(other, 'GET', 'diary', { token: ann.body.access_token });
  assert.equal(onOther.status, 401);
});

test('row login: rate limited per IP like password sign-in', async () => {
  const patched = await http('PATCH', `/v1/projects/${other.ref}/config/auth`, { token: other.owner.token, body: { rate_limit_token_refresh: 2 } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  // Earlier tests made one attempt on this project from this address already: the window counts them all.
  const statuses: number[] = [];
  let limited;
  for (let i = 0; i < 4; i++) {
    const res = await login(other, 'members', { identifier: 'x@example.com', password: 'y' });
    statuses.push(res.status);
    if (res.status === 429) limited = res.body;
  }
  assert.equal(statuses[0], 400);
  assert.deepEqual(statuses.slice(2), [429, 429]);
  assert.deepEqual(limited, { message: 'Request rate limit reached', code: 'over_request_rate_limit' });
  // The limit is the project's: another project's logins go on.
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 200);
});

test('dropping the table removes its hashes and login settings', async () => {
  const c = await ownerClient(p);
  try {
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/tables/diary`, { token: p.owner.token })).status, 200);
    // A renamed table keeps its logins (they are keyed by the table, not its name).
    assert.equal((await http('PATCH', `/v1/projects/${p.ref}/tables/members`, { token: p.owner.token, body: { name: 'people' } })).status, 200);
    assert.equal((await login(p, 'people', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 200);
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/tables/people`, { token: p.owner.token })).status, 200);
    const { rows: [n] } = await c.query('select (select count(*) from row_auth.passwords)::int as hashes, (select count(*) from row_auth.logins)::int as logins');
    assert.deepEqual(n, { hashes: 0, logins: 0 });
  } finally { await c.end(); }
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 404);

  // Rolling the builder's migrations back through the history undoes a password column and a table cleanly.
  const made = await http('POST', `/v1/projects/${p.ref}/tables`, { token: p.owner.token, body: {
    name: 'staff', columns: [{ name: 'login', type: 'text', unique: true }], policies: ['public read'] } });
  assert.equal(made.status, 201);
  const added = await http('POST', `/v1/projects/${p.ref}/tables/staff/columns`, { token: p.owner.token, body: { name: 'pin', type: 'password', identifier: 'login', role: 'anon' } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const c2 = await ownerClient(p);
  try {
    await c2.query(`insert into public.staff (login, pin) values ('kim', '1234')`);
    const kim = await login(p, 'staff', { identifier: 'kim', password: '1234' });
    assert.equal(claims(kim.body.access_token).role, 'anon');
    const history = (await http('GET', `/v1/projects/${p.ref}/database/migrations`, { token: p.owner.token })).body;
    const [addPin, createStaff] = [history.at(-1), history.at(-2)];
    assert.deepEqual([createStaff.name, addPin.name], ['create table staff', 'add column pin to staff']);
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${addPin.version}`, { token: p.owner.token })).status, 200);
    assert.equal((await login(p, 'staff', { identifier: 'kim', password: '1234' })).status, 404);
    const { rows: [left] } = await c2.query(`select (select count(*) from row_auth.passwords)::int as hashes,
      (select count(*) from pg_trigger where tgrelid = 'public.staff'::regclass and not tgisinternal)::int as triggers`);
    assert.deepEqual(left, { hashes: 0, triggers: 0 });
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${createStaff.version}`, { token: p.owner.token })).status, 200);
    assert.equal((await c2.query(`select to_regclass('public.staff') as t`)).rows[0].t, null);
  } finally { await c2.end(); }
});
