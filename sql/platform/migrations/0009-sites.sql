-- Sites: static websites of a project, their deploys (a manifest of path → SHA-256 each) and the two pointers
-- that publish and rollback swap. File bytes live in the blob layer under keys made of the site id and the
-- SHA-256 Loam computed (server/src/storage/backend.ts siteBlobKey), never of a path a user sent.

alter table platform.plans add column max_sites_per_project integer not null default 1,
  add column max_site_deploy_bytes bigint not null default 104857600,
  add column max_site_files integer not null default 5000;
update platform.plans set max_site_deploy_bytes = 1073741824, max_site_files = 20000 where id = 'pro';
comment on column platform.plans.max_sites_per_project is 'How many sites each project of an organization on this plan may have.';
comment on column platform.plans.max_site_deploy_bytes is 'Most bytes of one site deploy (the operator''s LOAM_SITES_MAX_DEPLOY_BYTES caps it).';
comment on column platform.plans.max_site_files is 'Most files of one site deploy (the operator''s LOAM_SITES_MAX_FILES caps it).';

create table platform.sites (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  -- 3-63 of a-z 0-9 and single hyphens: a DNS label that cannot end in `--staging` (the preview suffix).
  subdomain text not null unique check (subdomain ~ '^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$'),
  name text not null default '' check (length(name) <= 256),
  spa_mode boolean not null default false,
  -- A path inside the deploy served with status 404 for unknown paths; null: `404.html` when the deploy has one.
  not_found_page text check (not_found_page is null or length(not_found_page) between 1 and 1024),
  live_deploy_id uuid,
  staging_deploy_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index on platform.sites (project_id);
comment on table platform.sites is 'Static websites of a project: a subdomain, settings, and the live and staging deploys.';

create table platform.site_deploys (
  id uuid primary key default gen_random_uuid(),
  site_id uuid not null references platform.sites on delete cascade,
  label text not null default '' check (length(label) <= 256),
  source text not null check (source in ('zip', 'files')),
  status text not null check (status in ('pending', 'processing', 'ready', 'failed')),
  error text,
  size bigint not null default 0,
  file_count integer not null default 0,
  -- The parsed `_headers` and `_redirects` rules of the deploy (server/src/sites/rules.ts), read when serving.
  headers jsonb not null default '[]',
  redirects jsonb not null default '[]',
  created_at timestamptz not null default now(),
  ready_at timestamptz,
  published_at timestamptz
);
create index on platform.site_deploys (site_id, created_at desc);
comment on table platform.site_deploys is 'Deploys of a site: each is a manifest of files; ready deploys can be staged, published and rolled back to.';

alter table platform.sites add foreign key (live_deploy_id) references platform.site_deploys on delete set null;
alter table platform.sites add foreign key (staging_deploy_id) references platform.site_deploys on delete set null;

create table platform.site_files (
  deploy_id uuid not null references platform.site_deploys on delete cascade,
  path text not null check (length(path) between 1 and 1024),
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  -- null while a manifest entry of an open deploy waits for its bytes
  size bigint check (size >= 0),
  content_type text,
  -- Sizes of the brotli and gzip variants stored next to the bytes (null: none, the file does not compress well)
  br_size bigint check (br_size >= 0),
  gz_size bigint check (gz_size >= 0),
  primary key (deploy_id, path)
);
create index on platform.site_files (sha256);
comment on table platform.site_files is 'The manifest of a deploy: path → SHA-256, size and content type.';

-- Builds from git (server/src/sites/build.ts): a site's repository and commands, and each build with its log.
alter table platform.sites
  add column repo_url text check (length(repo_url) <= 2048),
  add column production_branch text not null default 'main'
    check (production_branch ~ '^[A-Za-z0-9._/-]{1,255}$' and production_branch !~ '^[-/.]|\.\.|//|/$|\.lock$'),
  add column install_command text check (length(install_command) <= 4096),
  add column build_command text check (length(build_command) <= 4096),
  add column output_dir text not null default 'dist' check (length(output_dir) <= 1024),
  add column auto_publish boolean not null default false,
  -- Values are never returned (reads show the names only): they may hold tokens.
  add column build_env jsonb not null default '{}' check (jsonb_typeof(build_env) = 'object'),
  add column webhook_secret text not null default encode(sha256(gen_random_uuid()::text::bytea || gen_random_uuid()::text::bytea), 'hex');

alter table platform.site_deploys drop constraint site_deploys_source_check;
alter table platform.site_deploys add constraint site_deploys_source_check check (source in ('zip', 'files', 'build'));

create table platform.site_builds (
  id uuid primary key default gen_random_uuid(),
  site_id uuid not null references platform.sites on delete cascade,
  status text not null default 'queued' check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  trigger text not null check (trigger in ('api', 'webhook')),
  branch text not null,
  deploy_id uuid references platform.site_deploys on delete set null,
  error text,
  log text not null default '',
  cancel_requested boolean not null default false,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index on platform.site_builds (site_id, created_at desc);
comment on table platform.site_builds is 'Builds of a site from its git repository, with their logs.';

-- Credentials for private repositories: a deploy key Loam generates (its public half is shown to the owner, to
-- add to the repository) and an access token for https. No API caller may read this table; the build job gets
-- them through platform_private.start_site_build, and only its clone step uses them.
create table platform_private.site_build_secrets (
  site_id uuid primary key references platform.sites on delete cascade,
  deploy_key_private text,
  deploy_key_public text check (deploy_key_public ~ '^ssh-ed25519 [A-Za-z0-9+/=]+( [^\n]*)?$'),
  repo_token text check (length(repo_token) <= 4096)
);
comment on table platform_private.site_build_secrets is 'Deploy keys and repository tokens of sites; never returned by the API.';
alter table platform_private.site_build_secrets enable row level security;
