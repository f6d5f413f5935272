// Realtime settings through GET/PATCH /v1/projects/{ref}/config/realtime, and Supabase's replies when a limit
// is reached: payload size, channels per client, messages per second, concurrent clients, private only.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createProject, http, type Project } from '../helpers/platform.ts';
import { client, closeAll, subscribed, until, upgradeStatus } from './helpers.ts';

let p: Project;
before(async () => { p = await createProject(); });

const patch = (body: unknown) => http('PATCH', `/v1/projects/${p.ref}/config/realtime`, { token: p.owner.token, body });

describe('realtime config and limits', () => {
  it('GET shows the defaults; PATCH validates and changes', async () => {
    const got = await http('GET', `/v1/projects/${p.ref}/config/realtime`, { token: p.owner.token });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, { private_only: false, max_concurrent_users: 200, max_events_per_second: 100, max_payload_size_in_kb: 256, max_channels_per_client: 100, max_joins_per_second: 100 });
    const bad = await patch({ max_events_per_second: 0 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /max_events_per_second must be an integer between 1/);
    const stranger = await http('GET', `/v1/projects/${p.ref}/config/realtime`, { token: (await createProject()).owner.token });
    assert.equal(stranger.status, 404);
    const ok = await patch({ max_payload_size_in_kb: 1, max_channels_per_client: 2 });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.max_payload_size_in_kb, 1);
    assert.equal(ok.body.max_events_per_second, 100);
  });

  it('payload size and channels per client', async () => {
    const c = client(p);
    const ch = c.channel('big', { config: { broadcast: { ack: true } } });
    assert.equal((await subscribed(ch)).status, 'SUBSCRIBED');
    assert.equal(await ch.send({ type: 'broadcast', event: 'x', payload: { s: 'x'.repeat(100) } }), 'ok');
    assert.equal(await ch.send({ type: 'broadcast', event: 'x', payload: { s: 'x'.repeat(2000) } }), 'error');
    const rest = await http('POST', `/project/${p.ref}/realtime/v1/api/broadcast`, { headers: { apikey: p.serviceKey }, body: { messages: [{ topic: 'big', event: 'x', payload: { s: 'x'.repeat(2000) } }] } });
    assert.equal(rest.status, 413);
    assert.equal((await subscribed(c.channel('second'))).status, 'SUBSCRIBED');
    const third = await subscribed(c.channel('third'));
    assert.equal(third.status, 'CHANNEL_ERROR');
    assert.match(String(third.error?.message), /ChannelRateLimitReached: Too many channels/);
  });

  it('messages per second, concurrent clients, private only', async () => {
    await closeAll(); // the sockets of the test before
    assert.equal((await patch({ max_events_per_second: 5, max_concurrent_users: 1, max_channels_per_client: 100 })).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    const c = client(p);
    const system: any[] = [];
    const ch = c.channel('chatty').on('system', {}, (m) => system.push(m));
    assert.equal((await subscribed(ch)).status, 'SUBSCRIBED');
    // One socket per project now: a second is refused at the upgrade.
    assert.equal(await upgradeStatus(`${p.url}/realtime/v1/websocket?apikey=${p.anonKey}&vsn=1.0.0`), 429);
    for (let i = 0; i < 10; i++) await ch.send({ type: 'broadcast', event: 'x', payload: { i } });
    await until(() => system.find((m) => m.status === 'error'), 'rate limit message');
    assert.equal(system.find((m) => m.status === 'error').message, 'Too many messages per second');
    await c.removeAllChannels();
    c.realtime.disconnect();

    assert.equal((await patch({ private_only: true, max_concurrent_users: 200, max_events_per_second: 100 })).status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const r = await subscribed(client(p).channel('public-one'));
    assert.equal(r.status, 'CHANNEL_ERROR');
    assert.match(String(r.error?.message), /PrivateOnly: This project only allows private channels/);
  });
});
