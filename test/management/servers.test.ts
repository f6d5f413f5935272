// More than one database server: a second PostgreSQL (embedded, started by the test) registered in its own
// region receives the projects created in that region, and everything — SQL endpoint, psql login, deletion —
// reaches the right server.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { prepareServers } from '../../db/src/migrate.ts';
import { controlPool } from '../../db/src/pools.ts';
import { http, loam, signup, sql, waitForStatus } from '../helpers/platform.ts';
import { scratchPostgres } from '../helpers/postgres.ts';


test('projects in a region go to that region\'s server, and stay reachable there', async () => {
  await loam();
  const second = await scratchPostgres('loam-second-');
  const port = second.port;
  after(() => second.stop());

  const region = `test-${crypto.randomBytes(3).toString('hex')}`;
  const adminUrl = new URL(second.url);
  adminUrl.pathname = '/postgres';
  await controlPool().query('select platform_private.register_server($1, $2, $3, $4, $5)',
    [`second-${region}`, region, adminUrl.href, 'localhost', port]);
  await prepareServers();

  const me = await signup();
  const regions = await http('GET', '/v1/regions', { token: me.token });
  assert.ok(regions.body.some((r: { id: string }) => r.id === region));

  const dbPass = 'second-server-pass';
  const created = await http('POST', '/v1/projects', { token: me.token, body: { name: 'far', organization_id: me.org, db_pass: dbPass, region } });
  assert.equal(created.status, 201);
  assert.equal(created.body.region, region);
  const ref = created.body.ref;
  const project = await waitForStatus(me.token, ref, 'ACTIVE_HEALTHY');
  assert.equal(project.database.port, port);

  const p = { ref, dbPass, anonKey: '', serviceKey: '', url: '', owner: me };
  const [row] = await sql(p, 'select inet_server_port() as port, current_user as who');
  assert.deepEqual(row, { port, who: ref });

  const owner = new pg.Client({ host: 'localhost', port, user: ref, password: dbPass, database: ref });
  await owner.connect();
  assert.equal((await owner.query('select current_database() as db')).rows[0].db, ref);
  await owner.end();

  assert.equal((await http('DELETE', `/v1/projects/${ref}`, { token: me.token })).status, 200);
  const admin = new pg.Client({ connectionString: adminUrl.href });
  await admin.connect();
  try {
    // The job drops the database first and the roles after it: wait for both.
    const left = async () => (await admin.query(`select (select count(*) from pg_database where datname = $1)
      + (select count(*) from pg_roles where rolname = $1) as n`, [ref])).rows[0].n;
    for (let i = 0; i < 300; i++) {
      if (Number(await left()) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await admin.query('select 1 from pg_database where datname = $1', [ref])).rowCount, 0);
    assert.equal((await admin.query('select 1 from pg_roles where rolname = $1', [ref])).rowCount, 0);
  } finally {
    await admin.end();
  }
});

test('an unknown region is a 400 and creates nothing', async () => {
  const me = await signup();
  const res = await http('POST', '/v1/projects', { token: me.token, body: { name: 'x', organization_id: me.org, db_pass: 'long-enough-pass', region: 'nowhere-1' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'invalid_region');
  assert.deepEqual((await http('GET', '/v1/projects', { token: me.token })).body, []);
});
