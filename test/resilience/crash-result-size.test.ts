// Results bigger than LOAM_MAX_RESULT_BYTES, as an attacker would ask for them: a 600 MB value through the SQL
// endpoint, an anonymous REST read of ~600 MB of rows, a GraphQL read and a storage listing past the cap. Before
// the cap, pg decoded such a value into a string inside a socket callback (ERR_STRING_TOO_LONG) and the process
// exited. Each request must get its API's JSON error, and the same Loam process must go on serving.
// The Loam under test is a child process (with a small cap, so the test moves little data), against the run's
// PostgreSQL; projects are made through the test's own in-process Loam, whose worker provisions them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { startChildLoam, type ChildLoam } from './child-loam.ts';

const CAP = 4 * 1024 * 1024;
let child: ChildLoam;
let p: Project;

const call: ChildLoam['call'] = (method, path, opts) => child.call(method, path, opts);

const anon = () => ({ apikey: p.anonKey, authorization: `Bearer ${p.anonKey}` });
const service = () => ({ apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` });

async function stillServes() {
  assert.ok(child.alive(), `the Loam process exited:\n${child.output()}`);
  const r = await call('GET', `/project/${p.ref}/rest/v1/small?select=id`, { headers: anon() });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 1 }]);
}

before(async () => {
  child = await startChildLoam('api', { LOAM_MAX_RESULT_BYTES: String(CAP) });
  p = await createProject();
  await sql(p, `
    create table small (id int primary key); insert into small values (1);
    -- ~600 MB when read whole: 600 rows of 1 MB, computed rather than stored
    create view big as select g as id, repeat('x', 1000000) as pad from generate_series(1, 600) g;
    grant select on small, big to anon;
    insert into storage.buckets (id, name, public) values ('files', 'files', false);
    -- 3,000 objects whose listing carries ~2 kB of metadata each: ~6 MB
    insert into storage.objects (bucket_id, name, metadata)
      select 'files', 'f' || g, jsonb_build_object('pad', repeat('m', 2000)) from generate_series(1, 3000) g;`);
});

after(async () => { await child?.stop(); });

test('a 600 MB value through the SQL endpoint: 400 result_too_large, the process serves on', async () => {
  const r = await call('POST', `/v1/projects/${p.ref}/database/query`, {
    headers: { authorization: `Bearer ${p.owner.token}` }, body: { query: "select repeat('x', 600000000) as big" },
  });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 'result_too_large');
  assert.match(r.body.message, /larger than 4 MB/);
  await stillServes();
  // The owner's next query runs on a sound connection.
  const again = await call('POST', `/v1/projects/${p.ref}/database/query`, {
    headers: { authorization: `Bearer ${p.owner.token}` }, body: { query: 'select 1 as one' },
  });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.deepEqual(again.body, [{ one: 1 }]);
});

test('an anonymous REST read of ~600 MB: 400 in PostgREST shape, and the next reads work', async () => {
  const r = await call('GET', `/project/${p.ref}/rest/v1/big`, { headers: anon() });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.type, /application\/json/);
  assert.deepEqual(Object.keys(r.body).sort(), ['code', 'details', 'hint', 'message']);
  assert.equal(r.body.code, 'PGRSTL01');
  assert.match(r.body.message, /larger than 4 MB/);
  await stillServes();
  const page = await call('GET', `/project/${p.ref}/rest/v1/big?select=id&limit=2`, { headers: anon() });
  assert.equal(page.status, 200, JSON.stringify(page.body));
  assert.deepEqual(page.body, [{ id: 1 }, { id: 2 }]);
});

test('several oversized REST reads at once, beside normal ones: each fails alone', async () => {
  const results = await Promise.all([
    ...Array.from({ length: 3 }, () => call('GET', `/project/${p.ref}/rest/v1/big?limit=20`, { headers: anon() })),
    ...Array.from({ length: 6 }, () => call('GET', `/project/${p.ref}/rest/v1/small?select=id`, { headers: anon() })),
  ]);
  // Reads pipelined on a shared connection behind an oversized one lose that connection, and are run again.
  for (const r of results.slice(0, 3)) assert.equal(r.body.code, 'PGRSTL01', JSON.stringify(r.body));
  for (const r of results.slice(3)) assert.deepEqual([r.status, r.body], [200, [{ id: 1 }]]);
  await stillServes();
});

test('a GraphQL read past the cap: an error with code RESULT_TOO_LARGE', async () => {
  const r = await call('POST', `/project/${p.ref}/graphql/v1`, { headers: anon(), body: { query: '{ allBigs { nodes { rowId pad } } }' } });
  assert.match(r.type, /json/);
  assert.ok(Array.isArray(r.body.errors), JSON.stringify(r.body).slice(0, 500));
  assert.equal(r.body.errors[0].extensions.code, 'RESULT_TOO_LARGE', JSON.stringify(r.body.errors));
  assert.match(r.body.errors[0].message, /larger than 4 MB/);
  await stillServes();
  const small = await call('POST', `/project/${p.ref}/graphql/v1`, { headers: anon(), body: { query: '{ allBigs(first: 1) { nodes { rowId } } }' } });
  assert.deepEqual(small.body, { data: { allBigs: { nodes: [{ rowId: 1 }] } } });
});

test('a storage listing past the cap: 400 in storage-api shape', async () => {
  const r = await call('POST', `/project/${p.ref}/storage/v1/object/list/files`, { headers: service(), body: { prefix: '', limit: 100000 } });
  assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 500));
  assert.deepEqual(r.body, {
    statusCode: '400', code: 'ResultTooLarge', error: 'Result too large', message: r.body.message,
  });
  assert.match(r.body.message, /larger than 4 MB/);
  await stillServes();
  const page = await call('POST', `/project/${p.ref}/storage/v1/object/list/files`, { headers: service(), body: { prefix: '', limit: 2 } });
  assert.equal(page.status, 200, JSON.stringify(page.body));
  assert.equal(page.body.length, 2);
});
