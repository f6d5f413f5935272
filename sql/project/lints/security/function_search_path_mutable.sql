-- Functions without a pinned search_path resolve names through whatever path the caller set: for a security
-- definer function that lets the caller substitute objects.
select 'function_search_path_mutable' as name, 'Function Search Path Mutable' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Functions that do not set search_path, so the names they use depend on the caller''s settings.' as description,
  format('Function `%s.%s` has a search_path the caller can change.', n.nspname, p.proname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0011_function_search_path_mutable' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', p.proname, 'type', 'function') as metadata,
  format('function_search_path_mutable_%s_%s_%s', n.nspname, p.proname, md5(p.prosrc)) as cache_key
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname <> all($1::text[])
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
  and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) s where s like 'search_path=%')
order by n.nspname, p.proname, p.oid
