// The GraphQL API addressed as <ref>.<LOAM_PROJECT_DOMAIN>, the other way a project can be reached.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

process.env.LOAM_PROJECT_DOMAIN = 'loam.test'; // before Loam reads its configuration (dynamic imports below)
const { createProject, loam, sql } = await import('../helpers/platform.ts');

function post(url: string, host: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: body ? 'POST' : 'GET', headers: { host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a project reached by subdomain serves its GraphQL API and GraphiQL there', async () => {
  const p = await createProject();
  await sql(p, `create table public.things (id serial primary key, name text); insert into public.things (name) values ('one');
    alter table public.things enable row level security; create policy select_all on public.things for select using (true);`);
  const { url } = await loam();
  const r = await post(`${url}/graphql/v1`, `${p.ref}.loam.test`, { 'content-type': 'application/json', apikey: p.anonKey }, JSON.stringify({ query: '{ allThings { nodes { name } } }' }));
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { data: { allThings: { nodes: [{ name: 'one' }] } } });
  const page = await post(`${url}/graphql/v1`, `${p.ref}.loam.test`, { accept: 'text/html', apikey: p.anonKey });
  assert.equal(page.status, 200);
  assert.match(page.body, /"endpoint": "\/graphql\/v1"/);
  // another project's key on this subdomain is refused
  const other = await createProject();
  const foreign = await post(`${url}/graphql/v1`, `${p.ref}.loam.test`, { 'content-type': 'application/json', apikey: other.anonKey }, JSON.stringify({ query: '{ __typename }' }));
  assert.equal(foreign.status, 401);
});

test('behind a trusted proxy (X-Forwarded-Host) the request goes through Express and reaches the same project', async () => {
  const p = await createProject();
  const { url } = await loam();
  const body = JSON.stringify({ query: '{ __typename }' });
  const r = await post(`${url}/graphql/v1`, 'localhost', { 'content-type': 'application/json', apikey: p.anonKey, 'x-forwarded-host': `${p.ref}.loam.test` }, body);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { data: { __typename: 'Query' } });
  // host with a port, and an unknown project under the domain: the gate's 404
  const ported = await post(`${url}/graphql/v1/`, `${p.ref}.loam.test:8000`, { 'content-type': 'application/json', apikey: p.anonKey }, body);
  assert.equal(ported.status, 200, ported.body);
  const unknown = await post(`${url}/graphql/v1`, 'aaaaaaaaaaaaaaaaaaaa.loam.test', { 'content-type': 'application/json', apikey: p.anonKey }, body);
  assert.equal(unknown.status, 404);
  assert.deepEqual(JSON.parse(unknown.body), { message: 'project not found', code: 'project_not_found' });
});
