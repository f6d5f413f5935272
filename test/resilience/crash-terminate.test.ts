// Pausing or deleting a project terminates its database sessions (pg_terminate_backend, DROP DATABASE … FORCE)
// while requests are running on them. The pg client of each such request then emits 'error' ("Connection
// terminated unexpectedly") after the query has failed; a client without an error listener threw that out of the
// event loop and the whole process, serving every project, exited. Here REST, GraphQL, auth and storage requests
// sit in `pg_sleep` on a Loam child process while the project is paused (then another deleted): each must get a
// clean JSON error in its API's shape, and the process must go on serving other projects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminClient, createProject, http, signup, sql, waitForStatus, type Account, type Project } from '../helpers/platform.ts';
import { startChildLoam, type ChildLoam, type Reply } from './child-loam.ts';

let child: ChildLoam;
let owner: Account;
let bystander: Project;

const call = (method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Reply> =>
  child.call(method, path, { headers, body });

// Each API's way into a 20-second pg_sleep in the project's database.
const SLOW_SQL = `
  create function public.slow() returns int language sql volatile as $$ select pg_sleep(20); select 1 $$;
  create function public.slow_value() returns int language sql stable as $$ select pg_sleep(20); select 1 $$;
  create function public.slow_true() returns boolean language sql stable as $$ select pg_sleep(20); select true $$;
  grant execute on function public.slow(), public.slow_value(), public.slow_true() to anon;
  insert into storage.buckets (id, name, public) values ('slow', 'slow', false);
  insert into storage.objects (bucket_id, name) values ('slow', 'a.txt');
  create policy select_slow on storage.objects for select to anon using (bucket_id = 'slow' and public.slow_true());
  create function public.slow_signup() returns trigger language plpgsql as $$ begin perform pg_sleep(20); return new; end $$;
  create trigger slow_signup before insert on auth.users for each row execute function public.slow_signup();`;

async function slowProject(): Promise<Project> {
  const p = await createProject(owner);
  await sql(p, SLOW_SQL);
  // Warm the child's view of the project (keys, schema cache), so the requests below reach the database at once.
  const warm = await call('GET', `/project/${p.ref}/rest/v1/`, { apikey: p.anonKey });
  assert.equal(warm.status, 200, JSON.stringify(warm.body));
  return p;
}

/** The four requests, started together; resolves once all four sleep in the project's database. */
async function inFlight(p: Project): Promise<Record<'rest' | 'graphql' | 'auth' | 'storage' | 'sql', Promise<Reply>>> {
  const key = { apikey: p.anonKey, authorization: `Bearer ${p.anonKey}` };
  const requests = {
    rest: call('POST', `/project/${p.ref}/rest/v1/rpc/slow`, key, {}),
    graphql: call('POST', `/project/${p.ref}/graphql/v1`, key, { query: '{ slowValue }' }),
    auth: call('POST', `/project/${p.ref}/auth/v1/signup`, key, { email: `s${Date.now()}@example.com`, password: 'correct horse battery' }),
    storage: call('POST', `/project/${p.ref}/storage/v1/object/list/slow`, key, { prefix: '' }),
    sql: call('POST', `/v1/projects/${p.ref}/database/query`, { authorization: `Bearer ${owner.token}` }, { query: 'select pg_sleep(20)' }),
  };
  for (const r of Object.values(requests)) r.catch(() => {});
  const admin = await adminClient();
  try {
    const until = Date.now() + 15_000;
    for (;;) {
      const { rows } = await admin.query(
        `select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event = 'PgSleep'`, [p.ref]);
      if (rows[0].n >= 5) break;
      if (Date.now() > until) throw new Error(`only ${rows[0].n} of 5 requests reached pg_sleep`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.end();
  }
  return requests;
}

/** Each API's clean error for a session terminated under it: 503, JSON, the API's own body. */
async function assertCleanErrors(requests: Awaited<ReturnType<typeof inFlight>>) {
  const started = Date.now();
  const rest = await requests.rest;
  assert.equal(rest.status, 503, JSON.stringify(rest.body));
  assert.deepEqual(Object.keys(rest.body).sort(), ['code', 'details', 'hint', 'message']);
  assert.equal(rest.body.code, '57P01');

  const graphql = await requests.graphql;
  assert.match(graphql.type, /json/);
  assert.equal(graphql.body.errors?.[0]?.extensions?.code, 'SERVICE_UNAVAILABLE', JSON.stringify(graphql.body));

  const auth = await requests.auth;
  assert.equal(auth.status, 503, JSON.stringify(auth.body));
  assert.deepEqual(auth.body, { code: 503, error_code: 'database_unavailable', msg: auth.body.msg });

  const storage = await requests.storage;
  assert.equal(storage.status, 503, JSON.stringify(storage.body));
  assert.deepEqual(storage.body, { statusCode: '503', code: 'DatabaseError', error: 'Service Unavailable', message: storage.body.message });

  const sqlEndpoint = await requests.sql;
  assert.equal(sqlEndpoint.status, 503, JSON.stringify(sqlEndpoint.body));
  assert.equal(sqlEndpoint.body.code, 'database_unavailable');
  // Failed when their sessions were terminated, not after sleeping their 20 seconds out.
  assert.ok(Date.now() - started < 15_000);
}

async function assertServesOthers() {
  assert.ok(child.alive(), `the Loam process exited:\n${child.output()}`);
  const r = await call('GET', `/project/${bystander.ref}/rest/v1/notes?select=id`, { apikey: bystander.anonKey });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 1 }]);
  const g = await call('POST', `/project/${bystander.ref}/graphql/v1`, { apikey: bystander.anonKey }, { query: '{ allNotes { nodes { rowId } } }' });
  assert.deepEqual(g.body, { data: { allNotes: { nodes: [{ rowId: 1 }] } } });
}

before(async () => {
  child = await startChildLoam('api', {});
  owner = await signup();
  bystander = await createProject(owner);
  await sql(bystander, 'create table notes (id int primary key); insert into notes values (1); grant select on notes to anon;');
});

after(async () => { await child?.stop(); });

test('pausing a project with REST, GraphQL, auth and storage requests in flight', async () => {
  const p = await slowProject();
  await assertServesOthers();
  const requests = await inFlight(p);
  const paused = await http('POST', `/v1/projects/${p.ref}/pause`, { token: owner.token });
  assert.equal(paused.status, 200, JSON.stringify(paused.body));
  await assertCleanErrors(requests);
  await waitForStatus(owner.token, p.ref, 'INACTIVE');
  await assertServesOthers();
  // And the paused project itself is refused cleanly.
  const after = await call('GET', `/project/${p.ref}/rest/v1/`, { apikey: p.anonKey });
  assert.equal(after.status, 503);
  assert.equal(after.body.code, 'project_paused');
});

test('deleting a project with REST, GraphQL, auth and storage requests in flight', async () => {
  const p = await slowProject();
  const requests = await inFlight(p);
  const deleted = await http('DELETE', `/v1/projects/${p.ref}`, { token: owner.token });
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await assertCleanErrors(requests);
  await assertServesOthers();
});

test('deleting a project does not wait for a request sleeping in it in the same process', async () => {
  const p = await slowProject();
  const key = { apikey: p.anonKey, authorization: `Bearer ${p.anonKey}` };
  // Through the test's own Loam, whose worker runs the deletion: its pools are the ones being closed.
  const sleeping = http('POST', `/project/${p.ref}/rest/v1/rpc/slow`, { headers: key, body: {} });
  const admin = await adminClient();
  try {
    const count = async (q: string) => (await admin.query(q, [p.ref])).rows[0].n as number;
    const sleepers = `select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event = 'PgSleep'`;
    while (await count(sleepers) < 1) await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const deleted = await http('DELETE', `/v1/projects/${p.ref}`, { token: owner.token });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    while (await count('select count(*)::int as n from pg_database where datname = $1') > 0) {
      assert.ok(Date.now() - started < 10_000, 'the database was not dropped while a request slept in it');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.end();
  }
  const r = await sleeping;
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.body.code, '57P01');
});
