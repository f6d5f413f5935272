// Backups' jobs on their own clock and against hostile content: the daily schedule and the plan's retention, and a
// dump whose functions try to become superuser while pg_restore replays them. Split from backups.test.ts so each
// file stays within the runner's per-file time limit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { storageSettings } from '../../db/src/config.ts';
import { adminClient, createProject, http, sql, waitForStatus } from '../helpers/platform.ts';
import { backup, storage, waitForRestore, withTools } from '../helpers/backups.ts';

test('a hostile dump cannot gain superuser: what it runs during the restore runs as the project owner', withTools, async () => {
  const p = await createProject();
  // Code that would make the owner a superuser if anything ran it with that right: a CHECK constraint calling
  // the tenant's function, evaluated on every row pg_restore loads.
  await sql(p, `create table evidence (who text, super boolean);
    create function public.grab(x int) returns int language plpgsql as $$
    begin
      begin execute format('alter role %I superuser', current_user); exception when others then null; end;
      insert into public.evidence values (current_user, (select rolsuper from pg_roles where rolname = current_user));
      return x;
    end $$;
    create table bait (x int check (public.grab(x) > 0));
    insert into bait values (1), (2);`);
  await sql(p, 'delete from evidence');
  const b = await backup(p);
  const started = await http('POST', `/v1/projects/${p.ref}/database/backups/restore`, { token: p.owner.token, body: { id: b.id } });
  assert.equal(started.status, 201);
  const r = await waitForRestore(p, started.body.id);
  assert.equal(r.status, 'COMPLETED', JSON.stringify(r));
  await waitForStatus(p.owner.token, p.ref, 'ACTIVE_HEALTHY');
  // The rows were checked by the restore, running grab() as the owner — never as a superuser.
  const ran = await sql(p, 'select distinct who, super from evidence');
  assert.ok(ran.length >= 1, 'the restore evaluated the hostile function');
  for (const row of ran) assert.deepEqual(row, { who: p.ref, super: false });
  const admin = await adminClient();
  const roles = (await admin.query(`select rolname from pg_roles where rolsuper and rolname like $1`, [`${p.ref}%`])).rows;
  await admin.end();
  assert.deepEqual(roles, []);
});

test('the daily schedule backs up a project whose newest backup is a day old, and retention removes the expired one with its files', withTools, async () => {
  const p = await createProject();
  const st = storage(p);
  assert.equal((await st.createBucket('keep', { public: false })).error, null);
  assert.equal((await st.from('keep').upload('k.txt', new Blob(['k']))).error, null);
  const old = await backup(p);
  const oldDir = path.join(storageSettings().fileRoot, p.ref, 'backups', String(old.id));
  assert.ok(fs.existsSync(path.join(oldDir, 'database.dump')));
  const admin = await adminClient();
  try {
    await admin.query(`update platform.backups set inserted_at = now() - interval '30 days' where id = $1`, [old.id]);
  } finally {
    await admin.end();
  }
  // A worker's liveness tick (at most a minute apart for the schedule) queues it; the job removes the old one.
  const until = Date.now() + 180_000;
  let scheduled: any;
  for (;;) {
    const list = (await http('GET', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token })).body.backups;
    scheduled = list.find((b: { trigger: string; status: string }) => b.trigger === 'scheduled' && b.status !== 'PENDING');
    if (scheduled && !list.some((b: { id: number }) => b.id === old.id)) break;
    if (Date.now() > until) throw new Error(`no scheduled backup, or the expired one is still listed: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(scheduled.status, 'COMPLETED');
  assert.equal(scheduled.file_count, 1);
  assert.equal(fs.existsSync(oldDir), false);
});

