// API keys: anon and service_role JWTs signed with the project's own secret; rotation makes the old ones fail
// at once, in the data plane's verification and over HTTP on /rest/v1.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { cachedRuntime } from '../../db/src/projects.ts';
import { identifyHeaders } from '../../server/src/project/keys.ts';
import { adminClient, createProject, http, sql } from '../helpers/platform.ts';

function decode(jwt: string) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), claims: JSON.parse(Buffer.from(p, 'base64url').toString()) };
}

function verifies(jwt: string, secret: string): boolean {
  const [h, p, s] = jwt.split('.');
  return crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url') === s;
}

async function secretOf(ref: string): Promise<string> {
  const db = await adminClient();
  try {
    const { rows } = await db.query(
      'select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1', [ref]);
    return rows[0].jwt_secret;
  } finally {
    await db.end();
  }
}

/** What the data plane decides for a request presenting `key`, with the runtime it would use right now. */
async function dataPlaneRole(ref: string, key: string): Promise<string> {
  const runtime = (await cachedRuntime(ref))!;
  return identifyHeaders({ apikey: key }, runtime).role;
}

test('api-keys: anon and service_role JWTs with the role claim, signed with the project\'s secret', async () => {
  const p = await createProject();
  const res = await http('GET', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token });
  assert.equal(res.status, 200);
  const byName = Object.fromEntries(res.body.map((k: { name: string; api_key: string }) => [k.name, k]));
  assert.deepEqual(Object.keys(byName).sort(), ['anon', 'service_role']);
  const secret = await secretOf(p.ref);
  for (const role of ['anon', 'service_role']) {
    const { header, claims } = decode(byName[role].api_key);
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    assert.equal(claims.role, role);
    assert.equal(claims.ref, p.ref);
    assert.ok(claims.exp > Date.now() / 1000 + 365 * 24 * 3600);
    assert.ok(verifies(byName[role].api_key, secret), `${role} key is signed with the project's secret`);
    assert.equal(byName[role].type, 'legacy');
  }
  // Another project has another secret: its keys do not verify here.
  const q = await createProject();
  assert.ok(!verifies(q.anonKey, secret));
  assert.equal(await dataPlaneRole(p.ref, p.serviceKey), 'service_role');
  await assert.rejects(dataPlaneRole(p.ref, q.serviceKey), (err: Error & { reason?: string }) => err.reason === 'bad_signature');
  const foreign = await fetch(`${p.url}/rest/v1/`, { headers: { apikey: q.serviceKey, authorization: `Bearer ${q.serviceKey}` } });
  assert.equal(foreign.status, 401);
});

test('rotation: new keys work, the old ones stop working at once', async () => {
  const p = await createProject();
  await sql(p, 'create table items (id int primary key); insert into items values (1)');
  const before = await secretOf(p.ref);
  const served = await fetch(`${p.url}/rest/v1/items`, { headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` } });
  assert.equal(served.status, 200);
  assert.equal(await dataPlaneRole(p.ref, p.anonKey), 'anon');
  assert.equal(await dataPlaneRole(p.ref, p.serviceKey), 'service_role');

  const res = await http('POST', `/v1/projects/${p.ref}/api-keys/rotate`, { token: p.owner.token });
  assert.equal(res.status, 200);
  const fresh = Object.fromEntries(res.body.map((k: { name: string; api_key: string }) => [k.name, k.api_key]));
  assert.notEqual(fresh.anon, p.anonKey);
  assert.notEqual(fresh.service_role, p.serviceKey);
  const after = await secretOf(p.ref);
  assert.notEqual(after, before);
  assert.ok(verifies(fresh.anon, after));

  // No waiting: the very next data-plane decision uses the new secret.
  await assert.rejects(dataPlaneRole(p.ref, p.anonKey), (err: Error & { reason?: string }) => err.reason === 'bad_signature');
  await assert.rejects(dataPlaneRole(p.ref, p.serviceKey), (err: Error & { reason?: string }) => err.reason === 'bad_signature');
  assert.equal(await dataPlaneRole(p.ref, fresh.anon), 'anon');
  assert.equal(await dataPlaneRole(p.ref, fresh.service_role), 'service_role');

  // And through the REST data plane over HTTP.
  for (const old of [p.anonKey, p.serviceKey]) {
    const res = await fetch(`${p.url}/rest/v1/items`, { headers: { apikey: old, authorization: `Bearer ${old}` } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, 'PGRST301');
  }
  const ok = await fetch(`${p.url}/rest/v1/items`, { headers: { apikey: fresh.service_role, authorization: `Bearer ${fresh.service_role}` } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), [{ id: 1 }]);

  const listed = await http('GET', `/v1/projects/${p.ref}/api-keys`, { token: p.owner.token });
  assert.deepEqual(listed.body.map((k: { api_key: string }) => k.api_key).sort(), [fresh.anon, fresh.service_role].sort());
});

test('rotation of a project that is not provisioned yet is 400', async () => {
  const p = await createProject();
  const young = await createProject(p.owner, 'young');
  const res = { body: { ref: young.ref } };
  const db = await adminClient();
  // Put it back to COMING_UP without a secret, as a project is before its provisioning job has run.
  await db.query(`update platform_private.project_secrets set jwt_secret = null, jwt_secret_created_at = null
                  where project_id = (select id from platform.projects where ref = $1)`, [res.body.ref]);
  await db.query(`update platform.projects set status = 'COMING_UP' where ref = $1`, [res.body.ref]);
  await db.end();
  const rotate = await http('POST', `/v1/projects/${res.body.ref}/api-keys/rotate`, { token: p.owner.token });
  assert.equal(rotate.status, 400);
  assert.deepEqual(rotate.body, { message: 'cannot rotate keys of a project whose status is COMING_UP', code: 'invalid_project_state' });
  assert.deepEqual((await http('GET', `/v1/projects/${res.body.ref}/api-keys`, { token: p.owner.token })).body, []);
});
