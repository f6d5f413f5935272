-- Environments of a project's secrets (production, staging, development) in the one secrets store the edge
-- functions read: each secret row now belongs to an environment, the rows Supabase's /v1/projects/{ref}/secrets
-- has always written being production's. An environment falls back to the next one (development → staging →
-- production) for names it does not set. Functions and site builds are bound to an environment (functions
-- default to production, as before; site builds read no secrets until bound). Every reveal of a value is
-- recorded: who, with which token, when.

alter table platform_private.function_secrets
  add column environment text not null default 'production' check (environment in ('production', 'staging', 'development'));
alter table platform_private.function_secrets drop constraint function_secrets_pkey;
alter table platform_private.function_secrets add primary key (project_id, environment, name);
comment on table platform_private.function_secrets is
  'Secrets of a project per environment (AES-256-GCM, sealed by the API process); production is what Supabase''s secrets API reads and writes.';

create table platform_private.secret_bindings (
  id bigint generated always as identity primary key,
  project_id bigint not null references platform.projects on delete cascade,
  function_id bigint unique references platform.functions on delete cascade,
  site_id uuid unique references platform.sites on delete cascade,
  environment text not null check (environment in ('production', 'staging', 'development')),
  updated_at timestamptz not null default now(),
  check ((function_id is null) <> (site_id is null))
);
create index on platform_private.secret_bindings (project_id);
comment on table platform_private.secret_bindings is 'Which environment''s secrets a function or a site build reads.';

create table platform_private.secret_reveals (
  id bigint generated always as identity primary key,
  project_id bigint not null references platform.projects on delete cascade,
  environment text not null,
  name text not null,
  account_id uuid references platform.accounts on delete set null,
  token_id uuid,
  at timestamptz not null default now()
);
create index on platform_private.secret_reveals (project_id, id);
comment on table platform_private.secret_reveals is 'Audit of secret values shown in the clear: who, with which token, when.';

alter table platform_private.secret_bindings enable row level security;
alter table platform_private.secret_reveals enable row level security;
