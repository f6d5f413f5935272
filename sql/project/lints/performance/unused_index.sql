-- Indexes never scanned since statistics were last reset: each one costs writes and space.
select 'unused_index' as name, 'Unused Index' as title, 'INFO' as level, 'EXTERNAL' as facing,
  array['PERFORMANCE'] as categories,
  'Indexes that have never been used, which may be candidates for removal.' as description,
  format('Index `%s` on table `%s.%s` has not been used', s.indexrelname, s.schemaname, s.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0005_unused_index' as remediation,
  jsonb_build_object('schema', s.schemaname, 'name', s.relname, 'type', 'table') as metadata,
  format('unused_index_%s_%s_%s', s.schemaname, s.relname, s.indexrelname) as cache_key
from pg_catalog.pg_stat_user_indexes s
join pg_catalog.pg_index i on i.indexrelid = s.indexrelid
where s.idx_scan = 0 and not i.indisunique and not i.indisprimary and s.schemaname <> all($1::text[])
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = s.relid and d.deptype = 'e')
order by s.schemaname, s.relname, s.indexrelname
