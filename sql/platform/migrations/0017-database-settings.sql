-- A project's database settings that live outside its database: the networks its psql login may come from,
-- addresses banned from it, whether it must use TLS, read-only mode; SQL snippets; regions placed on the
-- servers of another region (so Supabase's region codes work on a one-server install).

alter table platform.regions add column placed_in text references platform.regions;
comment on column platform.regions.placed_in is
  'A region with no database server of its own places its projects on the servers of this region.';

-- Supabase's clients show numeric user ids (snippet owners); accounts keep their uuid as the real key.
create table platform_private.account_numbers (
  account_id uuid primary key references platform.accounts on delete cascade,
  number bigint generated always as identity unique
);

create table platform_private.project_network (
  project_id bigint primary key references platform.projects on delete cascade,
  db_allowed_cidrs cidr[] not null default '{0.0.0.0/0}',
  db_allowed_cidrs_v6 cidr[] not null default '{::/0}',
  old_allowed_cidrs cidr[],
  old_allowed_cidrs_v6 cidr[],
  restrictions_updated_at timestamptz,
  restrictions_applied_at timestamptz,
  ssl_enforced boolean not null default false,
  readonly boolean not null default false,
  readonly_override_until timestamptz,
  check (cardinality(db_allowed_cidrs) + cardinality(db_allowed_cidrs_v6) <= 100)
);
comment on table platform_private.project_network is
  'Who may log in to a project''s database: allowed networks, TLS, read-only mode. Enforced in the managed section of pg_hba.conf and by the SQL endpoint.';

create table platform_private.network_bans (
  project_id bigint not null references platform.projects on delete cascade,
  address inet not null,
  identifier text not null default '' check (length(identifier) <= 256),
  type text not null default 'postgres' check (type in ('postgres', 'api')),
  created_at timestamptz not null default now(),
  primary key (project_id, address)
);
comment on table platform_private.network_bans is 'Addresses refused by a project''s database and SQL endpoint.';

create table platform_private.snippets (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references platform.accounts on delete cascade,
  project_id bigint not null references platform.projects on delete cascade,
  name text not null check (length(name) between 1 and 256),
  description text check (length(description) <= 1024),
  visibility text not null default 'user' check (visibility in ('user', 'project')),
  sql text not null check (length(sql) <= 1000000),
  favorite boolean not null default false,
  inserted_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index snippets_project_idx on platform_private.snippets (project_id, inserted_at);
comment on table platform_private.snippets is 'Saved SQL snippets, per account and project (Supabase''s /v1/snippets).';
