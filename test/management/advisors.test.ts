// Database advisors: each problem made in a project database shows up as its lint, in Supabase's lint shape,
// and goes away once fixed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject, http, signup, sql, type Project } from '../helpers/platform.ts';

interface Lint { name: string; title: string; level: string; facing: string; categories: string[]; description: string; detail: string; remediation: string; metadata: Record<string, unknown>; cache_key: string }

async function lints(p: Project, category: 'security' | 'performance'): Promise<Lint[]> {
  const res = await http('GET', `/v1/projects/${p.ref}/advisors/${category}`, { token: p.owner.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  for (const l of res.body.lints as Lint[]) {
    assert.deepEqual(Object.keys(l).sort(), ['cache_key', 'categories', 'description', 'detail', 'facing', 'level', 'metadata', 'name', 'remediation', 'title']);
    assert.ok(['ERROR', 'WARN', 'INFO'].includes(l.level));
    assert.equal(l.facing, 'EXTERNAL');
    assert.deepEqual(l.categories, [category.toUpperCase()]);
  }
  return res.body.lints;
}
const find = (list: Lint[], name: string, object: string) => list.find((l) => l.name === name && l.metadata.name === object);

test('advisors: a fresh project has no security or performance findings', async () => {
  const p = await createProject();
  assert.deepEqual(await lints(p, 'security'), []);
  assert.deepEqual(await lints(p, 'performance'), []);
});

test('advisors: security lints appear for each problem and disappear when it is fixed', async () => {
  const p = await createProject();
  await sql(p, `
    create table open_table (id int primary key);
    create table half (id int primary key);
    create policy read_all on half for select using (true);
    create table locked (id int primary key);
    alter table locked enable row level security;
    create view definer_view as select id from open_table;
    create function mutable_path() returns int language sql as 'select 1';
    create view user_emails as select id, email from auth.users;
    grant select on user_emails to anon;
    create extension if not exists pg_trgm schema public;
    create table notes (id int primary key, owner uuid);
    alter table notes enable row level security;
    create policy by_role on notes for select using ((auth.jwt() -> 'user_metadata' ->> 'role') = 'admin');
    create materialized view note_counts as select count(*) from notes;
    create function definer() returns int language sql security definer set search_path = '' as 'select 1';`);
  const found = await lints(p, 'security');
  const expect = [
    ['rls_disabled_in_public', 'open_table', 'ERROR', 'RLS Disabled in Public'],
    ['policy_exists_rls_disabled', 'half', 'ERROR', 'Policy Exists RLS Disabled'],
    ['rls_enabled_no_policy', 'locked', 'INFO', 'RLS Enabled No Policy'],
    ['security_definer_view', 'definer_view', 'ERROR', 'Security Definer View'],
    ['function_search_path_mutable', 'mutable_path', 'WARN', 'Function Search Path Mutable'],
    ['auth_users_exposed', 'user_emails', 'ERROR', 'Exposed Auth Users'],
    ['extension_in_public', 'pg_trgm', 'WARN', 'Extension in Public'],
    ['rls_references_user_metadata', 'notes', 'ERROR', 'RLS references user metadata'],
    ['materialized_view_in_api', 'note_counts', 'WARN', 'Materialized View in API'],
    ['anon_security_definer_function_executable', 'definer', 'WARN', 'Public Can Execute SECURITY DEFINER Function'],
    ['authenticated_security_definer_function_executable', 'definer', 'WARN', 'Signed-In Users Can Execute SECURITY DEFINER Function'],
  ];
  for (const [name, object, level, title] of expect) {
    const l = find(found, name, object);
    assert.ok(l, `${name} on ${object} missing: ${JSON.stringify(found.map((x) => [x.name, x.metadata.name]))}`);
    assert.equal(l.level, level);
    assert.equal(l.title, title);
    assert.match(l.remediation, /^https:\/\//);
    assert.ok(l.detail.includes(object), l.detail);
  }
  assert.equal(find(found, 'rls_disabled_in_public', 'open_table')!.cache_key, 'rls_disabled_in_public_public_open_table');
  assert.deepEqual(find(found, 'auth_users_exposed', 'user_emails')!.metadata.exposed_to, ['anon', 'authenticated']);

  await sql(p, `
    alter table open_table enable row level security; create policy r on open_table for select using (true);
    alter table half enable row level security;
    create policy r on locked for select using (true);
    alter view definer_view set (security_invoker = on);
    alter function mutable_path() set search_path = '';
    drop view user_emails;
    drop extension pg_trgm;
    alter policy by_role on notes using ((auth.jwt() -> 'app_metadata' ->> 'role') = 'admin');
    revoke select on note_counts from anon, authenticated;
    revoke execute on function definer() from public, anon, authenticated;`);
  assert.deepEqual((await lints(p, 'security')).map((l) => [l.name, l.metadata.name]), []);
});

test('advisors: performance lints appear for each problem and disappear when it is fixed', async () => {
  const p = await createProject();
  await sql(p, `
    create table parents (id int primary key);
    create table children (id int primary key, parent_id int references parents (id));
    create table loose (id int);
    create table docs (id int primary key, owner uuid, title text);
    create index docs_title_a on docs (title);
    create index docs_title_b on docs (title);
    alter table docs enable row level security;
    create policy mine on docs for select using (owner = auth.uid());
    create policy mine_too on docs for select using (owner = auth.uid() or title = 'x');`);
  const found = await lints(p, 'performance');
  const expect = [
    ['unindexed_foreign_keys', 'children', 'INFO'],
    ['no_primary_key', 'loose', 'INFO'],
    ['duplicate_index', 'docs', 'WARN'],
    ['auth_rls_initplan', 'docs', 'WARN'],
    ['multiple_permissive_policies', 'docs', 'WARN'],
    ['unused_index', 'docs', 'INFO'],
  ];
  for (const [name, object, level] of expect) {
    const l = find(found, name, object);
    assert.ok(l, `${name} on ${object} missing: ${JSON.stringify(found.map((x) => [x.name, x.metadata.name]))}`);
    assert.equal(l.level, level);
  }
  assert.equal(find(found, 'unindexed_foreign_keys', 'children')!.metadata.fkey_name, 'children_parent_id_fkey');
  assert.deepEqual(find(found, 'duplicate_index', 'docs')!.metadata.indexes, ['docs_title_a', 'docs_title_b']);

  await sql(p, `
    create index on children (parent_id);
    alter table loose add primary key (id);
    drop index docs_title_b;
    drop policy mine_too on docs;
    alter policy mine on docs using (owner = (select auth.uid()));`);
  const after = (await lints(p, 'performance')).map((l) => l.name);
  for (const name of ['unindexed_foreign_keys', 'no_primary_key', 'duplicate_index', 'auth_rls_initplan', 'multiple_permissive_policies']) {
    assert.ok(!after.includes(name), `${name} still reported`);
  }
});

test('advisors: another account gets 404; shadowing catalog names changes nothing', async () => {
  const p = await createProject();
  const other = await signup();
  for (const category of ['security', 'performance']) {
    const res = await http('GET', `/v1/projects/${p.ref}/advisors/${category}`, { token: other.token });
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'project_not_found');
  }
  // Tables shadowing catalog names change nothing: the lint queries name pg_catalog's relations explicitly.
  await sql(p, `create table pg_class (id int primary key); create table pg_policy (id int primary key);
    alter table public.pg_class enable row level security; alter table public.pg_policy enable row level security;
    create policy r on public.pg_class for select using (true); create policy r on public.pg_policy for select using (true)`);
  assert.deepEqual(await lints(p, 'security'), []);
  // Functions the owner defines in public cannot stand in for the built-ins the lint queries call.
  await sql(p, `create function public.format(text, name, name) returns text language sql set search_path = '' as $$select 'hijacked'$$;
    create function public.jsonb_build_object(text, name, text, name, text, text) returns jsonb language sql set search_path = '' as $$select '{"name": "hijacked"}'::jsonb$$;
    create table exposed (id int primary key)`);
  const found = await lints(p, 'security');
  assert.equal(found.length, 1);
  assert.equal(found[0].detail, 'Table `public.exposed` is exposed through the API but does not have row level security enabled.');
  assert.equal(found[0].metadata.name, 'exposed');
});
