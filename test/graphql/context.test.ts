// The one transaction opener every API uses (db/src/context.ts withContext) on a real pipelined connection: the request
// context is in force for the statements written behind it, and when the context cannot be set nothing runs
// outside it — the caller gets the context's own error and the connection is clean for the next request.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createProject, loam, type Project } from '../helpers/platform.ts';
import { withContext } from '../../db/src/context.ts';

let p: Project;
let pool: pg.Pool;
before(async () => {
  p = await createProject();
  const u = new URL((await loam()).databaseUrl);
  u.pathname = `/${p.ref}`;
  pool = new pg.Pool({ connectionString: u.href, max: 1, pipeline: true } as pg.PoolConfig);
});
after(() => pool.end());

const ctx = (role: string) => ({ role, claims: { role, sub: 'u-1' }, method: 'POST', path: '/graphql/v1', headers: { 'x-test': 'yes' } });

test('statements written behind BEGIN run under the role and claims, and commit', async () => {
  const row = await withContext(pool, ctx('authenticated'), async (c) => (await c.query(
    `select current_user as role, current_setting('request.jwt.claims', true)::json ->> 'sub' as sub,
            current_setting('request.headers', true)::json ->> 'x-test' as header, pg_current_xact_id_if_assigned() is null as read_only`)).rows[0]);
  assert.deepEqual(row, { role: 'authenticated', sub: 'u-1', header: 'yes', read_only: true });
  // the settings were transaction-local: the (single) pooled connection is back to its own identity
  const c = await pool.connect();
  try {
    const { rows } = await c.query(`select current_user as role, coalesce(current_setting('request.jwt.claims', true), '') as claims`);
    assert.notEqual(rows[0].role, 'authenticated');
    assert.equal(rows[0].claims, '');
  } finally {
    c.release();
  }
});

for (const eager of [false, true]) test(`a context that cannot be set fails closed with its own error (eager: ${eager})`, async () => {
  let ran = false;
  await assert.rejects(
    withContext(pool, ctx('no_such_role'), async (c) => { const r = await c.query('select current_user'); ran = true; return r.rows; }, { eager }),
    (err: { code?: string; message?: string }) => err.code === '22023' && /no_such_role/.test(err.message ?? ''));
  assert.equal(ran, false, 'the statement behind a failed context did not return rows');
  // and the connection is usable (not left in an aborted transaction)
  const ok = await withContext(pool, ctx('anon'), async (c) => (await c.query('select current_user as role')).rows[0].role, { eager });
  assert.equal(ok, 'anon');
});

test('an error in the statement rolls the transaction back', async () => {
  await assert.rejects(withContext(pool, ctx('service_role'), async (c) => {
    await c.query(`select set_config('loam.test_marker', 'set', false)`); // even a session-level change is undone
    await c.query('select 1/0');
  }), (err: { code?: string }) => err.code === '22012');
  const marker = await withContext(pool, ctx('service_role'), async (c) => (await c.query(`select coalesce(current_setting('loam.test_marker', true), '') as m`)).rows[0].m);
  assert.equal(marker, '');
});
