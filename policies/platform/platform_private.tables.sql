-- Private tables have RLS enabled and no policies: only their owner (the platform itself) reads them.
do $$
declare t record;
begin
  for t in select tablename from pg_tables where schemaname = 'platform_private' loop
    execute format('alter table platform_private.%I enable row level security', t.tablename);
  end loop;
end $$;
