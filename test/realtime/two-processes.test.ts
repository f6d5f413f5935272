// Two Loam API processes share broadcast and presence through the control database: a client on each sees
// the other's messages (a large one too, past NOTIFY's 8000 bytes) and presence; a process that stops takes
// its members' presence with it. A client of a Loam that restarts rejoins by itself and receives again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createProject, loam, sql, type Project } from '../helpers/platform.ts';
import { startChildLoam, type ChildLoam } from '../resilience/child-loam.ts';
import WebSocket from 'ws';
import { client, sleep, subscribed, until, walLevelLogical } from './helpers.ts';

const noWal = (await walLevelLogical()) ? false : 'the database server runs without wal_level=logical';

let p: Project;
let child: ChildLoam;
before(async () => {
  p = await createProject();
  await sql(p, `create table public.ticks (id bigint generated always as identity primary key, n int);
    alter table public.ticks enable row level security;
    create policy select_all on public.ticks for select to anon using (true);
    grant select on public.ticks to anon;
    alter publication supabase_realtime add table public.ticks;`);
  child = await startChildLoam('api', { DATABASE_URL: (await loam()).databaseUrl });
});
after(async () => { await child?.stop(); });

describe('two Loam processes', () => {
  it('share broadcast and presence', async () => {
    const a = client(p);
    const b = client(p, p.anonKey, `${child.url}/project/${p.ref}`);
    const got: Record<string, any[]> = { a: [], b: [] };
    const ca = a.channel('across', { config: { presence: { key: 'on-one' } } })
      .on('broadcast', { event: '*' }, (m) => got.a.push(m.payload)).on('presence', { event: 'sync' }, () => {});
    const cb = b.channel('across', { config: { presence: { key: 'on-two' } } })
      .on('broadcast', { event: '*' }, (m) => got.b.push(m.payload)).on('presence', { event: 'sync' }, () => {});
    assert.equal((await subscribed(ca)).status, 'SUBSCRIBED');
    await ca.track({ where: 'one' });
    assert.equal((await subscribed(cb)).status, 'SUBSCRIBED', child.output());
    // The second process learned the first one's presence when it started (hello/state) or since.
    await until(() => (cb.presenceState() as any)['on-one'], 'presence from process one in process two');
    await cb.track({ where: 'two' });
    await until(() => (ca.presenceState() as any)['on-two'], 'presence from process two in process one');

    await ca.send({ type: 'broadcast', event: 'x', payload: { from: 'one' } });
    await cb.send({ type: 'broadcast', event: 'x', payload: { from: 'two', big: 'y'.repeat(50_000) } });
    await until(() => got.a.length && got.b.length, 'broadcasts across processes');
    assert.deepEqual(got.b, [{ from: 'one' }]);
    assert.equal(got.a[0].from, 'two');
    assert.equal(got.a[0].big.length, 50_000);

    await child.stop();
    await until(() => !(ca.presenceState() as any)['on-two'], 'presence of the stopped process gone');
  });
});

describe('a Loam restart', () => {
  // realtime-js reconnects by itself when its socket closes. Node 22's built-in WebSocket (undici 6) never fires
  // `close` for a connection attempt that fails (nodejs/undici#3546): a client that retries while Loam is down
  // then waits forever in "connecting" — in browsers, Deno, and Node with the `ws` transport that realtime-js
  // documents for Node, the retry fails, closes, and the next one reaches the restarted Loam. So this client uses
  // `ws`, and the restart takes longer than realtime-js' first retry (1 s) on purpose.
  it('a client subscribed before the restart rejoins by itself: broadcast, presence and postgres changes', { skip: noWal }, async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, () => { const a = srv.address() as net.AddressInfo; srv.close(() => resolve(a.port)); });
    });
    const env = { DATABASE_URL: (await loam()).databaseUrl, PORT: String(port) };
    let first = await startChildLoam('api', env);
    try {
      const old = client(p, p.anonKey, `${first.url}/project/${p.ref}`, { transport: WebSocket });
      const got = { broadcast: [] as any[], changes: [] as any[] };
      let joins = 0;
      const ch = old.channel('after-restart', { config: { presence: { key: 'old' } } })
        .on('broadcast', { event: '*' }, (m) => got.broadcast.push(m.payload))
        .on('presence', { event: 'sync' }, () => {})
        .on('postgres_changes' as any, { event: 'INSERT', schema: 'public', table: 'ticks' }, (m: any) => got.changes.push(m.new));
      // The pattern Supabase documents: track on every SUBSCRIBED, which a rejoin is too.
      ch.subscribe((status) => { if (status === 'SUBSCRIBED') { joins++; void ch.track({ since: joins }); } });
      await until(() => joins === 1, 'the first join');
      await first.stop();
      await sleep(1500);
      first = await startChildLoam('api', env);
      await until(() => joins === 2, 'the old client to rejoin by itself', 20_000);

      const sent = await first.call('POST', `/project/${p.ref}/realtime/v1/api/broadcast`, {
        headers: { apikey: p.serviceKey }, body: { messages: [{ topic: 'after-restart', event: 'e', payload: { back: true } }] } });
      assert.equal(sent.status, 202);
      await until(() => got.broadcast.length, 'broadcast after the restart');
      assert.deepEqual(got.broadcast, [{ back: true }]);
      await sql(p, `insert into public.ticks (n) values (7)`);
      await until(() => got.changes.length, 'a change after the restart');
      assert.equal(got.changes[0].n, 7);
      const observer = client(p, p.anonKey, `${first.url}/project/${p.ref}`).channel('after-restart', { config: { presence: { key: 'new' } } })
        .on('presence', { event: 'sync' }, () => {});
      assert.equal((await subscribed(observer)).status, 'SUBSCRIBED');
      await observer.track({ here: true });
      await until(() => (observer.presenceState() as any).old?.[0]?.since === 2, 'the old client\'s presence, tracked again');
      await until(() => (ch.presenceState() as any).new, 'presence reaching the old client');
    } finally {
      await first.stop();
    }
  });
});
