-- Several permissive policies for the same role and command on one table are all evaluated for every row.
with p as (
  select n.nspname, c.relname, r.rolname, cmd.cmd, p.polname
  from pg_catalog.pg_policy p
  join pg_catalog.pg_class c on c.oid = p.polrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  cross join lateral unnest(case when p.polroles = '{0}' then array[$3::text, $4::text]::regrole[]::oid[] else p.polroles end) pr(oid)
  join pg_catalog.pg_roles r on r.oid = pr.oid
  cross join lateral unnest(case p.polcmd when '*' then array['SELECT', 'INSERT', 'UPDATE', 'DELETE']
    else array[case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' else 'DELETE' end] end) cmd(cmd)
  where p.polpermissive and c.relrowsecurity and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
)
select 'multiple_permissive_policies' as name, 'Multiple Permissive Policies' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['PERFORMANCE'] as categories,
  'Tables with several permissive row level security policies for one role and action, each evaluated for every row.' as description,
  format('Table `%s.%s` has multiple permissive policies for role `%s` for action `%s`. Policies include %s',
    nspname, relname, rolname, cmd, array_agg(polname order by polname)) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0006_multiple_permissive_policies' as remediation,
  jsonb_build_object('schema', nspname, 'name', relname, 'type', 'table') as metadata,
  format('multiple_permissive_policies_%s_%s_%s_%s', nspname, relname, rolname, cmd) as cache_key
from p
group by nspname, relname, rolname, cmd
having count(*) > 1
order by nspname, relname, rolname, cmd
