// `Prefer: timezone=<name>`: the transaction runs with that time zone (timestamps render in it) and the
// preference is echoed in Preference-Applied; a name Postgres does not know is ignored, or rejected with
// handling=strict — PostgREST 12's behaviour.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { rest } from './fixture.ts';

let p: Project;
let other: Project;
before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  await sql(p, `
    create table stamps (id int primary key, t timestamptz);
    insert into stamps values (1, '2023-10-18 12:37:59.611+00'), (2, '2023-10-18 14:37:59.611+00');
    create function current_zone() returns text language sql stable as $$ select current_setting('timezone') $$;
    grant select, insert on stamps to anon;
  `);
});

const LA = [{ t: '2023-10-18T05:37:59.611-07:00' }, { t: '2023-10-18T07:37:59.611-07:00' }];

test('timestamps render in the preferred time zone, with Preference-Applied', async () => {
  const r = await rest(p, 'GET', '/stamps?select=t&order=id', { headers: { Prefer: 'timezone=America/Los_Angeles' } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, LA);
  assert.equal(r.headers.get('preference-applied'), 'timezone=America/Los_Angeles');
  const strict = await rest(p, 'GET', '/stamps?select=t&order=id', { headers: { Prefer: 'handling=strict, timezone=America/Los_Angeles' } });
  assert.deepEqual(strict.body, LA);
  assert.equal(strict.headers.get('preference-applied'), 'handling=strict, timezone=America/Los_Angeles');
});

test('the zone is local to the request: the next request on the same pool has the default again', async () => {
  const plain = (await rest(p, 'GET', '/rpc/current_zone')).body;
  for (let i = 0; i < 5; i++) {
    const r = await rest(p, 'GET', '/rpc/current_zone', { headers: { Prefer: 'timezone=Asia/Tokyo' } });
    assert.equal(r.body, 'Asia/Tokyo');
    assert.equal((await rest(p, 'GET', '/rpc/current_zone')).body, plain);
  }
});

test('writes return their representation in the preferred zone', async () => {
  const r = await rest(p, 'POST', '/stamps?select=t', {
    headers: { Prefer: 'return=representation, timezone=Asia/Kolkata' }, body: { id: 3, t: '2023-10-18T12:00:00Z' },
  });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body, [{ t: '2023-10-18T17:30:00+05:30' }]);
  assert.equal(r.headers.get('preference-applied'), 'return=representation, timezone=Asia/Kolkata');
});

test('an unknown zone is ignored (lenient) or PGRST122 (strict)', async () => {
  const plain = await rest(p, 'GET', '/stamps?select=t&order=id&id=lt.3');
  const lenient = await rest(p, 'GET', '/stamps?select=t&order=id&id=lt.3', { headers: { Prefer: 'timezone=Invalid/Timezone' } });
  assert.equal(lenient.status, 200);
  assert.deepEqual(lenient.body, plain.body);
  assert.equal(lenient.headers.get('preference-applied'), null);
  const declared = await rest(p, 'GET', '/stamps?select=t&order=id&id=lt.3', { headers: { Prefer: 'handling=lenient, timezone=Invalid/Timezone' } });
  assert.deepEqual(declared.body, plain.body);
  assert.equal(declared.headers.get('preference-applied'), 'handling=lenient');
  const strict = await rest(p, 'GET', '/stamps', { headers: { Prefer: "handling=strict, timezone=Invalid/Timezone'; drop table stamps; --" } });
  assert.equal(strict.status, 400);
  assert.deepEqual(strict.body, { code: 'PGRST122', message: 'Invalid preferences given with handling=strict', details: "Invalid preferences: timezone=Invalid/Timezone'; drop table stamps; --", hint: null });
  assert.equal((await rest(p, 'GET', '/stamps?select=id&id=eq.1')).status, 200);
});

test("another project's key gets 401", async () => {
  const r = await rest(p, 'GET', '/stamps', { key: other.anonKey, headers: { Prefer: 'timezone=America/Los_Angeles' } });
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'PGRST301');
});
