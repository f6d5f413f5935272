import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject, http, sql } from '../helpers/platform.ts';

test('a new project becomes healthy and runs SQL as its owner', async () => {
  const p = await createProject();
  const rows = await sql(p, 'select current_user as who');
  assert.deepEqual(rows, [{ who: p.ref }]);
  const health = await http('GET', `/v1/projects/${p.ref}/health?services=db`, { token: p.owner.token });
  assert.equal(health.status, 200);
  assert.equal(health.body[0].status, 'ACTIVE_HEALTHY');
});
