// Postgres changes with supabase-js: each change reaches only subscribers whose role and claims may select the
// row under RLS, with only the columns they may read; filters; another project never sees them; a pause drops
// the project's replication slot.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadRuntime } from '../../db/src/projects.ts';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, createProject, http, sql, waitForStatus, type Project } from '../helpers/platform.ts';
import { client, closeAll, sleep, subscribed, until, walLevelLogical } from './helpers.ts';

const noWal = (await walLevelLogical()) ? false : 'the database server runs without wal_level=logical';

let p: Project;
let other: Project;
const U1 = '00000000-0000-0000-0000-0000000000a1';
const U2 = '00000000-0000-0000-0000-0000000000a2';

const TABLE = `
  create table public.notes (id bigint generated always as identity primary key, user_id uuid not null, body text,
    secret text default 'hidden', n int default 0, done boolean default false);
  alter table public.notes enable row level security;
  create policy select_own on public.notes for select to authenticated using (auth.uid() = user_id);
  revoke all on public.notes from anon, authenticated;
  grant select (id, user_id, body, n, done) on public.notes to authenticated;
  alter publication supabase_realtime add table public.notes;`;

before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  await Promise.all([sql(p, TABLE), sql(other, TABLE)]);
});

async function userClient(project: Project, sub: string) {
  const secret = (await loadRuntime(project.ref))!.jwt_secret!;
  const c = client(project);
  await c.realtime.setAuth(signJwt({ sub, role: 'authenticated', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600 }, secret));
  return c;
}

function listen(c: ReturnType<typeof client>, name: string, opts: Record<string, string> = {}) {
  const got: any[] = [];
  const ch = c.channel(name).on('postgres_changes' as any, { event: '*', schema: 'public', table: 'notes', ...opts }, (m: any) => got.push(m));
  return { ch, got };
}

describe('postgres changes', { skip: noWal }, () => {
  it('each user gets only their own rows, only readable columns; other projects see nothing', async () => {
    const a = listen(await userClient(p, U1), 'a');
    const b = listen(await userClient(p, U2), 'b');
    const anon = listen(client(p), 'anon');
    const foreign = listen(await userClient(other, U1), 'foreign');
    for (const l of [a, b, anon, foreign]) assert.equal((await subscribed(l.ch)).status, 'SUBSCRIBED');
    const t0 = Date.now();
    await sql(p, `insert into public.notes (user_id, body) values ('${U1}', 'for one'), ('${U2}', 'for two')`);
    await until(() => a.got.length && b.got.length, 'inserts');
    const latency = Date.now() - t0;
    await sql(p, `update public.notes set body = 'changed' where user_id = '${U1}'`);
    await until(() => a.got.length === 2, 'update');
    await sleep(300);
    assert.deepEqual(a.got.map((m) => [m.eventType, m.new.body]), [['INSERT', 'for one'], ['UPDATE', 'changed']]);
    assert.deepEqual(b.got.map((m) => [m.eventType, m.new.body]), [['INSERT', 'for two']]);
    assert.equal(a.got[0].new.user_id, U1);
    assert.equal(typeof a.got[0].new.id, 'number');
    assert.equal(a.got[0].new.done, false);
    assert.ok(!('secret' in a.got[0].new), 'a column the role may not read is not sent');
    assert.equal(a.got[1].old.id, a.got[0].new.id);
    assert.equal(a.got[0].schema, 'public');
    assert.equal(a.got[0].table, 'notes');
    assert.ok(!Number.isNaN(Date.parse(a.got[0].commit_timestamp)));
    assert.deepEqual(anon.got, [], 'anon may not select notes');
    assert.deepEqual(foreign.got, [], 'another project sees nothing');
    console.log(`# insert-to-delivery latency: ${latency} ms`);
  });

  it('filters: eq, neq, lt, lte, gt, gte, in; events', async () => {
    const c = await userClient(p, U1);
    const cases: [string, number[]][] = [
      ['n=eq.2', [2]], ['n=neq.2', [1, 3]], ['n=lt.2', [1]], ['n=lte.2', [1, 2]],
      ['n=gt.2', [3]], ['n=gte.2', [2, 3]], ['n=in.(1,3)', [1, 3]], ['done=eq.true', [3]],
    ];
    const ls = cases.map(([filter], i) => listen(c, `f${i}`, { filter, event: 'INSERT' }));
    const deletes = listen(c, 'deletes', { event: 'DELETE' });
    for (const l of [...ls, deletes]) assert.equal((await subscribed(l.ch)).status, 'SUBSCRIBED');
    await sql(p, `insert into public.notes (user_id, n, done) values ('${U1}', 1, false), ('${U1}', 2, false), ('${U1}', 3, true)`);
    await until(() => ls.every((l, i) => l.got.length === cases[i][1].length), 'filtered inserts');
    await sql(p, `delete from public.notes where n = 3`);
    await until(() => deletes.got.length, 'delete');
    await sleep(200);
    cases.forEach(([filter, want], i) => assert.deepEqual(ls[i].got.map((m) => m.new.n), want, filter));
    assert.equal(deletes.got.length, 1);
    assert.deepEqual(Object.keys(deletes.got[0].old), ['id'], 'a delete carries the primary key only');

    const system: any[] = [];
    const bad = await subscribed(c.channel('bad').on('postgres_changes' as any, { event: '*', schema: 'public', table: 'notes', filter: 'n=like.x' }, () => {})
      .on('system', {}, (m) => system.push(m)));
    assert.equal(bad.status, 'SUBSCRIBED'); // as at Supabase: the join succeeds, a system message reports the error
    await until(() => system.length, 'system message');
    assert.deepEqual(system[0], { extension: 'postgres_changes', status: 'error', message: 'Error parsing `filter` params: n=like.x', channel: 'bad' });
  });

  it('a slot exists only while there are subscribers, and a pause drops it', async () => {
    await closeAll();
    const db = (await loadRuntime(p.ref))!.db_name;
    const admin = await adminClient();
    const slots = async () => Number((await admin.query('select count(*) from pg_replication_slots where database = $1', [db])).rows[0].count);
    try {
      await waitFor(async () => await slots() === 0, 'no subscribers, no slot');
      const c = await userClient(p, U1);
      assert.equal((await subscribed(listen(c, 'slot').ch)).status, 'SUBSCRIBED');
      assert.equal(await slots(), 1);
      await c.removeAllChannels();
      await waitFor(async () => await slots() === 0, 'slot dropped with the last subscriber');
      const c2 = await userClient(p, U2);
      assert.equal((await subscribed(listen(c2, 'slot2').ch)).status, 'SUBSCRIBED');
      assert.equal(await slots(), 1);
      const pause = await http('POST', `/v1/projects/${p.ref}/pause`, { token: p.owner.token });
      assert.ok(pause.status < 300, JSON.stringify(pause.body));
      await waitForStatus(p.owner.token, p.ref, 'INACTIVE');
      await waitFor(async () => await slots() === 0, 'slot dropped by the pause');
    } finally {
      await admin.end();
    }
  });
});

async function waitFor(fn: () => Promise<boolean>, what: string, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}
