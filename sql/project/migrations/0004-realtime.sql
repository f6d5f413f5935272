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

-- Broadcast from the database, as Supabase defines it: realtime.send() writes a message row, which Loam reads
-- from the WAL (publication supabase_realtime_messages_publication) and delivers to the topic's channel. Both
-- run as their caller: the insert obeys realtime.messages' policies (call them from a SECURITY DEFINER trigger
-- function of the owner's to send whatever the trigger decides). A failed send is a warning, not an error, so
-- it never undoes the write that triggered it.
create function realtime.send(payload jsonb, event text, topic text, private boolean default true) returns void
  language plpgsql volatile
as $$
begin
  begin
    perform pg_catalog.set_config('realtime.topic', topic, true);
    insert into realtime.messages (payload, event, topic, private, extension)
      values (payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end $$;
comment on function realtime.send(jsonb, text, text, boolean) is 'Broadcasts payload as event on the channel topic (private by default).';

-- For row triggers: `perform realtime.broadcast_changes('room:' || new.room_id, tg_op, tg_op, tg_table_name,
-- tg_table_schema, new, old)` sends {operation, table, schema, record, old_record}.
create function realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text,
                                           table_schema text, new record, old record, level text default 'ROW')
  returns void
  language plpgsql volatile
as $$
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception 'Unexpected operation type: %', operation;
  end if;
  perform realtime.send(
    pg_catalog.jsonb_build_object('operation', operation, 'table', table_name, 'schema', table_schema,
                                  'record', pg_catalog.to_jsonb(new), 'old_record', pg_catalog.to_jsonb(old)),
    event_name, topic_name);
end $$;
comment on function realtime.broadcast_changes(text, text, text, text, text, record, record, text) is 'Broadcasts a row change from a trigger.';
grant execute on function realtime.send(jsonb, text, text, boolean), realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  to anon, authenticated, service_role;

create publication supabase_realtime_messages_publication for table realtime.messages;
