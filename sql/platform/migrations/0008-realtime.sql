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
