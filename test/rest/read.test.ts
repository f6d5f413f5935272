// Reads through raw HTTP and supabase-js: select, rename, cast, JSON paths, every filter operator, not/any/all,
// or/and trees, order, limit/offset, Range and Content-Range, counts.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
let db: SupabaseClient;
before(async () => {
  p = await fixture();
  db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
});

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);

describe('select', () => {
  test('all columns, rename, cast, json paths', async () => {
    const r = await rest(p, 'GET', '/books?select=id,name:title,pages::text,b:data->a->>b,n:data->n&id=eq.1');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(r.body, [{ id: 1, name: 'A Wizard of Earthsea', pages: '183', b: 'x', n: 1 }]);
    const all = await rest(p, 'GET', '/authors?order=id');
    assert.deepEqual(all.body[0], { id: 1, name: 'Ursula', country: 'US' });
    assert.equal(all.headers.get('content-range'), '0-3/*');
  });

  test('supabase-js select with filters', async () => {
    const { data, error } = await db.from('books').select('id, title').gt('pages', 300).order('id');
    assert.equal(error, null);
    assert.deepEqual(ids(data!), [3, 7]);
  });

  test('unknown column is PostgreSQL 42703 as 400', async () => {
    const r = await rest(p, 'GET', '/books?select=nope');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, '42703');
    assert.equal(r.body.message, 'column books.nope does not exist');
  });

  test('unknown table is PGRST205 with a hint', async () => {
    const r = await rest(p, 'GET', '/bookz');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { code: 'PGRST205', details: null, hint: "Perhaps you meant the table 'public.books'", message: "Could not find the table 'public.bookz' in the schema cache" });
  });
});

describe('filters', () => {
  const cases: [string, number[]][] = [
    ['id=eq.2', [2]], ['id=neq.2', [1, 3, 4, 5, 6, 7]], ['pages=gt.300', [3, 7]], ['pages=gte.304', [3, 7]],
    ['pages=lt.165', [2]], ['pages=lte.165', [2, 6]], ['title=like.*Earth*', [1]], ['title=ilike.*the*', [2, 3, 5]],
    ['title=match.^The', [2, 3, 5]], ['title=imatch.^the', [2, 3, 5]], ['id=in.(1,3,5)', [1, 3, 5]], ['price=is.null', [6]],
    ['price=not.is.null', [1, 2, 3, 4, 5, 7]], ['co_author_id=isdistinct.2', [1, 3, 4, 5, 6, 7]],
    ['body=fts.winter', [3, 7]], ['body=fts(english).winter', [3, 7]], ['body=plfts.winter night', [7]], ['body=phfts.winter night', [7]],
    ['body=wfts.winter -night', [3]], ['tags=cs.{classic}', [1, 3, 7]], ['tags=cd.{scifi,humor}', [4, 5, 6]], ['tags=ov.{humor,fantasy}', [1, 2, 5]],
    ['id=not.in.(1,2,3,4,5)', [6, 7]], ['title=like(any).{*Solaris*,*Cities*}', [4, 6]], ['title=like(all).{The*,*of*}', [2, 3]],
    ['id=eq(any).{1,2}', [1, 2]], ['id=not.eq(any).{1,2}', [3, 4, 5, 6, 7]], ['data->>n=eq.3', [3]], ['data->a->>b=eq.y', [2]],
    ['or=(id.eq.1,pages.gt.310)', [1, 7]], ['or=(id.eq.1,and(pages.gt.200,pages.lt.300))', [1, 4, 5]],
    ['not.or=(id.lt.3,id.gt.5)', [3, 4, 5]], ['and=(id.gt.1,or(title.like.*Solaris*,title.like.*Cities*))', [4, 6]],
    ['or=(title.eq."Solaris",title.in.("Invisible Cities","x,y"))', [4, 6]], ['published=gte.1970-01-01', [2, 6, 7]],
    ['id=gt.2&id=lt.5', [3, 4]], ['author_id=eq.1&or=(pages.lt.170,pages.gt.300)', [2, 3]],
  ];
  test('operator matrix', async () => {
    for (const [q, expected] of cases) {
      const r = await rest(p, 'GET', `/books?select=id&order=id&${q.replace(/ /g, '%20')}`);
      assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(ids(r.body), expected, q);
    }
  });

  test('ranges on range columns', async () => {
    const { sql } = await import('../helpers/platform.ts');
    await sql(p, `create table if not exists slots (id int primary key, during int4range); insert into slots values (1, '[1,5)'), (2, '[5,10)'), (3, '[20,30)') on conflict do nothing; grant select on slots to anon;`);
    const q = async (f: string) => ids((await rest(p, 'GET', `/slots?select=id&order=id&${f}`)).body);
    assert.deepEqual(await q('during=sl.[10,20)'), [1, 2]);
    assert.deepEqual(await q('during=sr.[10,20)'), [3]);
    assert.deepEqual(await q('during=adj.[10,20)'), [2, 3]);
    assert.deepEqual(await q('during=nxr.[6,8)'), [1]);
    assert.deepEqual(await q('during=nxl.[6,8)'), [3]);
    assert.deepEqual(await q('during=ov.[4,6)'), [1, 2]);
  });

  test('is true/false/unknown', async () => {
    const { sql } = await import('../helpers/platform.ts');
    await sql(p, `create table if not exists flags (id int primary key, on_ boolean); insert into flags values (1, true), (2, false), (3, null) on conflict do nothing; grant select on flags to anon;`);
    for (const [f, e] of [['is.true', [1]], ['is.false', [2]], ['is.unknown', [3]], ['not.is.true', [2, 3]]] as const) {
      assert.deepEqual(ids((await rest(p, 'GET', `/flags?select=id&order=id&on_=${f}`)).body), e, f);
    }
  });
});

describe('order, limit, offset, ranges, counts', () => {
  test('order with nulls and multiple keys', async () => {
    const r = await rest(p, 'GET', '/books?select=id&order=price.desc.nullsfirst,id');
    assert.deepEqual(ids(r.body), [6, 7, 3, 5, 4, 1, 2]);
    const r2 = await rest(p, 'GET', '/books?select=id&order=author_id.desc,pages.asc');
    assert.deepEqual(ids(r2.body), [6, 7, 4, 5, 2, 1, 3]);
  });

  test('limit and offset with Content-Range', async () => {
    const r = await rest(p, 'GET', '/books?select=id&order=id&limit=2&offset=2');
    assert.deepEqual(ids(r.body), [3, 4]);
    assert.equal(r.headers.get('content-range'), '2-3/*');
    assert.equal(r.status, 200);
  });

  test('count=exact gives 206 for a partial page and the total', async () => {
    const r = await rest(p, 'GET', '/books?select=id&order=id&limit=2', { headers: { Prefer: 'count=exact' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), '0-1/7');
    assert.equal(r.headers.get('preference-applied'), 'count=exact');
    const full = await rest(p, 'GET', '/books?select=id&author_id=eq.1', { headers: { Prefer: 'count=exact' } });
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('content-range'), '0-2/3');
  });

  test('Range header', async () => {
    const r = await rest(p, 'GET', '/books?select=id&order=id', { headers: { Range: '1-3', 'Range-Unit': 'items' } });
    assert.deepEqual(ids(r.body), [2, 3, 4]);
    assert.equal(r.headers.get('content-range'), '1-3/*');
    const bad = await rest(p, 'GET', '/books', { headers: { Range: '5-1' } });
    assert.equal(bad.status, 416);
    assert.equal(bad.body.code, 'PGRST103');
  });

  test('offset past the end with a count is 416', async () => {
    const r = await rest(p, 'GET', '/books?offset=100', { headers: { Prefer: 'count=exact' } });
    assert.equal(r.status, 416);
    assert.deepEqual(r.body, { code: 'PGRST103', details: 'An offset of 100 was requested, but there are only 7 rows.', hint: null, message: 'Requested range not satisfiable' });
  });

  test('empty result: */0 and */*', async () => {
    const r = await rest(p, 'GET', '/books?id=eq.999', { headers: { Prefer: 'count=exact' } });
    assert.deepEqual(r.body, []);
    assert.equal(r.headers.get('content-range'), '*/0');
  });

  test('planned and estimated counts', async () => {
    const planned = await rest(p, 'GET', '/books?select=id&limit=1', { headers: { Prefer: 'count=planned' } });
    assert.match(planned.headers.get('content-range')!, /^0-0\/\d+$/);
    const est = await rest(p, 'GET', '/books?select=id&limit=1', { headers: { Prefer: 'count=estimated' } });
    assert.equal(est.headers.get('content-range'), '0-0/7');
  });

  test('supabase-js range and count', async () => {
    const { data, count, error } = await db.from('books').select('id', { count: 'exact' }).order('id').range(0, 2);
    assert.equal(error, null);
    assert.deepEqual(ids(data!), [1, 2, 3]);
    assert.equal(count, 7);
    const head = await db.from('books').select('*', { count: 'exact', head: true });
    assert.equal(head.count, 7);
    assert.equal(head.data, null);
  });
});

describe('media types', () => {
  test('single object', async () => {
    const r = await rest(p, 'GET', '/books?select=id,title&id=eq.4', { headers: { Accept: 'application/vnd.pgrst.object+json' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { id: 4, title: 'Solaris' });
    const many = await rest(p, 'GET', '/books?select=id', { headers: { Accept: 'application/vnd.pgrst.object+json' } });
    assert.equal(many.status, 406);
    assert.deepEqual(many.body, { code: 'PGRST116', details: 'The result contains 7 rows', hint: null, message: 'Cannot coerce the result to a single JSON object' });
    const { data } = await db.from('books').select('id').eq('id', 5).single();
    assert.deepEqual(data, { id: 5 });
    const none = await db.from('books').select('id').eq('id', 500).maybeSingle();
    assert.equal(none.data, null);
    assert.equal(none.error, null);
  });

  test('csv and nulls=stripped', async () => {
    const r = await rest(p, 'GET', '/authors?order=id&id=gt.2', { headers: { Accept: 'text/csv' } });
    assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(r.body, 'id,name,country\n3,Italo,IT\n4,Nobody,');
    const s = await rest(p, 'GET', '/authors?id=eq.4', { headers: { Accept: 'application/vnd.pgrst.array+json;nulls=stripped' } });
    assert.deepEqual(s.body, [{ id: 4, name: 'Nobody' }]);
  });

  test('unsupported Accept is 406 PGRST107', async () => {
    const r = await rest(p, 'GET', '/authors', { headers: { Accept: 'image/png' } });
    assert.equal(r.status, 406);
    assert.deepEqual(r.body, { code: 'PGRST107', details: null, hint: null, message: 'None of these media types are available: image/png' });
  });

  test('Accept-Profile outside the exposed schemas is 406 PGRST106', async () => {
    const r = await rest(p, 'GET', '/authors', { headers: { 'Accept-Profile': 'auth' } });
    assert.equal(r.status, 406);
    assert.deepEqual(r.body, { code: 'PGRST106', details: null, hint: 'Only the following schemas are exposed: public', message: 'Invalid schema: auth' });
  });

  test('HEAD', async () => {
    const r = await rest(p, 'HEAD', '/books', { headers: { Prefer: 'count=exact' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-range'), '0-6/7');
  });
});

describe('computed fields', () => {
  test('a function of the row is selectable, filterable and orderable as a column', async () => {
    const { sql } = await import('../helpers/platform.ts');
    await sql(p, `create or replace function label(b books) returns text language sql stable as $$ select b.title || ' (' || b.pages || ')' $$;
      grant execute on function label(books) to anon;`);
    const r = await rest(p, 'GET', '/books?select=id,label&label=like.*Solaris*&order=label');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, [{ id: 4, label: 'Solaris (204)' }]);
    const star = await rest(p, 'GET', '/books?id=eq.4');
    assert.equal('label' in star.body[0], false, 'not part of *');
  });
});
