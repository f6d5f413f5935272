// Supabase's region codes work out of the box: every code exists, placed on the default server's region until an
// operator gives it servers of its own (servers.test.ts covers a region with its own server); /v1/projects/available-regions answers in Supabase's shape (and is not
// read as a project ref).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SUPABASE_REGIONS } from '../../db/src/regions.ts';
import { adminClient, http, signup, waitForStatus } from '../helpers/platform.ts';

test('available-regions: every Supabase code, grouped, with a recommendation', async () => {
  const a = await signup();
  const res = await http('GET', `/v1/projects/available-regions?organization_slug=${a.org}`, { token: a.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const codes = res.body.all.specific.map((r: { code: string }) => r.code).sort();
  assert.deepEqual(codes, Object.keys(SUPABASE_REGIONS).sort());
  const east = res.body.all.specific.find((r: { code: string }) => r.code === 'us-east-1');
  assert.deepEqual(east, { name: 'East US (North Virginia)', code: 'us-east-1', type: 'specific', provider: 'AWS' });
  assert.deepEqual(res.body.all.smartGroup.map((g: { code: string }) => g.code).sort(), ['americas', 'apac', 'emea']);
  assert.deepEqual(res.body.recommendations.smartGroup, { name: 'Americas', code: 'americas', type: 'smartGroup' });
  assert.deepEqual(res.body.recommendations.specific.map((r: { code: string }) => r.code), ['us-east-1']);
  assert.equal((await http('GET', '/v1/projects/available-regions')).status, 401);
});

test('a project created in a Supabase region code lands on the default server; the code is its region', async () => {
  const a = await signup();
  const created = await http('POST', '/v1/projects', { token: a.token, body: { name: 'eu', organization_id: a.org, db_pass: 'long enough pass', region_selection: { type: 'specific', code: 'eu-central-1' } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.region, 'eu-central-1');
  await waitForStatus(a.token, created.body.ref, 'ACTIVE_HEALTHY');
  const admin = await adminClient();
  const { rows: [p] } = await admin.query(`select s.is_default from platform.projects p join platform.database_servers s on s.id = p.database_server_id where p.ref = $1`, [created.body.ref]);
  await admin.end();
  assert.equal(p.is_default, true);
});

test('an unknown region is still refused', async () => {
  const a = await signup();
  const res = await http('POST', '/v1/projects', { token: a.token, body: { name: 'x', organization_id: a.org, db_pass: 'long enough pass', region: 'mars-1' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'invalid_region');
});
