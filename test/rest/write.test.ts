// Writes: insert one and many, columns, missing=default, return=minimal|headers-only|representation, upsert
// (merge / ignore, on_conflict), PUT, PATCH, DELETE, tx=rollback, max-affected, singular writes, and errors.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { sql, type Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
let db: SupabaseClient;
before(async () => {
  p = await fixture();
  await sql(p, `create table items (id int primary key, name text not null, qty int default 5 check (qty >= 0), sku text unique);
    grant all on items to anon;`);
  db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
});

test('insert one: 201, no body by default, Content-Range */*', async () => {
  const r = await rest(p, 'POST', '/items', { body: { id: 1, name: 'one' } });
  assert.equal(r.status, 201);
  assert.equal(r.body, undefined);
  assert.equal(r.headers.get('content-range'), '*/*');
});

test('insert with return=representation and select', async () => {
  const r = await rest(p, 'POST', '/items?select=id,name', { body: { id: 2, name: 'two' }, headers: { Prefer: 'return=representation' } });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body, [{ id: 2, name: 'two' }]);
  assert.equal(r.headers.get('preference-applied'), 'return=representation');
});

test('bulk insert; keys must match', async () => {
  const r = await rest(p, 'POST', '/items', { body: [{ id: 3, name: 'a' }, { id: 4, name: 'b' }], headers: { Prefer: 'return=representation' } });
  assert.deepEqual(r.body.map((x: { qty: number }) => x.qty), [5, 5]); // columns left out get their defaults
  const bad = await rest(p, 'POST', '/items', { body: [{ id: 5, name: 'a' }, { id: 6 }] });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { code: 'PGRST102', details: null, hint: null, message: 'All object keys must match' });
});

test('missing=default fills column defaults; columns= restricts', async () => {
  const r = await rest(p, 'POST', '/items?columns=id,name,qty', {
    body: [{ id: 7, name: 'x' }, { id: 8, name: 'y', qty: 1, ignored: true }], headers: { Prefer: 'return=representation, missing=default' },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.map((x: { qty: number }) => x.qty), [5, 1]);
  assert.equal(r.headers.get('preference-applied'), 'missing=default, return=representation');
});

test('return=headers-only gives Location', async () => {
  const r = await rest(p, 'POST', '/items', { body: { id: 9, name: 'nine' }, headers: { Prefer: 'return=headers-only' } });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('location'), '/items?id=eq.9');
});

test('unknown column is 400 PGRST204; bad json is PGRST102; constraint errors map', async () => {
  const r = await rest(p, 'POST', '/items', { body: { id: 10, nope: 1 } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 'PGRST204', details: null, hint: null, message: "Could not find the 'nope' column of 'items' in the schema cache" });
  const j = await rest(p, 'POST', '/items', { body: '{"id": ', headers: { 'content-type': 'application/json' } });
  assert.equal(j.status, 400);
  assert.deepEqual(j.body, { code: 'PGRST102', details: null, hint: null, message: 'Empty or invalid json' });
  const dup = await rest(p, 'POST', '/items', { body: { id: 1, name: 'again' } });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.code, '23505');
  assert.equal(dup.body.details, 'Key (id)=(1) already exists.');
  const nn = await rest(p, 'POST', '/items', { body: { id: 11 } });
  assert.equal(nn.status, 400);
  assert.equal(nn.body.code, '23502');
  const ck = await rest(p, 'POST', '/items', { body: { id: 12, name: 'z', qty: -1 } });
  assert.equal(ck.body.code, '23514');
  const ty = await rest(p, 'POST', '/items', { body: { id: 'abc', name: 'z' } });
  assert.equal(ty.status, 400);
  assert.equal(ty.body.code, '22P02');
  const fk = await rest(p, 'POST', '/books', { body: { id: 99, title: 't', author_id: 999 } });
  assert.equal(fk.status, 409);
  assert.equal(fk.body.code, '23503');
});

test('a failed bulk insert writes nothing', async () => {
  const r = await rest(p, 'POST', '/items', { body: [{ id: 20, name: 'ok' }, { id: 1, name: 'dup' }] });
  assert.equal(r.status, 409);
  const after = await rest(p, 'GET', '/items?id=eq.20');
  assert.deepEqual(after.body, []);
});

test('upsert: merge-duplicates, ignore-duplicates, on_conflict', async () => {
  const m = await rest(p, 'POST', '/items', { body: [{ id: 1, name: 'merged' }, { id: 30, name: 'new' }], headers: { Prefer: 'resolution=merge-duplicates,return=representation' } });
  assert.equal(m.status, 201);
  assert.deepEqual(m.body.map((x: { name: string }) => x.name), ['merged', 'new']);
  assert.equal(m.headers.get('preference-applied'), 'resolution=merge-duplicates, return=representation');
  const i = await rest(p, 'POST', '/items', { body: [{ id: 1, name: 'ignored' }, { id: 31, name: 'n31' }], headers: { Prefer: 'resolution=ignore-duplicates,return=representation' } });
  assert.deepEqual(i.body.map((x: { id: number }) => x.id), [31]);
  await rest(p, 'POST', '/items', { body: { id: 40, name: 'sku', sku: 'S-1' } });
  const oc = await rest(p, 'POST', '/items?on_conflict=sku', { body: { id: 41, name: 'by sku', sku: 'S-1' }, headers: { Prefer: 'resolution=merge-duplicates,return=representation' } });
  assert.deepEqual(oc.body, [{ id: 41, name: 'by sku', qty: 5, sku: 'S-1' }]);
  const { data, error } = await db.from('items').upsert({ id: 1, name: 'via js' }).select('name');
  assert.equal(error, null);
  assert.deepEqual(data, [{ name: 'via js' }]);
});

test('PUT upserts one row by primary key', async () => {
  const r = await rest(p, 'PUT', '/items?id=eq.50', { body: { id: 50, name: 'put' }, headers: { Prefer: 'return=representation' } });
  // PostgREST v14: 201 when the PUT inserted the row (200 when it updated one).
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 50, name: 'put', qty: 5, sku: null }]);
  const again = await rest(p, 'PUT', '/items?id=eq.50', { body: { id: 50, name: 'put2', qty: 3 } });
  assert.equal(again.status, 204);
  const mismatch = await rest(p, 'PUT', '/items?id=eq.50', { body: { id: 51, name: 'x' } });
  assert.deepEqual(mismatch.body, { code: 'PGRST115', details: null, hint: null, message: 'Payload values do not match URL in primary key column(s)' });
  const nofilter = await rest(p, 'PUT', '/items?name=eq.x', { body: { id: 51, name: 'x' } });
  assert.equal(nofilter.status, 405);
  assert.equal(nofilter.body.code, 'PGRST105');
  const lim = await rest(p, 'PUT', '/items?id=eq.50&limit=1', { body: { id: 50, name: 'x' } });
  assert.equal(lim.body.code, 'PGRST114');
});

test('PATCH with filters; representation; 204 otherwise', async () => {
  const r = await rest(p, 'PATCH', '/items?id=in.(3,4)&select=id,qty', { body: { qty: 9 }, headers: { Prefer: 'return=representation' } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.sort((a: { id: number }, b: { id: number }) => a.id - b.id), [{ id: 3, qty: 9 }, { id: 4, qty: 9 }]);
  const m = await rest(p, 'PATCH', '/items?id=eq.3', { body: { name: 'three' } });
  assert.equal(m.status, 204);
  const { data, error } = await db.from('items').update({ qty: 2 }).eq('id', 3).select('qty').single();
  assert.equal(error, null);
  assert.deepEqual(data, { qty: 2 });
  const bad = await rest(p, 'PATCH', '/items?id=eq.3', { body: { nope: 1 } });
  assert.equal(bad.body.code, 'PGRST204');
});

test('DELETE with filters', async () => {
  await rest(p, 'POST', '/items', { body: [{ id: 60, name: 'd' }, { id: 61, name: 'd' }] });
  const r = await rest(p, 'DELETE', '/items?name=eq.d&select=id', { headers: { Prefer: 'return=representation' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 2);
  const none = await rest(p, 'DELETE', '/items?id=eq.60');
  assert.equal(none.status, 204);
  const { error } = await db.from('items').delete().eq('id', 9);
  assert.equal(error, null);
});

test('tx=rollback returns the result but keeps nothing', async () => {
  const r = await rest(p, 'POST', '/items', { body: { id: 70, name: 'ghost' }, headers: { Prefer: 'tx=rollback,return=representation' } });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body, [{ id: 70, name: 'ghost', qty: 5, sku: null }]);
  assert.match(r.headers.get('preference-applied')!, /tx=rollback/);
  assert.deepEqual((await rest(p, 'GET', '/items?id=eq.70')).body, []);
});

test('max-affected with handling=strict rolls back', async () => {
  await rest(p, 'POST', '/items', { body: [{ id: 80, name: 'm' }, { id: 81, name: 'm' }] });
  const r = await rest(p, 'PATCH', '/items?name=eq.m', { body: { qty: 1 }, headers: { Prefer: 'handling=strict, max-affected=1' } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 'PGRST124', details: 'The query affects 2 rows', hint: null, message: 'Query result exceeds max-affected preference constraint' });
  const rows = (await rest(p, 'GET', '/items?name=eq.m&select=qty')).body;
  assert.deepEqual(rows, [{ qty: 5 }, { qty: 5 }]);
  const ok = await rest(p, 'PATCH', '/items?id=eq.80', { body: { qty: 1 }, headers: { Prefer: 'handling=strict, max-affected=1' } });
  assert.equal(ok.status, 204);
  const inv = await rest(p, 'GET', '/items', { headers: { Prefer: 'handling=strict, bogus=1' } });
  assert.equal(inv.status, 400);
  assert.deepEqual(inv.body, { code: 'PGRST122', details: 'Invalid preferences: bogus=1', hint: null, message: 'Invalid preferences given with handling=strict' });
});

test('singular write that hits several rows is 406 and rolled back', async () => {
  const r = await rest(p, 'PATCH', '/items?name=eq.m', { body: { qty: 4 }, headers: { Prefer: 'return=representation', Accept: 'application/vnd.pgrst.object+json' } });
  assert.equal(r.status, 406);
  assert.equal(r.body.code, 'PGRST116');
  const rows = (await rest(p, 'GET', '/items?name=eq.m&select=qty&order=id')).body;
  assert.deepEqual(rows, [{ qty: 1 }, { qty: 5 }]);
});

test('CSV insert', async () => {
  const r = await rest(p, 'POST', '/items', { body: 'id,name,qty\n90,csv one,1\n91,"csv, two",NULL', headers: { 'content-type': 'text/csv', Prefer: 'return=representation' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.map((x: { name: string; qty: number | null }) => [x.name, x.qty]), [['csv one', 1], ['csv, two', null]]);
});

test('unsupported method is 405 PGRST117', async () => {
  const q = await rest(p, 'PROPFIND', '/items');
  assert.equal(q.status, 405);
  assert.deepEqual(q.body, { code: 'PGRST117', details: null, hint: null, message: 'Unsupported HTTP method: PROPFIND' });
});

test('limited PATCH and DELETE (limit with order)', async () => {
  await rest(p, 'POST', '/items', { body: [{ id: 100, name: 'lim' }, { id: 101, name: 'lim' }, { id: 102, name: 'lim' }] });
  const u = await rest(p, 'PATCH', '/items?name=eq.lim&order=id.desc&limit=2&select=id', { body: { qty: 0 }, headers: { Prefer: 'return=representation' } });
  assert.deepEqual(u.body.map((x: { id: number }) => x.id).sort(), [101, 102]);
  const d = await rest(p, 'DELETE', '/items?name=eq.lim&order=id&limit=1&select=id', { headers: { Prefer: 'return=representation' } });
  assert.deepEqual(d.body, [{ id: 100 }]);
  assert.deepEqual((await rest(p, 'GET', '/items?name=eq.lim&select=id,qty&order=id')).body, [{ id: 101, qty: 0 }, { id: 102, qty: 0 }]);
});
