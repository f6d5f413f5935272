// Password columns and row login: a write through REST stores a bcrypt hash out of reach (reads return null),
// `POST /v1/data/{ref}/{table}/login` returns a project JWT whose sub is the row's key, RLS policies use it,
// wrong password and unknown row answer alike, and keys and tokens of one project do nothing on another.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, http, loam, ownerClient, type Project } from '../helpers/platform.ts';
import { gql } from '../graphql/helpers.ts';

let p: Project;
let other: Project;

const login = (project: Project, table: string, body: unknown, apikey: string | null = project.anonKey, type = 'application/json') =>
  http('POST', `/v1/data/${project.ref}/${encodeURIComponent(table)}/login`, { body, headers: { 'content-type': type, ...apikey === null ? {} : { apikey } } });

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
      policies: ['public insert', 'owner read by id', 'owner update by id'],
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
  // (Upserts on the identifier: the key is not anon's to write at all, see the attacker test below.)
  for (const resolution of ['ignore-duplicates', 'merge-duplicates']) {
    const res = await fetch(`${p.url}/rest/v1/members?on_conflict=email`, { method: 'POST',
      headers: { apikey: p.anonKey, 'content-type': 'application/json', prefer: `resolution=${resolution},return=minimal` },
      body: JSON.stringify({ email: 'ann@example.com', secret: 'evil-pass' }) });
    assert.ok(res.status === 201 || res.status === 401, `${resolution}: ${res.status}`);
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
    { name: 'secret', type: 'password', identifier: 'email', role: 'authenticated', not_null: false, default: null, identity: false, primary_key: false, unique: false, references: null, on_delete: null });
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
  // A new password through REST (the row's own token, `owner update by id`) replaces the hash; the old one stops
  // working. Bob cannot set Ann's.
  const mine = await rest(p, 'PATCH', 'members', { token: ann.body.access_token, body: { secret: 'ann-pass-2' }, query: `?id=eq.${a.sub}` });
  assert.deepEqual(mine.body.map((r: { secret: unknown }) => r.secret), [null]);
  const hers = await rest(p, 'PATCH', 'members', { token: bob.body.access_token, body: { secret: 'bob-was-here' }, query: `?id=eq.${a.sub}` });
  assert.deepEqual(hers.body, []);
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-1' })).status, 400);
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'bob-was-here' })).status, 400);
  assert.equal((await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 200);
  // GraphQL updates go through the same trigger, and GraphQL reads the column as null too.
  assert.equal((await login(p, 'members', { identifier: 'dee@example.com', password: 'dee-pass-1' })).status, 200);
  const updated = await gql(p, `mutation { updateMemberByEmail(input: {email: "dee@example.com", memberPatch: {secret: "dee-pass-2"}}) { member { email secret } } }`,
    { key: p.serviceKey, token: p.serviceKey });
  assert.deepEqual(updated.body.data?.updateMemberByEmail?.member, { email: 'dee@example.com', secret: null }, JSON.stringify(updated.body));
  const read = await gql(p, '{ allMembers(orderBy: EMAIL_ASC) { nodes { email secret } } }', { key: p.serviceKey, token: p.serviceKey });
  assert.ok(read.body.data.allMembers.nodes.length >= 4 && read.body.data.allMembers.nodes.every((n: { secret: unknown }) => n.secret === null), JSON.stringify(read.body));
  assert.equal((await login(p, 'members', { identifier: 'dee@example.com', password: 'dee-pass-1' })).status, 400);
  assert.equal((await login(p, 'members', { identifier: 'dee@example.com', password: 'dee-pass-2' })).status, 200);
});

test('attacker: no API caller picks the sub of a login token, and a row token is no auth user\'s session', async () => {
  // A user of the project's auth, with a note only they may read.
  const admin = createClient(p.url, p.serviceKey, { auth: { persistSession: false } });
  const created = await admin.auth.admin.createUser({ email: 'victim@example.com', password: 'victim-pass-1', email_confirm: true });
  assert.equal(created.error, null);
  const victim = created.data.user!.id;
  const notes = await http('POST', `/v1/projects/${p.ref}/tables`, { token: p.owner.token, body: { name: 'notes',
    columns: [{ name: 'user_id', type: 'uuid', not_null: true, default_expression: 'auth.uid()' }, { name: 'body', type: 'text' }],
    policies: ['owner only by user_id'] } });
  assert.equal(notes.status, 201, JSON.stringify(notes.body));
  const session = await createClient(p.url, p.anonKey, { auth: { persistSession: false } }).auth.signInWithPassword({ email: 'victim@example.com', password: 'victim-pass-1' });
  assert.equal((await rest(p, 'POST', 'notes', { token: session.data.session!.access_token, body: { body: 'private' } })).status, 201);

  // Anyone may sign up (`public insert`), but not with the victim's id as the row's key: the API roles write
  // every column of a login table but its key — by insert, upsert or update.
  const supa = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const chosen = await supa.from('members').insert({ id: victim, email: 'mallory@example.com', secret: 'mallory-pass' });
  assert.equal(chosen.error?.code, '42501');
  const upsert = await supa.from('members').upsert({ id: victim, email: 'mallory@example.com', secret: 'mallory-pass' }, { onConflict: 'email' });
  assert.equal(upsert.error?.code, '42501');
  assert.equal((await supa.from('members').insert({ email: 'mallory@example.com', secret: 'mallory-pass' })).error, null);
  const mallory = await login(p, 'members', { identifier: 'mallory@example.com', password: 'mallory-pass' });
  assert.equal(mallory.status, 200);
  assert.notEqual(mallory.body.sub, victim);
  const moved = await rest(p, 'PATCH', 'members', { token: mallory.body.access_token, body: { id: victim }, query: `?id=eq.${mallory.body.sub}` });
  assert.equal(moved.body.code, '42501', JSON.stringify(moved.body));
  assert.deepEqual((await rest(p, 'GET', 'notes', { token: mallory.body.access_token, query: '?select=body' })).body, []);
  // The guard is plain SQL in the history and in psql's \dp.
  const c = await ownerClient(p);
  try {
    const { rows: [g] } = await c.query(`select has_column_privilege('anon', 'public.members', 'id', 'INSERT') as id_insert,
      has_column_privilege('authenticated', 'public.members', 'id', 'UPDATE') as id_update,
      has_column_privilege('anon', 'public.members', 'email', 'INSERT') as email_insert,
      has_column_privilege('service_role', 'public.members', 'id', 'INSERT') as service_insert`);
    assert.deepEqual(g, { id_insert: false, id_update: false, email_insert: true, service_insert: true });
    const { rows: [m] } = await c.query(`select statements[1] as sql from supabase_migrations.schema_migrations where name = 'create table members'`);
    assert.match(m.sql, /revoke insert, update on public\."members" from anon;\ngrant insert \("email", "secret"\), update \("email", "secret"\) on public\."members" to anon;/);
  } finally { await c.end(); }

  // A row token is a token of the data plane, never a session of auth.users (even were its sub a user's id).
  const asUser = await fetch(`${p.url}/auth/v1/user`, { headers: { apikey: p.anonKey, authorization: `Bearer ${mallory.body.access_token}` } });
  assert.equal(asUser.status, 403);
  assert.deepEqual(await asUser.json(), { code: 403, error_code: 'bad_jwt', msg: 'invalid claim: a row login token is not a user session' });
  const change = await fetch(`${p.url}/auth/v1/user`, { method: 'PUT', headers: { apikey: p.anonKey, authorization: `Bearer ${mallory.body.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'new-pass-123' }) });
  assert.equal(change.status, 403);
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
  assert.deepEqual(missing.body, { message: 'password is required', code: 'invalid_body' });
  assert.deepEqual((await login(p, 'members', { identifier: 1, password: 'x' })).body, { message: 'identifier must be a string', code: 'invalid_body' });
  assert.deepEqual((await login(p, 'members', 'identifier=ann@example.com&password=x', p.anonKey, 'application/x-www-form-urlencoded')).body,
    { message: 'Content-Type must be application/json', code: 'unsupported_media_type' });
  assert.equal((await login(p, 'members', 'identifier=a', p.anonKey, 'text/plain')).status, 415);
  assert.deepEqual((await login(p, 'members', { identifier: 'x', password: 'y' }, null)).body, { message: 'No API key found in request', code: 'no_api_key' });
  assert.deepEqual((await login(p, 'diary', { identifier: 'x', password: 'y' })).body, { message: 'Table with a password column not found', code: 'not_found' });
  // Browsers may call it from the app's origin.
  const preflight = await fetch(`${(await loam()).url}/v1/data/${p.ref}/members/login`, { method: 'OPTIONS',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey, content-type' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /apikey/);
  assert.equal((await http('POST', '/v1/data/abcdefghijklmnopqrst/members/login', { body: { identifier: 'a', password: 'b' }, headers: { apikey: p.anonKey } })).status, 404);

  // Project B has the same table and no such member; a token from A's row login is nothing on B.
  const ann = await login(p, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' });
  assert.equal((await login(other, 'members', { identifier: 'ann@example.com', password: 'ann-pass-2' })).status, 400);
  const onOther = await rest(other, 'GET', 'diary', { token: ann.body.access_token });
  assert.equal(onOther.status, 401);
});

test('the owner\'s psql changes: no role but authenticated or anon is ever signed, a broken login is a 400, never a 500', async () => {
  const q = await createProject();
  const made = await http('POST', `/v1/projects/${q.ref}/tables`, { token: q.owner.token, body: { name: 'accounts',
    columns: [{ name: 'handle', type: 'text', unique: true }, { name: 'pass', type: 'password', identifier: 'handle' }], policies: ['owner only by id'] } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.deepEqual(made.body.columns[0], { name: 'id', type: 'uuid', not_null: true, default: 'gen_random_uuid()', identity: false, primary_key: true, unique: true, references: null, on_delete: null });
  const c = await ownerClient(q);
  const misconfigured = { message: 'The login settings of this table (row_auth.logins) do not match it: the project\'s owner must fix them', code: 'row_login_misconfigured' };
  const attempt = () => login(q, 'accounts', { identifier: 'zed', password: 'zed-pass' });
  try {
    await c.query(`insert into public.accounts (handle, pass) values ('zed', 'zed-pass')`);
    assert.equal((await attempt()).status, 200);
    // row_auth is the owner's, so it may name any role: only the builder's two are signed.
    for (const role of ['service_role', 'postgres', q.ref, `${q.ref}_service_role`, `${q.ref}_mgmt`, 'supabase_admin', 'Authenticated', '']) {
      await c.query(`update row_auth.logins set role = $1`, [role]);
      const res = await attempt();
      assert.equal(res.status, 400, role);
      assert.deepEqual(res.body, misconfigured, role);
    }
    await c.query(`update row_auth.logins set role = 'anon'`);
    assert.equal(claims((await attempt()).body.access_token).role, 'anon');
    // A key an API role may write again (the owner's grant, or a table made before the key guard): a caller could
    // key a row as another user, so nothing is signed until the grant is gone.
    for (const grant of ['grant insert (id) on public.accounts to anon', 'grant update (id) on public.accounts to authenticated', 'grant all on public.accounts to anon']) {
      await c.query(grant);
      assert.deepEqual((await attempt()).body, misconfigured, grant);
      await c.query(grant.replace(/^grant (.*) to /, 'revoke $1 from ').replace('grant all', 'revoke insert, update'));
      assert.equal((await attempt()).status, 200, grant);
    }
    // Renamed key or identifier columns, a changed row_auth: a 400, and the builder still reads the table.
    for (const [broken, fixed] of [
      ['alter table public.accounts rename column id to uid', 'alter table public.accounts rename column uid to id'],
      ['alter table public.accounts rename column handle to nick', 'alter table public.accounts rename column nick to handle'],
      ['alter table row_auth.logins rename column role to kind', 'alter table row_auth.logins rename column kind to role'],
      ['alter table row_auth.passwords rename to hashes', 'alter table row_auth.hashes rename to passwords'],
    ]) {
      await c.query(broken);
      assert.deepEqual((await attempt()).body, misconfigured, broken);
      const described = await http('GET', `/v1/projects/${q.ref}/tables`, { token: q.owner.token });
      assert.equal(described.status, 200, broken);
      assert.equal((await http('GET', `/v1/projects/${q.ref}/tables/accounts`, { token: q.owner.token })).status, 200, broken);
      await c.query(fixed);
      assert.equal((await attempt()).status, 200, fixed);
    }
    // Without its triggers, a new password is stored in the column as written: nothing the login reads.
    await c.query('drop trigger pass_hash on public.accounts');
    await c.query(`update public.accounts set pass = 'plain' where handle = 'zed'`);
    assert.equal((await login(q, 'accounts', { identifier: 'zed', password: 'plain' })).status, 400);
    assert.equal((await attempt()).status, 200);
    // A row_auth without its hash table still lets the builder drop the table, and the login is gone.
    await c.query('drop table row_auth.passwords');
    const dropped = await http('DELETE', `/v1/projects/${q.ref}/tables/accounts`, { token: q.owner.token });
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    assert.equal((await c.query('select count(*)::int as n from row_auth.logins')).rows[0].n, 0);
    assert.equal((await attempt()).status, 404);
  } finally { await c.end(); }
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
  // A login's key is the sub of its tokens: an identity key (the default `id` of a table made without a password
  // column) is refused, a uuid one the database picks is taken.
  const counter = await http('POST', `/v1/projects/${p.ref}/tables`, { token: p.owner.token, body: { name: 'counted', columns: [{ name: 'login', type: 'text', unique: true }] } });
  assert.equal(counter.status, 201);
  const refused = await http('POST', `/v1/projects/${p.ref}/tables/counted/columns`, { token: p.owner.token, body: { name: 'pin', type: 'password', identifier: 'login' } });
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /needs a uuid primary key with a default/);
  const made = await http('POST', `/v1/projects/${p.ref}/tables`, { token: p.owner.token, body: {
    name: 'staff', columns: [{ name: 'id', type: 'uuid', primary_key: true, default_expression: 'gen_random_uuid()' }, { name: 'login', type: 'text', unique: true }],
    policies: ['public read'] } });
  assert.equal(made.status, 201);
  const added = await http('POST', `/v1/projects/${p.ref}/tables/staff/columns`, { token: p.owner.token, body: { name: 'pin', type: 'password', identifier: 'login', role: 'anon' } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const twice = await http('POST', `/v1/projects/${p.ref}/tables/staff/columns`, { token: p.owner.token, body: { name: 'pin2', type: 'password', identifier: 'login' } });
  assert.deepEqual(twice.body, { message: 'table "staff" already has a password column', code: 'invalid_body' });
  // A column added later is the API roles' to write, as the others but the key are.
  assert.equal((await http('POST', `/v1/projects/${p.ref}/tables/staff/columns`, { token: p.owner.token, body: { name: 'nick', type: 'text' } })).status, 201);
  const c2 = await ownerClient(p);
  try {
    await c2.query(`insert into public.staff (login, pin) values ('kim', '1234')`);
    const kim = await login(p, 'staff', { identifier: 'kim', password: '1234' });
    assert.equal(claims(kim.body.access_token).role, 'anon');
    const history = (await http('GET', `/v1/projects/${p.ref}/database/migrations`, { token: p.owner.token })).body;
    const privileges = async () => (await c2.query(`select has_table_privilege('anon', 'public.staff', 'INSERT') as anon_table,
      has_column_privilege('anon', 'public.staff', 'id', 'INSERT') as anon_id, has_column_privilege('authenticated', 'public.staff', 'login', 'UPDATE') as login,
      (select count(*) from pg_attribute where attrelid = 'public.staff'::regclass and attacl is not null)::int as column_grants`)).rows[0];
    assert.deepEqual(await privileges(), { anon_table: false, anon_id: false, login: true, column_grants: 3 });
    assert.equal((await c2.query(`select has_column_privilege('authenticated', 'public.staff', 'nick', 'UPDATE') as ok`)).rows[0].ok, true);
    const [addNick, addPin] = [history.at(-1), history.at(-2)];
    const createStaff = history.at(-3);
    assert.deepEqual([createStaff.name, addPin.name, addNick.name], ['create table staff', 'add column pin to staff', 'add column nick to staff']);
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${addPin.version}`, { token: p.owner.token })).status, 200);
    // The table's privileges are what they were before the password column.
    assert.deepEqual(await privileges(), { anon_table: true, anon_id: true, login: true, column_grants: 0 });
    assert.equal((await login(p, 'staff', { identifier: 'kim', password: '1234' })).status, 404);
    const { rows: [left] } = await c2.query(`select (select count(*) from row_auth.passwords)::int as hashes,
      (select count(*) from pg_trigger where tgrelid = 'public.staff'::regclass and not tgisinternal)::int as triggers`);
    assert.deepEqual(left, { hashes: 0, triggers: 0 });
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${createStaff.version}`, { token: p.owner.token })).status, 200);
    assert.equal((await c2.query(`select to_regclass('public.staff') as t`)).rows[0].t, null);

    // PATCH keeps a login's columns as they are, and dropping its password column removes the login cleanly.
    const guests = `/v1/projects/${p.ref}/tables/guests`;
    assert.equal((await http('POST', `/v1/projects/${p.ref}/tables`, { token: p.owner.token, body: { name: 'guests',
      columns: [{ name: 'nick', type: 'text', unique: true }, { name: 'pw', type: 'password', identifier: 'nick' }] } })).status, 201);
    await c2.query(`insert into public.guests (nick, pw) values ('lee', 'lee-pass')`);
    assert.equal((await login(p, 'guests', { identifier: 'lee', password: 'lee-pass' })).status, 200);
    for (const change of [{ name: 'nick', drop: true }, { name: 'nick', rename: 'handle' }, { name: 'nick', unique: false }, { name: 'id', rename: 'key' }, { name: 'pw', rename: 'pass' }]) {
      const res = await http('PATCH', guests, { token: p.owner.token, body: { columns: [change] } });
      assert.equal(res.status, 400, JSON.stringify(change));
      assert.match(res.body.message, /is used by the table's login: drop its password column "pw" first/);
    }
    // The role of its tokens is PATCH's to change (to one of the two), recorded with its rollback.
    const anon = await http('PATCH', guests, { token: p.owner.token, body: { columns: [{ name: 'pw', role: 'anon' }] } });
    assert.equal(anon.body.columns.find((x: { name: string }) => x.name === 'pw').role, 'anon');
    assert.equal(claims((await login(p, 'guests', { identifier: 'lee', password: 'lee-pass' })).body.access_token).role, 'anon');
    for (const [change, message] of [[{ name: 'pw', role: 'service_role' }, /role must be one of authenticated, anon/], [{ name: 'nick', role: 'anon' }, /not a password column/],
      [{ name: 'pw', default: 'everyones-password' }, /is a password column: it takes no not_null, unique or default/], [{ name: 'pw', not_null: true }, /is a password column/]] as const) {
      const res = await http('PATCH', guests, { token: p.owner.token, body: { columns: [change] } });
      assert.deepEqual([res.status, res.body.code], [400, 'invalid_body']);
      assert.match(res.body.message, message);
    }
    const roleChange = (await http('GET', `/v1/projects/${p.ref}/database/migrations`, { token: p.owner.token })).body.at(-1);
    assert.equal((await http('DELETE', `/v1/projects/${p.ref}/database/migrations?gte=${roleChange.version}`, { token: p.owner.token })).status, 200);
    assert.equal(claims((await login(p, 'guests', { identifier: 'lee', password: 'lee-pass' })).body.access_token).role, 'authenticated');
    const dropped = await http('PATCH', guests, { token: p.owner.token, body: { columns: [{ name: 'pw', drop: true }] } });
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    assert.deepEqual(dropped.body.columns.map((x: { name: string }) => x.name), ['id', 'nick']);
    assert.equal((await login(p, 'guests', { identifier: 'lee', password: 'lee-pass' })).status, 404);
    const { rows: [gone] } = await c2.query(`select (select count(*) from row_auth.passwords)::int as hashes, (select count(*) from row_auth.logins)::int as logins,
      (select count(*) from pg_trigger where tgrelid = 'public.guests'::regclass and not tgisinternal)::int as triggers,
      has_table_privilege('anon', 'public.guests', 'INSERT') and has_table_privilege('authenticated', 'public.guests', 'UPDATE') as writable`);
    assert.deepEqual(gone, { hashes: 0, logins: 0, triggers: 0, writable: true });
  } finally { await c2.end(); }
});
