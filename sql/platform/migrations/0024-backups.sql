-- Backups of a project (its database and its stored files) and restores from them, each carried out by a
-- worker job (worker/src/tasks/backup__create.ts, backup__restore.ts) whose progress these rows show.
-- A project being restored is in its own status, RESTORING_BACKUP: the data plane serves only healthy
-- projects, and no pause/restore/delete job may act on it while its database is being swapped.
alter table platform.projects drop constraint if exists projects_status_check;
alter table platform.projects add constraint projects_status_check check (status in (
  'COMING_UP', 'ACTIVE_HEALTHY', 'INIT_FAILED', 'PAUSING', 'INACTIVE', 'PAUSE_FAILED', 'RESTORING',
  'RESTORE_FAILED', 'GOING_DOWN', 'REMOVED', 'UPGRADING', 'RESTORING_BACKUP'));

-- How long a plan keeps a project's daily backups (Supabase: 7 days on Pro; self-hosters set their own).
alter table platform.plans add column backup_retention_days integer not null default 7 check (backup_retention_days >= 0);

create table platform.backups (
  id bigint generated always as identity primary key,
  project_id bigint not null references platform.projects on delete cascade,
  -- 'logical': pg_dump of the project's database (custom format) plus a copy of its stored files.
  kind text not null default 'logical' check (kind in ('logical')),
  trigger text not null check (trigger in ('scheduled', 'manual')),
  status text not null default 'QUEUED' check (status in ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'REMOVED')),
  -- What the job is doing now ('dumping database', 'copying files 120/4000', …): progress for the API.
  progress text,
  server_version integer,
  template_version integer,
  database_bytes bigint,
  file_count integer,
  file_bytes bigint,
  error text,
  inserted_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz
);
create index on platform.backups (project_id, inserted_at desc);
comment on table platform.backups is 'Backups of projects: the database (pg_dump) and the stored files, with the job''s progress.';

create table platform.backup_restores (
  id bigint generated always as identity primary key,
  backup_id bigint not null references platform.backups on delete cascade,
  -- The project restored into: the backup's own project, or a new one made for the restore.
  target_project_id bigint not null references platform.projects on delete cascade,
  status text not null default 'QUEUED' check (status in ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED')),
  progress text,
  -- The step the job reached: 'swapping' means the restored database is complete and is being put in place
  -- (a job resumed after a crash then finishes the swap instead of starting over).
  step text not null default 'preparing',
  error text,
  inserted_at timestamptz not null default now(),
  completed_at timestamptz
);
create index on platform.backup_restores (target_project_id, inserted_at desc);
comment on table platform.backup_restores is 'Restores of backups into a project, with the job''s progress.';
