-- Foreign tables have no row level security either.
select 'foreign_table_in_api' as name, 'Foreign Table in API' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Foreign tables in schemas the REST API exposes that anon or authenticated can read; they have no row level security.' as description,
  format('Foreign table `%s.%s` can be read by anon or authenticated users through the API.', n.nspname, c.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0017_foreign_table_in_api' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'foreign table') as metadata,
  format('foreign_table_in_api_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'f' and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
  and (pg_catalog.has_table_privilege($3::text, c.oid, 'SELECT') or pg_catalog.has_table_privilege($4::text, c.oid, 'SELECT'))
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
order by n.nspname, c.relname
