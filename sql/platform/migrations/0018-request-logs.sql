-- A bounded log of each project's data-plane requests (and the Postgres errors its requests met), written in
-- batches by every API process, and per-minute request counts for the usage endpoints. Read only through the
-- functions in sql/platform/functions/logs.sql (members only): RLS on, no grant, no policy.

create table platform_private.request_logs (
  id bigint generated always as identity primary key,
  project_id bigint not null references platform.projects on delete cascade,
  at timestamptz not null default now(),
  service text not null check (service in ('rest', 'graphql', 'auth', 'storage', 'realtime', 'functions', 'postgres')),
  method text,
  path text,
  status integer,
  duration_ms real,
  user_agent text,
  ip text,
  error_code text,
  message text
);
comment on table platform_private.request_logs is
  'Recent data-plane requests of a project and the Postgres errors they met; trimmed per project by rows and age.';
create index on platform_private.request_logs (project_id, id);

create table platform_private.request_counts (
  project_id bigint not null references platform.projects on delete cascade,
  minute timestamptz not null,
  service text not null,
  count bigint not null,
  primary key (project_id, minute, service)
);
comment on table platform_private.request_counts is 'Data-plane requests per project, minute and service; kept 7 days.';

alter table platform_private.request_logs enable row level security;
alter table platform_private.request_counts enable row level security;
