// Two Loam API processes: a key deleted, a signing key revoked or legacy keys turned off through one process
// stop working on the other as soon as its NOTIFY arrives (the cached keyring and the verified-token cache are
// both dropped), not after a cache lifetime. Functions take the new keys as Supabase's gateway does.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, http, loam, sql, type Project } from '../helpers/platform.ts';
import { startChildLoam, type ChildLoam } from '../resilience/child-loam.ts';
import { configure } from '../auth/helpers.ts';
import { deploy, invoke } from '../functions/helpers.ts';

let p: Project;
let child: ChildLoam;
before(async () => {
  p = await createProject();
  await configure(p, { mailer_autoconfirm: true });
  await sql(p, 'create table items (id int primary key); grant select on items to anon, authenticated, service_role; insert into items values (1)');
  child = await startChildLoam('api', { DATABASE_URL: (await loam()).databaseUrl });
});
after(async () => { await child?.stop(); });

const onChild = (headers: Record<string, string>) => fetch(`${child.url}/project/${p.ref}/rest/v1/items`, { headers });

/** How long until the other process refuses (ms), polling every 10 ms for up to 2 s. */
async function refusedWithin(headers: Record<string, string>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < 2000) {
    if ((await onChild(headers)).status === 401) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('still accepted after 2 s');
}

test('a deleted API key, a revoked signing key and disabled legacy keys stop on the other process within its NOTIFY', async (t) => {
  const made = await http('POST', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token, body: { type: 'secret', name: 'backend' } });
  const key = made.body.api_key;
  assert.equal((await onChild({ apikey: key })).status, 200, child.output());
  await http('DELETE', `/v1/projects/${p.ref}/api-keys/${made.body.id}`, { token: p.owner.token });
  const ms = await refusedWithin({ apikey: key });
  t.diagnostic(`deleted key refused by the other process after ${ms} ms`);
  assert.ok(ms < 1000, `took ${ms} ms`);

  const es = await http('POST', `/v1/projects/${p.ref}/config/auth/signing-keys`, { token: p.owner.token, body: { algorithm: 'ES256', status: 'in_use' } });
  assert.equal(es.status, 201);
  const pub = await http('POST', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token, body: { type: 'publishable', name: 'web_app' } });
  const { data } = await createClient(`${child.url}/project/${p.ref}`, pub.body.api_key, { auth: { persistSession: false } })
    .auth.signUp({ email: `k${crypto.randomBytes(4).toString('hex')}@example.com`, password: 'a fine password 1' });
  const session = data.session!.access_token;
  const headers = { apikey: pub.body.api_key, authorization: `Bearer ${session}` };
  assert.equal((await onChild(headers)).status, 200);
  // Rotate away from it, then revoke it: its sessions stop on the other process too.
  await http('POST', `/v1/projects/${p.ref}/config/auth/signing-keys`, { token: p.owner.token, body: { algorithm: 'RS256', status: 'in_use' } });
  assert.equal((await onChild(headers)).status, 200);
  await http('PATCH', `/v1/projects/${p.ref}/config/auth/signing-keys/${es.body.id}`, { token: p.owner.token, body: { status: 'revoked' } });
  assert.ok(await refusedWithin(headers) < 1000);

  assert.equal((await onChild({ apikey: p.anonKey })).status, 200);
  await http('PUT', `/v1/projects/${p.ref}/api-keys/legacy?enabled=false`, { token: p.owner.token });
  assert.ok(await refusedWithin({ apikey: p.anonKey }) < 1000);
});

test('functions: an API key in apikey is accepted, never as the Bearer of a verify_jwt function; a session signed with the in-use key is', async () => {
  const q = await createProject();
  await configure(q, { mailer_autoconfirm: true });
  const code = 'Deno.serve((req) => Response.json({ ok: true }));';
  assert.equal((await deploy(q, 'open', { 'index.ts': code }, { verify_jwt: false })).status, 201);
  assert.equal((await deploy(q, 'closed', { 'index.ts': code }, { verify_jwt: true })).status, 201);
  await http('POST', `/v1/projects/${q.ref}/config/auth/signing-keys`, { token: q.owner.token, body: { algorithm: 'ES256', status: 'in_use' } });
  const pub = (await http('POST', `/v1/projects/${q.ref}/api-keys?reveal=true`, { token: q.owner.token, body: { type: 'publishable', name: 'web_app' } })).body.api_key;
  const sec = (await http('POST', `/v1/projects/${q.ref}/api-keys?reveal=true`, { token: q.owner.token, body: { type: 'secret', name: 'backend' } })).body.api_key;

  assert.equal((await invoke(q, 'open', { key: pub })).status, 200);
  assert.equal((await invoke(q, 'open', { key: sec })).status, 200);
  assert.equal((await invoke(q, 'open', { key: `sb_publishable_${'n'.repeat(22)}` })).status, 401);
  const jwtOnly = await invoke(q, 'closed', { key: pub, bearer: pub });
  assert.deepEqual([jwtOnly.status, jwtOnly.json.code], [401, 'UNAUTHORIZED_INVALID_JWT']);
  const { data } = await createClient(q.url, pub, { auth: { persistSession: false } })
    .auth.signUp({ email: `f${crypto.randomBytes(4).toString('hex')}@example.com`, password: 'a fine password 1' });
  assert.equal((await invoke(q, 'closed', { key: pub, bearer: data.session!.access_token })).status, 200);
  // Another project's key is refused before the function.
  const other = (await http('POST', `/v1/projects/${p.ref}/api-keys?reveal=true`, { token: p.owner.token, body: { type: 'publishable', name: 'other_app' } })).body.api_key;
  assert.equal((await invoke(q, 'open', { key: other })).status, 401);
});
