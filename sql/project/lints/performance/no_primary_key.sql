-- Tables without a primary key: rows cannot be addressed reliably (updates through the API, replication).
select 'no_primary_key' as name, 'No Primary Key' as title, 'INFO' as level, 'EXTERNAL' as facing,
  array['PERFORMANCE'] as categories,
  'Tables without a primary key, which are inefficient to work with at scale.' as description,
  format('Table `%s.%s` does not have a primary key', n.nspname, c.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0004_no_primary_key' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
  format('no_primary_key_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and not c.relispartition and n.nspname <> all($1::text[])
  and not exists (select 1 from pg_catalog.pg_index i where i.indrelid = c.oid and i.indisprimary)
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
order by n.nspname, c.relname
