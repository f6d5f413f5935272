-- Edge functions: a project's functions, their immutable versions (deployed source, content-addressed per
-- project), the live version of each, and the project's secrets (encrypted by the API process; the database
-- never sees a value in clear). Everything is read and written through the functions in
-- sql/platform/functions/functions.sql: RLS is on and no policy grants anything directly.

create table platform.functions (
  id bigint generated always as identity primary key,
  uuid uuid not null default gen_random_uuid() unique,
  project_id bigint not null references platform.projects on delete cascade,
  slug text not null check (slug ~ '^[A-Za-z][A-Za-z0-9_-]{0,127}$'),
  name text not null check (length(name) between 1 and 256),
  verify_jwt boolean not null default true,
  entrypoint_path text,
  import_map_path text,
  live_version_id bigint,
  version_count integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, slug)
);
comment on table platform.functions is 'Edge functions of a project; live_version_id is the version invocations run.';

create table platform.function_versions (
  id bigint generated always as identity primary key,
  function_id bigint not null references platform.functions on delete cascade,
  version integer not null,
  entrypoint_path text not null,
  import_map_path text,
  verify_jwt boolean,
  status text not null default 'PENDING' check (status in ('PENDING', 'READY', 'FAILED')),
  error text,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (function_id, version)
);
comment on table platform.function_versions is 'Immutable deployed versions of an edge function, with the outcome of their validation.';

alter table platform.functions add foreign key (live_version_id) references platform.function_versions on delete set null;

-- Source bytes, addressed by SHA-256 within a project (never shared across projects: a hash says nothing of
-- another tenant's code).
create table platform_private.function_blobs (
  project_id bigint not null references platform.projects on delete cascade,
  sha256 bytea not null,
  content bytea not null,
  primary key (project_id, sha256)
);

create table platform_private.function_version_files (
  version_id bigint not null references platform.function_versions on delete cascade,
  path text not null,
  sha256 bytea not null,
  primary key (version_id, path)
);

-- AES-256-GCM ciphertext (iv || tag || data) made by the API process with LOAM_SECRETS_KEY; digest is the
-- SHA-256 hex of the value, which is all the list endpoint shows.
create table platform_private.function_secrets (
  project_id bigint not null references platform.projects on delete cascade,
  name text not null check (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,255}$'),
  value_enc bytea not null,
  digest text not null,
  updated_at timestamptz not null default now(),
  primary key (project_id, name)
);

-- Per-invocation records (status, duration, console output), bounded per function by the writer.
create table platform_private.function_logs (
  id bigint generated always as identity primary key,
  function_id bigint not null references platform.functions on delete cascade,
  version integer,
  at timestamptz not null default now(),
  method text not null,
  path text not null,
  status integer not null,
  duration_ms integer not null,
  output text not null default ''
);
create index on platform_private.function_logs (function_id, id);

alter table platform.functions enable row level security;
alter table platform.function_versions enable row level security;
alter table platform_private.function_blobs enable row level security;
alter table platform_private.function_version_files enable row level security;
alter table platform_private.function_secrets enable row level security;
alter table platform_private.function_logs enable row level security;
