// Resource embedding: many-to-one, one-to-many, one-to-one, many-to-many, self-reference, hints, !inner,
// spread, embedded filters/order/limit, related order, computed relationships, and the ambiguity errors.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import type { Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
before(async () => { p = await fixture(); });

test('many-to-one with a hint (two keys to authors)', async () => {
  const r = await rest(p, 'GET', '/books?select=id,author:authors!author_id(name),co:authors!co_author_id(name)&id=in.(2,3)&order=id');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { id: 2, author: { name: 'Ursula' }, co: { name: 'Stanislaw' } },
    { id: 3, author: { name: 'Ursula' }, co: null },
  ]);
  const byFk = await rest(p, 'GET', '/books?select=id,authors!books_author_id_fkey(name)&id=eq.4');
  assert.deepEqual(byFk.body, [{ id: 4, authors: { name: 'Stanislaw' } }]);
});

test('ambiguous embed is 300 PGRST201 with details and hint', async () => {
  const r = await rest(p, 'GET', '/books?select=id,authors(name)');
  assert.equal(r.status, 300);
  assert.equal(r.body.code, 'PGRST201');
  assert.equal(r.body.message, "Could not embed because more than one relationship was found for 'books' and 'authors'");
  assert.deepEqual(r.body.details[0], { cardinality: 'many-to-one', embedding: 'books with authors', relationship: 'books_author_id_fkey using books(author_id) and authors(id)' });
  assert.equal(r.body.hint, "Try changing 'authors' to one of the following: 'authors!books_author_id_fkey', 'authors!books_co_author_id_fkey'. Find the desired relationship in the 'details' key.");
});

test('missing relationship is 400 PGRST200', async () => {
  const r = await rest(p, 'GET', '/authors?select=id,tags(*)');
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    code: 'PGRST200', hint: null,
    details: "Searched for a foreign key relationship between 'authors' and 'tags' in the schema 'public', but no matches were found.",
    message: "Could not find a relationship between 'authors' and 'tags' in the schema cache",
  });
});

test('one-to-many with embedded filter, order and limit', async () => {
  const r = await rest(p, 'GET', '/authors?select=name,books!author_id(title,pages)&id=in.(1,2)&order=id&books.order=pages.desc&books.limit=2&books.pages=gt.170');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { name: 'Ursula', books: [{ title: 'The Left Hand of Darkness', pages: 304 }, { title: 'A Wizard of Earthsea', pages: 183 }] },
    { name: 'Stanislaw', books: [{ title: 'The Cyberiad', pages: 295 }, { title: 'Solaris', pages: 204 }] },
  ]);
  const empty = await rest(p, 'GET', '/authors?select=name,books!author_id(id)&id=eq.4');
  assert.deepEqual(empty.body, [{ name: 'Nobody', books: [] }]);
});

test('one-to-one both ways', async () => {
  const r = await rest(p, 'GET', '/authors?select=id,profiles(bio)&order=id&limit=2');
  assert.deepEqual(r.body, [{ id: 1, profiles: { bio: 'Earthsea' } }, { id: 2, profiles: { bio: 'Solaris' } }]);
  const back = await rest(p, 'GET', '/profiles?select=bio,authors(name)&author_id=eq.2');
  assert.deepEqual(back.body, [{ bio: 'Solaris', authors: { name: 'Stanislaw' } }]);
});

test('many-to-many through a junction table', async () => {
  const r = await rest(p, 'GET', '/books?select=id,tags(name)&id=in.(1,6)&order=id&tags.order=name');
  assert.deepEqual(r.body, [{ id: 1, tags: [{ name: 'classic' }, { name: 'fantasy' }] }, { id: 6, tags: [] }]);
  const back = await rest(p, 'GET', '/tags?select=name,books(id)&name=eq.fantasy&books.order=id');
  assert.deepEqual(back.body, [{ name: 'fantasy', books: [{ id: 1 }, { id: 2 }] }]);
});

test('self-reference: the column name is the parent, the table name the children', async () => {
  const r = await rest(p, 'GET', '/books?select=id,sequel_of(id,title),books(id)&id=in.(1,2)&order=id');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { id: 1, sequel_of: null, books: [{ id: 2 }] },
    { id: 2, sequel_of: { id: 1, title: 'A Wizard of Earthsea' }, books: [] },
  ]);
  const hinted = await rest(p, 'GET', '/books?select=id,sequels:books!sequel_of(id)&id=eq.1');
  assert.deepEqual(hinted.body, [{ id: 1, sequels: [{ id: 2 }] }]);
});

test('!inner and embed=not.is.null filter the parent', async () => {
  const r = await rest(p, 'GET', '/authors?select=id,profiles!inner(bio)&order=id');
  assert.deepEqual(r.body.map((x: { id: number }) => x.id), [1, 2]);
  const f = await rest(p, 'GET', '/books?select=id,authors!author_id!inner(name)&authors.country=eq.IT&order=id');
  assert.deepEqual(f.body.map((x: { id: number }) => x.id), [6, 7]);
  const nn = await rest(p, 'GET', '/authors?select=id,profiles(bio)&profiles=is.null&order=id');
  assert.deepEqual(nn.body.map((x: { id: number }) => x.id), [3, 4]);
  const bad = await rest(p, 'GET', '/authors?select=id,profiles(bio)&profiles=eq.1');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'PGRST120');
});

test('spread a to-one relationship', async () => {
  const r = await rest(p, 'GET', '/books?select=title,...authors!author_id(author:name,country)&id=eq.4');
  assert.deepEqual(r.body, [{ title: 'Solaris', author: 'Stanislaw', country: 'PL' }]);
  // to-many spreads are in spread.test.ts
});

test('order by a to-one embedded column', async () => {
  const r = await rest(p, 'GET', '/books?select=id,author:authors!author_id(name)&order=author(name).desc,id&limit=3');
  assert.deepEqual(r.body.map((x: { id: number }) => x.id), [1, 2, 3]);
  const bad = await rest(p, 'GET', '/authors?select=id,books!author_id(id)&order=books(id)');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'PGRST118');
});

test('filter on a resource that is not embedded is PGRST108', async () => {
  const r = await rest(p, 'GET', '/authors?select=id&books.id=eq.1');
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 'PGRST108', details: null, hint: "Verify that 'books' is included in the 'select' query parameter.", message: "'books' is not an embedded resource in this request" });
});

test('computed relationship and nested embeds', async () => {
  const r = await rest(p, 'GET', '/authors?select=name,top_books(title,tags(name))&id=eq.1');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ name: 'Ursula', top_books: [{ title: 'The Left Hand of Darkness', tags: [{ name: 'scifi' }, { name: 'classic' }] }] }]);
});

test('supabase-js embedding', async () => {
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.from('authors').select('name, books!author_id(title)').eq('id', 3).order('title', { referencedTable: 'books' });
  assert.equal(error, null);
  assert.deepEqual(data, [{ name: 'Italo', books: [{ title: 'If on a winter\'s night a traveler' }, { title: 'Invisible Cities' }] }]);
  const inner = await db.from('books').select('id, authors!author_id!inner(country)').eq('authors.country', 'PL').order('id');
  assert.deepEqual(inner.data!.map((x) => x.id), [4, 5]);
});

test('relationships through views, both ways', async () => {
  const r = await rest(p, 'GET', '/long_books?select=id,authors(name)&order=id');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ id: 3, authors: { name: 'Ursula' } }, { id: 7, authors: { name: 'Italo' } }]);
  const back = await rest(p, 'GET', '/authors?select=name,long_books(title)&id=eq.3');
  assert.deepEqual(back.body, [{ name: 'Italo', long_books: [{ title: 'If on a winter\'s night a traveler' }] }]);
});
