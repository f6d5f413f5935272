// Regions, plans, and the platform's /health.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http, signup } from '../helpers/platform.ts';

test('GET /health is 200 {"ok":true} once ready', async () => {
  const res = await http('GET', '/health');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true, checks: { database: 'ok' } });
});

test('GET /v1/regions lists regions with their database servers', async () => {
  const a = await signup();
  const res = await http('GET', '/v1/regions', { token: a.token });
  assert.equal(res.status, 200);
  const local = res.body.find((r: { id: string }) => r.id === 'local');
  assert.ok(local, JSON.stringify(res.body));
  assert.equal(local.name, 'local');
  assert.ok(local.database_servers >= 1);
  // Discovery needs no token (discovery.test.ts).
  assert.deepEqual((await http('GET', '/v1/regions')).body, res.body);
});

test('GET /v1/plans lists the limits quotas use; the rate limit defaults to the configured one', async () => {
  const a = await signup();
  const res = await http('GET', '/v1/plans', { token: a.token });
  assert.equal(res.status, 200);
  const free = res.body.find((p: { id: string }) => p.id === 'free');
  // Every column of the plan besides id and name (so limits added to the table show up).
  for (const k of ['db_size_mb', 'max_organizations', 'max_projects', 'rate_limit_per_minute', 'storage_size_mb']) assert.ok(k in free.limits, k);
  assert.equal(free.limits.max_projects, 100);
  assert.equal(free.limits.max_organizations, 10);
  // The test run sets LOAM_RATE_LIMIT_PER_MINUTE; plans without their own limit use it.
  assert.equal(free.limits.rate_limit_per_minute, Number(process.env.LOAM_RATE_LIMIT_PER_MINUTE || 120));
  assert.ok(res.body.some((p: { id: string }) => p.id === 'pro'));
  assert.deepEqual((await http('GET', '/v1/plans')).body, res.body);
});
