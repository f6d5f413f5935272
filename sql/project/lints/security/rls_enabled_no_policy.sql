-- Row level security on, no policy at all: nobody but the owner and service_role sees a row. Often an oversight.
select 'rls_enabled_no_policy' as name, 'RLS Enabled No Policy' as title, 'INFO' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Tables with row level security enabled but no policy, which the API roles can therefore never read or write.' as description,
  format('Table `%s.%s` has row level security enabled, but no policies exist.', n.nspname, c.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0008_rls_enabled_no_policy' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
  format('rls_enabled_no_policy_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and c.relrowsecurity and n.nspname <> all($1::text[])
  and not exists (select 1 from pg_catalog.pg_policy p where p.polrelid = c.oid)
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
order by n.nspname, c.relname
