// Backups and restores of a project (database + stored files) through the Management API, on the server the run
// uses: with pg_dump/pg_restore of its major version (the PG15 DATABASE_URL server on this machine) the whole
// round trip runs; without them (the embedded PG17 server here) the API refuses with 501 naming the tool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminClient, createProject, http, ownerClient, signup, sql, waitForStatus, type Project } from '../helpers/platform.ts';
import { backup, readFile, storage, toolsHere, waitForRestore, withoutTools, withTools } from '../helpers/backups.ts';

test('backup → change data and files → restore: the data and the files are as they were', withTools, async () => {
  const p = await createProject();
  await sql(p, `create table notes (id int primary key, body text);
    insert into notes values (1, 'kept'), (2, 'kept too');
    create function public.shout(t text) returns text language sql as $$ select upper(t) $$;
    alter table notes enable row level security;
    create policy read_all on notes for select to anon using (true);`);
  const st = storage(p);
  assert.equal((await st.createBucket('docs', { public: false })).error, null);
  assert.equal((await st.from('docs').upload('a.txt', new Blob(['first version']), { contentType: 'text/plain' })).error, null);
  assert.equal((await st.from('docs').upload('b.txt', new Blob(['bee']), { contentType: 'text/plain' })).error, null);

  const b = await backup(p);
  assert.equal(b.is_physical_backup, false);
  assert.ok(b.database_bytes > 0);
  assert.equal(b.file_count, 2);
  assert.equal(b.file_bytes, 'first version'.length + 'bee'.length);
  const list = await http('GET', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
  assert.equal(list.status, 200);
  assert.deepEqual(Object.keys(list.body).sort(), ['backups', 'physical_backup_data', 'pitr_enabled', 'region', 'walg_enabled']);
  assert.equal(list.body.pitr_enabled, false);
  assert.equal(list.body.walg_enabled, false);
  for (const k of ['is_physical_backup', 'id', 'inserted_at', 'status']) assert.ok(k in list.body.backups[0], k);

  // Afterwards: rows changed and added, a table dropped and made anew, a file overwritten, one removed, one added.
  await sql(p, `update notes set body = 'changed' where id = 1; delete from notes where id = 2; insert into notes values (3, 'new');
    create table later (x int)`);
  assert.equal((await st.from('docs').upload('a.txt', new Blob(['second version']), { upsert: true })).error, null);
  assert.equal((await st.from('docs').remove(['b.txt'])).error, null);
  assert.equal((await st.from('docs').upload('c.txt', new Blob(['sea']))).error, null);

  const started = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: b.id } });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  assert.equal(started.body.project_ref, p.ref);
  // Out of service at once: the data plane refuses while the restore runs.
  const during = await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token });
  assert.ok(['RESTORING_BACKUP', 'ACTIVE_HEALTHY'].includes(during.body.status), during.body.status);
  const r = await waitForRestore(p, started.body.id);
  assert.equal(r.status, 'COMPLETED', JSON.stringify(r));
  await waitForStatus(p.owner.token, p.ref, 'ACTIVE_HEALTHY');

  assert.deepEqual(await sql(p, 'select id, body from notes order by id'), [{ id: 1, body: 'kept' }, { id: 2, body: 'kept too' }]);
  assert.deepEqual(await sql(p, `select to_regclass('public.later') as t, public.shout('x') as s`), [{ t: null, s: 'X' }]);
  // Ownership is the project's: the owner owns what it made, and the data plane works with the restored policy.
  assert.deepEqual(await sql(p, `select tableowner from pg_tables where tablename = 'notes'`), [{ tableowner: p.ref }]);
  const rest = await fetch(`${p.url}/rest/v1/notes?select=id&order=id`, { headers: { apikey: p.anonKey } });
  assert.equal(rest.status, 200);
  assert.deepEqual(await rest.json(), [{ id: 1 }, { id: 2 }]);
  assert.equal(await readFile(p, 'docs', 'a.txt'), 'first version');
  assert.equal(await readFile(p, 'docs', 'b.txt'), 'bee');
  assert.equal(await readFile(p, 'docs', 'c.txt'), null);
  // The project's own logins still work (psql as the owner).
  const owner = await ownerClient(p);
  assert.equal((await owner.query('select count(*)::int as n from notes')).rows[0].n, 2);
  await owner.end();
  // No leftover databases beside the project's own.
  const admin = await adminClient();
  const dbs = (await admin.query(`select datname from pg_database where datname like $1 order by 1`, [`${p.ref}%`])).rows.map((x) => x.datname);
  await admin.end();
  assert.deepEqual(dbs, [p.ref]);
});

test('restore into a new project: a project of its own with the backup\'s data and files; the source is untouched', withTools, async () => {
  const p = await createProject();
  await sql(p, `create table items (id int primary key, name text); insert into items values (1, 'one');
    grant select on items to anon`);
  const st = storage(p);
  assert.equal((await st.createBucket('pics', { public: true })).error, null);
  assert.equal((await st.from('pics').upload('x.txt', new Blob(['ex']))).error, null);
  const b = await backup(p);
  await sql(p, `insert into items values (2, 'two')`);

  const started = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, {
    token: p.owner.token, body: { id: b.id, new_project: { name: 'restored copy', db_pass: 'a-long-password' } },
  });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const newRef = started.body.project_ref;
  assert.notEqual(newRef, p.ref);
  const r = await waitForRestore(p, started.body.id);
  assert.equal(r.status, 'COMPLETED', JSON.stringify(r));
  await waitForStatus(p.owner.token, newRef, 'ACTIVE_HEALTHY');

  const keys = await http('GET', `/v1/projects/${newRef}/api-keys`, { token: p.owner.token });
  const q: Project = { ...p, ref: newRef, dbPass: 'a-long-password', url: p.url.replace(p.ref, newRef),
    anonKey: keys.body.find((k: { name: string }) => k.name === 'anon').api_key,
    serviceKey: keys.body.find((k: { name: string }) => k.name === 'service_role').api_key };
  assert.deepEqual(await sql(q, 'select id, name from items order by id'), [{ id: 1, name: 'one' }]);
  assert.deepEqual(await sql(q, `select tableowner from pg_tables where tablename = 'items'`), [{ tableowner: newRef }]);
  assert.equal(await readFile(q, 'pics', 'x.txt'), 'ex');
  // Its files count towards its storage use, as uploads would.
  const admin = await adminClient();
  const used = (await admin.query(`select u.bytes::int as n from platform_private.storage_usage u join platform.projects p on p.id = u.project_id
    where p.ref = $1`, [newRef])).rows[0]?.n;
  await admin.end();
  assert.equal(used, 2);
  const owner = await ownerClient(q);
  assert.equal((await owner.query('select current_user as u')).rows[0].u, newRef);
  await owner.end();
  // The source project kept its later write.
  assert.deepEqual(await sql(p, 'select count(*)::int as n from items'), [{ n: 2 }]);
});

test('another account can neither list, back up nor restore the project\'s backups (404)', withTools, async () => {
  const p = await createProject();
  const b = await backup(p);
  const stranger = await signup();
  const list = await http('GET', `/v1/projects/${p.ref}/database/backups`, { token: stranger.token });
  assert.equal(list.status, 404);
  assert.equal(list.body.code, 'project_not_found');
  const make = await http('POST', `/v1/projects/${p.ref}/database/backups`, { token: stranger.token });
  assert.equal(make.status, 404);
  const restore = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: stranger.token, body: { id: b.id } });
  assert.equal(restore.status, 404);
  // A backup of one project cannot be restored through another project the caller owns.
  const mine = await createProject(stranger);
  const across = await http('POST', `/v1/projects/${mine.ref}/database/backups/restore`, { token: stranger.token, body: { id: b.id } });
  assert.equal(across.status, 404);
  assert.deepEqual(across.body, { message: 'backup not found', code: 'backup_not_found' });
  const restores = await http('GET', `/v1/projects/${p.ref}/database/backups/restores`, { token: stranger.token });
  assert.equal(restores.status, 404);
});

test('refusals in the job\'s states: a backup in progress (409), one not complete (409), one of another template version (409)', withTools, async () => {
  const p = await createProject();
  const b = await backup(p);
  const admin = await adminClient();
  const set = (q: string) => admin.query(`update platform.backups set ${q} where id = $1`, [b.id]);
  try {
    await set(`status = 'QUEUED'`);
    const again = await http('POST', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
    assert.equal(again.status, 409);
    assert.deepEqual(again.body, { message: 'a backup of this project is already in progress', code: 'backup_in_progress' });
    const pending = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: b.id } });
    assert.equal(pending.status, 409);
    assert.deepEqual(pending.body, { message: `backup ${b.id} is not complete (status QUEUED)`, code: 'backup_not_complete' });
    await set(`status = 'COMPLETED', template_version = template_version - 1`);
    const old = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: b.id } });
    assert.equal(old.status, 409);
    assert.equal(old.body.code, 'template_version_mismatch');
    assert.match(old.body.message, new RegExp(`^backup ${b.id} was taken at project-template version \\d+, the project is at \\d+`));
  } finally {
    await admin.end();
  }
  // Nothing was started: the project is healthy and has no restore.
  assert.equal((await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token })).body.status, 'ACTIVE_HEALTHY');
  assert.deepEqual((await http('GET', `/v1/projects/${p.ref}/database/backups/restores`, { token: p.owner.token })).body, []);
});

test('input errors: a backup that does not exist (404), a bad id or new project (400), PITR refused with its reason (501)', async () => {
  const p = await createProject();
  const bad = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: 'x' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { message: 'id must be the id of one of the project\'s backups', code: 'invalid_body' });
  const badNew = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: 1, new_project: { name: 'x' } } });
  assert.equal(badNew.status, 400);
  assert.deepEqual(badNew.body, { message: 'db_pass is required', code: 'invalid_body' });
  if (toolsHere) {
    const missing = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: 999999999 } });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { message: 'backup not found', code: 'backup_not_found' });
  }
  const pitrBad = await http('POST', `/v1/projects/${p.ref}/database/backups/restore-pitr`, { token: p.owner.token, body: { recovery_time_target_unix: 'soon' } });
  assert.equal(pitrBad.status, 400);
  assert.equal(pitrBad.body.code, 'invalid_body');
  const pitr = await http('POST', `/v1/projects/${p.ref}/database/backups/restore-pitr`, {
    token: p.owner.token, body: { recovery_time_target_unix: Math.floor(Date.now() / 1000) - 60 },
  });
  assert.equal(pitr.status, 501);
  assert.equal(pitr.body.code, 'pitr_not_supported');
  assert.match(pitr.body.message, /^Point-in-time restore is not available: /);
  const point = await http('POST', `/v1/projects/${p.ref}/database/backups/restore-point`, { token: p.owner.token, body: { name: 'before' } });
  assert.equal(point.status, 501);
  assert.equal(point.body.code, 'pitr_not_supported');
  const stranger = await signup();
  const hidden = await http('POST', `/v1/projects/${p.ref}/database/backups/restore-pitr`, {
    token: stranger.token, body: { recovery_time_target_unix: Math.floor(Date.now() / 1000) - 60 },
  });
  assert.equal(hidden.status, 404);
});

test('without pg_dump of the server\'s major version a backup is refused with 501, naming the tool and the version', withoutTools, async () => {
  const p = await createProject();
  const res = await http('POST', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
  assert.equal(res.status, 501);
  assert.equal(res.body.code, 'backup_tools_missing');
  assert.match(res.body.message, /^pg_dump and pg_restore for PostgreSQL \d+ were not found \(looked in .*\/usr\/lib\/postgresql\/\d+\/bin\)/);
  const list = await http('GET', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.backups, []);
});
