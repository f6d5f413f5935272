// The SQL compiler, without a database: exact SQL text and parameters for the statements the planner asks for
// (kysely testSql style). Values only ever appear as $n; identifiers only quoted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planMutation, planRead } from '../../server/src/rest/plan.ts';
import { readSql, writeSql } from '../../server/src/rest/query.ts';
import { parseRequest } from '../../server/src/rest/request.ts';
import type { SchemaCache, Table } from '../../server/src/rest/schema-cache.ts';
import { ident } from '../../server/src/rest/sql.ts';

const col = (name: string, type = 'integer') => ({ name, type, nullable: true, default: null, generated: false });
const authors: Table = { schema: 'public', name: 'authors', kind: 'r', comment: null, columns: [col('id'), col('name', 'text')], pk: ['id'], uniques: [['id']], insertable: true };
const books: Table = { schema: 'public', name: 'books', kind: 'r', comment: null, columns: [col('id'), col('title', 'text'), col('author_id')], pk: ['id'], uniques: [['id']], insertable: true };
const cache: SchemaCache = {
  version: '1', config: {}, schemas: ['public'],
  tables: new Map([['public.authors', authors], ['public.books', books]]),
  fks: [{ name: 'books_author_id_fkey', schema: 'public', table: 'books', columns: ['author_id'], fschema: 'public', ftable: 'authors', fcolumns: ['id'], unique: false }],
  funcs: new Map(),
};

function req(method: string, path: string, query: string, body?: unknown, headers: Record<string, string> = {}) {
  return parseRequest({
    method, path, query,
    header: (n) => headers[n.toLowerCase()],
    headerAll: (n) => (headers[n.toLowerCase()] ? [headers[n.toLowerCase()]] : []),
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
  }, ['public']);
}

test('ident doubles quotes', () => {
  assert.equal(ident('a"b'), '"a""b"');
});

test('filtered, ordered, limited read', () => {
  const r = req('GET', '/books', 'select=id,t:title&title=like.*x*&id=in.(1,2)&or=(id.eq.3,title.is.null)&order=id.desc.nullslast&limit=5');
  const root = planRead(cache, r, books);
  const q = readSql(root, { limit: 5, offset: 0 }, { count: true, stripNulls: false });
  assert.equal(q.text,
    'select (select count(*) from (select 1 from "public"."books" as "books" where "books"."title" like $5 and "books"."id" = any($6) and ("books"."id" = $7 or "books"."title" is null)) as "pgrst_c") as total_result_set, ' +
    'count("pgrst_t") as page_total, coalesce(json_agg("pgrst_t"), \'[]\')::text as body, ' +
    'nullif(current_setting(\'response.headers\', true), \'\') as response_headers, nullif(current_setting(\'response.status\', true), \'\') as response_status, (select version::text from _loam.schema_state) as schema_version ' +
    'from (select "books"."id" as "id", "books"."title" as "t" from "public"."books" as "books" where "books"."title" like $1 and "books"."id" = any($2) and ("books"."id" = $3 or "books"."title" is null) ' +
    'order by "books"."id" desc nulls last limit $4) as "pgrst_t"');
  assert.deepEqual(q.params, ['%x%', ['1', '2'], '3', 5, '%x%', ['1', '2'], '3']);
});

test('many-to-one embed is a lateral row_to_json', () => {
  const r = req('GET', '/books', 'select=id,authors(name)');
  const q = readSql(planRead(cache, r, books), {}, { count: false, stripNulls: false });
  assert.match(q.text, /left join lateral \(select row_to_json\("pgrst_t"\) as "body" from \(select "authors_1"\."name" as "name" from "public"\."authors" as "authors_1" where "authors_1"\."id" = "books"\."author_id"\) as "pgrst_t"\) as "pgrst_1" on true/);
  assert.deepEqual(q.params, []);
});

test('insert with upsert', () => {
  const r = req('POST', '/books', '', [{ id: 1, title: 'x' }], { prefer: 'resolution=merge-duplicates' });
  const m = planMutation(cache, r, books);
  const q = writeSql(m, planRead(cache, r, books), { representation: false, returnPk: false, count: false, stripNulls: false });
  assert.equal(q.text,
    'with "pgrst_source" as (insert into "public"."books" as "books" ("id", "title") select * from (select "pgrst_body"."id", "pgrst_body"."title" from json_populate_recordset(null::"public"."books", $1::json) as "pgrst_body") as "pgrst_src" ' +
    'where set_config(\'pgrst.inserted\', (coalesce(nullif(current_setting(\'pgrst.inserted\', true), \'\')::int, 0) + 1)::text, true) <> \'0\' ' +
    'on conflict ("id") do update set "id" = excluded."id", "title" = excluded."title" ' +
    'where set_config(\'pgrst.inserted\', (coalesce(nullif(current_setting(\'pgrst.inserted\', true), \'\')::int, 0) - 1)::text, true) <> \'-1\' returning 1) ' +
    'select null::bigint as total_result_set, count(*) as page_total, \'\' as body, nullif(current_setting(\'response.headers\', true), \'\') as response_headers, nullif(current_setting(\'response.status\', true), \'\') as response_status, (select version::text from _loam.schema_state) as schema_version, ' +
    'nullif(current_setting(\'pgrst.inserted\', true), \'\')::int as response_inserted from "pgrst_source"');
  assert.deepEqual(q.params, ['[{"id":1,"title":"x"}]']);
});

test('delete with a negated filter', () => {
  const r = req('DELETE', '/books', 'id=not.eq.3');
  const q = writeSql(planMutation(cache, r, books), planRead(cache, r, books), { representation: false, returnPk: false, count: false, stripNulls: false });
  assert.match(q.text, /^with "pgrst_source" as \(delete from "public"\."books" as "books" where not "books"\."id" = \$1 returning 1\)/);
  assert.deepEqual(q.params, ['3']);
});

test('a to-one spread hands its aggregates to the parent, which groups by the rest', () => {
  const r = req('GET', '/books', 'select=id.count(),...authors(name,top:id.max())');
  r.aggregatesEnabled = true;
  const q = readSql(planRead(cache, r, books), {}, { count: false, stripNulls: false });
  assert.match(q.text, /from \(select count\("books"\."id"\) as "count", "pgrst_1"\."name" as "name", max\("pgrst_1"\."pgrst_h1_1"\) as "top" from "public"\."books" as "books" left join lateral \(select "pgrst_s"\.\*, 1 as "pgrst_n" from \(select "authors_1"\."name" as "name", "authors_1"\."id" as "pgrst_h1_1" from "public"\."authors" as "authors_1" where "authors_1"\."id" = "books"\."author_id"\) as "pgrst_s"\) as "pgrst_1" on true group by "pgrst_1"\."name"\) as "pgrst_t"$/);
});

test('an embedded resource is a grouping key (as jsonb)', () => {
  const r = req('GET', '/books', 'select=id.sum(),authors(name)');
  r.aggregatesEnabled = true;
  const q = readSql(planRead(cache, r, books), {}, { count: false, stripNulls: false });
  assert.match(q.text, /select sum\("books"\."id"\) as "sum", \("pgrst_1"\."body"\)::jsonb as "authors" from .* group by \("pgrst_1"\."body"\)::jsonb\) as "pgrst_t"$/);
});
