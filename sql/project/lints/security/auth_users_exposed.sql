-- A view or materialized view over auth.users that anon or authenticated can read through the API hands out
-- user records: materialized views have no row level security, definer views bypass it.
select 'auth_users_exposed' as name, 'Exposed Auth Users' as title, 'ERROR' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Views or materialized views over auth.users that the API exposes to anon or authenticated users.' as description,
  format('View/Materialized View "%s" in schema `%s` may expose `auth.users` data to anon or authenticated users.', c.relname, n.nspname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0002_auth_users_exposed' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'view',
    'exposed_to', array_remove(array[
      case when pg_catalog.has_table_privilege($3::text, c.oid, 'SELECT') then 'anon' end,
      case when pg_catalog.has_table_privilege($4::text, c.oid, 'SELECT') then 'authenticated' end], null)) as metadata,
  format('auth_users_exposed_%s_%s', n.nspname, c.relname) as cache_key
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('v', 'm') and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
  and (pg_catalog.has_table_privilege($3::text, c.oid, 'SELECT') or pg_catalog.has_table_privilege($4::text, c.oid, 'SELECT'))
  and exists (select 1 from pg_catalog.pg_rewrite r join pg_catalog.pg_depend d on d.objid = r.oid
    where r.ev_class = c.oid and d.deptype = 'n' and d.refobjid = 'auth.users'::regclass)
  and (c.relkind = 'm'
    or not exists (select 1 from pg_catalog.pg_options_to_table(c.reloptions) o
      where o.option_name = 'security_invoker' and lower(o.option_value) in ('1', 'true', 'yes', 'on'))
    or not (select relrowsecurity from pg_catalog.pg_class where oid = 'auth.users'::regclass))
order by n.nspname, c.relname
