-- Point-in-time restore (db/README.md, "Point-in-time restore"): per database server, where its WAL archive and
-- its base backups are (set by the operator: a server's `archive_command` writes the archive, Loam reads it);
-- base backups (pg_basebackup of the whole server); restore points of a project; and PITR restores, carried by
-- the same restore rows as backup restores so `…/backups/restores` shows their progress.
alter table platform_private.database_server_credentials
  -- Absolute paths on the machine the workers run on (the archive may be shared with the server's machine).
  -- Only plain path characters: Loam writes them into `restore_command`, which a shell runs.
  add column wal_archive_dir text check (wal_archive_dir ~ '^/[A-Za-z0-9._/-]*$' and wal_archive_dir !~ '(^|/)\.\.(/|$)'),
  add column base_backup_dir text check (base_backup_dir ~ '^/[A-Za-z0-9._/-]*$' and base_backup_dir !~ '(^|/)\.\.(/|$)');

create table platform.base_backups (
  id bigint generated always as identity primary key,
  server_id bigint not null references platform.database_servers on delete cascade,
  trigger text not null check (trigger in ('scheduled', 'manual')),
  status text not null default 'QUEUED' check (status in ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'REMOVED')),
  progress text,
  server_version integer,
  -- The first WAL segment the backup needs (from its backup_label): older archived segments can go with it.
  start_wal_file text,
  bytes bigint,
  error text,
  inserted_at timestamptz not null default now(),
  started_at timestamptz,
  -- When pg_basebackup returned: the backup is consistent from a point before this, so any target after it works.
  completed_at timestamptz
);
create index on platform.base_backups (server_id, completed_at desc);
comment on table platform.base_backups is 'Physical base backups (pg_basebackup) of database servers, for point-in-time restore.';

create table platform.restore_points (
  id bigint generated always as identity primary key,
  project_id bigint not null references platform.projects on delete cascade,
  -- The caller's name (Supabase: at most 20 characters). The WAL record's name is Loam's own, `loam_rp_<id>`:
  -- no tenant string ever reaches the server's recovery settings.
  name text not null check (length(name) between 1 and 20),
  status text not null default 'PENDING' check (status in ('PENDING', 'AVAILABLE', 'FAILED', 'REMOVED')),
  lsn pg_lsn,
  inserted_at timestamptz not null default now(),
  completed_on timestamptz,
  unique (project_id, name)
);
comment on table platform.restore_points is 'Named restore points of a project (pg_create_restore_point), to undo to.';

alter table platform.backup_restores alter column backup_id drop not null;
alter table platform.backup_restores
  add column kind text not null default 'backup' check (kind in ('backup', 'pitr')),
  add column recovery_target_time timestamptz,
  add column restore_point_id bigint references platform.restore_points on delete set null,
  add constraint backup_restores_kind_check2 check (
    (kind = 'backup' and backup_id is not null) or (kind = 'pitr' and backup_id is null and recovery_target_time is not null));
comment on column platform.backup_restores.recovery_target_time is 'PITR: the moment the project is brought back to (a restore point''s time for an undo).';


-- Their result types change (functions/projects_backups.sql makes them again).
drop function if exists platform.project_restores(text);
drop function if exists platform_private.restore_job(bigint);
