// The per-project instance cache: built once under concurrent first requests, bounded by
// LOAM_GRAPHQL_CACHE_SIZE, and an evicted project keeps no connection open.
import assert from 'node:assert/strict';
import { test } from 'node:test';
process.env.LOAM_GRAPHQL_CACHE_SIZE = '2'; // read on the first GraphQL request, which comes after this line
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { cachedProjects, stats } from '../../server/src/graphql/instances.ts';
import { connections, gql } from './helpers.ts';

async function eventually(what: string, fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('concurrent first requests build one instance; the LRU evicts the oldest and closes its connections', async () => {
  const projects: Project[] = [];
  for (let i = 0; i < 3; i++) projects.push(await createProject());
  for (const p of projects) await sql(p, 'create table public.notes (id serial primary key, body text); insert into public.notes (body) values (\'hi\'); create policy select_all on public.notes for select using (true); alter table public.notes enable row level security;');
  const [a, b, c] = projects;

  const builds = stats.builds;
  const results = await Promise.all(Array.from({ length: 20 }, () => gql(a, '{ allNotes { nodes { body } } }')));
  for (const r of results) assert.deepEqual(r.body, { data: { allNotes: { nodes: [{ body: 'hi' }] } } });
  assert.equal(stats.builds - builds, 1, 'one build for twenty concurrent first requests');
  assert.ok(await connections(a) > 0, 'project A has GraphQL connections while cached');

  await gql(b, '{ allNotes { totalCount } }');
  assert.deepEqual(cachedProjects().sort(), [a.ref, b.ref].sort());
  await gql(a, '{ allNotes { totalCount } }'); // A is now the most recently used; B the oldest
  await gql(c, '{ allNotes { totalCount } }');
  assert.deepEqual(cachedProjects().sort(), [a.ref, c.ref].sort());

  await eventually('project B to have no GraphQL connections', async () => await connections(b) === 0);
  assert.ok(await connections(a) > 0);
  assert.ok(await connections(c) > 0);

  // B comes back on its next request, and the oldest (A) goes
  const again = await gql(b, '{ allNotes { nodes { body } } }');
  assert.deepEqual(again.body, { data: { allNotes: { nodes: [{ body: 'hi' }] } } });
  assert.deepEqual(cachedProjects().sort(), [b.ref, c.ref].sort());
  await eventually('project A to have no GraphQL connections', async () => await connections(a) === 0);
});

test('pausing a project drops its instance and connections', async () => {
  const p = await createProject();
  await gql(p, '{ __typename }');
  assert.ok(cachedProjects().includes(p.ref));
  const { http, waitForStatus } = await import('../helpers/platform.ts');
  const r = await http('POST', `/v1/projects/${p.ref}/pause`, { token: p.owner.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForStatus(p.owner.token, p.ref, 'INACTIVE');
  await eventually('the paused project to leave the cache', async () => !cachedProjects().includes(p.ref));
  assert.equal(await connections(p), 0);
  const paused = await gql(p, '{ __typename }');
  assert.equal(paused.status, 503);
  // The same gate answer as every other API gives (the POST is served before Express, the REST GET through it).
  assert.deepEqual(paused.body, { message: 'project is paused', code: 'project_paused' });
  assert.equal(paused.headers.get('retry-after'), '10');
  const rest = await http('GET', `/project/${p.ref}/rest/v1/`, { headers: { apikey: p.anonKey } });
  assert.deepEqual([rest.status, rest.body, rest.headers.get('retry-after')], [503, paused.body, '10']);
});
