-- Materialized views have no row level security: exposed to anon or authenticated, every row is readable.
select 'materialized_view_in_api' as name, 'Materialized View in API' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Materialized views in schemas the REST API exposes that anon or authenticated can read; they have no row level security.' as description,
  format('Materialized view `%s.%s` can be read by anon or authenticated users through the API.', n.nspname, c.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0016_materialized_view_in_api' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'materialized view') as metadata,
  format('materialized_view_in_api_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'm' and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
  and (pg_catalog.has_table_privilege($3::text, c.oid, 'SELECT') or pg_catalog.has_table_privilege($4::text, c.oid, 'SELECT'))
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
order by n.nspname, c.relname
