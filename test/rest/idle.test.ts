// An idle project holds no connections for long: after REST reads, writes and a schema-change listener, every
// connection to the project's database closes by itself within the idle timeouts (pools 5 s, shared read
// connections 10 s, the NOTIFY listener LOAM_REST_LISTEN_IDLE_MS — shortened here).
import assert from 'node:assert/strict';
import { test } from 'node:test';

process.env.LOAM_REST_LISTEN_IDLE_MS = '2000';
const { adminClient, createProject, sql } = await import('../helpers/platform.ts');

test('REST connections to an idle project close by themselves', async () => {
  const p = await createProject();
  await sql(p, `create table notes (id bigint generated always as identity primary key, body text);
    grant all on notes to anon; grant usage on sequence notes_id_seq to anon`);
  const rest = (init?: RequestInit) => fetch(`${p.url}/rest/v1/notes`, {
    ...init, headers: { apikey: p.anonKey, 'content-type': 'application/json', ...init?.headers },
  });
  assert.equal((await rest({ method: 'POST', body: JSON.stringify({ body: 'hi' }) })).status, 201);
  await Promise.all(Array.from({ length: 20 }, async () => assert.equal((await rest()).status, 200)));

  const db = await adminClient();
  const count = async () => Number((await db.query(
    'select count(*) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [p.ref])).rows[0].n);
  try {
    assert.ok(await count() > 0, 'the requests opened connections');
    const until = Date.now() + 40_000;
    while (await count() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
    assert.equal(await count(), 0);
    // …and the project still answers, reconnecting on demand.
    assert.equal((await rest()).status, 200);
  } finally {
    await db.end();
  }
});
