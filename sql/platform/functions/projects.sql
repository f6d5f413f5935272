-- Projects: creation, lifecycle (pause, restore, delete), key rotation. Each state change queues the job that
-- carries it out, in the same transaction; jobs of one project run one at a time (queue `project:<ref>`).

create or replace function platform_private.queue_project_job(p_project platform.projects, p_task text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select null from graphile_worker.add_job(p_task, json_build_object('project_id', p_project.id),
    queue_name := 'project:' || p_project.ref, job_key := p_task || ':' || p_project.ref, max_attempts := 3)
$$;

-- Every project read by a member goes through here: not found and not a member look the same (404).
create or replace function platform.project_for_member(p_ref text) returns platform.projects
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
begin
  select p.* into v_project from platform.projects p
    where p.ref = p_ref and p.deleted_at is null and platform.is_org_member(p.organization_id);
  if not found then raise exception 'Project not found' using errcode = 'LMN01'; end if;
  return v_project;
end $$;

create or replace function platform.create_project(p_organization_slug text, p_name text, p_region text, p_db_pass_verifier text,
    p_backend_type text default 'shared', p_db_pass_sealed text default null)
  returns platform.projects
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations;
  v_project platform.projects;
  v_region text;
begin
  select o.* into v_org from platform.organizations o where o.slug = p_organization_slug and platform.is_org_member(o.id);
  if not found then
    raise exception 'organization "%" not found', coalesce(p_organization_slug, '') using errcode = 'LMV02';
  end if;
  perform platform.require_role(v_org.id, 'projects.create');
  perform platform_private.validate_name(p_name);
  v_region := coalesce(p_region, (select region from platform.database_servers where is_default));
  if not exists (select 1 from platform.regions where id = v_region) then
    raise exception 'region "%" does not exist; GET /v1/regions lists them', v_region using errcode = 'LMV04';
  end if;
  if (select count(*) from platform.projects where organization_id = v_org.id and deleted_at is null)
      >= (select max_projects from platform.plans where id = v_org.plan) then
    raise exception 'the organization''s plan allows no more projects' using errcode = 'LMQ01';
  end if;
  if not exists (select 1 from platform.backend_types b where b.id = coalesce(p_backend_type, 'shared')) then
    raise exception 'backend_type "%" does not exist; GET /v1/backend-types lists them', p_backend_type using errcode = 'LMR01';
  end if;
  insert into platform.projects (ref, organization_id, name, region, backend_type)
    values (platform.random_letters(20), v_org.id, p_name, v_region, coalesce(p_backend_type, 'shared'))
    returning * into v_project;
  insert into platform_private.project_secrets (project_id, db_pass_verifier, mgmt_password, db_pass_sealed, db_pass_set_at)
    values (v_project.id, p_db_pass_verifier, encode(platform.random_bytes(24), 'hex'), p_db_pass_sealed, now());
  perform platform_private.queue_project_job(v_project, 'project__provision');
  return v_project;
end $$;
comment on function platform.create_project(text, text, text, text, text, text) is 'Creates a project and queues its provisioning.';

create or replace function platform.rename_project(p_ref text, p_name text) returns platform.projects
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.lifecycle');
begin
  update platform.projects set name = platform_private.validate_name(p_name), updated_at = now()
    where id = v_project.id returning * into v_project;
  return v_project;
end $$;

-- Moves a project from one of `p_from` states to `p_to` and queues `p_task`; anything else is a state error.
create or replace function platform_private.transition(p_ref text, p_from text[], p_to text, p_task text, p_verb text)
  returns platform.projects
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.lifecycle');
begin
  if not v_project.status = any (p_from) then
    raise exception 'cannot % a project whose status is %', p_verb, v_project.status using errcode = 'LMS01';
  end if;
  update platform.projects set status = p_to, status_reason = null, updated_at = now(),
      deleted_at = case when p_to = 'GOING_DOWN' then now() else deleted_at end
    where id = v_project.id returning * into v_project;
  perform platform_private.queue_project_job(v_project, p_task);
  return v_project;
end $$;

create or replace function platform.pause_project(p_ref text) returns platform.projects
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ select platform_private.transition(p_ref, '{ACTIVE_HEALTHY,PAUSE_FAILED}', 'PAUSING', 'project__pause', 'pause') $$;

-- Restore brings a paused project back, and is the way out of any state a project can get stuck in: a project
-- whose provisioning failed or never finished gets its provisioning (re)queued; one paused, pausing, or whose
-- pause or restore failed or never finished gets a restore queued. Queueing again is harmless when the first job
-- is still running: jobs of a project run one at a time, and each acts only if the project is still in the state
-- it was queued for (worker/src/project-task.ts).
create or replace function platform.restore_project(p_ref text) returns platform.projects
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if (platform.project_for_member(p_ref)).status in ('INIT_FAILED', 'COMING_UP') then
    return platform_private.transition(p_ref, '{INIT_FAILED,COMING_UP}', 'COMING_UP', 'project__provision', 'restore');
  end if;
  return platform_private.transition(p_ref, '{INACTIVE,RESTORE_FAILED,RESTORING,PAUSING,PAUSE_FAILED}', 'RESTORING',
    'project__restore', 'restore');
end $$;
comment on function platform.restore_project(text) is
  'Restores a paused project, or retries whatever a project is stuck in (provisioning, pausing, restoring).';

create or replace function platform.delete_project(p_ref text) returns platform.projects
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select platform_private.transition(p_ref,
    '{COMING_UP,ACTIVE_HEALTHY,INIT_FAILED,PAUSING,INACTIVE,PAUSE_FAILED,RESTORING,RESTORE_FAILED,UPGRADING}',
    'GOING_DOWN', 'project__delete', 'delete')
$$;

create or replace function platform.rotate_jwt_secret(p_ref text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  update platform_private.project_secrets
    set jwt_secret = encode(platform.random_bytes(32), 'base64'), jwt_secret_created_at = now()
    where project_id = v_project.id and jwt_secret is not null;
  if not found then
    raise exception 'cannot rotate keys of a project whose status is %', v_project.status using errcode = 'LMS01';
  end if;
end $$;

-- `p_sealed`: the password sealed by the API with the operator key, so it can be revealed later (audited).
create or replace function platform.set_db_password(p_ref text, p_verifier text, p_sealed text default null) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.credentials');
begin
  if v_project.status not in ('ACTIVE_HEALTHY', 'INACTIVE') then
    raise exception 'cannot change the password of a project whose status is %', v_project.status using errcode = 'LMS01';
  end if;
  update platform_private.project_secrets set db_pass_verifier = p_verifier, db_pass_sealed = p_sealed, db_pass_set_at = now()
    where project_id = v_project.id;
  perform platform_private.audit(v_project.organization_id, v_project.id, 'database.password_set', v_project.ref);
end $$;

-- Keeps the password a project was just created with (in this transaction), sealed by the API under its ref.
create or replace function platform.seal_db_password(p_ref text, p_sealed text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.credentials');
begin
  update platform_private.project_secrets s set db_pass_sealed = p_sealed
    where s.project_id = v_project.id and v_project.created_at = now() and s.db_pass_sealed is null;
end $$;

-- The owner login's credentials without the password: who logs in, since when, whether Loam can reveal it.
create or replace function platform.database_credentials(p_ref text)
  returns table (user_name text, password_set_at timestamptz, revealable boolean, last_revealed_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select v_project.ref, s.db_pass_set_at, s.db_pass_sealed is not null,
      (select max(l.created_at) from platform.audit_log l where l.project_id = v_project.id and l.action = 'database.credentials_revealed')
    from platform_private.project_secrets s where s.project_id = v_project.id;
end $$;
comment on function platform.database_credentials(text) is 'Metadata of a project''s database owner login (never the password).';

-- The sealed password, for the API to open; every reveal is recorded in platform.audit_log.
create or replace function platform.reveal_db_password(p_ref text) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.credentials');
  v_sealed text;
begin
  select s.db_pass_sealed into v_sealed from platform_private.project_secrets s where s.project_id = v_project.id;
  if v_sealed is null then
    raise exception 'Loam does not hold this database password (it was set before passwords were kept sealed): rotate it to get one it can reveal'
      using errcode = 'LMR03';
  end if;
  perform platform_private.audit(v_project.organization_id, v_project.id, 'database.credentials_revealed', v_project.ref);
  return v_sealed;
end $$;
comment on function platform.reveal_db_password(text) is 'Reveals (sealed) the database owner''s password to an Administrator or Owner, and audits it.';

-- What the data plane and the worker need to reach a project's database. Names are derived here, once.
-- (Dropped first: `create or replace` cannot change the columns a function returns.)
drop function if exists platform_private.project_runtime(text);
create or replace function platform_private.project_runtime(p_ref text)
  returns table (id bigint, ref text, status text, database_server_id bigint, db_name text, owner_role text,
                 mgmt_role text, mgmt_password text, api_role text, api_password text, db_pass_verifier text,
                 jwt_secret text, jwt_secret_created_at timestamptz, template_version integer, privilege_layout integer,
                 deleted boolean, backend_type text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select p.id, p.ref, p.status, p.database_server_id, p.ref, p.ref, p.ref || '_mgmt', s.mgmt_password,
         p.ref || '_authenticator', s.api_password, s.db_pass_verifier, s.jwt_secret, s.jwt_secret_created_at,
         p.template_version, p.privilege_layout, p.deleted_at is not null, p.backend_type
  from platform.projects p join platform_private.project_secrets s on s.project_id = p.id
  where p.ref = p_ref
$$;

-- Puts a project on the least-loaded server of its region (once; later calls keep the placement).
create or replace function platform_private.place_project(p_project_id bigint) returns bigint
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
  v_server_id bigint;
begin
  select * into v_project from platform.projects where id = p_project_id for update;
  if v_project.database_server_id is not null then return v_project.database_server_id; end if;
  select s.id into v_server_id from platform.database_servers s
    where s.region = v_project.region
       or (s.region = (select r.placed_in from platform.regions r where r.id = v_project.region)
           and not exists (select 1 from platform.database_servers o where o.region = v_project.region))
    order by (select count(*) from platform.projects p where p.database_server_id = s.id and p.deleted_at is null)::float
             / greatest(s.capacity, 1), s.id
    limit 1;
  if v_server_id is null then
    raise exception 'no database server in region %', v_project.region using errcode = 'LMC01';
  end if;
  update platform.projects set database_server_id = v_server_id where id = p_project_id;
  return v_server_id;
end $$;

create or replace function platform_private.project_ref(p_project_id bigint) returns text
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select ref from platform.projects where id = p_project_id $$;

-- Job outcomes. Each only moves a project out of the state its job was queued for, so a job that runs twice,
-- or late, never undoes a newer decision.
create or replace function platform_private.project_job_done(p_project_id bigint, p_from text, p_to text, p_template_version integer default null)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform_private.project_secrets
    set jwt_secret = encode(platform.random_bytes(32), 'base64'), jwt_secret_created_at = now()
    where project_id = p_project_id and jwt_secret is null and p_to = 'ACTIVE_HEALTHY';
  update platform.projects
    set status = p_to, status_reason = null, updated_at = now(),
        template_version = coalesce(p_template_version, template_version)
    where id = p_project_id and status = p_from;
$$;

create or replace function platform_private.project_job_failed(p_project_id bigint, p_from text, p_to text, p_reason text)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.projects set status = p_to, status_reason = left(p_reason, 1000), updated_at = now()
    where id = p_project_id and status = p_from
$$;

create or replace function platform_private.set_template_version(p_project_id bigint, p_version integer) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ update platform.projects set template_version = p_version where id = p_project_id $$;

create or replace function platform_private.set_privilege_layout(p_project_id bigint, p_layout integer) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ update platform.projects set privilege_layout = p_layout where id = p_project_id $$;

-- Every API process caches project runtime data; this tells them all when to drop it.
create or replace function platform_private.notify_project_changed() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_table_name = 'projects' then
    perform pg_notify('loam_project_changed', new.ref);
  else
    perform pg_notify('loam_project_changed', platform_private.project_ref(new.project_id));
  end if;
  return null;
end $$;

drop trigger if exists _200_notify on platform.projects;
create trigger _200_notify after update on platform.projects
  for each row execute function platform_private.notify_project_changed();
drop trigger if exists _200_notify on platform_private.project_secrets;
create trigger _200_notify after update on platform_private.project_secrets
  for each row execute function platform_private.notify_project_changed();

-- A deleted project whose deletion job gave up (its database server unreachable three times, say) stays in
-- GOING_DOWN with the reason, and nobody can ask again: restore and delete no longer see a deleted project. So
-- the workers retry it themselves, at most every p_every, until its database, roles and files are gone.
-- Called on every liveness tick (worker/src/liveness.ts); returns the refs queued.
create or replace function platform_private.retry_stalled_deletions(p_every interval default interval '10 minutes')
  returns text[]
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
  v_refs text[] := '{}';
begin
  for v_project in
    select p.* from platform.projects p
    where p.status = 'GOING_DOWN' and p.updated_at < now() - p_every
      -- no deletion job that will still run (one given up on, or none at all)
      and not exists (select 1 from graphile_worker.jobs j where j.key = 'project__delete:' || p.ref
                        and (j.attempts < j.max_attempts or j.locked_at is not null))
    for update of p skip locked
  loop
    -- Touching updated_at spaces the retries out: the job's own failure path sets it again.
    update platform.projects set updated_at = now() where id = v_project.id;
    perform platform_private.queue_project_job(v_project, 'project__delete');
    v_refs := v_refs || v_project.ref;
  end loop;
  return v_refs;
end $$;
comment on function platform_private.retry_stalled_deletions(interval) is
  'Queues the deletion again of deleted projects whose deletion job gave up; returns their refs.';

-- A service restart: checked (project.settings), audited, and announced to every API process.
create or replace function platform.restart_service(p_ref text, p_name text) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  if p_name is null or p_name not in ('db', 'rest', 'graphql', 'auth', 'storage', 'realtime', 'functions', 'sites') then
    raise exception 'service "%" does not exist; GET /v1/projects/{ref}/services lists them', coalesce(p_name, '') using errcode = 'LMR02';
  end if;
  perform platform_private.audit(v_project.organization_id, v_project.id, 'service.restarted', p_name);
  perform pg_notify('loam_project_changed', v_project.ref);
  perform pg_notify('loam_service_restarted', v_project.ref || ' ' || p_name);
  return p_name;
end $$;
comment on function platform.restart_service(text, text) is 'Restarts one service of a project: its caches and connections are rebuilt on the next request.';
