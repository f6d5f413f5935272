-- Policies on a table whose row level security is off: they look like protection but are never applied.
select 'policy_exists_rls_disabled' as name, 'Policy Exists RLS Disabled' as title, 'ERROR' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Tables with row level security policies while row level security itself is disabled, so the policies do nothing.' as description,
  format('Table `%s.%s` has policies (%s) but row level security is not enabled on it.', n.nspname, c.relname,
    string_agg(p.polname, ', ' order by p.polname)) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0007_policy_exists_rls_disabled' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
  format('policy_exists_rls_disabled_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and not c.relrowsecurity and n.nspname <> all($1::text[])
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
group by n.nspname, c.relname
order by n.nspname, c.relname
