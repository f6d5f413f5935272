-- Tables in a schema the REST API exposes, readable by anon or authenticated, with row level security off:
-- anyone with the publishable key can read (and, with the usual grants, change) every row.
select 'rls_disabled_in_public' as name, 'RLS Disabled in Public' as title, 'ERROR' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Tables in schemas the REST API exposes without row level security enabled.' as description,
  format('Table `%s.%s` is exposed through the API but does not have row level security enabled.', n.nspname, c.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0013_rls_disabled_in_public' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
  format('rls_disabled_in_public_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and not c.relispartition and not c.relrowsecurity
  and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
  and (pg_catalog.has_table_privilege($3::text, c.oid, 'SELECT') or pg_catalog.has_table_privilege($4::text, c.oid, 'SELECT'))
order by n.nspname, c.relname
