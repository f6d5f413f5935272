// Broadcast and presence with supabase-js: two users in a room, ack and self, the REST endpoint, private
// channels authorized by realtime.messages policies, a token that expires, a project key of another project.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { loadRuntime } from '../../db/src/projects.ts';
import { signJwt } from '../../server/src/project/jwt.ts';
import { client, sleep, subscribed, until, upgradeStatus, walLevelLogical } from './helpers.ts';

const noWal = (await walLevelLogical()) ? false : 'the database server runs without wal_level=logical';

let p: Project;
let other: Project;
before(async () => { [p, other] = await Promise.all([createProject(), createProject()]); });

describe('broadcast', () => {
  it('two clients in a room see each other\'s messages, not their own unless self', async () => {
    const [a, b] = [client(p), client(p)];
    const got: Record<string, unknown[]> = { a: [], b: [] };
    const ca = a.channel('room1').on('broadcast', { event: 'msg' }, (m) => got.a.push(m.payload));
    const cb = b.channel('room1').on('broadcast', { event: 'msg' }, (m) => got.b.push(m.payload));
    assert.equal((await subscribed(ca)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(cb)).status, 'SUBSCRIBED');
    assert.equal(await ca.send({ type: 'broadcast', event: 'msg', payload: { text: 'hi from a' } }), 'ok');
    await cb.send({ type: 'broadcast', event: 'msg', payload: { text: 'hi from b' } });
    await until(() => got.a.length && got.b.length, 'both messages');
    await sleep(100);
    assert.deepEqual(got.a, [{ text: 'hi from b' }]);
    assert.deepEqual(got.b, [{ text: 'hi from a' }]);
  });

  it('binary payloads (vsn 2.0.0 binary frames) arrive as bytes', async () => {
    const [a, b] = [client(p), client(p)];
    const got: any[] = [];
    const ca = a.channel('bytes');
    const cb = b.channel('bytes').on('broadcast', { event: 'bin' }, (m) => got.push(m.payload));
    assert.equal((await subscribed(ca)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(cb)).status, 'SUBSCRIBED');
    await ca.send({ type: 'broadcast', event: 'bin', payload: new Uint8Array([1, 2, 3, 250]).buffer });
    await until(() => got.length, 'binary broadcast');
    assert.deepEqual([...new Uint8Array(got[0])], [1, 2, 3, 250]);
  });

  it('self and ack', async () => {
    const a = client(p);
    const got: unknown[] = [];
    const ch = a.channel('room2', { config: { broadcast: { self: true, ack: true } } }).on('broadcast', { event: '*' }, (m) => got.push(m));
    assert.equal((await subscribed(ch)).status, 'SUBSCRIBED');
    assert.equal(await ch.send({ type: 'broadcast', event: 'e1', payload: { n: 1 } }), 'ok');
    await until(() => got.length, 'own message');
    assert.deepEqual(got[0], { type: 'broadcast', event: 'e1', payload: { n: 1 } });
  });

  it('vsn 1.0.0 and 2.0.0 clients share a room', async () => {
    const { createClient } = await import('@supabase/supabase-js');
    const old = createClient(p.url, p.anonKey, { realtime: { vsn: '1.0.0' } as any });
    const now = client(p);
    const got: unknown[] = [];
    const c1 = old.channel('mixed').on('broadcast', { event: 'x' }, (m) => got.push(m.payload));
    const c2 = now.channel('mixed');
    assert.equal((await subscribed(c1)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(c2)).status, 'SUBSCRIBED');
    await c2.send({ type: 'broadcast', event: 'x', payload: { v: 2 } });
    await until(() => got.length, 'message across versions');
    assert.deepEqual(got, [{ v: 2 }]);
    await old.removeAllChannels();
  });

  it('REST broadcast with the service key reaches subscribers; another project\'s key is refused', async () => {
    const a = client(p);
    const got: unknown[] = [];
    const ch = a.channel('news').on('broadcast', { event: 'flash' }, (m) => got.push(m.payload));
    assert.equal((await subscribed(ch)).status, 'SUBSCRIBED');
    const body = { messages: [{ topic: 'news', event: 'flash', payload: { big: 'x'.repeat(20_000) } }] };
    const ok = await http('POST', `/project/${p.ref}/realtime/v1/api/broadcast`, { headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` }, body });
    assert.equal(ok.status, 202);
    await until(() => got.length, 'REST broadcast');
    assert.equal((got[0] as any).big.length, 20_000);
    const foreign = await http('POST', `/project/${p.ref}/realtime/v1/api/broadcast`, { headers: { apikey: other.serviceKey, authorization: `Bearer ${other.serviceKey}` }, body });
    assert.equal(foreign.status, 401);
    const none = await http('POST', `/project/${p.ref}/realtime/v1/api/broadcast`, { body });
    assert.equal(none.status, 401);
    const many = await http('POST', `/project/${p.ref}/realtime/v1/api/broadcast`, { headers: { apikey: p.serviceKey },
      body: { messages: Array.from({ length: 101 }, () => ({ topic: 'news', event: 'x', payload: {} })) } });
    assert.equal(many.status, 422);
    assert.equal(many.body.message, 'at most 100 messages per request');
    // httpSend
    const sent = await a.channel('news').httpSend('flash', { n: 2 });
    assert.deepEqual(sent, { success: true });
    await until(() => got.length === 2, 'httpSend');
  });

  it('another project\'s key cannot open a socket, and projects never share a room', async () => {
    assert.equal(await upgradeStatus(`${p.url}/realtime/v1/websocket?apikey=${other.anonKey}&vsn=1.0.0`), 403);
    assert.equal(await upgradeStatus(`${p.url}/realtime/v1/websocket?vsn=1.0.0`), 401);
    assert.equal(await upgradeStatus(`${p.url.replace(p.ref, 'zzzzzzzzzzzzzzzzzzzz')}/realtime/v1/websocket?apikey=${p.anonKey}`), 404);
    const [a, b] = [client(p), client(other)];
    const got: unknown[] = [];
    const ca = a.channel('shared-name').on('broadcast', { event: '*' }, (m) => got.push(m));
    const cb = b.channel('shared-name');
    assert.equal((await subscribed(ca)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(cb)).status, 'SUBSCRIBED');
    await cb.send({ type: 'broadcast', event: 'x', payload: {} });
    await sleep(300);
    assert.deepEqual(got, []);
  });
});

describe('presence', () => {
  it('track, presence_state, join and leave on disconnect', async () => {
    const [a, b] = [client(p), client(p)];
    const ca = a.channel('lobby', { config: { presence: { key: 'alice' } } });
    const cb = b.channel('lobby', { config: { presence: { key: 'bob' } } });
    const leaves: string[] = [];
    ca.on('presence', { event: 'sync' }, () => {}).on('presence', { event: 'leave' }, ({ key }) => leaves.push(key));
    cb.on('presence', { event: 'sync' }, () => {});
    assert.equal((await subscribed(ca)).status, 'SUBSCRIBED');
    assert.equal(await ca.track({ mood: 'happy' }), 'ok');
    assert.equal((await subscribed(cb)).status, 'SUBSCRIBED');
    await cb.track({ mood: 'calm' });
    await until(() => Object.keys(ca.presenceState()).length === 2 && Object.keys(cb.presenceState()).length === 2, 'both present');
    assert.equal((cb.presenceState() as any).alice[0].mood, 'happy');
    assert.equal((ca.presenceState() as any).bob[0].mood, 'calm');
    // Re-tracking replaces the meta.
    await cb.track({ mood: 'sleepy' });
    await until(() => (ca.presenceState() as any).bob?.length === 1 && (ca.presenceState() as any).bob[0].mood === 'sleepy', 'updated meta')
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(ca.presenceState())}`); });
    // Disconnecting cleans up.
    b.realtime.disconnect();
    await until(() => !(ca.presenceState() as any).bob, 'bob gone');
    assert.ok(leaves.includes('bob'));
  });

  it('untrack', async () => {
    const [a, b] = [client(p), client(p)];
    const ca = a.channel('lobby2', { config: { presence: { key: 'a' } } }).on('presence', { event: 'sync' }, () => {});
    const cb = b.channel('lobby2', { config: { presence: { key: 'b' } } }).on('presence', { event: 'sync' }, () => {});
    await subscribed(ca); await subscribed(cb);
    await cb.track({ here: true });
    await until(() => (ca.presenceState() as any).b, 'b present');
    await cb.untrack();
    await until(() => !(ca.presenceState() as any).b, 'b gone');
  });
});

describe('tokens and private channels', () => {
  before(async () => {
    await sql(p, `
      create policy read_room on realtime.messages for select to authenticated using (realtime.topic() = 'room:' || auth.uid()::text);
      create policy write_room on realtime.messages for insert to authenticated with check (realtime.topic() = 'room:' || auth.uid()::text);`);
  });
  let secret: string;
  before(async () => { secret = (await loadRuntime(p.ref))!.jwt_secret!; });
  // A session token as auth signs it, with the project's secret.
  const userToken = (_p: Project, sub: string, exp = Math.floor(Date.now() / 1000) + 3600) =>
    signJwt({ sub, role: 'authenticated', exp, aud: 'authenticated' }, secret);

  it('a private channel without a policy is refused; with one it joins', async () => {
    const anon = client(p);
    const refused = await subscribed(anon.channel('room:nobody', { config: { private: true } }));
    assert.equal(refused.status, 'CHANNEL_ERROR');
    assert.match(String(refused.error?.message), /Unauthorized: You do not have permissions to read from this Channel topic: room:nobody/);

    const uid = '00000000-0000-0000-0000-000000000001';
    const u = client(p);
    await u.realtime.setAuth(userToken(p, uid));
    const mine = await subscribed(u.channel(`room:${uid}`, { config: { private: true } }));
    assert.equal(mine.status, 'SUBSCRIBED');
    const theirs = await subscribed(u.channel('room:00000000-0000-0000-0000-000000000002', { config: { private: true } }));
    assert.equal(theirs.status, 'CHANNEL_ERROR');
  });

  it('a trigger the owner hangs on realtime.messages runs as the project\'s own roles, never as a privileged one', async () => {
    // Sequence values survive the rollback of the probe: the trigger records who ran it in one.
    await sql(p, `
      create sequence public.who_ran;
      create function public.record_who() returns trigger language plpgsql as $$
      begin
        perform setval('public.who_ran', (select oid::bigint from pg_roles where rolname = current_user));
        return new;
      end $$;
      grant usage, update on sequence public.who_ran to anon, authenticated, service_role;
      create trigger record_who before insert on realtime.messages for each row execute function public.record_who();`);
    const uid = '00000000-0000-0000-0000-000000000009';
    const u = client(p);
    await u.realtime.setAuth(userToken(p, uid));
    assert.equal((await subscribed(u.channel(`room:${uid}`, { config: { private: true } }))).status, 'SUBSCRIBED');
    const [row] = await sql(p, `select r.rolname, r.rolsuper, r.rolbypassrls from pg_roles r where r.oid = (select last_value from public.who_ran)`);
    assert.ok([`${p.ref}_service_role`, `${p.ref}_authenticated`].includes(row.rolname), row.rolname);
    assert.equal(row.rolsuper, false);
    await sql(p, `drop trigger record_who on realtime.messages`);
  });

  it('a token that expires closes the channel with Supabase\'s message', async () => {
    const u = client(p);
    await u.realtime.setAuth(userToken(p, '00000000-0000-0000-0000-000000000003', Math.floor(Date.now() / 1000) + 2));
    const msgs: any[] = [];
    const ch = u.channel('expiring').on('system', {}, (m) => msgs.push(m));
    assert.equal((await subscribed(ch)).status, 'SUBSCRIBED');
    await until(() => msgs.find((m) => m.status === 'error'), 'expiry message', 6000);
    assert.match(msgs.find((m) => m.status === 'error').message, /^Token has expired \d+ seconds ago$/);
    await until(() => ch.state === 'closed', 'closed channel', 3000);
  });

  it('an expired token cannot join', async () => {
    const u = client(p);
    await u.realtime.setAuth(userToken(p, '00000000-0000-0000-0000-000000000004', Math.floor(Date.now() / 1000) - 10));
    const r = await subscribed(u.channel('late'));
    assert.equal(r.status, 'CHANNEL_ERROR');
    assert.match(String(r.error?.message), /InvalidJWTToken: Token has expired/);
  });
});

describe('broadcast from the database', { skip: noWal }, () => {
  it('realtime.send() and realtime.broadcast_changes() reach the topic\'s channel', async () => {
    await sql(p, `
      create table public.rooms_log (id int primary key, room text);
      create function public.log_changed() returns trigger language plpgsql as $$
      begin
        perform realtime.broadcast_changes('log:' || coalesce(new.room, old.room), tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
        return null;
      end $$;
      create trigger log_changed after insert or update or delete on public.rooms_log for each row execute function public.log_changed();`);
    const c = client(p);
    const pub: any[] = [];
    const priv: any[] = [];
    const chPub = c.channel('from-db').on('broadcast', { event: 'hello' }, (m) => pub.push(m));
    const chPriv = c.channel('log:kitchen', { config: { private: true } }).on('broadcast', { event: '*' }, (m) => priv.push(m));
    await sql(p, `create policy read_log on realtime.messages for select to anon using (realtime.topic() like 'log:%')`);
    assert.equal((await subscribed(chPub)).status, 'SUBSCRIBED');
    assert.equal((await subscribed(chPriv)).status, 'SUBSCRIBED');
    // The stream starts in the background with the first channel: send until it arrives.
    for (let i = 0; i < 40 && !pub.length; i++) {
      await sql(p, `select realtime.send('{"n": ${i}}'::jsonb, 'hello', 'from-db', false)`);
      await sleep(200);
    }
    assert.ok(pub.length >= 1);
    assert.equal(pub[0].event, 'hello');
    assert.equal(typeof pub[0].payload.n, 'number');
    await sql(p, `insert into public.rooms_log values (1, 'kitchen')`);
    await until(() => priv.length, 'broadcast_changes');
    assert.equal(priv[0].event, 'INSERT');
    assert.deepEqual(priv[0].payload.record, { id: 1, room: 'kitchen' });
    assert.equal(priv[0].payload.operation, 'INSERT');
    assert.equal(priv[0].payload.old_record, null);
  });
});
