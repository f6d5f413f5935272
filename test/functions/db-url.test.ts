// SUPABASE_DB_URL, as an attacker holding it (any function's code can read it): it reaches its own project's
// database with the owner's rights, and nothing more — not another project's database, not the control
// database, no platform role, no other login of its own project, no more connections than its limit — and it
// goes with the project.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { adminClient, createProject, http, loam, passwordsChecked, sql } from '../helpers/platform.ts';
import { deploy, invoke } from './helpers.ts';

const PROBE = `Deno.serve(() => new Response(Deno.env.get('SUPABASE_DB_URL') ?? ''));`;

async function refused(url: string, what: string, database?: string): Promise<string> {
  const u = new URL(url);
  if (database) u.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: u.href });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch (err) {
    return String((err as Error).message);
  }
  await c.end();
  assert.fail(`${what}: connected`);
}

test('SUPABASE_DB_URL: the owner\'s rights in its own database, nothing else', async () => {
  const a = await createProject();
  const b = await createProject();
  assert.equal((await deploy(a, 'db', { 'index.ts': PROBE }, { verify_jwt: false })).status, 201);
  assert.equal((await deploy(b, 'db', { 'index.ts': PROBE }, { verify_jwt: false })).status, 201);
  const url = (await invoke(a, 'db')).text;
  const urlB = (await invoke(b, 'db')).text;
  assert.match(url, new RegExp(`^postgresql://${a.ref}_functions:`));
  assert.notEqual(new URL(url).password, new URL(urlB).password);
  const login = `${a.ref}_functions`;

  await test('its own database, as the owner', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const { rows } = await c.query('select current_user, session_user, (select rolsuper from pg_roles where rolname = current_user) as su');
      assert.deepEqual(rows[0], { current_user: a.ref, session_user: login, su: false });
      await c.query('create table public.from_function (id int primary key)');
      await c.query('insert into public.from_function values (1)');
      // What it makes is the owner's, as with psql.
      assert.deepEqual(await sql(a, `select pg_get_userbyid(relowner) as owner from pg_class where oid = 'public.from_function'::regclass`), [{ owner: a.ref }]);
      // It may act as its project's API roles, as the owner may (to try its policies), and no other role.
      await c.query(`set role ${a.ref}_anon`);
      await c.query('reset role');
      // Below PostgreSQL 16 a role grant cannot withhold SET, so the shared service_role is reachable (SECURITY.md).
      const pg16 = Number((await sql(a, 'show server_version_num'))[0].server_version_num) >= 160000;
      for (const role of ['postgres', 'loam_internal', `${a.ref}_mgmt`, `${a.ref}_authenticator`, b.ref, `${b.ref}_functions`, `${b.ref}_service_role`, ...(pg16 ? ['service_role'] : []), 'authenticator']) {
        await assert.rejects(c.query(`set role ${c.escapeIdentifier(role)}`), /permission denied|does not exist/, role);
      }
      for (const stmt of [`alter role ${c.escapeIdentifier(login)} superuser`, `alter role ${c.escapeIdentifier(login)} createrole`,
        `alter role ${c.escapeIdentifier(login)} connection limit 1000`, `grant ${c.escapeIdentifier(a.ref)} to ${c.escapeIdentifier(b.ref)}`,
        `create role sneaky login`]) {
        await assert.rejects(c.query(stmt), /permission denied|must have|only superuser|must be/i, stmt);
      }
    } finally {
      await c.end();
    }
  });

  await test('another project\'s database, the control database, postgres: refused', async () => {
    for (const db of [b.ref, new URL((await loam()).databaseUrl).pathname.slice(1), 'postgres', 'template1']) {
      assert.match(await refused(url, db, db), /permission denied|CONNECT privilege|not currently accepting/, db);
    }
    // Project B's credentials do not open project A either.
    assert.match(await refused(urlB, 'B into A', a.ref), /permission denied|CONNECT privilege/);
    if (await passwordsChecked()) {
      const wrong = new URL(url);
      wrong.password = 'guess';
      assert.match(await refused(wrong.href, 'a wrong password'), /password authentication failed/);
      // Another project's login name with this password.
      const swapped = new URL(urlB);
      swapped.password = new URL(url).password;
      assert.match(await refused(swapped.href, 'A\'s password for B\'s login'), /password authentication failed/);
    }
  });

  await test('its own connection limit: exhausting it blocks neither the owner nor the platform', async () => {
    const held: pg.Client[] = [];
    const admin = await adminClient();
    const { rows } = await admin.query('select rolconnlimit from pg_roles where rolname = $1', [login]).finally(() => admin.end());
    const limit = rows[0].rolconnlimit;
    assert.ok(limit > 0 && limit <= 10, `limited: ${limit}`);
    try {
      for (let i = 0; i < limit; i++) { const c = new pg.Client({ connectionString: url }); await c.connect(); held.push(c); }
      assert.match(await refused(url, 'past the limit'), /too many connections/);
      // The owner (psql) and the data plane still work.
      assert.deepEqual(await sql(a, 'select count(*)::int as n from public.from_function'), [{ n: 1 }]);
      const rest = await fetch(`${a.url}/rest/v1/`, { headers: { apikey: a.anonKey } });
      assert.equal(rest.status, 200);
    } finally {
      for (const c of held) await c.end();
    }
  });

  await test('the login goes with the project', async () => {
    assert.equal((await http('DELETE', `/v1/projects/${a.ref}`, { token: a.owner.token })).status, 200);
    const admin = await adminClient();
    try {
      const role = async () => (await admin.query('select 1 from pg_roles where rolname = $1', [login])).rowCount;
      const sealed = async () => (await admin.query(`select 1 from platform_private.function_db_logins l join platform.projects p on p.id = l.project_id where p.ref = $1`, [a.ref])).rowCount;
      for (let i = 0; i < 200 && (await role() || await sealed()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await role(), 0, 'role dropped');
      assert.equal(await sealed(), 0, 'sealed password removed');
    } finally {
      await admin.end();
    }
  });
});
