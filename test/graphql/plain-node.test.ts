// GraphQL POSTs are served on plain Node before Express (server/src/graphql/raw.ts); everything else goes
// through Express. Both ways must answer alike: same gate, same identity, same errors, same data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject, http, sql } from '../helpers/platform.ts';
import { gql } from './helpers.ts';

const p = await createProject();
await sql(p, `create table public.notes (id serial primary key, body text not null);
  insert into public.notes (body) values ('first'), ('second');
  alter table public.notes enable row level security;
  create policy select_anon on public.notes for select to anon using (id = 1);`);
const other = await createProject();

const QUERY = '{ allNotes(orderBy: ROW_ID_ASC) { nodes { body } } }';
const viaGet = (key: string, headers: Record<string, string> = {}) =>
  http('GET', `/project/${p.ref}/graphql/v1?query=${encodeURIComponent(QUERY)}`, { headers: { accept: 'application/json', apikey: key, ...headers } });
const viaPost = (key: string, headers: Record<string, string> = {}) =>
  http('POST', `/project/${p.ref}/graphql/v1`, { headers: { accept: 'application/json', apikey: key, ...headers }, body: { query: QUERY } });

test('the endpoint in its plain forms: no slash, a trailing slash, a query string', async () => {
  for (const suffix of ['', '/', '?x=1', '/?x=1']) {
    const r = await http('POST', `/project/${p.ref}/graphql/v1${suffix}`, { headers: { apikey: p.anonKey }, body: { query: QUERY } });
    assert.equal(r.status, 200, `${suffix}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body, { data: { allNotes: { nodes: [{ body: 'first' }] } } }, suffix);
  }
});

test('a POST (plain Node) and a GET (Express) answer alike: rows under RLS, service role, bad and foreign keys', async () => {
  for (const [key, headers] of [[p.anonKey, {}], [p.serviceKey, {}], [other.anonKey, {}], ['not-a-jwt', {}], ['', { authorization: 'Bearer x.y.z' }]] as const) {
    const [g, q] = await Promise.all([viaGet(key, headers), viaPost(key, headers)]);
    assert.equal(q.status, g.status, key);
    assert.deepEqual(q.body, g.body, key);
    assert.equal(q.headers.get('content-type'), g.headers.get('content-type'), key);
    assert.equal(q.headers.get('www-authenticate'), g.headers.get('www-authenticate'), key);
  }
  assert.deepEqual((await viaPost(p.serviceKey)).body, { data: { allNotes: { nodes: [{ body: 'first' }, { body: 'second' }] } } });
  const foreign = await viaPost(other.anonKey);
  assert.equal(foreign.status, 401);
  assert.equal(foreign.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.equal(foreign.body.errors[0].extensions.reason, 'bad_signature');
  assert.match(foreign.headers.get('www-authenticate')!, /^Bearer error="invalid_token"/);
});

test('unknown or malformed project ref: the gate answers as it does for every API', async () => {
  for (const ref of ['aaaaaaaaaaaaaaaaaaaa', 'NotARef']) {
    const r = await http('POST', `/project/${ref}/graphql/v1`, { headers: { apikey: p.anonKey }, body: { query: '{ __typename }' } });
    const rest = await http('GET', `/project/${ref}/rest/v1/notes`, { headers: { apikey: p.anonKey } });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { message: 'project not found', code: 'project_not_found' });
    assert.deepEqual(r.body, rest.body);
    assert.equal(r.headers.get('content-type'), rest.headers.get('content-type'));
  }
});

test('what the plain-Node path declines still reaches Express: other paths under the endpoint, other methods', async () => {
  const deeper = await http('POST', `/project/${p.ref}/graphql/v1/nothing-here`, { headers: { apikey: p.anonKey }, body: { query: '{ __typename }' } });
  assert.equal(deeper.status, 404);
  assert.deepEqual(deeper.body, { message: 'Not found', code: 'not_found' });
  const typo = await http('POST', `/project/${p.ref}/graphql/v2`, { headers: { apikey: p.anonKey }, body: { query: '{ __typename }' } });
  assert.equal(typo.status, 404);
  assert.equal(typo.body.code, 'not_found');
  const put = await http('PUT', `/project/${p.ref}/graphql/v1`, { headers: { apikey: p.anonKey }, body: { query: '{ __typename }' } });
  assert.equal(put.status, 405, JSON.stringify(put.body));
  assert.equal(put.body.errors[0].extensions.code, 'METHOD_NOT_ALLOWED');
});

test('request errors on the plain-Node path keep their codes: bad JSON, no query, syntax', async () => {
  const badJson = await http('POST', `/project/${p.ref}/graphql/v1`, { headers: { apikey: p.anonKey }, body: '{"query":' });
  assert.equal(badJson.status, 400, JSON.stringify(badJson.body));
  assert.equal(badJson.body.errors[0].extensions.code, 'BAD_REQUEST');
  const syntax = await gql(p, '{ allNotes( }');
  assert.equal(syntax.body.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
});
