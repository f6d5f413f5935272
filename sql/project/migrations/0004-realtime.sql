-- Realtime: what Supabase projects have in the `realtime` schema and clients rely on — `realtime.messages`,
-- whose RLS policies authorize private channels (Loam probes them with the subscriber's role and claims, see
-- server/src/realtime/authorize.ts), `realtime.topic()` for those policies, and the `supabase_realtime`
-- publication whose tables' changes /realtime/v1 delivers. Runs as the project owner in existing databases:
-- nothing here needs more (a publication without FOR ALL TABLES needs only CREATE on the database).

create schema if not exists realtime;
grant usage on schema realtime to anon, authenticated, service_role;

-- Supabase partitions this table by day because its server writes every database broadcast into it; Loam keeps
-- rows only inside the transaction of a channel-join check (rolled back), so a plain table serves.
create table realtime.messages (
  id uuid primary key default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now()
);
comment on table realtime.messages is 'Private channel authorization: select policies allow reading a topic, insert policies allow writing to it.';
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;

-- The channel topic being authorized, for policies: `using (realtime.topic() = 'room:' || auth.uid())`.
create function realtime.topic() returns text
  language sql stable
as $$ select nullif(current_setting('realtime.topic', true), '')::text $$;
grant execute on function realtime.topic() to anon, authenticated, service_role;

-- Tables whose changes clients may subscribe to: `alter publication supabase_realtime add table public.x`.
create publication supabase_realtime;
