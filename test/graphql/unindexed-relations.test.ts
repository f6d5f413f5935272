// Backward relations and orderings over a foreign key with no index: PostGraphile leaves them out by default,
// which makes a Supabase user's schema (foreign keys are rarely indexed) lose `commentsByPostId`. Loam exposes
// them and lets the performance advisor flag the index; an owner can ask for PostGraphile's stricter schema
// with `graphql_strict_indexes` in pgrst.config.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { gql } from './helpers.ts';

let p: Project;
before(async () => {
  p = await createProject();
  await sql(p, `
    create table public.posts (id int primary key, title text);
    create table public.comments (id int primary key, post_id int references public.posts (id), body text);
    insert into public.posts values (1, 'first'), (2, 'second');
    insert into public.comments values (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c');
    grant select on public.posts, public.comments to anon;`);
});

const BACKWARD = `{ allPosts(orderBy: PRIMARY_KEY_ASC) { nodes { title commentsByPostId(orderBy: PRIMARY_KEY_DESC) { nodes { body } } } } }`;

test('a backward relation over an unindexed foreign key is exposed, ordered, and the advisor names the index', async () => {
  const r = await gql(p, BACKWARD);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.data.allPosts.nodes, [
    { title: 'first', commentsByPostId: { nodes: [{ body: 'b' }, { body: 'a' }] } },
    { title: 'second', commentsByPostId: { nodes: [{ body: 'c' }] } },
  ]);
  // Filtering by the unindexed column through the condition argument works too.
  const byPost = await gql(p, `{ allComments(condition: { postId: 2 }) { nodes { body } } }`);
  assert.deepEqual(byPost.body.data.allComments.nodes, [{ body: 'c' }], JSON.stringify(byPost.body));
  const lints = await http('GET', `/v1/projects/${p.ref}/advisors/performance`, { token: p.owner.token });
  assert.equal(lints.status, 200);
  assert.ok(lints.body.lints.some((l: { name: string; detail: string }) => l.name === 'unindexed_foreign_keys' && /comments/.test(l.detail)),
    JSON.stringify(lints.body.lints.map((l: { name: string }) => l.name)));
});

test('graphql_strict_indexes gives PostGraphile\'s stricter schema, per project', async () => {
  await sql(p, `insert into pgrst.config values ('graphql_strict_indexes', 'true'); notify pgrst, 'reload config';
    create table public.bump (id int);`); // a DDL, so the instance is rebuilt whatever the listener does
  let body: any;
  for (let i = 0; i < 50; i++) {
    body = (await gql(p, BACKWARD)).body;
    if (body.errors) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(JSON.stringify(body.errors), /commentsByPostId/);
  // An index brings the relation back even in strict mode.
  await sql(p, 'create index on public.comments (post_id)');
  for (let i = 0; i < 50; i++) {
    body = (await gql(p, BACKWARD)).body;
    if (!body.errors) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(body.data?.allPosts.nodes[0].commentsByPostId.nodes.length, 2, JSON.stringify(body));
});
