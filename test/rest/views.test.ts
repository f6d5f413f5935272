// Relationships inferred through views: views that rename key columns, show a subset of them, are built on other
// views, or show tables of a schema that is not exposed keep their tables' keys and relationships — to tables and
// to other views — under the view's own name and column names; the errors when a key is not shown or is shown
// twice; supabase-js over a view; and a key of another project gets nothing.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
before(async () => {
  p = await fixture();
  await sql(p, `
    create view book_list as select b.id as book_id, b.title, b.author_id as writer from books b;
    create view book_list2 as select bid_src.book_id as bid, bid_src.title as name, bid_src.writer as w from book_list bid_src;
    create view author_list as select id as aid, name as author_name from authors;
    create view titles_only as select id, title from books;
    create view profile_v as select author_id as who, bio from profiles;
    create view twice as select id, author_id as first_author, author_id as again from books;
    create view "odd view" as select id as "my id (1)", author_id as "by } {\\ who", title from books;
    create materialized view book_stats as select author_id as author, count(*) as n from books group by author_id;
    create view seq_v as select id as sid, title, sequel_of as prev from books;
    create schema private;
    create table private.shelves (id int primary key, label text);
    create table private.volumes (id int primary key, shelf int references private.shelves(id), title text);
    create view shelves as select id as shelf_id, label from private.shelves;
    create view volumes as select id, title, shelf as on_shelf from private.volumes;
    insert into private.shelves values (1, 'top'), (2, 'bottom');
    insert into private.volumes values (1, 1, 'Dune'), (2, 1, 'Emma'), (3, 2, 'Ulysses');
    grant select on all tables in schema public to anon, authenticated, service_role;`);
});

test('a view renaming its key columns: many-to-one, one-to-many, and a hint by its own column name', async () => {
  const m2o = await rest(p, 'GET', '/book_list?select=title,authors(name)&book_id=in.(1,4)&order=book_id');
  assert.equal(m2o.status, 200, JSON.stringify(m2o.body));
  assert.deepEqual(m2o.body, [{ title: 'A Wizard of Earthsea', authors: { name: 'Ursula' } }, { title: 'Solaris', authors: { name: 'Stanislaw' } }]);
  const o2m = await rest(p, 'GET', '/authors?select=name,book_list(title)&id=eq.2&book_list.order=book_id');
  assert.deepEqual(o2m.body, [{ name: 'Stanislaw', book_list: [{ title: 'Solaris' }, { title: 'The Cyberiad' }] }]);
  const hinted = await rest(p, 'GET', '/book_list?select=book_id,a:authors!writer(name)&book_id=eq.6');
  assert.deepEqual(hinted.body, [{ book_id: 6, a: { name: 'Italo' } }]);
  // The column of the view names the relationship; the table's column name does not.
  const byTableColumn = await rest(p, 'GET', '/book_list?select=book_id,authors!author_id(name)&book_id=eq.6');
  assert.equal(byTableColumn.status, 400);
  assert.equal(byTableColumn.body.code, 'PGRST200');
});

test('a view over a view, and a view to a view (both directions)', async () => {
  const r = await rest(p, 'GET', '/book_list2?select=name,authors(name)&bid=eq.5');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ name: 'The Cyberiad', authors: { name: 'Stanislaw' } }]);
  const vv = await rest(p, 'GET', '/book_list?select=title,author_list(author_name)&book_id=eq.7');
  assert.deepEqual(vv.body, [{ title: 'If on a winter\'s night a traveler', author_list: { author_name: 'Italo' } }]);
  const back = await rest(p, 'GET', '/author_list?select=author_name,book_list2(name)&aid=eq.3&book_list2.order=bid');
  assert.deepEqual(back.body, [{ author_name: 'Italo', book_list2: [{ name: 'Invisible Cities' }, { name: 'If on a winter\'s night a traveler' }] }]);
});

test('a self-reference through a view', async () => {
  const down = await rest(p, 'GET', '/seq_v?select=title,sequels:seq_v!prev(title)&sid=eq.1');
  assert.equal(down.status, 200, JSON.stringify(down.body));
  assert.deepEqual(down.body, [{ title: 'A Wizard of Earthsea', sequels: [{ title: 'The Tombs of Atuan' }] }]);
  // By column name the key leads both to the table and back to the view: ambiguous, as in PostgREST.
  const both = await rest(p, 'GET', '/seq_v?select=title,prev(title)&sid=eq.2');
  assert.equal(both.status, 300);
  assert.deepEqual(both.body.details.map((d: { relationship: string }) => d.relationship),
    ['books_sequel_of_fkey using seq_v(prev) and books(id)', 'books_sequel_of_fkey using seq_v(prev) and seq_v(sid)']);
  const up = await rest(p, 'GET', '/seq_v?select=title,prev:books!prev(title)&sid=eq.2');
  assert.deepEqual(up.body, [{ title: 'The Tombs of Atuan', prev: { title: 'A Wizard of Earthsea' } }]);
});

test('a view keeps one-to-one and takes part in many-to-many through a junction table', async () => {
  const o2o = await rest(p, 'GET', '/authors?select=name,profile_v(bio)&id=in.(1,3)&order=id');
  assert.deepEqual(o2o.body, [{ name: 'Ursula', profile_v: { bio: 'Earthsea' } }, { name: 'Italo', profile_v: null }]);
  const m2m = await rest(p, 'GET', '/book_list?select=title,tags(name)&book_id=eq.3');
  assert.equal(m2m.status, 200, JSON.stringify(m2m.body));
  assert.deepEqual(m2m.body, [{ title: 'The Left Hand of Darkness', tags: [{ name: 'scifi' }, { name: 'classic' }] }]);
  const back = await rest(p, 'GET', '/tags?select=name,book_list(book_id)&id=eq.1&book_list.order=book_id');
  assert.deepEqual(back.body, [{ name: 'fantasy', book_list: [{ book_id: 1 }, { book_id: 2 }] }]);
});

test('views over tables of a schema that is not exposed', async () => {
  const r = await rest(p, 'GET', '/shelves?select=label,volumes(title)&order=shelf_id&volumes.order=id');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ label: 'top', volumes: [{ title: 'Dune' }, { title: 'Emma' }] }, { label: 'bottom', volumes: [{ title: 'Ulysses' }] }]);
  const up = await rest(p, 'GET', '/volumes?select=title,shelves(label)&id=eq.3');
  assert.deepEqual(up.body, [{ title: 'Ulysses', shelves: { label: 'bottom' } }]);
});

test('names with spaces, braces and backslashes, and a materialized view', async () => {
  const r = await rest(p, 'GET', '/odd%20view?select=title,authors(name)&%22my%20id%20(1)%22=eq.2');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [{ title: 'The Tombs of Atuan', authors: { name: 'Ursula' } }]);
  const m = await rest(p, 'GET', '/book_stats?select=n,authors(name)&order=author');
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.deepEqual(m.body, [{ n: 3, authors: { name: 'Ursula' } }, { n: 2, authors: { name: 'Stanislaw' } }, { n: 2, authors: { name: 'Italo' } }]);
});

test('a view that does not show the key has no relationship (PGRST200)', async () => {
  const r = await rest(p, 'GET', '/titles_only?select=title,authors(name)');
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    code: 'PGRST200', message: "Could not find a relationship between 'titles_only' and 'authors' in the schema cache",
    details: "Searched for a foreign key relationship between 'titles_only' and 'authors' in the schema 'public', but no matches were found.",
    hint: null,
  });
});

test('a key column shown twice gives one relationship per column: ambiguous (PGRST201) until hinted', async () => {
  const r = await rest(p, 'GET', '/twice?select=id,authors(name)');
  assert.equal(r.status, 300);
  assert.equal(r.body.code, 'PGRST201');
  assert.deepEqual(r.body.details, [
    { cardinality: 'many-to-one', embedding: 'twice with authors', relationship: 'books_author_id_fkey using twice(first_author) and authors(id)' },
    { cardinality: 'many-to-one', embedding: 'twice with authors', relationship: 'books_author_id_fkey using twice(again) and authors(id)' },
  ]);
  const hinted = await rest(p, 'GET', '/twice?select=id,authors!again(name)&id=eq.4');
  assert.deepEqual(hinted.body, [{ id: 4, authors: { name: 'Stanislaw' } }]);
});

test('a view takes its table primary key under its own column name (OpenAPI, PUT)', async () => {
  const doc = await rest(p, 'GET', '/');
  assert.match(doc.body.definitions.book_list.properties.book_id.description, /This is a Primary Key/);
  assert.match(doc.body.definitions.book_list.properties.writer.description, /This is a Foreign Key to `authors.id`/);
  const put = await rest(p, 'PUT', '/author_list?aid=eq.4', { key: p.serviceKey, body: { aid: 4, author_name: 'Somebody' } });
  assert.equal(put.status, 204, JSON.stringify(put.body));
  assert.deepEqual((await rest(p, 'GET', '/authors?select=name&id=eq.4')).body, [{ name: 'Somebody' }]);
});

test('supabase-js over a view with renamed keys', async () => {
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.from('author_list').select('author_name, book_list(title)').eq('aid', 1).order('book_id', { referencedTable: 'book_list' });
  assert.equal(error, null);
  assert.deepEqual(data, [{ author_name: 'Ursula', book_list: [{ title: 'A Wizard of Earthsea' }, { title: 'The Tombs of Atuan' }, { title: 'The Left Hand of Darkness' }] }]);
});

test('a key of another project gets nothing from these views', async () => {
  const q = await createProject();
  const r = await rest(p, 'GET', '/book_list?select=title,authors(name)', { key: q.anonKey });
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'PGRST301');
});
