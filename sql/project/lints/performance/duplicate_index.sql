-- Two or more indexes with the same definition on one table: all but one only slow down writes.
with defs as (
  select n.nspname, c.relname, c.relkind, ic.relname as indexname,
    -- the definition without the index's own name
    replace(pg_catalog.pg_get_indexdef(i.indexrelid), format('INDEX %s ON', quote_ident(ic.relname)), 'INDEX ON') as def
  from pg_catalog.pg_index i
  join pg_catalog.pg_class ic on ic.oid = i.indexrelid
  join pg_catalog.pg_class c on c.oid = i.indrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'm') and n.nspname <> all($1::text[])
    and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
)
select 'duplicate_index' as name, 'Duplicate Index' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['PERFORMANCE'] as categories,
  'Tables with two or more identical indexes.' as description,
  format('Table `%s.%s` has identical indexes %s. Drop all except one of them', nspname, relname,
    array_agg(indexname order by indexname)) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0009_duplicate_index' as remediation,
  jsonb_build_object('schema', nspname, 'name', relname, 'type', case relkind when 'r' then 'table' else 'materialized view' end,
    'indexes', array_agg(indexname order by indexname)) as metadata,
  format('duplicate_index_%s_%s_%s', nspname, relname, array_agg(indexname order by indexname)) as cache_key
from defs
group by nspname, relname, relkind, def
having count(*) > 1
order by nspname, relname
