-- auth.uid(), auth.jwt(), auth.role(), auth.email() or current_setting() called directly in a policy run once
-- per row; wrapped as `(select auth.uid())` the planner evaluates them once per statement.
select 'auth_rls_initplan' as name, 'Auth RLS Initialization Plan' as title, 'WARN' as level, 'EXTERNAL' as facing,
  array['PERFORMANCE'] as categories,
  'Row level security policies that call `auth.<function>()` or `current_setting()` once per row instead of once per query.' as description,
  format('Table `%s.%s` has a row level security policy `%s` that calls auth.<function>() or current_setting() for every row. Write `(select auth.<function>())` instead so it is evaluated once per query.',
    n.nspname, c.relname, p.polname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0003_auth_rls_initplan' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
  format('auth_rls_init_plan_%s_%s_%s', n.nspname, c.relname, p.polname) as cache_key
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
cross join lateral (select pg_catalog.pg_get_expr(p.polqual, p.polrelid) as q, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as w) e
where c.relrowsecurity and n.nspname <> all(array_remove($1::text[], 'realtime'))
  and exists (select 1 from unnest(array[e.q, e.w]) expr, unnest(array['auth.uid()', 'auth.jwt()', 'auth.role()', 'auth.email()', 'current_setting(']) f
    where expr is not null and position(f in expr) > 0 and position('select ' || f in lower(expr)) = 0)
order by n.nspname, c.relname, p.polname
