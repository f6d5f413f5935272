-- The auth schema's tables and functions: RLS on every table, privileges for service_role only (the auth API
-- runs as the project's service role, which inherits them), nothing for anon and authenticated (they reach auth
-- data only through /auth/v1). The project owner owns these tables (provisioning's hand-over), so it reads and
-- changes users with psql as Supabase's `postgres` does, and may hang triggers on them: whatever runs them
-- (the auth API, template migrations) runs with no more than the project's own rights.
do $$
declare
  t text;
  f text;
begin
  for t in select c.relname from pg_class c where c.relnamespace = 'auth'::regnamespace and c.relkind in ('r', 'p') loop
    execute format('alter table auth.%I enable row level security', t);
    execute format('revoke all on auth.%I from public, anon, authenticated', t);
    execute format('grant all on auth.%I to service_role', t);
    execute format('drop policy if exists all_owner on auth.%I', t);
  end loop;
  for t in select c.relname from pg_class c where c.relnamespace = 'auth'::regnamespace and c.relkind = 'S' loop
    execute format('grant usage, select on sequence auth.%I to service_role', t);
  end loop;
  -- auth.uid() and friends are for everyone's policies; everything else only for service_role.
  for f in select p.oid::regprocedure::text from pg_proc p
             where p.pronamespace = 'auth'::regnamespace and p.proname not in ('jwt', 'uid', 'role', 'email') loop
    execute format('revoke all on function %s from public', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end $$;
