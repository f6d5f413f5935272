// More than one database server: a second PostgreSQL (embedded, started by the test) registered in its own
// region receives the projects created in that region, and everything — SQL endpoint, psql login, deletion —
// reaches the right server.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import pg from 'pg';
import { prepareServers, templateDatabaseName } from '../../db/src/migrate.ts';
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

test('a start is not stopped by a registered server that drops its connections, nor by processes preparing a new server at once', async () => {
  await loam();
  // A "server" that accepts and closes every connection at once: pg's "Connection terminated unexpectedly",
  // which carries no code (what a server being shut down by its operator can answer, too).
  const dropper = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
  after(() => dropper.close());
  const dropPort = (dropper.address() as AddressInfo).port;
  const tag = crypto.randomBytes(3).toString('hex');
  await controlPool().query('select platform_private.register_server($1, $2, $3, $4, $5)',
    [`dropper-${tag}`, `test-drop-${tag}`, `postgres://postgres@127.0.0.1:${dropPort}/postgres`, 'localhost', dropPort]);
  const lines: string[] = [];
  await prepareServers((line) => lines.push(line));
  assert.ok(lines.some((l) => l.includes(`(127.0.0.1:${dropPort}) is unreachable, not prepared: Connection terminated unexpectedly`)), lines.join('\n'));

  // Three processes preparing one new server together: one creates its template, the others take it as made.
  const fresh = await scratchPostgres('loam-race-');
  after(() => fresh.stop());
  const adminUrl = new URL(fresh.url);
  adminUrl.pathname = '/postgres';
  await controlPool().query('select platform_private.register_server($1, $2, $3, $4, $5)',
    [`race-${tag}`, `test-race-${tag}`, adminUrl.href, 'localhost', fresh.port]);
  const versions = await Promise.all([prepareServers(), prepareServers(), prepareServers()]);
  assert.equal(new Set(versions).size, 1);
  const admin = new pg.Client({ connectionString: adminUrl.href });
  await admin.connect();
  try {
    assert.equal((await admin.query('select count(*)::int as n from pg_database where datname = $1', [templateDatabaseName()])).rows[0].n, 1);
  } finally { await admin.end(); }
});
