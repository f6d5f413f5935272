-- Control database: accounts, organizations, tokens, projects, database servers.
-- `platform` is what the Management API reads under RLS (as role loam_api); `platform_private` holds what no
-- caller may read: password hashes, token hashes, JWT secrets, server credentials, the email outbox.

create schema if not exists platform;
create schema if not exists platform_private;
comment on schema platform is 'Loam control plane: what the Management API exposes, guarded by RLS.';
comment on schema platform_private is 'Loam secrets and bookkeeping no API caller may read.';

create table platform.plans (
  id text primary key,
  name text not null,
  max_projects integer not null,
  max_organizations integer not null,
  rate_limit_per_minute integer,
  db_size_mb integer not null,
  storage_size_mb integer not null
);
comment on table platform.plans is 'Plans and the limits quotas use.';
insert into platform.plans values
  ('free', 'Free', 100, 10, null, 500, 1024),
  ('pro', 'Pro', 1000, 100, null, 8192, 102400);

create table platform.regions (
  id text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text not null
);
comment on table platform.regions is 'Regions projects can be placed in; each has one or more database servers.';

create table platform.accounts (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 320),
  full_name text check (length(full_name) <= 256),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index accounts_email_key on platform.accounts (lower(email));
comment on table platform.accounts is 'People who sign in to the Management API.';

create table platform_private.account_passwords (
  account_id uuid primary key references platform.accounts on delete cascade,
  password_hash text not null,
  updated_at timestamptz not null default now()
);

create table platform.organizations (
  id bigint generated always as identity primary key,
  slug text not null unique check (slug ~ '^[a-z]{20}$'),
  name text not null check (length(name) between 1 and 256),
  plan text not null default 'free' references platform.plans,
  created_at timestamptz not null default now()
);
comment on table platform.organizations is 'Organizations own projects; access to a project follows membership.';

create table platform.organization_members (
  organization_id bigint not null references platform.organizations on delete cascade,
  account_id uuid not null references platform.accounts on delete cascade,
  role text not null default 'member' check (role in ('owner', 'member')),
  created_at timestamptz not null default now(),
  primary key (organization_id, account_id)
);
create index on platform.organization_members (account_id);
comment on table platform.organization_members is 'Who belongs to which organization, and as what.';

create table platform.access_tokens (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references platform.accounts on delete cascade,
  kind text not null check (kind in ('session', 'personal')),
  name text not null check (length(name) between 1 and 256),
  token_prefix text not null,
  scopes text[] not null default '{}',
  expires_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz not null default now()
);
create index on platform.access_tokens (account_id);
comment on table platform.access_tokens is 'Sessions and personal access tokens; the token itself is only ever stored as a hash.';

create table platform_private.access_token_hashes (
  token_id uuid primary key references platform.access_tokens on delete cascade,
  token_hash bytea not null unique
);

create table platform_private.password_resets (
  token_hash bytea primary key,
  account_id uuid not null references platform.accounts on delete cascade,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);

create table platform.database_servers (
  id bigint generated always as identity primary key,
  name text not null unique,
  region text not null references platform.regions,
  public_host text not null,
  public_port integer not null,
  capacity integer not null default 1000,
  is_default boolean not null default false,
  created_at timestamptz not null default now()
);
create unique index on platform.database_servers (is_default) where is_default;
comment on table platform.database_servers is 'PostgreSQL servers project databases are placed on.';

-- admin_url null means "the server that holds the control database", reached with the platform's own connection.
create table platform_private.database_server_credentials (
  server_id bigint primary key references platform.database_servers on delete cascade,
  admin_url text
);

create table platform.projects (
  id bigint generated always as identity primary key,
  ref text not null unique check (ref ~ '^[a-z]{20}$'),
  organization_id bigint not null references platform.organizations,
  name text not null,
  region text not null references platform.regions,
  status text not null default 'COMING_UP' check (status in (
    'COMING_UP', 'ACTIVE_HEALTHY', 'INIT_FAILED', 'PAUSING', 'INACTIVE', 'PAUSE_FAILED', 'RESTORING',
    'RESTORE_FAILED', 'GOING_DOWN', 'REMOVED', 'UPGRADING')),
  status_reason text,
  database_server_id bigint references platform.database_servers,
  template_version integer,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create index on platform.projects (organization_id) where deleted_at is null;
create index on platform.projects (database_server_id) where deleted_at is null;
comment on table platform.projects is 'Projects: one database each, with its own keys and data-plane APIs.';

create table platform_private.project_secrets (
  project_id bigint primary key references platform.projects on delete cascade,
  db_pass_verifier text not null,
  mgmt_password text not null,
  jwt_secret text,
  jwt_secret_created_at timestamptz
);

create table platform_private.settings (
  key text primary key,
  value text not null
);

create table platform_private.email_outbox (
  id bigint generated always as identity primary key,
  to_address text not null,
  subject text not null,
  body_text text not null,
  kind text not null,
  account_id uuid references platform.accounts on delete cascade,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  attempts integer not null default 0,
  last_error text
);
comment on table platform_private.email_outbox is 'Mail waiting to be sent; without SMTP it stays here for the operator to read.';

create unlogged table platform_private.rate_limits (
  key text not null,
  window_start timestamptz not null,
  hits integer not null,
  primary key (key, window_start)
);

create table platform.usage_daily (
  account_id uuid not null references platform.accounts on delete cascade,
  day date not null,
  requests integer not null default 0,
  primary key (account_id, day)
);
comment on table platform.usage_daily is 'Management API requests per account per day.';
