-- Extensions installed into public put their functions and types in the schema the API exposes.
select 'extension_in_public' as name, 'Extension in Public' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Extensions installed in the `public` schema.' as description,
  format('Extension `%s` is installed in the public schema; install it into another schema.', e.extname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0014_extension_in_public' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', e.extname, 'type', 'extension') as metadata,
  format('extension_in_public_%s', e.extname) as cache_key
from pg_catalog.pg_extension e
join pg_catalog.pg_namespace n on n.oid = e.extnamespace
where n.nspname = 'public' and e.extname <> 'plpgsql'
order by e.extname
