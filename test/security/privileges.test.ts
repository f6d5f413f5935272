// A project owner is hostile SQL with psql, forever (SECURITY.md). Each test here is an attack as an owner would
// run it — planting casts, triggers and functions where Loam's own code will meet them, reaching for cluster-wide
// roles, other projects' databases, sessions and files — and checks it gains nothing beyond its own project.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { migrateProject } from '../../db/src/migrate-projects.ts';
import { projectMigrations } from '../../db/src/migrate.ts';
import { loadRuntime } from '../../db/src/projects.ts';
import { projectRoles } from '../../db/src/roles.ts';
import { adminClient, createProject, http, loam, ownerClient, sql, type Project } from '../helpers/platform.ts';

let a: Project;
let b: Project;
let pg16 = true;

before(async () => {
  [a, b] = await Promise.all([createProject(), createProject()]);
  const admin = await adminClient();
  pg16 = Number((await admin.query('show server_version_num')).rows[0].server_version_num) >= 160000;
  await admin.end();
});

async function asAdmin<T>(database: string | undefined, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await adminClient(database);
  try { return await fn(c); } finally { await c.end(); }
}

const isSuperuser = (role: string) =>
  asAdmin(undefined, async (c) => (await c.query('select rolsuper from pg_roles where rolname = $1', [role])).rows[0]?.rolsuper);

/** A table every role may write, and a function that records who runs it and tries to make the owner superuser. */
function lootSql(p: Project): string {
  return `
    create table if not exists public.loot (via text, who text, session text, su boolean);
    grant insert, select on public.loot to public;
    -- Sequences count calls even when the caller's transaction rolls back (as the storage API's checks do).
    create sequence if not exists public.calls_as_superuser;
    create sequence if not exists public.calls_as_project_role;
    grant usage on sequence public.calls_as_superuser, public.calls_as_project_role to public;
    create or replace function public.record_and_escalate(via text) returns void language plpgsql as $f$
    begin
      perform nextval(case when (select rolsuper from pg_roles where rolname = current_user) then 'public.calls_as_superuser'
                           when current_user like '${p.ref}%' then 'public.calls_as_project_role' end);
      insert into public.loot values (via, current_user, session_user, (select rolsuper from pg_roles where rolname = current_user));
      begin execute format('alter role %I superuser', '${p.ref}'); exception when others then null; end;
    end $f$;
    grant execute on function public.record_and_escalate(text) to public;`;
}

const loot = (p: Project) => asAdmin(p.ref, async (c) => (await c.query('select via, who, session, su from public.loot')).rows);

function assertNothingEscalated(rows: { who: string; session: string; su: boolean }[], p: Project) {
  const own = Object.values(projectRoles(p.ref));
  for (const row of rows) {
    assert.equal(row.su, false, `ran as a superuser: ${JSON.stringify(row)}`);
    assert.ok(own.includes(row.who), `ran as ${row.who}, not one of the project's roles`);
    assert.ok(own.includes(row.session), `logged in as ${row.session}, not one of the project's logins`);
  }
}

test('an owner-defined type with an implicit cast on storage.buckets runs with the project\'s rights only (psql, SQL endpoint, storage API)', async () => {
  const a = await createProject(); // its storage tables are left broken on purpose
  const owner = await ownerClient(a);
  try {
    await owner.query(lootSql(a));
    await owner.query(`insert into storage.buckets (id, name) values ('trap', 'trap')`);
    await owner.query(`
      create type public.evil as (v text);
      -- Casts are found by type, not through the search path: pinning search_path does not keep this one out.
      create function public.evil_text(public.evil) returns text language plpgsql as $f$
      begin
        perform public.record_and_escalate(coalesce(nullif(current_setting('loam.test_via', true), ''), 'storage-api'));
        return $1.v;
      end $f$;
      grant execute on function public.evil_text(public.evil) to public;
      create cast (public.evil as text) with function public.evil_text(public.evil) as implicit;
      do $d$ declare c record; begin
        -- every foreign key to storage.buckets (storage.objects, the S3 multipart tables), and those of objects
        for c in select conrelid::regclass as t, conname from pg_constraint
                 where (confrelid = 'storage.buckets'::regclass or conrelid = 'storage.objects'::regclass) and contype = 'f' loop
          execute format('alter table %s drop constraint %I', c.t, c.conname);
        end loop;
      end $d$;
      alter table storage.buckets drop constraint buckets_id_valid;
      alter table storage.buckets alter column id type public.evil using row(id)::public.evil`);
    // psql: the storage lookup that sees past RLS, called directly
    await owner.query(`set loam.test_via = 'psql'; select * from _loam.storage_bucket('trap')`);
  } finally {
    await owner.end();
  }
  // the Management API's SQL endpoint
  await sql(a, `set local loam.test_via = 'sql-endpoint'; select * from _loam.storage_bucket('trap')`);
  // the storage API, which looks the bucket up before an upload
  await fetch(`${a.url}/storage/v1/object/trap/x.txt`, {
    method: 'POST', body: 'x', headers: { apikey: a.serviceKey, authorization: `Bearer ${a.serviceKey}`, 'content-type': 'text/plain' },
  });
  const rows = await loot(a);
  for (const via of ['psql', 'sql-endpoint']) assert.ok(rows.some((r) => r.via === via), `the cast ran through ${via}`);
  // The upload's bucket check runs in a transaction that is rolled back: the sequences tell what ran there.
  const calls = await asAdmin(a.ref, async (c) => (await c.query(`select
      (select last_value from public.calls_as_superuser) as su, (select is_called from public.calls_as_superuser) as su_called,
      (select last_value from public.calls_as_project_role) as own`)).rows[0]);
  assert.equal(calls.su_called, false, 'nothing ran as a superuser');
  assert.ok(Number(calls.own) > rows.length, `the cast also ran through the storage API (${calls.own} calls, ${rows.length} recorded)`);
  assertNothingEscalated(rows, a);
  assert.ok(rows.every((r) => r.who === `${a.ref}_service_role`), 'the lookup runs as the project service role');
  assert.equal(await isSuperuser(a.ref), false);
});

test('triggers planted on template tables run as the owner during `loam migrate`; the hand-over runs no tenant function', async () => {
  const p = await createProject();
  const owner = await ownerClient(p);
  try {
    await owner.query(lootSql(p));
    await owner.query(`
      create function public.trap() returns trigger language plpgsql as $f$
      begin
        perform public.record_and_escalate('trigger');
        begin reset role; perform public.record_and_escalate('trigger after reset role'); exception when others then null; end;
        return null;
      end $f$;
      create trigger trap after update on auth.users for each statement execute function public.trap();
      create trigger trap after update on storage.objects for each statement execute function public.trap();
      -- Better matches than pg_catalog.format(text, variadic "any") for what the hand-over formats: found first
      -- by any session whose search path has public in it.
      create function public.format(text, name) returns text language plpgsql as $f$
        begin perform public.record_and_escalate('format'); return 'select 1'; end $f$;
      create function public.format(text, regclass) returns text language plpgsql as $f$
        begin perform public.record_and_escalate('format'); return 'select 1'; end $f$;
      create function public.format(text, text, regprocedure) returns text language plpgsql as $f$
        begin perform public.record_and_escalate('format'); return 'select 1'; end $f$;
      create function public.format(text, text, regclass) returns text language plpgsql as $f$
        begin perform public.record_and_escalate('format'); return 'select 1'; end $f$;
      grant execute on all functions in schema public to public`);
  } finally {
    await owner.end();
  }
  // An object of the older layout (owned by the administrator) gives the hand-over something to do.
  await asAdmin(p.ref, (c) => c.query(`create function auth.legacy() returns int language sql as 'select 1';
    create table storage.legacy (id int); alter schema storage owner to current_user`));
  await asAdmin(undefined, (c) => c.query(`update platform.projects set privilege_layout = 0 where ref = $1`, [p.ref]));
  const runtime = (await loadRuntime(p.ref))!;
  await migrateProject(runtime, () => {}, [...projectMigrations(),
    { version: 9001, name: '9001-touch.sql', sql: 'update auth.users set updated_at = updated_at; update storage.objects set updated_at = updated_at' }]);
  const rows = await loot(p);
  assert.ok(rows.some((r) => r.via === 'trigger'), 'the planted trigger ran');
  assert.ok(!rows.some((r) => r.via === 'format'), 'the hand-over never resolved a tenant function');
  assertNothingEscalated(rows, p);
  assert.ok(rows.filter((r) => r.via === 'trigger').every((r) => r.session === `${p.ref}_mgmt` && r.who === p.ref));
  assert.equal(await isSuperuser(p.ref), false);
  assert.equal(await asAdmin(p.ref, async (c) => (await c.query(`select pg_get_userbyid(proowner) as o from pg_proc where oid = 'auth.legacy()'::regprocedure`)).rows[0].o), p.ref);
});

test('an owner cannot become or alter cluster-wide roles, other projects\' roles, or the platform\'s logins', async () => {
  const owner = await ownerClient(a);
  const denied = async (stmt: string) => {
    await assert.rejects(owner.query(stmt), (err: { code?: string }) => ['42501', '0LP01', '22023'].includes(err.code ?? ''), stmt);
    await owner.query('reset role');
  };
  try {
    const shared = pg16 ? ['anon', 'authenticated', 'service_role'] : [];
    for (const role of [...shared, 'loam_internal', b.ref, `${b.ref}_anon`, `${b.ref}_service_role`, `${a.ref}_mgmt`, `${a.ref}_authenticator`]) {
      await denied(`set role ${pg.escapeIdentifier(role)}`);
    }
    for (const role of ['anon', 'authenticated', 'service_role', 'loam_internal', `${b.ref}_anon`, `${b.ref}_authenticator`, `${a.ref}_authenticator`, `${a.ref}_mgmt`]) {
      await denied(`alter role ${pg.escapeIdentifier(role)} set statement_timeout = '1ms'`);
      await denied(`alter role ${pg.escapeIdentifier(role)} with password 'taken-over'`);
    }
    await denied(`alter database ${pg.escapeIdentifier(b.ref)} set statement_timeout = '1ms'`);
    await denied(`grant ${pg.escapeIdentifier(`${a.ref}_service_role`)} to ${pg.escapeIdentifier(`${a.ref}_anon`)}`);
    await denied(`grant anon to ${pg.escapeIdentifier(a.ref)}`);
    await denied('create role intruder');
    if (pg16) {
      const { rows: [m] } = await owner.query(`select pg_has_role('anon', 'SET') as can_set, pg_has_role('anon', 'USAGE') as inherits`);
      assert.deepEqual(m, { can_set: false, inherits: true }, 'grants to anon reach the owner, becoming anon does not');
    }
    // What it may do: try its policies as its own API roles.
    await owner.query(`set role ${pg.escapeIdentifier(`${a.ref}_authenticated`)}`);
    assert.equal((await owner.query('select current_user as u')).rows[0].u, `${a.ref}_authenticated`);
    // A per-database setting its own role may make for another database changes nothing there: no login of
    // that database is, or becomes, this role.
    await owner.query(`set role ${pg.escapeIdentifier(`${a.ref}_anon`)}`);
    await owner.query(`alter role ${pg.escapeIdentifier(`${a.ref}_anon`)} in database ${pg.escapeIdentifier(b.ref)} set statement_timeout = '1ms'`);
    await owner.query('reset role');
  } finally {
    await owner.end();
  }
  await sql(b, `create table if not exists public.slowish (x int); alter table public.slowish enable row level security;
    create policy read_slow on public.slowish for select using (pg_sleep(0.01) is not null); insert into public.slowish values (1)`);
  const res = await fetch(`${b.url}/rest/v1/slowish?select=x`, { headers: { apikey: b.anonKey } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), [{ x: 1 }]);
});

test('a function called anonymously that resets its role reaches only its own project\'s login, and no other project\'s sessions', async () => {
  await sql(a, `create or replace function public.escape() returns json language plpgsql as $f$
    declare set_anon text := 'allowed'; foreign_visible int; foreign_total int;
    begin
      reset role;
      begin set role anon; exception when others then set_anon := sqlstate; end;
      reset role;
      select count(*) filter (where query like '%secret_b_marker%'), count(*) into foreign_visible, foreign_total
        from pg_stat_activity where datname = '${b.ref}';
      return json_build_object('session', session_user, 'current', current_user, 'set_anon', set_anon,
                               'foreign_visible', foreign_visible, 'foreign_total', foreign_total);
    end $f$;
    grant execute on function public.escape() to anon`);
  const bOwner = await ownerClient(b);
  bOwner.on('error', () => {});
  const slow = bOwner.query(`select pg_sleep(1.5) as secret_b_marker`);
  await new Promise((r) => setTimeout(r, 300));
  const res = await fetch(`${a.url}/rest/v1/rpc/escape`, { method: 'POST', headers: { apikey: a.anonKey, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 200);
  const out = await res.json();
  await slow;
  await bOwner.end();
  assert.equal(out.session, `${a.ref}_authenticator`);
  assert.equal(out.current, `${a.ref}_authenticator`);
  if (pg16) assert.equal(out.set_anon, '42501');
  assert.ok(out.foreign_total >= 1, 'the other project\'s session was there to be seen');
  assert.equal(out.foreign_visible, 0, 'but not its statement');
});

test('another project\'s sign-up is not readable in pg_stat_activity, and its statement carries no values', async () => {
  await sql(b, `create or replace function public.slow_signup() returns trigger language plpgsql as $f$
      begin perform pg_sleep(1.5); return new; end $f$;
    drop trigger if exists slow_signup on auth.users;
    create trigger slow_signup before insert on auth.users for each row execute function public.slow_signup()`);
  const email = `victim-${Date.now()}@example.com`;
  const signup = fetch(`${b.url}/auth/v1/signup`, {
    method: 'POST', headers: { apikey: b.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'a fine password 1' }),
  });
  await new Promise((r) => setTimeout(r, 500));
  const seenByAdmin = await asAdmin(undefined, async (c) =>
    (await c.query(`select query from pg_stat_activity where datname = $1 and query like '%auth.signup%'`, [b.ref])).rows);
  const owner = await ownerClient(a);
  const seenByOther = (await owner.query(`select query from pg_stat_activity where datname = $1 and query like '%signup%'`, [b.ref])).rows;
  await owner.end();
  assert.equal((await signup).status, 200);
  assert.equal(seenByAdmin.length, 1, 'the sign-up statement was in flight');
  assert.ok(!seenByAdmin[0].query.includes(email) && !seenByAdmin[0].query.includes('@'), `no values in: ${seenByAdmin[0].query}`);
  assert.deepEqual(seenByOther, [], 'another owner sees no statement of it');
});

test('logins of one project reach no other database (cross-project login matrix)', async () => {
  const { databaseUrl } = await loam();
  const u = new URL(databaseUrl);
  const secrets = await asAdmin(undefined, async (c) => (await c.query(
    `select s.mgmt_password, s.api_password from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1`, [a.ref])).rows[0]);
  const logins: [string, string][] = [[a.ref, a.dbPass], [`${a.ref}_mgmt`, secrets.mgmt_password], [`${a.ref}_authenticator`, secrets.api_password]];
  const databases = [b.ref, 'postgres', u.pathname.slice(1), `${u.pathname.slice(1)}_template`, 'template1'];
  let attempts = 0;
  for (const [user, password] of logins) {
    const own = new pg.Client({ host: u.hostname, port: Number(u.port), user, password, database: a.ref });
    await own.connect();
    await own.end();
    for (const database of databases) {
      attempts++;
      const c = new pg.Client({ host: u.hostname, port: Number(u.port), user, password, database });
      c.on('error', () => {});
      await assert.rejects(c.connect(), /permission denied|CONNECT privilege|not currently accepting/, `${user} → ${database}`);
    }
  }
  assert.equal(attempts, logins.length * databases.length);
});

test('keys of one project are refused by every API of another', async () => {
  const paths = ['/rest/v1/', '/graphql/v1', '/storage/v1/bucket', '/auth/v1/admin/users'];
  for (const key of [a.anonKey, a.serviceKey]) {
    for (const path of paths) {
      const res = await fetch(`${b.url}${path}`, {
        method: path === '/graphql/v1' ? 'POST' : 'GET',
        headers: { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: path === '/graphql/v1' ? JSON.stringify({ query: '{ __typename }' }) : undefined,
      });
      // (Supabase Storage answers a bad JWT with 400 and statusCode "403" in the body.)
      assert.ok([400, 401, 403].includes(res.status), `${path} with another project's key: ${res.status}`);
      assert.ok(!/"(id|name|email)"\s*:/.test(await res.text()), `${path} answered with data`);
    }
  }
});

test('an object row pointed at another project\'s bytes serves nothing', async () => {
  const put = (p: Project, name: string, body: string) => fetch(`${p.url}/storage/v1/object/files/${name}`, {
    method: 'POST', body, headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}`, 'content-type': 'text/plain' },
  });
  for (const p of [a, b]) {
    const r = await http('POST', `/project/${p.ref}/storage/v1/bucket`, { body: { id: 'files', name: 'files', public: false }, headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  assert.equal((await put(b, 'secret.txt', 'B secret')).status, 200);
  assert.equal((await put(a, 'mine.txt', 'A data')).status, 200);
  const [{ version }] = await sql(b, `select version from storage.objects where name = 'secret.txt'`);
  for (const forged of [`../${b.ref}/objects/${version}`, version]) {
    await sql(a, `update storage.objects set version = '${forged}' where name = 'mine.txt'`);
    const res = await fetch(`${a.url}/storage/v1/object/files/mine.txt`, { headers: { apikey: a.serviceKey, authorization: `Bearer ${a.serviceKey}` } });
    const text = await res.text();
    assert.ok(!text.includes('B secret'), `forged version ${forged} served another project's bytes`);
    assert.equal(res.status, 400 <= res.status && res.status < 500 ? res.status : -1, 'a client error, not a crash');
  }
});

test('owners create trusted extensions only, and no event triggers', async () => {
  const owner = await ownerClient(a);
  try {
    await owner.query('create extension if not exists pgcrypto');
    assert.equal((await owner.query(`select length(digest('x', 'sha256')) as n`)).rows[0].n, 32);
    for (const stmt of ['create extension dblink', 'create extension postgres_fdw', 'create extension file_fdw', 'create extension plpython3u',
      `create event trigger spy on ddl_command_start execute function pg_catalog.now()`]) {
      await assert.rejects(owner.query(stmt), (err: { code?: string }) => ['42501', '58P01', '0A000', '42883'].includes(err.code ?? ''), stmt);
    }
  } finally {
    await owner.end();
  }
});

test('no definer function in a project database belongs to a role stronger than the project', async () => {
  const rows = await asAdmin(b.ref, async (c) => (await c.query(`
    select p.oid::regprocedure::text as fn, pg_get_userbyid(p.proowner) as owner
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')`)).rows);
  const allowed = [...Object.values(projectRoles(b.ref)), 'loam_internal'];
  assert.ok(rows.length >= 5, 'the storage lookups and the event trigger function are definers');
  for (const r of rows) assert.ok(allowed.includes(r.owner), `${r.fn} runs as ${r.owner}`);
  // and everything in the schemas the template made is the owner's (or, for the storage lookups, its service role's)
  const foreign = await asAdmin(b.ref, async (c) => (await c.query(`
    select c.oid::regclass::text as name, pg_get_userbyid(c.relowner) as owner from pg_class c
    where c.relnamespace in ('auth'::regnamespace, 'storage'::regnamespace, 'public'::regnamespace) and pg_get_userbyid(c.relowner) <> $1`, [b.ref])).rows);
  assert.deepEqual(foreign, []);
});

test('an owner cannot hold more connections than its limit, so it cannot take the server\'s from other projects', async () => {
  const limit = Number(process.env.LOAM_OWNER_CONNECTION_LIMIT || 20);
  const held: pg.Client[] = [];
  try {
    for (let i = 0; i < limit; i++) held.push(await ownerClient(a));
    await assert.rejects(ownerClient(a), /too many connections for role/);
    const res = await fetch(`${b.url}/rest/v1/`, { headers: { apikey: b.anonKey } });
    assert.equal(res.status, 200, 'another project is served meanwhile');
  } finally {
    await Promise.all(held.map((c) => c.end()));
  }
  const { rows: [r] } = await asAdmin(undefined, (c) => c.query(`select rolconnlimit from pg_roles where rolname = $1`, [a.ref]));
  assert.equal(r.rolconnlimit, limit);
});
