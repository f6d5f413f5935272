// /graphql/v1 through HTTP: queries, nested relations, functions, aggregates, mutations, row-level security
// per caller, cross-project keys, schema changes, limits and error codes.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { signJwt } from '../../server/src/project/jwt.ts';
import { blogProject, type Blog } from './fixture.ts';
import { gql, jwtSecret, userToken } from './helpers.ts';

let blog: Blog;
let other: Project;
before(async () => {
  [blog, other] = await Promise.all([blogProject(), createProject()]);
});

const titles = (r: { body: any }) => r.body.data.allPosts.nodes.map((n: { title: string }) => n.title).sort();

test('a query with nested relations both ways, in Amber naming', async () => {
  const r = await gql(blog.p, `{
    allPosts(orderBy: ROW_ID_ASC) { nodes { rowId title authorByAuthorId { name } } }
    allAuthors(orderBy: NAME_ASC) { nodes { name postsByAuthorId { totalCount nodes { title } } } }
  }`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.errors, undefined);
  // anon: only what select_published allows
  assert.deepEqual(r.body.data.allPosts.nodes, [{ rowId: 2, title: 'u1 public', authorByAuthorId: { name: 'Ada' } }]);
  assert.deepEqual(r.body.data.allAuthors.nodes, [
    { name: 'Ada', postsByAuthorId: { totalCount: 1, nodes: [{ title: 'u1 public' }] } },
    { name: 'Grace', postsByAuthorId: { totalCount: 0, nodes: [] } },
  ]);
});

test('row lookup by primary key, and variables', async () => {
  const r = await gql(blog.p, 'query ($id: Int!) { postByRowId(rowId: $id) { title likes } }', { key: blog.p.serviceKey, variables: { id: 3 } });
  assert.deepEqual(r.body, { data: { postByRowId: { title: 'u2 draft', likes: 100 } } });
});

test('comments become descriptions; stable functions are queries, volatile ones mutations', async () => {
  const r = await gql(blog.p, `{
    author: __type(name: "Author") { description fields { name description } }
    query: __type(name: "Query") { fields { name description } }
    mutation: __type(name: "Mutation") { fields { name } }
  }`);
  assert.equal(r.body.data.author.description, 'People who write posts.');
  assert.equal(r.body.data.author.fields.find((f: any) => f.name === 'name').description, 'The name shown under a post.');
  const search = r.body.data.query.fields.find((f: any) => f.name === 'searchPosts');
  assert.equal(search?.description, 'Posts whose title contains the term.');
  assert.ok(r.body.data.mutation.fields.some((f: any) => f.name === 'likePost'));
  assert.ok(!r.body.data.query.fields.some((f: any) => f.name === 'likePost'));

  const found = await gql(blog.p, '{ searchPosts(term: "draft") { nodes { title } } }', { key: blog.p.serviceKey });
  assert.deepEqual(found.body.data.searchPosts.nodes.map((n: any) => n.title).sort(), ['u1 draft', 'u2 draft']);
});

test('aggregates: totalCount, sum/avg/max, groupedAggregates', async () => {
  const r = await gql(blog.p, `{ allPosts {
    totalCount
    aggregates { sum { likes } average { likes } max { likes } min { likes } distinctCount { authorId } }
    groupedAggregates(groupBy: AUTHOR_ID) { keys sum { likes } }
  } }`, { key: blog.p.serviceKey });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  const all = r.body.data.allPosts;
  assert.equal(all.totalCount, 3);
  assert.equal(all.aggregates.sum.likes, '111');
  assert.equal(Number(all.aggregates.average.likes), 37);
  assert.equal(all.aggregates.max.likes, 100);
  assert.equal(all.aggregates.min.likes, 1);
  assert.equal(all.aggregates.distinctCount.authorId, '2');
  const groups = Object.fromEntries(all.groupedAggregates.map((g: any) => [g.keys[0], g.sum.likes]));
  assert.deepEqual(groups, { 1: '11', 2: '100' });

  // Aggregates are under RLS too: anon counts only published rows.
  const anon = await gql(blog.p, '{ allPosts { totalCount aggregates { sum { likes } } } }');
  assert.deepEqual(anon.body.data.allPosts, { totalCount: 1, aggregates: { sum: { likes: '10' } } });
});

test('RLS: two users see their own rows, anon the published ones, service_role all', async () => {
  const q = '{ allPosts { nodes { title } } }';
  assert.deepEqual(titles(await gql(blog.p, q, { token: blog.t1 })), ['u1 draft', 'u1 public']);
  assert.deepEqual(titles(await gql(blog.p, q, { token: blog.t2 })), ['u2 draft']);
  assert.deepEqual(titles(await gql(blog.p, q)), ['u1 public']);
  assert.deepEqual(titles(await gql(blog.p, q, { key: blog.p.serviceKey })), ['u1 draft', 'u1 public', 'u2 draft']);
  // The token goes in Authorization while apikey stays the anon key, as supabase-js sends them.
  assert.deepEqual(titles(await gql(blog.p, q, { token: blog.t2, key: blog.p.anonKey })), ['u2 draft']);
});

test('the request context carries the claims: auth.uid() and request.jwt.claims as REST sets them', async () => {
  await sql(blog.p, `create or replace function public.whoami() returns json language sql stable as
    $$ select json_build_object('uid', auth.uid(), 'role', current_user, 'claims_role', auth.jwt() ->> 'role', 'method', current_setting('request.method', true)) $$`);
  let r;
  for (let i = 0; i < 40; i++) { // the new function appears once the schema is rebuilt
    r = await gql(blog.p, '{ whoami }', { token: blog.t1 });
    if (!r.body.errors) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual(r!.body.data.whoami, { uid: blog.u1, role: `${blog.p.ref}_authenticated`, claims_role: 'authenticated', method: 'POST' });
});

test('mutations: a user creates a row that is theirs; a volatile function runs as a mutation', async () => {
  const r = await gql(blog.p, 'mutation { createPost(input: {post: {authorId: 2, title: "fresh"}}) { post { rowId owner title authorByAuthorId { name } } } }', { token: blog.t2 });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  assert.equal(r.body.data.createPost.post.owner, blog.u2);
  assert.equal(r.body.data.createPost.post.authorByAuthorId.name, 'Grace');
  const id = r.body.data.createPost.post.rowId;
  assert.deepEqual(titles(await gql(blog.p, '{ allPosts { nodes { title } } }', { token: blog.t2 })), ['fresh', 'u2 draft']);

  const liked = await gql(blog.p, `mutation { likePost(input: {postId: ${id}}) { result { likes } } }`, { token: blog.t2 });
  assert.deepEqual(liked.body.data.likePost.result, { likes: 1 });
  const [row] = await sql(blog.p, `select likes from public.posts where id = ${id}`);
  assert.equal(row.likes, 1);
  await sql(blog.p, `delete from public.posts where id = ${id}`);
});

test('a mutation RLS forbids changes nothing', async () => {
  // user 2 updating user 1's post: the update policy hides the row, nothing is updated
  const upd = await gql(blog.p, 'mutation { updatePostByRowId(input: {rowId: 1, postPatch: {title: "hacked"}}) { post { title } } }', { token: blog.t2 });
  assert.equal(upd.status, 200);
  assert.equal(upd.body.data.updatePostByRowId?.post ?? null, null);
  // anon inserting: no insert policy → 42501, as REST reports it
  const ins = await gql(blog.p, 'mutation { createPost(input: {post: {authorId: 1, title: "anon"}}) { post { rowId } } }');
  assert.equal(ins.body.data.createPost, null);
  assert.equal(ins.body.errors[0].extensions.code, '42501');
  assert.match(ins.body.errors[0].message, /row-level security/);
  // a user inserting a row for someone else: with check fails
  const spoof = await gql(blog.p, `mutation { createPost(input: {post: {authorId: 1, title: "spoof", owner: "${blog.u1}"}}) { post { rowId } } }`, { token: blog.t2 });
  assert.equal(spoof.body.errors[0].extensions.code, '42501');
  const rows = await sql(blog.p, `select title from public.posts where title in ('hacked', 'anon', 'spoof') or id = 1`);
  assert.deepEqual(rows, [{ title: 'u1 draft' }]);
});

test('SQL errors keep their SQLSTATE, with details', async () => {
  const r = await gql(blog.p, 'mutation { createAuthor(input: {author: {name: "Ada"}}) { author { rowId } } }', { key: blog.p.serviceKey });
  assert.equal(r.body.errors[0].extensions.code, '23505');
  assert.equal(r.body.errors[0].extensions.details, 'Key (name)=(Ada) already exists.');
  assert.deepEqual(r.body.errors[0].path, ['createAuthor']);
  const fk = await gql(blog.p, `mutation { createPost(input: {post: {authorId: 999, owner: "${blog.u1}", title: "x"}}) { post { rowId } } }`, { key: blog.p.serviceKey });
  assert.equal(fk.body.errors[0].extensions.code, '23503');
});

test('keys of another project, bad and expired tokens are refused with 401', async () => {
  const q = '{ allAuthors { totalCount } }';
  const cases: [string, Record<string, string>, string][] = [
    ['other project anon key', { apikey: other.anonKey }, 'bad_signature'],
    ['other project service key as bearer', { authorization: `Bearer ${other.serviceKey}`, apikey: blog.p.anonKey }, 'bad_signature'],
    ['other project user token', { authorization: `Bearer ${userToken(await jwtSecret(other), blog.u1)}` }, 'bad_signature'],
    ['expired token', { authorization: `Bearer ${userToken(await jwtSecret(blog.p), blog.u1, { exp: Math.floor(Date.now() / 1000) - 3600 })}` }, 'expired'],
    ['malformed token', { apikey: 'not-a-jwt' }, 'parts'],
    ['role outside the API roles', { authorization: `Bearer ${signJwt({ role: 'postgres' }, await jwtSecret(blog.p))}` }, 'role'],
  ];
  for (const [name, headers, reason] of cases) {
    const r = await http('POST', `/project/${blog.p.ref}/graphql/v1`, { headers, body: { query: q } });
    assert.equal(r.status, 401, name);
    assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED', name);
    assert.equal(r.body.errors[0].extensions.reason, reason, name);
    assert.equal(r.body.data, undefined, name);
  }
  // and a key of this project still works on the other one's data only there
  const mine = await http('POST', `/project/${other.ref}/graphql/v1`, { headers: { apikey: blog.p.serviceKey }, body: { query: '{ __typename }' } });
  assert.equal(mine.status, 401);
});

test('DDL made through SQL shows up without a restart', async () => {
  const q = '{ allPosts { nodes { subtitle } } }';
  const before = await gql(blog.p, q, { key: blog.p.serviceKey });
  assert.equal(before.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  await sql(blog.p, `alter table public.posts add column subtitle text default 'sub'`);
  const start = Date.now();
  let r;
  do {
    r = await gql(blog.p, q, { key: blog.p.serviceKey });
    if (!r.body.errors) break;
    await new Promise((res) => setTimeout(res, 50));
  } while (Date.now() - start < 30_000); // a deadline, not a speed claim: rebuild speed is the bench's
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  assert.deepEqual(r.body.data.allPosts.nodes.map((n: any) => n.subtitle), ['sub', 'sub', 'sub']);
  await sql(blog.p, 'alter table public.posts drop column subtitle');
});

test('depth and cost limits refuse a query before it runs', async () => {
  let deep = '{ allPosts { nodes { authorByAuthorId { postsByAuthorId { nodes { authorByAuthorId { postsByAuthorId { nodes { authorByAuthorId { postsByAuthorId { nodes { authorByAuthorId { name } } } } } } } } } } } } }';
  const d = await gql(blog.p, deep);
  assert.equal(d.status, 400);
  assert.equal(d.body.errors[0].extensions.code, 'QUERY_TOO_DEEP');
  assert.match(d.body.errors[0].message, /maximum is 12/);
  // through a fragment too
  deep = 'fragment A on Author { postsByAuthorId(first: 1) { nodes { authorByAuthorId { postsByAuthorId(first: 1) { nodes { authorByAuthorId { postsByAuthorId(first: 1) { nodes { authorByAuthorId { name } } } } } } } } } } { allPosts(first: 1) { nodes { authorByAuthorId { ...A } } } }';
  assert.equal((await gql(blog.p, deep)).body.errors[0].extensions.code, 'QUERY_TOO_DEEP');

  const costly = await gql(blog.p, '{ allPosts(first: 1000) { nodes { authorByAuthorId { postsByAuthorId(first: 1000) { nodes { title } } } } } }');
  assert.equal(costly.body.errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
  assert.match(costly.body.errors[0].message, /estimated cost is \d+, the maximum is 50000/);
  // no page size: each open list counts as 100 rows, so three nested open lists are too many
  const open = await gql(blog.p, '{ allAuthors { nodes { postsByAuthorId { nodes { authorByAuthorId { postsByAuthorId { nodes { title likes } } } } } } } }');
  assert.equal(open.body.errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
  // the same shape with small pages is fine
  const ok = await gql(blog.p, '{ allAuthors(first: 10) { nodes { postsByAuthorId(first: 10) { nodes { authorByAuthorId { postsByAuthorId(first: 10) { nodes { title likes } } } } } } } }');
  assert.equal(ok.body.errors, undefined, JSON.stringify(ok.body));
  // introspection is not limited
  const intro = await gql(blog.p, '{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }');
  assert.equal(intro.body.errors, undefined);
});

test('request errors are GraphQL-shaped with a stable code', async () => {
  const url = `/project/${blog.p.ref}/graphql/v1`;
  const syntax = await gql(blog.p, '{ allPosts { ');
  assert.equal(syntax.status, 400);
  assert.equal(syntax.body.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
  const unknown = await gql(blog.p, '{ nope }');
  assert.equal(unknown.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  const badVar = await gql(blog.p, 'query ($id: Int!) { postByRowId(rowId: $id) { title } }', { variables: { id: 'x' } });
  assert.ok(badVar.body.errors[0].extensions.code, JSON.stringify(badVar.body));

  const badJson = await http('POST', url, { headers: { apikey: blog.p.anonKey, 'content-type': 'application/json' }, body: '{"query": ' });
  assert.equal(badJson.status, 400);
  assert.equal(badJson.body.errors[0].extensions.code, 'BAD_REQUEST');
  const noQuery = await http('POST', url, { headers: { apikey: blog.p.anonKey }, body: { variables: {} } });
  assert.equal(noQuery.status, 400);
  assert.deepEqual(noQuery.body.errors[0], { message: 'query must be a string', extensions: { code: 'BAD_REQUEST' } });
  const media = await http('POST', url, { headers: { apikey: blog.p.anonKey, 'content-type': 'text/plain' }, body: '{ __typename }' });
  assert.equal(media.status, 415);
  assert.equal(media.body.errors[0].extensions.code, 'UNSUPPORTED_MEDIA_TYPE');

  const huge = await http('POST', url, { headers: { apikey: blog.p.anonKey }, body: { query: `{ __typename }`, variables: { pad: 'x'.repeat(200_000) } } });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
  const badVariables = await http('POST', url, { headers: { apikey: blog.p.anonKey }, body: { query: '{ __typename }', variables: 'x' } });
  assert.equal(badVariables.status, 400);
  assert.equal(badVariables.body.errors[0].extensions.code, 'BAD_REQUEST');

  // GET runs queries; a mutation over GET is refused
  const get = await http('GET', `${url}?query=${encodeURIComponent('{ allAuthors { totalCount } }')}`, { headers: { apikey: blog.p.anonKey, accept: 'application/json' } });
  assert.deepEqual(get.body, { data: { allAuthors: { totalCount: 2 } } });
  const getMutation = await http('GET', `${url}?query=${encodeURIComponent('mutation { likePost(input: {postId: 1}) { clientMutationId } }')}`, { headers: { apikey: blog.p.anonKey, accept: 'application/json' } });
  assert.equal(getMutation.status, 405);
  assert.equal(getMutation.body.errors[0].extensions.code, 'METHOD_NOT_ALLOWED');
});

test('GraphiQL in development mode points at this project', async () => {
  const page = await http('GET', `/project/${blog.p.ref}/graphql/v1`, { headers: { accept: 'text/html', apikey: blog.p.anonKey } });
  assert.equal(page.status, 200);
  assert.match(page.body, new RegExp(`"endpoint": "/project/${blog.p.ref}/graphql/v1"`));
  const asset = await http('GET', `/project/${blog.p.ref}/graphql/v1/ruru-static/ruru.js`, { headers: { apikey: blog.p.anonKey } });
  assert.equal(asset.status, 200);
});

test('unknown project: 404', async () => {
  const r = await http('POST', '/project/aaaaaaaaaaaaaaaaaaaa/graphql/v1', { headers: { apikey: blog.p.anonKey }, body: { query: '{ __typename }' } });
  assert.equal(r.status, 404);
});

test('the project object names the GraphQL endpoint', async () => {
  const r = await http('GET', `/v1/projects/${blog.p.ref}`, { token: blog.p.owner.token });
  assert.match(r.body.graphql_url, new RegExp(`/project/${blog.p.ref}/graphql/v1$`));
});
