// Point-in-time restore and restore points on a PostgreSQL 15 server of the test's own whose WAL is archived,
// registered in its own region with PITR configured: a project is brought back to a moment between two writes,
// and to a named restore point, while another project on the same server keeps every write; bad input is a 400
// with a stable code; another account sees nothing. The refusal on a server without a WAL archive (the run's
// embedded server) is tested at the end.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { findPitrTools } from '../../db/src/pitr.ts';
import { prepareServers } from '../../db/src/migrate.ts';
import { controlPool } from '../../db/src/pools.ts';
import { createProject, http, loam, signup, sql, waitForStatus, type Account, type Project } from '../helpers/platform.ts';
import { readFile, storage, waitForRestore } from '../helpers/backups.ts';
import { startArchivingPg15, waitForBaseBackup, withPg15, type ArchivingPg15 } from '../helpers/pitr.ts';
import { scratchPostgres } from '../helpers/postgres.ts';

let server: ArchivingPg15 | undefined;
let serverName = '';
let serverId = 0;
let region = '';

before(async () => {
  if (withPg15.skip) return;
  await loam();
  server = await startArchivingPg15();
  region = `pitr-${crypto.randomBytes(3).toString('hex')}`;
  serverName = `pitr-${region}`;
  const { rows: [s] } = await controlPool().query('select (platform_private.register_server($1, $2, $3, $4, $5)).id',
    [serverName, region, server.url, 'localhost', server.port]);
  serverId = Number(s.id);
  await controlPool().query('select platform_private.set_server_pitr($1, $2, $3)', [serverName, server.walDir, server.baseDir]);
  await prepareServers();
});

after(async () => {
  if (!server) return;
  // The run's other Loams must not keep taking base backups of a server that is gone. (The file's Loam, and with
  // it the control pool, may be stopped already: a connection of its own.)
  const control = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await control.connect();
  await control.query('select platform_private.set_server_pitr($1, null, null)', [serverName]).finally(() => control.end());
  await server.stop();
});

async function projectThere(owner: Account, name: string): Promise<Project> {
  const dbPass = `pw-${crypto.randomBytes(8).toString('hex')}`;
  const res = await http('POST', '/v1/projects', { token: owner.token, body: { name, organization_id: owner.org, db_pass: dbPass, region } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const ref = res.body.ref;
  await waitForStatus(owner.token, ref, 'ACTIVE_HEALTHY', 60_000);
  const keys = await http('GET', `/v1/projects/${ref}/api-keys`, { token: owner.token });
  const key = (n: string) => keys.body.find((k: { name: string }) => k.name === n).api_key;
  return { ref, dbPass, anonKey: key('anon'), serviceKey: key('service_role'), url: `${(await loam()).url}/project/${ref}`, owner };
}

async function baseBackupNow() {
  await controlPool().query(`select platform_private.queue_base_backup($1, 'manual')`, [serverId]);
  return waitForBaseBackup(controlPool(), serverId);
}

/** Waits until the wall clock is past `unix` (seconds) by a margin, so the next commit is after that second. */
async function pastSecond(unix: number) {
  while (Date.now() < unix * 1000 + 300) await new Promise((r) => setTimeout(r, 50));
}

let x: Project;
let y: Project;
// A restore point name an attacker would pick: it never reaches the server's recovery settings (the WAL name is Loam's own).
const pointName = `d'"$(id);\\`;

test('restore-pitr brings one project back to a moment between two writes; another project on the server keeps both', withPg15, async (t) => {
  const me = await signup();
  x = await projectThere(me, 'pitr x');
  y = await projectThere(me, 'pitr y');
  await sql(x, `create table notes (id int primary key, body text); insert into notes values (1, 'A')`);
  await sql(y, `create table other (id int primary key); insert into other values (1)`);
  const st = storage(x);
  assert.equal((await st.createBucket('docs', { public: false })).error, null);
  assert.equal((await st.from('docs').upload('a.txt', new Blob(['file A']))).error, null);
  const base = await baseBackupNow();
  assert.match(base.start_wal_file, /^[0-9A-F]{24}$/);
  assert.ok(Number(base.bytes) > 0);

  const list = await http('GET', `/v1/projects/${x.ref}/database/backups`, { token: me.token });
  assert.equal(list.status, 200);
  assert.equal(list.body.pitr_enabled, true);
  const window = list.body.physical_backup_data;
  assert.equal(typeof window.earliest_physical_backup_date_unix, 'number');
  assert.ok(window.latest_physical_backup_date_unix >= window.earliest_physical_backup_date_unix);

  await sql(x, `insert into notes values (2, 'A2')`);
  const target = Math.ceil(Date.now() / 1000);
  await pastSecond(target);
  await sql(x, `insert into notes values (3, 'B'); update notes set body = 'changed' where id = 1`);
  assert.equal((await st.from('docs').upload('b.txt', new Blob(['file B']))).error, null);
  await sql(y, `insert into other values (2)`);

  const started = await http('POST', `/v1/projects/${x.ref}/database/backups/restore-pitr`, { token: me.token, body: { recovery_time_target_unix: target } });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  assert.equal(started.body.kind, 'pitr');
  assert.equal(started.body.recovery_time_target_unix, target);
  assert.equal(started.body.project_ref, x.ref);
  // Out of service at once; a second request is refused while it runs.
  const again = await http('POST', `/v1/projects/${x.ref}/database/backups/restore-pitr`, { token: me.token, body: { recovery_time_target_unix: target } });
  assert.equal(again.status, 400);
  assert.equal(again.body.code, 'invalid_project_state');
  const done = await waitForRestore(x, started.body.id, 180_000);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
  t.diagnostic(`point-in-time restore: ${new Date(done.completed_at).getTime() - new Date(done.inserted_at).getTime()} ms`);
  await waitForStatus(me.token, x.ref, 'ACTIVE_HEALTHY');

  assert.deepEqual(await sql(x, 'select id, body from notes order by id'), [{ id: 1, body: 'A' }, { id: 2, body: 'A2' }]);
  assert.deepEqual(await sql(x, `select tableowner from pg_tables where tablename = 'notes'`), [{ tableowner: x.ref }]);
  // Files: the restored rows name file A only; B's row is gone with the moment.
  assert.equal(await readFile(x, 'docs', 'a.txt'), 'file A');
  assert.equal(await readFile(x, 'docs', 'b.txt'), null);
  // The data plane serves the restored project.
  const rest = await fetch(`${x.url}/rest/v1/notes?select=id&order=id`, { headers: { apikey: x.serviceKey, authorization: `Bearer ${x.serviceKey}` } });
  assert.equal(rest.status, 200);
  assert.deepEqual(await rest.json(), [{ id: 1 }, { id: 2 }]);
  // The other project on the same server kept its write after the moment.
  assert.deepEqual(await sql(y, 'select id from other order by id'), [{ id: 1 }, { id: 2 }]);
  // Nothing left behind: no database beside the project's own, no temporary cluster.
  const admin = new pg.Client({ connectionString: server!.url });
  await admin.connect();
  const dbs = (await admin.query(`select datname from pg_database where datname like $1 order by 1`, [`${x.ref}%`])).rows.map((r) => r.datname);
  await admin.end();
  assert.deepEqual(dbs, [x.ref]);
  assert.deepEqual(fs.readdirSync(server!.baseDir).filter((f) => f.startsWith('restore-')), []);
});

test('a named restore point: create, read, undo to it; names are per project and checked', withPg15, async () => {
  assert.ok(x, 'needs the first test\'s project');
  const token = x.owner.token;
  const name = pointName;
  await sql(x, `insert into notes values (10, 'C')`);
  const made = await http('POST', `/v1/projects/${x.ref}/database/backups/restore-point`, { token, body: { name } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.deepEqual(Object.keys(made.body).sort(), ['completed_on', 'name', 'status']);
  assert.equal(made.body.name, name);
  assert.equal(made.body.status, 'AVAILABLE');
  await sql(x, `insert into notes values (11, 'D'); delete from notes where id = 1`);
  await sql(y, `insert into other values (3)`);

  const dup = await http('POST', `/v1/projects/${x.ref}/database/backups/restore-point`, { token, body: { name } });
  assert.equal(dup.status, 409);
  assert.deepEqual(dup.body, { message: `the project already has a restore point named ${name}`, code: 'restore_point_exists' });
  // The same name in another project is that project's own.
  const yPoint = await http('POST', `/v1/projects/${y.ref}/database/backups/restore-point`, { token, body: { name } });
  assert.equal(yPoint.status, 201);
  const tooLong = await http('POST', `/v1/projects/${x.ref}/database/backups/restore-point`, { token, body: { name: 'x'.repeat(21) } });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.code, 'invalid_body');

  const got = await http('GET', `/v1/projects/${x.ref}/database/backups/restore-point?name=${encodeURIComponent(name)}`, { token });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, made.body);
  const missing = await http('GET', `/v1/projects/${x.ref}/database/backups/restore-point?name=nope`, { token });
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { message: 'restore point not found', code: 'restore_point_not_found' });
  const undoMissing = await http('POST', `/v1/projects/${x.ref}/database/backups/undo`, { token, body: { name: 'nope' } });
  assert.equal(undoMissing.status, 404);

  const undo = await http('POST', `/v1/projects/${x.ref}/database/backups/undo`, { token, body: { name } });
  assert.equal(undo.status, 201, JSON.stringify(undo.body));
  assert.equal(undo.body.restore_point, name);
  const done = await waitForRestore(x, undo.body.id, 180_000);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
  await waitForStatus(token, x.ref, 'ACTIVE_HEALTHY');
  assert.deepEqual(await sql(x, 'select id, body from notes order by id'), [{ id: 1, body: 'A' }, { id: 2, body: 'A2' }, { id: 10, body: 'C' }]);
  assert.deepEqual(await sql(y, 'select id from other order by id'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
});

test('bad input: not a number, negative, in the future, before the window → 400 with stable codes; another account → 404', withPg15, async () => {
  assert.ok(x, 'needs the first test\'s project');
  const token = x.owner.token;
  const pitr = (body: unknown, t = token) => http('POST', `/v1/projects/${x.ref}/database/backups/restore-pitr`, { token: t, body });
  for (const bad of [{ recovery_time_target_unix: 'soon' }, { recovery_time_target_unix: -5 }, { recovery_time_target_unix: 1.5 }, {}]) {
    const r = await pitr(bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.deepEqual(r.body, { message: 'recovery_time_target_unix must be a whole number of seconds since 1970', code: 'invalid_body' });
  }
  const future = await pitr({ recovery_time_target_unix: Math.floor(Date.now() / 1000) + 3600 });
  assert.equal(future.status, 400);
  assert.equal(future.body.code, 'pitr_target_out_of_range');
  assert.match(future.body.message, /^the recovery time \S+ is in the future$/);
  const old = await pitr({ recovery_time_target_unix: 1_000_000 });
  assert.equal(old.status, 400);
  assert.equal(old.body.code, 'pitr_target_out_of_range');
  assert.match(old.body.message, /^the recovery time 1970-01-12T13:46:40Z is before the earliest point this project can be restored to \(\S+\)$/);
  // Nothing was started.
  assert.equal((await http('GET', `/v1/projects/${x.ref}`, { token })).body.status, 'ACTIVE_HEALTHY');

  const stranger = await signup();
  const hidden = await pitr({ recovery_time_target_unix: Math.floor(Date.now() / 1000) - 5 }, stranger.token);
  assert.equal(hidden.status, 404);
  assert.equal(hidden.body.code, 'project_not_found');
  for (const [method, path, body] of [
    ['POST', 'restore-point', { name: 'mine' }], ['GET', `restore-point?name=${encodeURIComponent(pointName)}`, undefined], ['POST', 'undo', { name: pointName }],
  ] as [string, string, unknown][]) {
    const r = await http(method, `/v1/projects/${x.ref}/database/backups/${path}`, { token: stranger.token, body });
    assert.equal(r.status, 404, `${method} ${path}`);
  }
  // A project of the stranger's own cannot undo to x's restore point by name.
  const mine = await createProject(stranger);
  const across = await http('POST', `/v1/projects/${mine.ref}/database/backups/undo`, { token: stranger.token, body: { name: pointName } });
  assert.equal(across.status, 404);
  assert.equal(across.body.code, 'restore_point_not_found');
});

test('on a server whose WAL is not archived (the run\'s own), PITR and restore points are refused with 501 and the reason', async () => {
  const p = await createProject();
  const list = await http('GET', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
  assert.equal(list.body.pitr_enabled, false);
  assert.deepEqual(list.body.physical_backup_data, {});
  const pitr = await http('POST', `/v1/projects/${p.ref}/database/backups/restore-pitr`, {
    token: p.owner.token, body: { recovery_time_target_unix: Math.floor(Date.now() / 1000) - 60 },
  });
  assert.equal(pitr.status, 501);
  assert.deepEqual(pitr.body, {
    code: 'pitr_not_supported',
    message: 'Point-in-time restore is not available: the project\'s database server has no WAL archive configured (see db/README.md, "Point-in-time restore")',
  });
  const point = await http('POST', `/v1/projects/${p.ref}/database/backups/restore-point`, { token: p.owner.token, body: { name: 'x' } });
  assert.equal(point.status, 501);
  assert.equal(point.body.code, 'pitr_not_supported');
  const undo = await http('POST', `/v1/projects/${p.ref}/database/backups/undo`, { token: p.owner.token, body: { name: 'x' } });
  assert.equal(undo.status, 404);
  assert.equal(undo.body.code, 'restore_point_not_found');
  assert.equal((await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token })).body.status, 'ACTIVE_HEALTHY');
});

test('the operator\'s PITR directories reach restore_command only as plain absolute paths', async () => {
  await loam();
  const set = (wal: string | null, base: string | null, name = 'default') =>
    controlPool().query('select platform_private.set_server_pitr($1, $2, $3)', [name, wal, base]).then(() => 'ok', (e) => `${e.code}: ${e.message}`);
  const plain = 'LMJ09: PITR directories must be absolute paths of letters, digits and . _ - / only (no ..)';
  for (const bad of ['/tmp/a b', '/tmp/x"; rm -rf /', 'relative/wal', '/tmp/../etc', '/tmp/$(id)', "/tmp/it's"]) {
    assert.equal(await set(bad, '/tmp/base'), plain, bad);
    assert.equal(await set('/tmp/wal', bad), plain, bad);
  }
  assert.equal(await set('/tmp/wal', null), 'LMJ09: a WAL archive directory and a base backup directory go together');
  assert.equal(await set('/tmp/wal', '/tmp/base', 'no-such-server'), 'LMJ09: no database server named no-such-server');
  // Nothing was set on the run's default server.
  const { rows } = await controlPool().query(`select c.wal_archive_dir from platform_private.database_server_credentials c
    join platform.database_servers s on s.id = c.server_id where s.is_default`);
  assert.deepEqual(rows, [{ wal_archive_dir: null }]);
});

test('on a server whose WAL is archived but whose tools are missing here (an embedded PostgreSQL 17), PITR is refused with 501 naming them', async (t) => {
  await loam();
  const emb = await scratchPostgres('loam-pitr17-');
  after(() => emb.stop());
  const admin = new pg.Client({ connectionString: emb.url });
  await admin.connect();
  const v = Number((await admin.query('show server_version_num')).rows[0].server_version_num);
  await admin.end();
  const tools = await findPitrTools(v).then(() => true, () => false);
  if (tools) { t.skip(`postgres, pg_basebackup, pg_dump and pg_restore ${Math.floor(v / 10000)} are installed here: no refusal to see`); return; }
  const r17 = `pitr17-${crypto.randomBytes(3).toString('hex')}`;
  const adminUrl = new URL(emb.url);
  adminUrl.pathname = '/postgres';
  await controlPool().query('select platform_private.register_server($1, $2, $3, $4, $5)', [r17, r17, adminUrl.href, 'localhost', emb.port]);
  // Directories that exist nowhere: the refusal comes before anything would use them.
  await controlPool().query('select platform_private.set_server_pitr($1, $2, $3)', [r17, `/nonexistent/${r17}/wal`, `/nonexistent/${r17}/base`]);
  try {
    await prepareServers();
    const me = await signup();
    const res = await http('POST', '/v1/projects', { token: me.token, body: { name: 'seventeen', organization_id: me.org, db_pass: 'long-enough-pass', region: r17 } });
    assert.equal(res.status, 201);
    await waitForStatus(me.token, res.body.ref, 'ACTIVE_HEALTHY', 60_000);
    const list = await http('GET', `/v1/projects/${res.body.ref}/database/backups`, { token: me.token });
    assert.equal(list.body.pitr_enabled, true);
    for (const [path, body] of [['restore-pitr', { recovery_time_target_unix: Math.floor(Date.now() / 1000) - 10 }], ['restore-point', { name: 'p' }]] as const) {
      const r = await http('POST', `/v1/projects/${res.body.ref}/database/backups/${path}`, { token: me.token, body });
      assert.equal(r.status, 501, path);
      assert.equal(r.body.code, 'pitr_tools_missing');
      assert.match(r.body.message, /^point-in-time restore needs postgres, pg_basebackup, pg_dump and pg_restore of PostgreSQL \d+; (\S+, )*pg_dump(, \S+)* were not found \(looked in .*\/usr\/lib\/postgresql\/\d+\/bin/);
    }
    assert.equal((await http('GET', `/v1/projects/${res.body.ref}`, { token: me.token })).body.status, 'ACTIVE_HEALTHY');
    // Its project goes before the server does (the scratch server stops after the file's tests).
    assert.equal((await http('DELETE', `/v1/projects/${res.body.ref}`, { token: me.token })).status, 200);
    const check = new pg.Client({ connectionString: adminUrl.href });
    await check.connect();
    try {
      const left = async () => Number((await check.query(`select (select count(*) from pg_database where datname = $1)
        + (select count(*) from pg_roles where rolname = $1) as n`, [res.body.ref])).rows[0].n);
      for (let i = 0; i < 300 && await left() > 0; i++) await new Promise((r) => setTimeout(r, 100));
    } finally { await check.end(); }
  } finally {
    // No base backups of this server by the run's other workers (they would fail for the same reason).
    await controlPool().query('select platform_private.set_server_pitr($1, null, null)', [r17]);
  }
});
