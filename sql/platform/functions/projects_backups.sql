-- Backups and restores of projects (named to come after projects.sql: files are applied in name order). Each request records its intent and queues the job that carries it out in
-- the same transaction; the jobs report progress and outcome through the platform_private functions below.
-- Jobs of one project run one at a time (queue `project:<ref>`), so a backup never runs during a restore.

-- Queues a backup of the project (on demand, or by the daily schedule). Only a healthy project is backed up.
create or replace function platform.create_backup(p_ref text) returns platform.backups
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return platform_private.queue_backup(v_project, 'manual');
end $$;
comment on function platform.create_backup(text) is 'Queues a backup of the project''s database and stored files.';

create or replace function platform_private.queue_backup(p_project platform.projects, p_trigger text) returns platform.backups
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_backup platform.backups;
begin
  if p_project.status <> 'ACTIVE_HEALTHY' then
    raise exception 'cannot back up a project whose status is %', p_project.status using errcode = 'LMK02';
  end if;
  if exists (select 1 from platform.backups b where b.project_id = p_project.id and b.status in ('QUEUED', 'RUNNING')) then
    raise exception 'a backup of this project is already in progress' using errcode = 'LMK03';
  end if;
  insert into platform.backups (project_id, trigger) values (p_project.id, p_trigger) returning * into v_backup;
  perform graphile_worker.add_job('backup__create', json_build_object('backup_id', v_backup.id),
    queue_name := 'project:' || p_project.ref, job_key := 'backup__create:' || v_backup.id, max_attempts := 3);
  return v_backup;
end $$;

-- The backups of a project a member may see (newest first), as the API lists them.
create or replace function platform.project_backups(p_ref text) returns setof platform.backups
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select b.* from platform.backups b
    where b.project_id = v_project.id and b.status <> 'REMOVED'
    order by b.inserted_at desc, b.id desc;
end $$;

-- Restores a completed backup into its own project (p_new_name null) or into a new project of the same
-- organization. The project is taken out of service at once (RESTORING_BACKUP: the data plane answers 503);
-- its current database stays as it is until the restored one is complete, then the two are swapped.
create or replace function platform.restore_backup(p_ref text, p_backup_id text, p_new_name text default null,
                                                   p_db_pass_verifier text default null)
  returns platform.backup_restores
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_backup platform.backups;
  v_target platform.projects;
  v_restore platform.backup_restores;
begin
  select b.* into v_backup from platform.backups b
    where b.project_id = v_project.id and b.id::text = p_backup_id and b.status <> 'REMOVED';
  if not found then raise exception 'backup not found' using errcode = 'LMK04'; end if;
  if v_backup.status <> 'COMPLETED' then
    raise exception 'backup % is not complete (status %)', v_backup.id, v_backup.status using errcode = 'LMK05';
  end if;
  -- A dump fits the template version it was taken at; the restore adds the current template's bookkeeping.
  if v_backup.template_version is distinct from v_project.template_version then
    raise exception 'backup % was taken at project-template version %, the project is at %: restore it on a Loam of that version',
      v_backup.id, v_backup.template_version, v_project.template_version using errcode = 'LMK09';
  end if;
  if p_new_name is null then
    -- A paused project is restored (unpaused) first: a restore ends with the project serving.
    if v_project.status <> 'ACTIVE_HEALTHY' then
      raise exception 'cannot restore a project whose status is %', v_project.status using errcode = 'LMS01';
    end if;
    update platform.projects set status = 'RESTORING_BACKUP', status_reason = null, updated_at = now()
      where id = v_project.id returning * into v_target;
  else
    perform platform_private.validate_name(p_new_name);
    if (select count(*) from platform.projects where organization_id = v_project.organization_id and deleted_at is null)
        >= (select max_projects from platform.plans pl join platform.organizations o on o.plan = pl.id where o.id = v_project.organization_id) then
      raise exception 'the organization''s plan allows no more projects' using errcode = 'LMQ01';
    end if;
    if p_db_pass_verifier is null then
      raise exception 'a new project needs its database password (db_pass)' using errcode = 'LMK06';
    end if;
    -- Placed on the backup's server: the restore reads the dump with that server's tools.
    -- Of the backed-up project's backend type: a `frontend` project's backup makes no project with database APIs.
    insert into platform.projects (ref, organization_id, name, region, status, database_server_id, backend_type)
      values (platform.random_letters(20), v_project.organization_id, p_new_name, v_project.region, 'RESTORING_BACKUP',
              v_project.database_server_id, v_project.backend_type)
      returning * into v_target;
    insert into platform_private.project_secrets (project_id, db_pass_verifier, mgmt_password)
      values (v_target.id, p_db_pass_verifier, encode(platform.random_bytes(24), 'hex'));
  end if;
  insert into platform.backup_restores (backup_id, target_project_id) values (v_backup.id, v_target.id)
    returning * into v_restore;
  perform graphile_worker.add_job('backup__restore', json_build_object('restore_id', v_restore.id),
    queue_name := 'project:' || v_target.ref, job_key := 'backup__restore:' || v_restore.id, max_attempts := 3);
  return v_restore;
end $$;
comment on function platform.restore_backup(text, text, text, text) is
  'Restores a backup into its project (taken out of service meanwhile) or into a new project.';

-- Restores a member may see: those into the project (from a backup or to a point in time), and those of its
-- backups into new projects.
create or replace function platform.project_restores(p_ref text)
  returns table (id bigint, backup_id bigint, target_ref text, status text, progress text, step text, error text,
                 inserted_at timestamptz, completed_at timestamptz, kind text, recovery_target_time timestamptz,
                 restore_point text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select r.id, r.backup_id, t.ref, r.status, r.progress, r.step, r.error, r.inserted_at, r.completed_at, r.kind,
         r.recovery_target_time, rp.name
  from platform.backup_restores r
  left join platform.backups b on b.id = r.backup_id
  left join platform.restore_points rp on rp.id = r.restore_point_id
  join platform.projects t on t.id = r.target_project_id
  where (platform.project_for_member(p_ref)).id in (r.target_project_id, b.project_id)
  order by r.inserted_at desc, r.id desc
$$;

-- Job bookkeeping (the worker's own connection; no caller reaches these).
create or replace function platform_private.backup_progress(p_backup_id bigint, p_status text, p_progress text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.backups set status = p_status, progress = p_progress,
      started_at = coalesce(started_at, case when p_status = 'RUNNING' then now() end)
    where id = p_backup_id and status in ('QUEUED', 'RUNNING')
$$;

create or replace function platform_private.backup_done(p_backup_id bigint, p_server_version integer, p_template_version integer,
                                                        p_database_bytes bigint, p_file_count integer, p_file_bytes bigint)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.backups set status = 'COMPLETED', progress = null, completed_at = now(), server_version = p_server_version,
      template_version = p_template_version, database_bytes = p_database_bytes, file_count = p_file_count, file_bytes = p_file_bytes
    where id = p_backup_id
$$;

create or replace function platform_private.backup_failed(p_backup_id bigint, p_error text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.backups set status = 'FAILED', progress = null, error = left(p_error, 2000), completed_at = now()
    where id = p_backup_id and status in ('QUEUED', 'RUNNING')
$$;

-- Backups past the plan's retention (the newest completed one is always kept); the job removes their files,
-- then marks them REMOVED.
create or replace function platform_private.expired_backups(p_project_id bigint) returns setof bigint
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select b.id from platform.backups b
    join platform.projects p on p.id = b.project_id
    join platform.organizations o on o.id = p.organization_id
    join platform.plans pl on pl.id = o.plan
  where b.project_id = p_project_id and b.status in ('COMPLETED', 'FAILED')
    and b.inserted_at < now() - make_interval(days => pl.backup_retention_days)
    and b.id <> coalesce((select max(x.id) from platform.backups x where x.project_id = p_project_id and x.status = 'COMPLETED'), 0)
$$;

create or replace function platform_private.backup_removed(p_backup_id bigint) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ update platform.backups set status = 'REMOVED' where id = p_backup_id $$;

create or replace function platform_private.restore_progress(p_restore_id bigint, p_step text, p_progress text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.backup_restores set status = 'RUNNING', step = coalesce(p_step, step), progress = p_progress
    where id = p_restore_id and status in ('QUEUED', 'RUNNING')
$$;

-- The restored project is back in service (the restored database in place), or — on failure — the project
-- restored into is back as it was: its own project healthy again, a project made for the restore marked failed.
create or replace function platform_private.restore_finished(p_restore_id bigint, p_error text, p_template_version integer)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_restore platform.backup_restores;
  v_new boolean;
begin
  select * into v_restore from platform.backup_restores where id = p_restore_id for update;
  if v_restore.status not in ('QUEUED', 'RUNNING') then return; end if;
  -- A point-in-time restore is always into the project itself.
  v_new := v_restore.kind = 'backup'
    and not exists (select 1 from platform.backups b where b.id = v_restore.backup_id and b.project_id = v_restore.target_project_id);
  update platform.backup_restores set status = case when p_error is null then 'COMPLETED' else 'FAILED' end,
      error = left(p_error, 2000), progress = null, completed_at = now()
    where id = p_restore_id;
  update platform_private.project_secrets
    set jwt_secret = encode(platform.random_bytes(32), 'base64'), jwt_secret_created_at = now()
    where project_id = v_restore.target_project_id and jwt_secret is null and p_error is null;
  update platform.projects
    set status = case when p_error is null or not v_new then 'ACTIVE_HEALTHY' else 'INIT_FAILED' end,
        status_reason = case when p_error is null then null else left('restore failed: ' || p_error, 1000) end,
        template_version = coalesce(p_template_version, template_version), updated_at = now()
    where id = v_restore.target_project_id and status = 'RESTORING_BACKUP';
end $$;

create or replace function platform_private.restore_job(p_restore_id bigint)
  returns table (restore_id bigint, backup_id bigint, step text, status text, source_project_id bigint,
                 source_ref text, target_project_id bigint, target_ref text, backup_template_version integer,
                 kind text, recovery_target_time timestamptz, restore_point_id bigint)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select r.id, b.id, r.step, r.status, coalesce(s.id, t.id), coalesce(s.ref, t.ref), t.id, t.ref, b.template_version,
         r.kind, r.recovery_target_time, r.restore_point_id
  from platform.backup_restores r left join platform.backups b on b.id = r.backup_id
  left join platform.projects s on s.id = b.project_id join platform.projects t on t.id = r.target_project_id
  where r.id = p_restore_id
$$;

-- The daily schedule: queues a backup for every healthy project whose newest backup is older than p_every
-- (a project without one is first backed up when it is that old). Called on every worker liveness tick; returns the refs queued.
create or replace function platform_private.queue_due_backups(p_every interval) returns text[]
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
  v_refs text[] := '{}';
begin
  for v_project in
    select p.* from platform.projects p
    where p.status = 'ACTIVE_HEALTHY' and p.deleted_at is null
      and coalesce((select max(b.inserted_at) from platform.backups b where b.project_id = p.id), p.created_at) < now() - p_every
      and not exists (select 1 from platform.backups b where b.project_id = p.id and b.status in ('QUEUED', 'RUNNING'))
    for update of p skip locked
  loop
    perform platform_private.queue_backup(v_project, 'scheduled');
    v_refs := v_refs || v_project.ref;
  end loop;
  return v_refs;
end $$;

-- Files a restore copied back into a project count towards its storage use like uploads (the storage sweep
-- takes them off again if no restored row names them). No quota refusal: the backup was within the same
-- organization's plan when it was taken, and a half-done refusal would help nobody.
create or replace function platform_private.count_restored_storage(p_project_id bigint, p_bytes bigint) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  insert into platform_private.storage_usage as u (project_id, bytes) values (p_project_id, greatest(p_bytes, 0))
    on conflict (project_id) do update set bytes = u.bytes + greatest(p_bytes, 0), updated_at = now()
$$;
