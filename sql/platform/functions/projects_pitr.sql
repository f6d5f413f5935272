-- Point-in-time restore (named to come after projects_backups.sql): where each server's WAL archive and base
-- backups are, the base backups the workers take, a project's restore points and its PITR window, and the
-- requests that bring one project back to a moment (db/README.md, "Point-in-time restore"). The restore itself
-- is the job worker/src/tasks/backup__restore_pitr.ts, recorded in platform.backup_restores like backup restores.

-- The operator's setting for a server (`loam servers pitr`, LOAM_PITR_* for the default server). Null turns PITR off.
create or replace function platform_private.set_server_pitr(p_server_name text, p_wal_archive_dir text, p_base_backup_dir text)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if (p_wal_archive_dir is null) <> (p_base_backup_dir is null) then
    raise exception 'a WAL archive directory and a base backup directory go together' using errcode = 'LMJ09';
  end if;
  -- restore_command is run by a shell: plain path characters only (the table's checks say the same).
  if p_wal_archive_dir !~ '^/[A-Za-z0-9._/-]*$' or p_wal_archive_dir ~ '(^|/)\.\.(/|$)'
     or p_base_backup_dir !~ '^/[A-Za-z0-9._/-]*$' or p_base_backup_dir ~ '(^|/)\.\.(/|$)' then
    raise exception 'PITR directories must be absolute paths of letters, digits and . _ - / only (no ..)' using errcode = 'LMJ09';
  end if;
  update platform_private.database_server_credentials c
    set wal_archive_dir = rtrim(p_wal_archive_dir, '/'), base_backup_dir = rtrim(p_base_backup_dir, '/')
    from platform.database_servers s where s.id = c.server_id and s.name = p_server_name;
  if not found then raise exception 'no database server named %', p_server_name using errcode = 'LMJ09'; end if;
end $$;

create or replace function platform_private.server_pitr(p_server_id bigint)
  returns table (wal_archive_dir text, base_backup_dir text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select c.wal_archive_dir, c.base_backup_dir from platform_private.database_server_credentials c
  where c.server_id = p_server_id and c.wal_archive_dir is not null and c.base_backup_dir is not null
$$;

-- A project's PITR window as the backups list shows it (Supabase's `pitr_enabled`, `physical_backup_data`):
-- from the end of the oldest base backup of its server (or the project's creation, if later) until now.
create or replace function platform.project_pitr_window(p_ref text)
  returns table (pitr_enabled boolean, earliest timestamptz, latest timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_enabled boolean := exists (select 1 from platform_private.server_pitr(v_project.database_server_id));
  v_oldest timestamptz := (select min(b.completed_at) from platform.base_backups b
                           where b.server_id = v_project.database_server_id and b.status = 'COMPLETED');
begin
  return query select v_enabled,
    case when v_enabled and v_oldest is not null then greatest(v_oldest, v_project.created_at) end,
    case when v_enabled and v_oldest is not null then now() end;
end $$;
comment on function platform.project_pitr_window(text) is 'Whether the project can be brought back to a moment, and between which times.';

-- Takes the project out of service and queues its point-in-time restore (the guard clauses first).
create or replace function platform_private.queue_pitr(p_project platform.projects, p_target timestamptz, p_restore_point_id bigint)
  returns platform.backup_restores
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_window record;
  v_restore platform.backup_restores;
begin
  if not exists (select 1 from platform_private.server_pitr(p_project.database_server_id)) then
    raise exception 'Point-in-time restore is not available: the project''s database server has no WAL archive configured (see db/README.md, "Point-in-time restore")'
      using errcode = 'LMK07';
  end if;
  if p_project.status <> 'ACTIVE_HEALTHY' then
    raise exception 'cannot restore a project whose status is %', p_project.status using errcode = 'LMS01';
  end if;
  select * into v_window from platform.project_pitr_window(p_project.ref);
  if v_window.earliest is null then
    raise exception 'there is no point in time to restore to yet: the project''s database server has no completed base backup'
      using errcode = 'LMJ02';
  end if;
  if p_target > now() then
    raise exception 'the recovery time % is in the future', to_char(p_target at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      using errcode = 'LMJ02';
  end if;
  if p_target < v_window.earliest then
    raise exception 'the recovery time % is before the earliest point this project can be restored to (%)',
      to_char(p_target at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      to_char(v_window.earliest at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') using errcode = 'LMJ02';
  end if;
  update platform.projects set status = 'RESTORING_BACKUP', status_reason = null, updated_at = now() where id = p_project.id;
  insert into platform.backup_restores (kind, target_project_id, recovery_target_time, restore_point_id)
    values ('pitr', p_project.id, p_target, p_restore_point_id) returning * into v_restore;
  perform graphile_worker.add_job('backup__restore_pitr', json_build_object('restore_id', v_restore.id),
    queue_name := 'project:' || p_project.ref, job_key := 'backup__restore_pitr:' || v_restore.id, max_attempts := 3);
  return v_restore;
end $$;

create or replace function platform.restore_pitr(p_ref text, p_target_unix bigint) returns platform.backup_restores
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return platform_private.queue_pitr(platform.project_for_member(p_ref), to_timestamp(p_target_unix), null);
end $$;
comment on function platform.restore_pitr(text, bigint) is
  'Brings the project''s database back to a moment (seconds since 1970); the project is out of service meanwhile.';

-- A restore point: recorded PENDING here; the API then writes it into the WAL (pg_create_restore_point, as
-- administrator, under Loam's own name) and marks it AVAILABLE.
create or replace function platform.create_restore_point(p_ref text, p_name text) returns platform.restore_points
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_point platform.restore_points;
begin
  if not exists (select 1 from platform_private.server_pitr(v_project.database_server_id)) then
    raise exception 'Restore points are not available: the project''s database server has no WAL archive configured (see db/README.md, "Point-in-time restore")'
      using errcode = 'LMK07';
  end if;
  if v_project.status <> 'ACTIVE_HEALTHY' then
    raise exception 'cannot create a restore point of a project whose status is %', v_project.status using errcode = 'LMS01';
  end if;
  insert into platform.restore_points (project_id, name) values (v_project.id, p_name)
    on conflict (project_id, name) do nothing returning * into v_point;
  if v_point.id is null then
    raise exception 'the project already has a restore point named %', p_name using errcode = 'LMJ05';
  end if;
  return v_point;
end $$;
comment on function platform.create_restore_point(text, text) is 'Records a named restore point of the project.';

create or replace function platform_private.restore_point_done(p_id bigint, p_lsn pg_lsn, p_error text) returns platform.restore_points
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.restore_points set status = case when p_error is null then 'AVAILABLE' else 'FAILED' end,
      lsn = p_lsn, completed_on = now()
    where id = p_id returning *
$$;

-- The project's restore point of that name, or its newest when no name is given.
create or replace function platform.project_restore_point(p_ref text, p_name text) returns platform.restore_points
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_point platform.restore_points;
begin
  select rp.* into v_point from platform.restore_points rp
    where rp.project_id = v_project.id and (p_name is null or rp.name = p_name)
    order by rp.inserted_at desc, rp.id desc limit 1;
  if not found then raise exception 'restore point not found' using errcode = 'LMJ04'; end if;
  -- Past the window (the base backups before it are gone), it can no longer be undone to.
  if v_point.status = 'AVAILABLE' and v_point.completed_on < coalesce((select w.earliest from platform.project_pitr_window(p_ref) w), 'infinity') then
    v_point.status := 'REMOVED';
  end if;
  return v_point;
end $$;

create or replace function platform.undo_to_restore_point(p_ref text, p_name text) returns platform.backup_restores
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_point platform.restore_points := platform.project_restore_point(p_ref, p_name);
begin
  if v_point.status <> 'AVAILABLE' then
    raise exception 'restore point % cannot be restored to (status %)', p_name, v_point.status using errcode = 'LMJ03';
  end if;
  return platform_private.queue_pitr(platform.project_for_member(p_ref), v_point.completed_on, v_point.id);
end $$;
comment on function platform.undo_to_restore_point(text, text) is 'Brings the project''s database back to one of its restore points.';

-- What the PITR job needs to know about its restore point (its WAL name is Loam's own).
create or replace function platform_private.restore_point_of(p_id bigint) returns platform.restore_points
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select * from platform.restore_points where id = p_id $$;

-- Base backups: queued by the schedule or on demand (`loam servers base-backup`), taken by server__base_backup.
create or replace function platform_private.queue_base_backup(p_server_id bigint, p_trigger text) returns platform.base_backups
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_backup platform.base_backups;
begin
  if not exists (select 1 from platform_private.server_pitr(p_server_id)) then
    raise exception 'database server % has no WAL archive and base backup directory configured', p_server_id using errcode = 'LMK07';
  end if;
  select * into v_backup from platform.base_backups where server_id = p_server_id and status in ('QUEUED', 'RUNNING');
  if found then return v_backup; end if;
  insert into platform.base_backups (server_id, trigger) values (p_server_id, p_trigger) returning * into v_backup;
  perform graphile_worker.add_job('server__base_backup', json_build_object('base_backup_id', v_backup.id),
    queue_name := 'server:' || p_server_id, job_key := 'server__base_backup:' || v_backup.id, max_attempts := 3);
  return v_backup;
end $$;

-- The schedule: a base backup for every server with PITR whose newest one is older than p_every.
create or replace function platform_private.queue_due_base_backups(p_every interval) returns bigint[]
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[] := '{}';
  v_id bigint;
begin
  for v_id in
    select c.server_id from platform_private.database_server_credentials c
    where c.wal_archive_dir is not null and c.base_backup_dir is not null
      and coalesce((select max(b.inserted_at) from platform.base_backups b where b.server_id = c.server_id
                    and b.status in ('QUEUED', 'RUNNING', 'COMPLETED')), '-infinity') < now() - p_every
    for update of c skip locked
  loop
    perform platform_private.queue_base_backup(v_id, 'scheduled');
    v_ids := v_ids || v_id;
  end loop;
  return v_ids;
end $$;

create or replace function platform_private.base_backup_progress(p_id bigint, p_progress text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.base_backups set status = 'RUNNING', progress = p_progress, started_at = coalesce(started_at, now())
    where id = p_id and status in ('QUEUED', 'RUNNING')
$$;

create or replace function platform_private.base_backup_done(p_id bigint, p_server_version integer, p_start_wal_file text, p_bytes bigint)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.base_backups set status = 'COMPLETED', progress = null, completed_at = now(), server_version = p_server_version,
      start_wal_file = p_start_wal_file, bytes = p_bytes
    where id = p_id
$$;

create or replace function platform_private.base_backup_failed(p_id bigint, p_error text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.base_backups set status = 'FAILED', progress = null, error = left(p_error, 2000), completed_at = now()
    where id = p_id and status in ('QUEUED', 'RUNNING')
$$;

-- Base backups past retention (the newest completed one is always kept), and the oldest WAL segment still needed
-- by what stays (archived segments before it can go).
create or replace function platform_private.expired_base_backups(p_server_id bigint, p_keep interval) returns setof bigint
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select b.id from platform.base_backups b
  where b.server_id = p_server_id and b.status in ('COMPLETED', 'FAILED') and b.inserted_at < now() - p_keep
    and b.id <> coalesce((select max(x.id) from platform.base_backups x where x.server_id = p_server_id and x.status = 'COMPLETED'), 0)
$$;

create or replace function platform_private.base_backup_removed(p_id bigint) returns text
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.base_backups set status = 'REMOVED' where id = p_id;
  select b.start_wal_file from platform.base_backups b
  where b.server_id = (select server_id from platform.base_backups where id = p_id) and b.status = 'COMPLETED'
  order by b.id limit 1
$$;

-- The newest completed base backup that ended before the target: recovery starts from it.
create or replace function platform_private.base_backup_for(p_server_id bigint, p_target timestamptz) returns platform.base_backups
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select * from platform.base_backups
  where server_id = p_server_id and status = 'COMPLETED' and completed_at <= p_target
  order by completed_at desc limit 1
$$;
