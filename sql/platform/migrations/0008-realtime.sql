-- Realtime between API processes: broadcasts and presence changes travel by NOTIFY on `loam_realtime`; one too
-- large for NOTIFY's 8000 bytes is stored here and only its id is notified. Rows are read within seconds and
-- removed after a few minutes by the processes that write them.
create table platform_private.realtime_payloads (
  id bigint generated always as identity primary key,
  body text not null,
  created_at timestamptz not null default now()
);
create index on platform_private.realtime_payloads (created_at);
comment on table platform_private.realtime_payloads is 'Realtime messages too large for NOTIFY, in flight between API processes.';
alter table platform_private.realtime_payloads enable row level security;

-- Per-project realtime settings, the Management API's /v1/projects/{ref}/config/realtime (Supabase's names). A
-- null is the platform's default (server/src/realtime/limits.ts); a project without a row has the defaults.
create table platform.project_realtime_config (
  project_id bigint primary key references platform.projects on delete cascade,
  private_only boolean not null default false,
  max_concurrent_users integer check (max_concurrent_users between 1 and 1000000),
  max_events_per_second integer check (max_events_per_second between 1 and 1000000),
  max_payload_size_in_kb integer check (max_payload_size_in_kb between 1 and 10000),
  max_channels_per_client integer check (max_channels_per_client between 1 and 10000),
  updated_at timestamptz not null default now()
);
comment on table platform.project_realtime_config is 'Realtime settings of a project (private channels only, limits).';
-- Read and written only through the functions below (members only), so no policy grants anything directly.
alter table platform.project_realtime_config enable row level security;

create function platform.realtime_config(p_ref text)
  returns table (private_only boolean, max_concurrent_users integer, max_events_per_second integer,
                 max_payload_size_in_kb integer, max_channels_per_client integer)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
    select coalesce(c.private_only, false), c.max_concurrent_users, c.max_events_per_second,
           c.max_payload_size_in_kb, c.max_channels_per_client
    from platform.project_for_member(p_ref) p
    left join platform.project_realtime_config c on c.project_id = p.id;
end $$;
comment on function platform.realtime_config(text) is 'The realtime settings of a project the caller is a member of.';

-- Absent fields keep their value. Every API process drops its cached settings through the project-changed
-- notification.
create function platform.update_realtime_config(p_ref text, p_private_only boolean, p_max_concurrent_users integer,
                                                p_max_events_per_second integer, p_max_payload_size_in_kb integer,
                                                p_max_channels_per_client integer)
  returns table (private_only boolean, max_concurrent_users integer, max_events_per_second integer,
                 max_payload_size_in_kb integer, max_channels_per_client integer)
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
    updated_at = now()
  where c.project_id = v_project.id;
  perform pg_notify('loam_project_changed', v_project.ref);
  return query select * from platform.realtime_config(p_ref);
end $$;
comment on function platform.update_realtime_config(text, boolean, integer, integer, integer, integer) is 'Changes a project''s realtime settings.';

-- For the data plane (the platform's own connection): settings by ref, nulls where the default applies.
create function platform_private.project_realtime_settings(p_ref text)
  returns table (private_only boolean, max_concurrent_users integer, max_events_per_second integer,
                 max_payload_size_in_kb integer, max_channels_per_client integer)
  language sql stable
as $$
  select coalesce(c.private_only, false), c.max_concurrent_users, c.max_events_per_second,
         c.max_payload_size_in_kb, c.max_channels_per_client
  from platform.projects p left join platform.project_realtime_config c on c.project_id = p.id
  where p.ref = p_ref
$$;
