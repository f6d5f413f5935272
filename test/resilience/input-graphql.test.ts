// Hostile input to the GraphQL API: variables nested past the JSON limit are refused before execution (400,
// JSON_TOO_DEEP), and a NUL byte in a value is the field's error with Postgres' code, not a 500.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';

let p: Project;
before(async () => {
  p = await createProject();
  await sql(p, `create table notes (id int primary key, body text, meta jsonb);
    grant select, insert on notes to anon, service_role;`);
});

const graphql = (body: unknown) =>
  http('POST', `/project/${p.ref}/graphql/v1`, { body, headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` } });
const nested = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));
const CREATE = 'mutation($id: Int!, $meta: JSON, $body: String) { createNote(input: { note: { rowId: $id, meta: $meta, body: $body } }) { note { rowId } } }';

test('variables nested deeper than 512 levels are refused with JSON_TOO_DEEP', async () => {
  const res = await graphql({ query: CREATE, variables: { id: 1, meta: nested(3000) } });
  assert.equal(res.status, 400);
  assert.equal(res.body.errors.length, 1);
  assert.equal(res.body.errors[0].message, 'JSON nesting is too deep: the maximum is 512 levels');
  assert.equal(res.body.errors[0].extensions.code, 'JSON_TOO_DEEP');
  const ext = await graphql({ query: '{ __typename }', extensions: { x: nested(600) } });
  assert.deepEqual([ext.status, ext.body.errors?.[0]?.extensions?.code], [400, 'JSON_TOO_DEEP']);
  // Within the limit it is stored.
  const ok = await graphql({ query: CREATE, variables: { id: 2, meta: nested(100) } });
  assert.deepEqual(ok.body, { data: { createNote: { note: { rowId: 2 } } } });
  assert.deepEqual(await sql(p, 'select id from notes'), [{ id: 2 }]);
});

test('a NUL byte in a value is the field\'s error with SQLSTATE 22021, not a 500', async () => {
  const res = await graphql({ query: CREATE, variables: { id: 3, body: 'a\u0000b' } });
  assert.equal(res.status, 200);
  assert.equal(res.body.data.createNote, null);
  assert.equal(res.body.errors[0].message, 'invalid byte sequence for encoding "UTF8": 0x00');
  assert.equal(res.body.errors[0].extensions.code, '22021');
  assert.deepEqual(await sql(p, 'select id from notes where id = 3'), []);
});
