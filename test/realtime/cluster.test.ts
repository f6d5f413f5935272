// Realtime over two Loam API processes (this test's and a child): one replication slot per project however many
// processes have subscribers, each change checked under RLS in the process of its subscriber; a reader killed
// with kill -9 is replaced and its clients' presence leaves; limits counted over both processes; a delete drops
// the slot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadRuntime } from '../../db/src/projects.ts';
import { slotNames } from '../../server/src/realtime/changes.ts';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, createProject, http, loam, sql, type Project } from '../helpers/platform.ts';
import { startChildLoam, type ChildLoam } from '../resilience/child-loam.ts';
import { client, closeAll, sleep, subscribed, until, upgradeStatus, walLevelLogical } from './helpers.ts';

const noWal = (await walLevelLogical()) ? false : 'the database server runs without wal_level=logical';
const U1 = '00000000-0000-0000-0000-0000000000b1';
const U2 = '00000000-0000-0000-0000-0000000000b2';
const TABLE = `
  create table public.items (id bigint generated always as identity primary key, owner uuid not null, label text);
  alter table public.items enable row level security;
  create policy select_own on public.items for select to authenticated using (auth.uid() = owner);
  grant select on public.items to authenticated;
  alter publication supabase_realtime add table public.items;`;

let p: Project;
let other: Project;
let child: ChildLoam;
// The child beats every 200 ms and is presumed dead 1 s after its last beat.
const childEnv = async () => ({ DATABASE_URL: (await loam()).databaseUrl, LOAM_REALTIME_HEARTBEAT_MS: '200', LOAM_REALTIME_DEAD_AFTER_MS: '1000' });
before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  await Promise.all([sql(p, TABLE), sql(other, TABLE)]);
  child = await startChildLoam('api', await childEnv());
});
after(async () => { await child?.stop(); });

const onChild = (project: Project) => `${child.url}/project/${project.ref}`;

async function userClient(project: Project, sub: string, url = project.url) {
  const secret = (await loadRuntime(project.ref))!.jwt_secret!;
  const c = client(project, project.anonKey, url);
  await c.realtime.setAuth(signJwt({ sub, role: 'authenticated', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600 }, secret));
  return c;
}

function listen(c: ReturnType<typeof client>, name: string) {
  const got: any[] = [];
  const ch = c.channel(name).on('postgres_changes' as any, { event: 'INSERT', schema: 'public', table: 'items' }, (m: any) => got.push(m.new));
  return { ch, got };
}

async function slots(project: Project): Promise<number> {
  const db = (await loadRuntime(project.ref))!.db_name;
  const admin = await adminClient();
  try { return Number((await admin.query('select count(*) from pg_replication_slots where database = $1', [db])).rows[0].count); } finally { await admin.end(); }
}

async function waitFor(fn: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

describe('realtime over two processes', { skip: noWal }, () => {
  it('one slot per project; RLS checked in each process; a reader killed with kill -9 is replaced; its presence leaves', async () => {
    // The child reads the project's WAL: its subscriber came first.
    const two = listen(await userClient(p, U2, onChild(p)), 'items');
    assert.equal((await subscribed(two.ch)).status, 'SUBSCRIBED', child.output());
    const one = listen(await userClient(p, U1), 'items');
    assert.equal((await subscribed(one.ch)).status, 'SUBSCRIBED');
    const foreign = listen(await userClient(other, U1, onChild(other)), 'items');
    assert.equal((await subscribed(foreign.ch)).status, 'SUBSCRIBED');
    assert.equal(await slots(p), 1, 'one slot for the project, whichever process its subscribers are on');
    assert.deepEqual(slotNames().filter((s) => s.includes(p.ref)), [], 'this process does not read the project');

    // Presence across the two processes, for the kill below.
    const watcher = client(p).channel('room', { config: { presence: { key: 'watcher' } } }).on('presence', { event: 'sync' }, () => {});
    const tracked = client(p, p.anonKey, onChild(p)).channel('room', { config: { presence: { key: 'on-child' } } }).on('presence', { event: 'sync' }, () => {});
    assert.equal((await subscribed(watcher)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(tracked)).status, 'SUBSCRIBED');
    await tracked.track({ here: true });
    await until(() => (watcher.presenceState() as any)['on-child'], 'presence from the child');

    await sql(p, `insert into public.items (owner, label) values ('${U1}', 'for one'), ('${U2}', 'for two')`);
    await until(() => one.got.length && two.got.length, 'changes in both processes');
    await sleep(300);
    assert.deepEqual(one.got.map((r) => r.label), ['for one'], 'user one (this process) gets only their row');
    assert.deepEqual(two.got.map((r) => r.label), ['for two'], 'user two (the child) gets only their row');
    assert.deepEqual(foreign.got, [], 'another project sees nothing');

    child.process.kill('SIGKILL');
    await until(() => !child.alive() || undefined, 'the child to die');
    // Its presence leaves (its heartbeat expired), and this process takes the stream over.
    await until(() => !(watcher.presenceState() as any)['on-child'], 'the killed process\' presence to leave', 15_000);
    await waitFor(async () => slotNames().some((s) => s.includes(p.ref)) && await slots(p) === 1, 'this process reads the project now');
    await sql(p, `insert into public.items (owner, label) values ('${U1}', 'after the kill')`);
    await until(() => one.got.length === 2, 'a change after the takeover');
    assert.equal(one.got[1].label, 'after the kill');

    // No subscriber anywhere: no slot.
    await closeAll();
    await waitFor(async () => await slots(p) === 0, 'the slot dropped with the last subscriber');
    child = await startChildLoam('api', await childEnv());
  });

  it('a delete drops the slot', async () => {
    const victim = await createProject();
    await sql(victim, TABLE);
    const l = listen(await userClient(victim, U1, onChild(victim)), 'items');
    assert.equal((await subscribed(l.ch)).status, 'SUBSCRIBED', child.output());
    assert.equal(await slots(victim), 1);
    const db = (await loadRuntime(victim.ref))!.db_name;
    const del = await http('DELETE', `/v1/projects/${victim.ref}`, { token: victim.owner.token });
    assert.ok(del.status < 300, JSON.stringify(del.body));
    const admin = await adminClient();
    try {
      await waitFor(async () => Number((await admin.query('select count(*) from pg_replication_slots where database = $1', [db])).rows[0].count) === 0, 'no slot after the delete');
      await waitFor(async () => (await admin.query('select 1 from pg_database where datname = $1', [db])).rowCount === 0, 'the database dropped');
    } finally { await admin.end(); }
  });
});

describe('limits over two processes', () => {
  const patch = (body: unknown) => http('PATCH', `/v1/projects/${p.ref}/config/realtime`, { token: p.owner.token, body });
  /** Waits for the start of a second: counters are per second, and what follows must fall in one. */
  const secondStart = async () => { while (Date.now() % 1000 > 30) await sleep(5); };
  // (The messages below need 300 ms of the second: started at its beginning they fit.)

  it('concurrent clients, joins per second and messages per second count both processes', async () => {
    await closeAll();
    assert.equal((await patch({ max_concurrent_users: 2 })).status, 200);
    await sleep(300);
    const a = client(p), b = client(p, p.anonKey, onChild(p));
    assert.equal((await subscribed(a.channel('x'))).status, 'SUBSCRIBED');
    assert.equal((await subscribed(b.channel('x'))).status, 'SUBSCRIBED', child.output());
    // One socket on each: a third is refused on either, as Supabase refuses it.
    assert.equal(await upgradeStatus(`${p.url}/realtime/v1/websocket?apikey=${p.anonKey}&vsn=1.0.0`), 429);
    assert.equal(await upgradeStatus(`${onChild(p)}/realtime/v1/websocket?apikey=${p.anonKey}&vsn=1.0.0`), 429);
    await closeAll();

    assert.equal((await patch({ max_concurrent_users: 200, max_joins_per_second: 3, max_events_per_second: 5 })).status, 200);
    await sleep(300);
    // Two joins in each process within one second: each process alone stays within 3.
    const c1 = client(p), c2 = client(p, p.anonKey, onChild(p));
    await secondStart();
    const joins = await Promise.all([
      subscribed(c1.channel('j1')), subscribed(c1.channel('j2')), subscribed(c2.channel('j3')), subscribed(c2.channel('j4')),
    ]);
    assert.ok(joins.some((j) => j.status === 'CHANNEL_ERROR' && /^ClientJoinRateLimitReached: Too many joins per second$/.test(String(j.error?.message))),
      JSON.stringify(joins.map((j) => [j.status, j.error?.message])));
    await closeAll();
    await sleep(1100);

    // Three messages from each process, then one more from the first, within one second: each process alone
    // stays within 5, together they pass it (each process learns the others' count within 100 ms).
    const s1: any[] = [], s2: any[] = [];
    const m1 = client(p).channel('chat').on('system', {}, (m) => s1.push(m));
    const m2 = client(p, p.anonKey, onChild(p)).channel('chat').on('system', {}, (m) => s2.push(m));
    assert.equal((await subscribed(m1)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(m2)).status, 'SUBSCRIBED');
    await sleep(1100);
    await secondStart();
    await Promise.all([0, 1, 2].flatMap((i) => [
      m1.send({ type: 'broadcast', event: 'x', payload: { i } }), m2.send({ type: 'broadcast', event: 'x', payload: { i } }),
    ]));
    await sleep(300);
    assert.deepEqual([...s1, ...s2], []);
    await m1.send({ type: 'broadcast', event: 'x', payload: { i: 3 } });
    await until(() => s1.find((m) => m.status === 'error'), 'the limit reached over both processes');
    assert.equal(s1.find((m) => m.status === 'error').message, 'Too many messages per second');
    await closeAll();
    assert.equal((await patch({ max_joins_per_second: 100, max_events_per_second: 100 })).status, 200);
  });
});
