-- SECURITY DEFINER functions in an exposed schema run with their owner's rights (past row level security) for
-- whoever may call them through /rest/v1/rpc: one lint per API role that may.
select r.lint as name, r.title, 'WARN' as level, 'EXTERNAL' as facing,
  array['SECURITY'] as categories,
  format('SECURITY DEFINER functions that %s can call through the API; they run with their owner''s rights.', r.who) as description,
  format('Function `%s.%s(%s)` is SECURITY DEFINER and can be executed by the `%s` role through `/rest/v1/rpc/%s`. Revoke EXECUTE or make it SECURITY INVOKER if that is not intended.',
    n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), r.role, p.proname) as detail,
  format('https://supabase.com/docs/guides/database/database-linter?lint=%s', r.doc) as remediation,
  jsonb_build_object('schema', n.nspname, 'name', p.proname, 'type', 'function',
    'arguments', pg_catalog.pg_get_function_identity_arguments(p.oid), 'language', l.lanname, 'security_definer', true) as metadata,
  format('%s_%s_%s_%s', r.lint, n.nspname, p.proname, md5(pg_catalog.pg_get_function_identity_arguments(p.oid))) as cache_key
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_language l on l.oid = p.prolang
cross join (values
  ('anon_security_definer_function_executable', 'Public Can Execute SECURITY DEFINER Function', 'anon', 'users who are not signed in', $3::text, '0028_anon_security_definer_function_executable'),
  ('authenticated_security_definer_function_executable', 'Signed-In Users Can Execute SECURITY DEFINER Function', 'authenticated', 'signed-in users', $4::text, '0029_authenticated_security_definer_function_executable')
) r(lint, title, role, who, dbrole, doc)
where p.prosecdef and p.prokind = 'f' and n.nspname <> all($1::text[]) and n.nspname = any($2::text[])
  and pg_catalog.has_function_privilege(r.dbrole, p.oid, 'EXECUTE')
  and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
order by r.lint, n.nspname, p.proname
