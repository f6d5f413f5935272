-- Sites: static websites of a project, their deploys (a manifest of path → SHA-256 each) and the two pointers
-- that publish and rollback swap. File bytes live in the blob layer under keys made of the site id and the
-- SHA-256 Loam computed (server/src/storage/backend.ts siteBlobKey), never of a path a user sent.

alter table platform.plans add column max_sites_per_project integer not null default 1;
comment on column platform.plans.max_sites_per_project is 'How many sites each project of an organization on this plan may have.';

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
  primary key (deploy_id, path)
);
create index on platform.site_files (sha256);
comment on table platform.site_files is 'The manifest of a deploy: path → SHA-256, size and content type.';
