-- A foreign key whose columns do not lead any valid index: deletes and updates of the referenced row, and
-- joins along the key, scan the whole referencing table.
select 'unindexed_foreign_keys' as name, 'Unindexed foreign keys' as title, 'INFO' as level, 'EXTERNAL' as facing,
  array['PERFORMANCE'] as categories,
  'Foreign keys without an index covering their columns, which makes joins and cascades slow.' as description,
  format('Table `%s.%s` has a foreign key `%s` without a covering index.', n.nspname, c.relname, k.conname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0001_unindexed_foreign_keys' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table', 'fkey_name', k.conname, 'fkey_columns', k.conkey) as metadata,
  format('unindexed_foreign_keys_%s_%s_%s', n.nspname, c.relname, k.conname) as cache_key
from pg_catalog.pg_constraint k
join pg_catalog.pg_class c on c.oid = k.conrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where k.contype = 'f' and n.nspname <> all($1::text[])
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
  -- covered when some index's leading columns are the key's columns, in any order
  and not exists (select 1 from pg_catalog.pg_index i where i.indrelid = c.oid and i.indisvalid
    and (select array_agg(x order by x) from unnest(k.conkey) x)
      = (select array_agg(x order by x) from unnest((string_to_array(i.indkey::text, ' ')::smallint[])[1:cardinality(k.conkey)]) x))
order by n.nspname, c.relname, k.conname
