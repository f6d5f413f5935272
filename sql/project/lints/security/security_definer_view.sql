-- Views run with their owner's rights unless `security_invoker` is set: an exposed one reads the underlying
-- tables past the caller's row level security.
select 'security_definer_view' as name, 'Security Definer View' as title, 'ERROR' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Views that check permissions and row level security as the view''s owner instead of the user querying them.' as description,
  format('View `%s.%s` runs with its owner''s rights (security_invoker is not set).', n.nspname, c.relname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0010_security_definer_view' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'view') as metadata,
  format('security_definer_view_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'v' and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
  and (pg_catalog.has_table_privilege($3::text, c.oid, 'SELECT') or pg_catalog.has_table_privilege($4::text, c.oid, 'SELECT'))
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = c.oid and d.deptype = 'e')
  and not exists (select 1 from pg_catalog.pg_options_to_table(c.reloptions) o
    where o.option_name = 'security_invoker' and lower(o.option_value) in ('1', 'true', 'yes', 'on'))
order by n.nspname, c.relname
