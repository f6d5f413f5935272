-- Preview branches (Supabase's branching): a branch is a project of its own, linked here to its parent. The
-- parent's own entry (`is_default`, Supabase's "main" branch) is made when its first branch is; a branch's row
-- goes when the branch is deleted (its project then goes down like any deleted project).

create table platform.branches (
  id uuid primary key default gen_random_uuid(),
  -- The branch's own project; for the default entry, the parent itself.
  project_id bigint not null unique references platform.projects on delete cascade,
  parent_project_id bigint not null references platform.projects on delete cascade,
  name text not null check (length(name) between 1 and 256 and name !~ '[[:cntrl:]]'),
  is_default boolean not null default false,
  git_branch text check (length(git_branch) <= 256),
  persistent boolean not null default false,
  with_data boolean not null default false,
  status text not null default 'CREATING_PROJECT' check (status in ('CREATING_PROJECT', 'RUNNING_MIGRATIONS',
    'MIGRATIONS_PASSED', 'MIGRATIONS_FAILED', 'FUNCTIONS_DEPLOYED', 'FUNCTIONS_FAILED')),
  status_reason text,
  notify_url text check (length(notify_url) <= 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (is_default = (project_id = parent_project_id))
);
create unique index branches_parent_name_key on platform.branches (parent_project_id, lower(name));
create index on platform.branches (parent_project_id);
comment on table platform.branches is 'Preview branches: each is a project of its own, made from its parent''s migrations.';

-- What a branch is seeded with (SQL run as the branch's owner after the parent's migrations): no caller reads it back.
create table platform_private.branch_seeds (
  branch_id uuid primary key references platform.branches on delete cascade,
  seed text not null
);
alter table platform_private.branch_seeds enable row level security;
