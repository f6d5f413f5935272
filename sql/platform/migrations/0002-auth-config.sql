-- Per-project auth settings (the Management API's /config/auth). Only values changed from the defaults are
-- stored; the SMTP password is kept apart so the settings document can be shown to members as it is.
create table platform_private.auth_configs (
  project_id bigint primary key references platform.projects on delete cascade,
  settings jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
  smtp_pass text,
  updated_at timestamptz not null default now()
);
comment on table platform_private.auth_configs is 'Auth settings of each project that differ from the defaults, and its SMTP password.';
alter table platform_private.auth_configs enable row level security;
