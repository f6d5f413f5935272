-- user_metadata in a JWT is whatever the user put there (auth.updateUser): a policy that trusts it lets users
-- grant themselves access.
select 'rls_references_user_metadata' as name, 'RLS references user metadata' as title, 'ERROR' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  'Row level security policies that read `user_metadata` from the JWT, which users can edit themselves.' as description,
  format('Table `%s.%s` has a row level security policy `%s` that reads `user_metadata`, which users can set to anything; use `app_metadata` or a table for authorization.',
    n.nspname, c.relname, p.polname) as detail,
  'https://supabase.com/docs/guides/database/database-linter?lint=0015_rls_references_user_metadata' as remediation,
  jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
  format('rls_references_user_metadata_%s_%s_%s', n.nspname, c.relname, p.polname) as cache_key
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
cross join lateral (select pg_catalog.pg_get_expr(p.polqual, p.polrelid) as q, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as w) e
where n.nspname <> all($1::text[])
  and exists (select 1 from unnest(array[e.q, e.w]) expr
    where expr like '%user_metadata%' and (expr like '%auth.jwt()%' or expr like '%current_setting(%request.jwt.claims%'))
order by n.nspname, c.relname, p.polname
