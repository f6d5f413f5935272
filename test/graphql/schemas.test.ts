// GraphQL exposes the schemas REST exposes: the project's `db_schema` setting (PATCH /v1/projects/{ref}/postgrest).
// A change rebuilds the project's instance without a restart; a schema left out stays invisible. Tables of a
// schema after the first get its name as a prefix (PostGraphile's default naming): other.gadgets → allOtherGadgets.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { stats } from '../../server/src/graphql/instances.ts';
import { gql } from './helpers.ts';

let p: Project;
let other: Project;
before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  await sql(p, `
    create table public.notes (id serial primary key, body text);
    insert into public.notes (body) values ('public note');
    create schema other;
    create table other.gadgets (id serial primary key, name text);
    comment on table other.gadgets is 'Gadgets, from the other schema.';
    insert into other.gadgets (name) values ('sprocket');
    create schema hidden;
    create table hidden.secrets (id serial primary key, value text);
    insert into hidden.secrets (value) values ('classified');
    grant usage on schema other, hidden to anon;
    grant select on all tables in schema public, other, hidden to anon;
    grant insert on other.gadgets to authenticated;`);
  // The other project has an exposed schema of the same name and shape, with its own rows.
  await sql(other, `create schema other; create table other.gadgets (id serial primary key, name text);
    insert into other.gadgets (name) values ('not yours'); grant usage on schema other to anon; grant select on other.gadgets to anon;`);
});

const setSchemas = async (project: Project, dbSchema: string) => {
  const r = await http('PATCH', `/v1/projects/${project.ref}/postgrest`, { token: project.owner.token, body: { db_schema: dbSchema } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.db_schema, dbSchema);
};

/** Polls until `ok` holds for the answer to `query` (a deadline, not a speed claim: rebuild speed is the bench's). */
async function until(project: Project, query: string, ok: (body: any) => boolean, key?: string): Promise<{ ms: number; body: any }> {
  const start = Date.now();
  for (;;) {
    const r = await gql(project, query, { key });
    if (ok(r.body)) return { ms: Date.now() - start, body: r.body };
    if (Date.now() - start > 30_000) assert.fail(`timed out; last answer: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const queryFields = async (project: Project, key?: string): Promise<string[]> => {
  const r = await gql(project, '{ __schema { queryType { fields { name } } } }', { key });
  return r.body.data.__schema.queryType.fields.map((f: { name: string }) => f.name);
};

test('only public is exposed by default; other schemas are invisible, even to service_role', async () => {
  const fields = await queryFields(p, p.serviceKey);
  assert.ok(fields.includes('allNotes'));
  assert.deepEqual(fields.filter((f) => /gadget|secret/i.test(f)), []);
  const r = await gql(p, '{ allOtherGadgets { nodes { name } } }', { key: p.serviceKey });
  assert.equal(r.status, 400);
  assert.equal(r.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  assert.match(r.body.errors[0].message, /Cannot query field "allOtherGadgets" on type "Query"/);
});

test('db_schema "public,other" adds the other schema; removing it takes it away again', async () => {
  await gql(p, '{ allNotes { totalCount } }'); // the instance is built (with public only) before the change
  await setSchemas(p, 'public,other');
  const added = await until(p, '{ allOtherGadgets { nodes { rowId name } } allNotes { nodes { body } } }', (b) => !b.errors);
  assert.deepEqual(added.body.data, { allOtherGadgets: { nodes: [{ rowId: 1, name: 'sprocket' }] }, allNotes: { nodes: [{ body: 'public note' }] } });
  // its comments are descriptions too; a schema not listed stays out
  const t = await gql(p, '{ __type(name: "OtherGadget") { description } }');
  assert.equal(t.body.data.__type.description, 'Gadgets, from the other schema.');
  assert.deepEqual((await queryFields(p, p.serviceKey)).filter((f) => /secret/i.test(f)), []);
  // REST agrees: the same setting exposes the same schema there
  const rest = await http('GET', `/project/${p.ref}/rest/v1/gadgets?select=name`, { headers: { apikey: p.anonKey, 'Accept-Profile': 'other' } });
  assert.deepEqual(rest.body, [{ name: 'sprocket' }]);

  // A mutation in the added schema runs under the same grants: only authenticated may insert, anon is refused.
  const denied = await gql(p, 'mutation { createOtherGadget(input: {otherGadget: {name: "x"}}) { otherGadget { rowId } } }');
  assert.equal(denied.body.errors[0].extensions.code, '42501');
  assert.deepEqual(await sql(p, 'select count(*)::int as n from other.gadgets'), [{ n: 1 }]);

  await setSchemas(p, 'public');
  const removed = await until(p, '{ allOtherGadgets { totalCount } }', (b) => b.errors?.[0]?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
  assert.equal((await gql(p, '{ allNotes { totalCount } }')).body.data.allNotes.totalCount, 1);
});

test('a schema listed alone replaces public', async () => {
  await setSchemas(p, 'other');
  // first (or only) schema: no prefix
  await until(p, '{ allGadgets { totalCount } }', (b) => b.data?.allGadgets?.totalCount === 1);
  const fields = await queryFields(p, p.serviceKey);
  assert.ok(!fields.includes('allNotes'));
  await setSchemas(p, 'public');
  await until(p, '{ allNotes { totalCount } }', (b) => b.data?.allNotes?.totalCount === 1);
});

test('cross-project: exposing a schema in one project exposes nothing of another', async () => {
  await setSchemas(p, 'public,other');
  await until(p, '{ allOtherGadgets { totalCount } }', (b) => !b.errors);
  // project B did not expose `other`: its schema has no such field, whatever key is used
  const b = await gql(other, '{ allOtherGadgets { nodes { name } } }', { key: other.serviceKey });
  assert.equal(b.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  // project A's key on project B is refused; project B's key on project A too
  const aOnB = await gql(other, '{ __typename }', { key: p.serviceKey });
  assert.equal(aOnB.status, 401);
  const bOnA = await gql(p, '{ allOtherGadgets { nodes { name } } }', { key: other.serviceKey });
  assert.equal(bOnA.status, 401);
  assert.equal(bOnA.body.data, undefined);
  // each project's exposed `other` schema answers with its own rows
  await setSchemas(other, 'public,other');
  const mine = await until(other, '{ allOtherGadgets { nodes { name } } }', (body) => !body.errors);
  assert.deepEqual(mine.body.data.allOtherGadgets.nodes, [{ name: 'not yours' }]);
  assert.deepEqual((await gql(p, '{ allOtherGadgets { nodes { name } } }')).body.data.allOtherGadgets.nodes, [{ name: 'sprocket' }]);
});

test('exposed schemas whose names collide: a clear 503 until fixed, without a rebuild per request', async () => {
  const q = await createProject();
  // public.other_gadgets and other.gadgets (prefixed by its schema) would both be `OtherGadget`
  await sql(q, `create table public.other_gadgets (id serial primary key); create schema other;
    create table other.gadgets (id serial primary key, name text); insert into other.gadgets (name) values ('g');
    grant usage on schema other to anon; grant select on all tables in schema public, other to anon;`);
  assert.equal((await gql(q, '{ allOtherGadgets { totalCount } }')).body.data.allOtherGadgets.totalCount, 0);
  await setSchemas(q, 'public,other');
  const broken = await until(q, '{ __typename }', (b) => b.errors?.[0]?.extensions?.code === 'SCHEMA_BUILD_FAILED');
  const r = await gql(q, '{ __typename }');
  assert.equal(r.status, 503);
  assert.equal(r.body.data, undefined);
  assert.match(r.body.errors[0].message, /^The GraphQL schema of this project could not be built from its exposed schemas: .*otherGadgets/);
  // the failure is remembered for a moment: a burst of requests does not introspect again each time
  const builds = stats.builds;
  for (let i = 0; i < 5; i++) assert.equal((await gql(q, '{ __typename }')).status, 503);
  assert.ok(stats.builds - builds <= 1, `${stats.builds - builds} builds for 5 requests in a row`);
  // renaming the clashing table fixes it without a restart
  await sql(q, 'alter table public.other_gadgets rename to widgets');
  const fixed = await until(q, '{ allOtherGadgets { nodes { name } } allWidgets { totalCount } }', (b) => !b.errors);
  assert.deepEqual(fixed.body.data, { allOtherGadgets: { nodes: [{ name: 'g' }] }, allWidgets: { totalCount: 0 } });
});
