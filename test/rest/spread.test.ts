// Spread on to-many relationships (`...books(title)` → arrays of the selected columns, PostgREST 13) and logic
// trees that name embedded resources (`or=(books.not.is.null,profiles.not.is.null)`), as PostgREST does them.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, type Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
let other: Project;
before(async () => { [p, other] = await Promise.all([fixture(), createProject()]); });

async function get(path: string, headers?: Record<string, string>) {
  const r = await rest(p, 'GET', path, { headers });
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r;
}

test('one-to-many spread: each selected column becomes an array, empty when there are no rows', async () => {
  const r = await get('/authors?select=name,...books!author_id(title)&order=id&books.order=id');
  assert.deepEqual(r.body, [
    { name: 'Ursula', title: ['A Wizard of Earthsea', 'The Tombs of Atuan', 'The Left Hand of Darkness'] },
    { name: 'Stanislaw', title: ['Solaris', 'The Cyberiad'] },
    { name: 'Italo', title: ['Invisible Cities', "If on a winter's night a traveler"] },
    { name: 'Nobody', title: [] },
  ]);
  const many = await get('/authors?select=id,...books!author_id(t:title,pages)&id=in.(2,4)&order=id&books.order=pages.desc');
  assert.deepEqual(many.body, [{ id: 2, t: ['The Cyberiad', 'Solaris'], pages: [295, 204] }, { id: 4, t: [], pages: [] }]);
  // a null value is kept as a null element
  const nulls = await get('/authors?select=id,...books!author_id(price)&id=eq.3&books.order=id');
  assert.deepEqual(nulls.body, [{ id: 3, price: [null, 13.5] }]);
});

test('many-to-many spread, filters and limits inside the spread', async () => {
  const r = await get('/books?select=id,...tags(tag:name)&id=in.(1,3,6)&order=id&tags.order=name');
  assert.deepEqual(r.body, [{ id: 1, tag: ['classic', 'fantasy'] }, { id: 3, tag: ['classic', 'scifi'] }, { id: 6, tag: [] }]);
  const f = await get('/authors?select=id,...books!author_id(book:id)&books.pages=gt.200&books.order=id&books.limit=1&order=id');
  assert.deepEqual(f.body, [{ id: 1, book: [3] }, { id: 2, book: [4] }, { id: 3, book: [7] }, { id: 4, book: [] }]);
});

test('nested embeds inside a to-many spread: to-one spread → arrays, non-spread → arrays of objects/arrays', async () => {
  const r = await get('/authors?select=name,...books!author_id(title,...authors!co_author_id(co_name:name))&id=eq.1&books.order=id');
  assert.deepEqual(r.body, [{ name: 'Ursula', title: ['A Wizard of Earthsea', 'The Tombs of Atuan', 'The Left Hand of Darkness'], co_name: [null, 'Stanislaw', null] }]);
  const nested = await get('/authors?select=id,...books!author_id(tags(name))&id=eq.3&books.order=id&books.tags.order=name');
  assert.deepEqual(nested.body, [{ id: 3, tags: [[], [{ name: 'classic' }]] }]);
  const deep = await get('/authors?select=id,...books!author_id(...tags(name))&id=eq.1&books.order=id&books.tags.order=name');
  assert.deepEqual(deep.body, [{ id: 1, name: [['classic', 'fantasy'], ['fantasy'], ['classic', 'scifi']] }]);
});

test('to-many spread with !inner, is.null / not.is.null and count=exact', async () => {
  const inner = await get('/authors?select=id,...books!author_id!inner(id)&order=id');
  assert.deepEqual(inner.body.map((x: { id: number[] }) => x.id.length), [3, 2, 2]);
  const none = await get('/authors?select=id:name,...books!author_id(title)&books=is.null', { Prefer: 'count=exact' });
  assert.deepEqual(none.body, [{ id: 'Nobody', title: [] }]);
  assert.equal(none.headers.get('content-range'), '0-0/1');
  const some = await get('/authors?select=name,...books!author_id(title)&books=not.is.null&books.pages=gt.300', { Prefer: 'count=exact' });
  assert.equal(some.headers.get('content-range'), '0-1/2');
  // to-one spreads honour the same filters
  const toOne = await get('/books?select=id,...authors!co_author_id(co:name)&authors=not.is.null&order=id');
  assert.deepEqual(toOne.body, [{ id: 2, co: 'Stanislaw' }, { id: 5, co: 'Italo' }]);
  const without = await get('/books?select=id,...authors!co_author_id(co:name)&authors=is.null&order=id');
  assert.deepEqual(without.body.map((x: { id: number }) => x.id), [1, 3, 4, 6, 7]);
});

test('aggregates in a to-many spread are PGRST127', async () => {
  for (const sel of ['...books!author_id(pages.sum())', '...books!author_id(count())']) {
    const r = await rest(p, 'GET', `/authors?select=name,${sel}`);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { code: 'PGRST127', message: 'Feature not implemented', details: 'Aggregates are not implemented for one-to-many or many-to-many spreads.', hint: null });
  }
});

test('supabase-js to-many spread', async () => {
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.from('authors').select('name, ...books!author_id(title)').eq('id', 2).order('title', { referencedTable: 'books' });
  assert.equal(error, null);
  assert.deepEqual(data, [{ name: 'Stanislaw', title: ['Solaris', 'The Cyberiad'] }]);
});

test('or across embeds: not.is.null / is.null on embeds inside logic trees', async () => {
  const r = await get('/authors?select=id,books!author_id(),profiles()&books.pages=gt.300&or=(books.not.is.null,profiles.not.is.null)&order=id', { Prefer: 'count=exact' });
  assert.deepEqual(r.body, [{ id: 1 }, { id: 2 }, { id: 3 }]);
  assert.equal(r.headers.get('content-range'), '0-2/3');
  const missing = await get('/authors?select=id,books!author_id(),profiles()&or=(books.is.null,profiles.is.null)&order=id');
  assert.deepEqual(missing.body, [{ id: 3 }, { id: 4 }]);
  const both = await get('/authors?select=id,books!author_id(),profiles()&not.or=(books.is.null,profiles.is.null)&order=id');
  assert.deepEqual(both.body, [{ id: 1 }, { id: 2 }]);
  const mixed = await get('/authors?select=id,...books!author_id(title)&books.pages=gt.300&or=(books.not.is.null,id.eq.2)&order=id');
  assert.deepEqual(mixed.body, [
    { id: 1, title: ['The Left Hand of Darkness'] }, { id: 2, title: [] }, { id: 3, title: ["If on a winter's night a traveler"] },
  ]);
  const toOne = await get('/books?select=id,co:authors!co_author_id(name)&and=(co.not.is.null,pages.gt.200)');
  assert.deepEqual(toOne.body, [{ id: 5, co: { name: 'Italo' } }]);
});

test('logic trees of an embedded resource, naming a nested embed', async () => {
  const r = await get('/authors?select=id,books!author_id(id)&books.or=(pages.lt.170,pages.gt.310)&id=in.(1,3)&order=id&books.order=id');
  assert.deepEqual(r.body, [{ id: 1, books: [{ id: 2 }] }, { id: 3, books: [{ id: 6 }, { id: 7 }] }]);
  const nested = await get('/authors?select=id,books!author_id(id,authors!co_author_id())&id=eq.1&books.or=(authors.not.is.null,pages.gt.300)&books.order=id');
  assert.deepEqual(nested.body, [{ id: 1, books: [{ id: 2 }, { id: 3 }] }]);
});

test('errors: another operator on an embed in a tree, an embedded column in a root tree, an embed not selected', async () => {
  const bad = await rest(p, 'GET', '/authors?select=id,books!author_id()&or=(books.eq.1,id.eq.1)');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { code: 'PGRST120', message: "Bad operator on the 'books' embedded resource", details: 'Only is null or not is null filters are allowed on embedded resources', hint: null });
  // As in PostgREST, a tree's filters name columns (or embeds) of its own resource; `books.title` is not a filter.
  const col = await rest(p, 'GET', '/authors?select=id,books!author_id(title)&or=(id.eq.1,books.title.eq.Solaris)');
  assert.equal(col.status, 400);
  assert.equal(col.body.code, 'PGRST100');
  // A name that is neither a column nor an embed is the database's undefined column.
  const unknown = await rest(p, 'GET', '/authors?select=id&or=(books.is.null,id.eq.1)');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.code, '42703');
});

test("another project's key gets 401 on these reads", async () => {
  for (const path of ['/authors?select=name,...books!author_id(title)', '/authors?select=id,books!author_id()&or=(books.is.null,id.eq.1)']) {
    const r = await rest(p, 'GET', path, { key: other.anonKey });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'PGRST301');
  }
});
