// RPC: POST and GET, overloads, scalar / setof / table / composite returns with filters, variadic, single JSON
// argument, response.headers and response.status, RAISE 'PGRST' and PTxxx, read-only GET, and the errors.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import type { Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
before(async () => { p = await fixture(); });

test('scalar function by POST and GET, with overloads', async () => {
  const post = await rest(p, 'POST', '/rpc/add', { body: { a: 1, b: 2 } });
  assert.equal(post.status, 200);
  assert.equal(post.body, 3);
  const three = await rest(p, 'POST', '/rpc/add', { body: { a: 1, b: 2, c: 3 } });
  assert.equal(three.body, 6);
  const get = await rest(p, 'GET', '/rpc/add?a=40&b=2');
  assert.equal(get.body, 42);
});

test('setof table function with filters, order, limit and count', async () => {
  const r = await rest(p, 'GET', '/rpc/books_by?author=1&select=id,title&pages=gt.170&order=id.desc', { headers: { Prefer: 'count=exact' } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.map((b: { id: number }) => b.id), [3, 1]);
  assert.equal(r.headers.get('content-range'), '0-1/2');
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.rpc('books_by', { author: 2 }).select('title').order('id').limit(1);
  assert.equal(error, null);
  assert.deepEqual(data, [{ title: 'Solaris' }]);
  const embed = await rest(p, 'POST', '/rpc/books_by?select=id,authors!author_id(name)&limit=1&order=id', { body: { author: 3 } });
  assert.deepEqual(embed.body, [{ id: 6, authors: { name: 'Italo' } }]);
});

test('returns table(...) and a single composite', async () => {
  const t = await rest(p, 'GET', '/rpc/author_stats?order=author_id');
  assert.deepEqual(t.body, [{ author_id: 1, n: 3 }, { author_id: 2, n: 2 }, { author_id: 3, n: 2 }]);
  const one = await rest(p, 'POST', '/rpc/first_book?select=id,title', { body: {} });
  assert.deepEqual(one.body, { id: 1, title: 'A Wizard of Earthsea' });
});

test('void returns 204; json argument; single unnamed json parameter; variadic', async () => {
  const v = await rest(p, 'POST', '/rpc/noop', { body: {} });
  assert.equal(v.status, 204);
  const e = await rest(p, 'POST', '/rpc/echo', { body: { payload: { x: [1, 2] } } });
  assert.deepEqual(e.body, { x: [1, 2] });
  const w = await rest(p, 'POST', '/rpc/whole', { body: { any: 'thing', n: 1 } });
  assert.deepEqual(w.body, { any: 'thing', n: 1 });
  const sum = await rest(p, 'POST', '/rpc/total', { body: { nums: [1, 2, 3] } });
  assert.equal(sum.body, 6);
  const sumGet = await rest(p, 'GET', '/rpc/total?nums=4&nums=5');
  assert.equal(sumGet.body, 9);
});

test('response.status and response.headers set by the function', async () => {
  const r = await rest(p, 'POST', '/rpc/teapot', { body: {} });
  assert.equal(r.status, 418);
  assert.equal(r.headers.get('x-brew'), 'earl grey');
});

test("RAISE SQLSTATE 'PGRST' controls status, body and headers; PTxxx sets the status", async () => {
  const r = await rest(p, 'POST', '/rpc/fail_pgrst', { body: {} });
  assert.equal(r.status, 402);
  assert.equal(r.headers.get('x-powered-by'), 'Nerd Rage');
  assert.deepEqual(r.body, { code: '123', message: 'Payment Required', details: 'Quota exceeded', hint: 'Upgrade your plan' });
  const pt = await rest(p, 'POST', '/rpc/fail_pt', { body: {} });
  assert.equal(pt.status, 409);
  assert.equal(pt.body.code, 'PT409');
  const plain = await rest(p, 'POST', '/rpc/fail_plain', { body: {} });
  assert.equal(plain.status, 400);
  assert.deepEqual(plain.body, { code: 'P0001', details: null, hint: 'a hint', message: 'plain failure' });
});

test('GET runs read-only: a writing function fails with 405 (25006); POST works', async () => {
  const g = await rest(p, 'GET', '/rpc/bump?label=x');
  assert.equal(g.status, 405);
  assert.equal(g.body.code, '25006');
  const ok = await rest(p, 'POST', '/rpc/bump', { body: { label: 'y' } });
  assert.equal(ok.status, 200);
  assert.equal(typeof ok.body, 'number');
});

test('unknown function and unknown arguments are 404 PGRST202', async () => {
  const r = await rest(p, 'POST', '/rpc/nope', { body: { a: 1 } });
  assert.equal(r.status, 404);
  assert.equal(r.body.code, 'PGRST202');
  assert.equal(r.body.message, 'Could not find the function public.nope(a) in the schema cache');
  assert.equal(r.body.details, 'Searched for the function public.nope with parameter a or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.');
  const args = await rest(p, 'POST', '/rpc/add', { body: { x: 1 } });
  assert.equal(args.status, 404);
  assert.equal(args.body.message, 'Could not find the function public.add(x) in the schema cache');
});

test('unsupported method on rpc is 405 PGRST101', async () => {
  const r = await rest(p, 'DELETE', '/rpc/add');
  assert.equal(r.status, 405);
  assert.deepEqual(r.body, { code: 'PGRST101', details: null, hint: null, message: 'Cannot use the DELETE method on RPC' });
});

test('supabase-js rpc', async () => {
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.rpc('add', { a: 2, b: 5 });
  assert.equal(error, null);
  assert.equal(data, 7);
  const get = await db.rpc('add', { a: 1, b: 1 }, { get: true });
  assert.equal(get.data, 2);
});

test('bad response GUCs are PGRST111 / PGRST112; a malformed RAISE PGRST is PGRST121', async () => {
  const { sql } = await import('../helpers/platform.ts');
  await sql(p, `
    create function bad_headers() returns int language plpgsql as $$ begin perform set_config('response.headers', '{"a":1}', true); return 1; end $$;
    create function bad_status() returns int language plpgsql as $$ begin perform set_config('response.status', 'teapot', true); return 1; end $$;
    create function bad_raise() returns int language plpgsql as $$ begin raise sqlstate 'PGRST' using message = 'not json'; end $$;
    create function twin(a int, b text default 'x') returns int language sql as 'select 1';
    create function twin(a int, c int default 1) returns int language sql as 'select 2';
    grant execute on all functions in schema public to anon;`);
  const h = await rest(p, 'POST', '/rpc/bad_headers', { body: {} });
  assert.equal(h.status, 500);
  assert.deepEqual(h.body, { code: 'PGRST111', details: null, hint: null, message: 'response.headers guc must be a JSON array composed of objects with a single key and a string value' });
  const s = await rest(p, 'POST', '/rpc/bad_status', { body: {} });
  assert.equal(s.body.code, 'PGRST112');
  const r = await rest(p, 'POST', '/rpc/bad_raise', { body: {} });
  assert.equal(r.status, 500);
  assert.equal(r.body.code, 'PGRST121');
  assert.equal(r.body.details, "Invalid JSON value for MESSAGE: 'not json'");
  const amb = await rest(p, 'POST', '/rpc/twin', { body: { a: 1 } });
  assert.equal(amb.status, 300);
  assert.equal(amb.body.code, 'PGRST203');
  assert.equal(amb.body.message, 'Could not choose the best candidate function between: public.twin(a => integer, b => text), public.twin(a => integer, c => integer)');
  const ok = await rest(p, 'POST', '/rpc/twin', { body: { a: 1, c: 5 } });
  assert.equal(ok.body, 2);
});

test('max-affected with handling=strict on a function that returns one row is PGRST128', async () => {
  const r = await rest(p, 'POST', '/rpc/add', { body: { a: 1, b: 2 }, headers: { Prefer: 'handling=strict, max-affected=1' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'PGRST128');
});

test('a body over the limit is 413; invalid JSON is PGRST102', async () => {
  const big = await rest(p, 'POST', '/rpc/echo', { body: JSON.stringify({ payload: 'x'.repeat(11 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
  assert.equal(big.status, 413);
  const bad = await rest(p, 'POST', '/rpc/echo', { body: '{"payload":', headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { code: 'PGRST102', details: null, hint: null, message: 'Empty or invalid json' });
});
