-- Realtime across API processes without a service of its own: each process that serves realtime says it is
-- alive here; what the others must know about it (its sockets per project, the projects it has channels of,
-- the replication streams it reads) hangs off its row and goes with it — when it stops, or when it stops
-- reporting (a process killed with kill -9 is noticed by the others within its own dead-after time).

create table platform_private.realtime_processes (
  id uuid primary key,
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  seen_at timestamptz not null default now(),
  -- Each process says how long it may stay silent (LOAM_REALTIME_DEAD_AFTER_MS), as worker heartbeats do.
  expires_at timestamptz not null
);
comment on table platform_private.realtime_processes is 'API processes serving realtime, and when each is presumed dead unless it reports again.';
alter table platform_private.realtime_processes enable row level security;

-- Open sockets per project and process: max_concurrent_users is counted over every live process.
create table platform_private.realtime_clients (
  process_id uuid not null references platform_private.realtime_processes on delete cascade,
  project_ref text not null,
  clients integer not null check (clients >= 0),
  primary key (project_ref, process_id)
);
comment on table platform_private.realtime_clients is 'Realtime sockets open per project in each API process.';
alter table platform_private.realtime_clients enable row level security;

-- Projects a process has channels of: while any live process has one, one of them reads the project's WAL.
create table platform_private.realtime_interest (
  process_id uuid not null references platform_private.realtime_processes on delete cascade,
  project_ref text not null,
  primary key (project_ref, process_id)
);
comment on table platform_private.realtime_interest is 'Projects each API process has realtime channels of.';
alter table platform_private.realtime_interest enable row level security;

-- The process reading a project's changes (it holds the project's advisory lock) once its stream runs.
create table platform_private.realtime_streams (
  project_ref text primary key,
  process_id uuid not null references platform_private.realtime_processes on delete cascade,
  started_at timestamptz not null default now()
);
comment on table platform_private.realtime_streams is 'Running replication streams: which API process reads which project''s WAL.';
alter table platform_private.realtime_streams enable row level security;

-- Joins per second, a limit of its own (Supabase: max_joins_per_second). The settings functions gain it.
alter table platform.project_realtime_config
  add column max_joins_per_second integer check (max_joins_per_second between 1 and 1000000);

drop function platform.update_realtime_config(text, boolean, integer, integer, integer, integer);
drop function platform.realtime_config(text);
drop function platform_private.project_realtime_settings(text);

create function platform.realtime_config(p_ref text)
  returns table (private_only boolean, max_concurrent_users integer, max_events_per_second integer,
                 max_payload_size_in_kb integer, max_channels_per_client integer, max_joins_per_second integer)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
    select coalesce(c.private_only, false), c.max_concurrent_users, c.max_events_per_second,
           c.max_payload_size_in_kb, c.max_channels_per_client, c.max_joins_per_second
    from platform.project_for_member(p_ref) p
    left join platform.project_realtime_config c on c.project_id = p.id;
end $$;
comment on function platform.realtime_config(text) is 'The realtime settings of a project the caller is a member of.';

-- Absent fields keep their value. Every API process drops its cached settings through the project-changed
-- notification.
create function platform.update_realtime_config(p_ref text, p_private_only boolean, p_max_concurrent_users integer,
                                                p_max_events_per_second integer, p_max_payload_size_in_kb integer,
                                                p_max_channels_per_client integer, p_max_joins_per_second integer)
  returns table (private_only boolean, max_concurrent_users integer, max_events_per_second integer,
                 max_payload_size_in_kb integer, max_channels_per_client integer, max_joins_per_second integer)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
begin
  v_project := platform.project_for_member(p_ref);
  insert into platform.project_realtime_config as c (project_id) values (v_project.id) on conflict (project_id) do nothing;
  update platform.project_realtime_config c set
    private_only = coalesce(p_private_only, c.private_only),
    max_concurrent_users = coalesce(p_max_concurrent_users, c.max_concurrent_users),
    max_events_per_second = coalesce(p_max_events_per_second, c.max_events_per_second),
    max_payload_size_in_kb = coalesce(p_max_payload_size_in_kb, c.max_payload_size_in_kb),
    max_channels_per_client = coalesce(p_max_channels_per_client, c.max_channels_per_client),
    max_joins_per_second = coalesce(p_max_joins_per_second, c.max_joins_per_second),
    updated_at = now()
  where c.project_id = v_project.id;
  perform pg_notify('loam_project_changed', v_project.ref);
  return query select * from platform.realtime_config(p_ref);
end $$;
comment on function platform.update_realtime_config(text, boolean, integer, integer, integer, integer, integer) is 'Changes a project''s realtime settings.';

-- For the data plane (the platform's own connection): settings by ref, nulls where the default applies.
create function platform_private.project_realtime_settings(p_ref text)
  returns table (private_only boolean, max_concurrent_users integer, max_events_per_second integer,
                 max_payload_size_in_kb integer, max_channels_per_client integer, max_joins_per_second integer)
  language sql stable
as $$
  select coalesce(c.private_only, false), c.max_concurrent_users, c.max_events_per_second,
         c.max_payload_size_in_kb, c.max_channels_per_client, c.max_joins_per_second
  from platform.projects p left join platform.project_realtime_config c on c.project_id = p.id
  where p.ref = p_ref
$$;
