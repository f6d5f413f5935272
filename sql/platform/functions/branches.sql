-- Preview branches: create (a project of its own, provisioned and then built from the parent's migrations by
-- the `branch__create` job), read, update, delete, reset, and the parent's pause/delete reaching its branches.
-- Every read goes through branch_for_member / list_branches: not found and not a member look the same (404).

-- A branch as the API shows it: the row, its own project's ref and status, and its parent's ref.
create or replace function platform_private.branch_view(b platform.branches)
  returns table (id uuid, name text, project_ref text, parent_project_ref text, is_default boolean, git_branch text,
                 persistent boolean, status text, status_reason text, with_data boolean, notify_url text,
                 created_at timestamptz, updated_at timestamptz, project_status text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select b.id, b.name, p.ref, parent.ref, b.is_default, b.git_branch, b.persistent, b.status, b.status_reason,
         b.with_data, b.notify_url, b.created_at, b.updated_at, p.status
  from platform.projects p, platform.projects parent
  where p.id = b.project_id and parent.id = b.parent_project_id
$$;

-- A branch by its id (uuid) or its project's ref, if the caller is a member of its parent's organization.
create or replace function platform_private.branch_row_for_member(p_id_or_ref text) returns platform.branches
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches;
begin
  select b.* into v_branch from platform.branches b
    join platform.projects parent on parent.id = b.parent_project_id
    join platform.projects p on p.id = b.project_id
    where (case when p_id_or_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then b.id = p_id_or_ref::uuid else p.ref = p_id_or_ref end)
      and parent.deleted_at is null and p.deleted_at is null and platform.is_org_member(parent.organization_id);
  if not found then raise exception 'Branch not found' using errcode = 'LMG01'; end if;
  return v_branch;
end $$;

-- The same, for a change: the caller's role in the parent's organization must allow project work (403 otherwise;
-- platform.role_permissions, as the route guard checks /v1/projects/{ref}/… routes).
create or replace function platform_private.branch_row_for_role(p_id_or_ref text, p_action text) returns platform.branches
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches := platform_private.branch_row_for_member(p_id_or_ref);
begin
  perform platform.require_role((select organization_id from platform.projects where id = v_branch.parent_project_id), p_action);
  return v_branch;
end $$;

create or replace function platform.branch_for_member(p_id_or_ref text)
  returns table (id uuid, name text, project_ref text, parent_project_ref text, is_default boolean, git_branch text,
                 persistent boolean, status text, status_reason text, with_data boolean, notify_url text,
                 created_at timestamptz, updated_at timestamptz, project_status text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select v.* from platform_private.branch_view(platform_private.branch_row_for_member(p_id_or_ref)) v $$;
comment on function platform.branch_for_member(text) is 'A preview branch, by id or by its project ref, of a project the caller is a member of.';

-- The branches of a project (its own default entry first), or of a branch's parent when given a branch's ref.
create or replace function platform.list_branches(p_ref text)
  returns table (id uuid, name text, project_ref text, parent_project_ref text, is_default boolean, git_branch text,
                 persistent boolean, status text, status_reason text, with_data boolean, notify_url text,
                 created_at timestamptz, updated_at timestamptz, project_status text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_parent_id bigint := (platform.project_for_member(p_ref)).id;
begin
  return query
    select v.* from platform.branches b
      cross join lateral platform_private.branch_view(b) v
      join platform.projects p on p.id = b.project_id
    where b.parent_project_id = v_parent_id and p.deleted_at is null
    order by b.is_default desc, b.created_at, b.id;
end $$;
comment on function platform.list_branches(text) is 'The preview branches of a project the caller is a member of (its default entry first).';

create or replace function platform_private.is_preview_branch(p_project_id bigint) returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select exists (select 1 from platform.branches where project_id = p_project_id and not is_default) $$;

-- Creates the branch's project in the parent's organization (so it counts against the plan's project limit),
-- records the branch, and queues provisioning and then the build from the parent's migrations, in the
-- branch's own job queue (one job at a time, in order).
create or replace function platform.create_branch(p_parent_ref text, p_name text, p_git_branch text, p_persistent boolean,
  p_with_data boolean, p_seed text, p_region text, p_db_pass_verifier text, p_notify_url text)
  returns platform.branches
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_parent platform.projects := platform.project_for_role(p_parent_ref, 'project.content');
  v_org platform.organizations;
  v_project platform.projects;
  v_branch platform.branches;
  v_region text := coalesce(p_region, v_parent.region);
begin
  if p_name is null or length(p_name) not between 1 and 256 or p_name ~ '[[:cntrl:]]' then
    raise exception 'branch_name must be 1-256 characters without control characters' using errcode = 'LMV01';
  end if;
  if platform_private.is_preview_branch(v_parent.id) then
    raise exception 'a preview branch cannot have branches of its own; branch from its parent' using errcode = 'LMG05';
  end if;
  if v_parent.status <> 'ACTIVE_HEALTHY' then
    raise exception 'cannot branch a project whose status is %', v_parent.status using errcode = 'LMS01';
  end if;
  if not exists (select 1 from platform.regions where id = v_region) then
    raise exception 'region "%" does not exist; GET /v1/regions lists them', v_region using errcode = 'LMV04';
  end if;
  if exists (select 1 from platform.branches b where b.parent_project_id = v_parent.id and lower(b.name) = lower(p_name)) then
    raise exception 'A branch named "%" already exists', p_name using errcode = 'LMG02';
  end if;
  select o.* into v_org from platform.organizations o where o.id = v_parent.organization_id for update;
  if (select count(*) from platform.projects where organization_id = v_org.id and deleted_at is null)
      >= (select max_projects from platform.plans where id = v_org.plan) then
    raise exception 'the organization''s plan allows no more projects (preview branches count as projects)' using errcode = 'LMQ01';
  end if;
  -- The parent's default entry, Supabase's "main" branch, from the first branch on.
  insert into platform.branches (project_id, parent_project_id, name, is_default, persistent, status)
    values (v_parent.id, v_parent.id, 'main', true, true, 'FUNCTIONS_DEPLOYED')
    on conflict (project_id) do nothing;
  -- A branch is what its parent is: a branch of a `frontend` project gets no database APIs either.
  insert into platform.projects (ref, organization_id, name, region, backend_type)
    values (platform.random_letters(20), v_org.id, left(regexp_replace(p_name, '[^A-Za-z0-9 _.''-]', '-', 'g'), 256), v_region,
            v_parent.backend_type)
    returning * into v_project;
  insert into platform_private.project_secrets (project_id, db_pass_verifier, mgmt_password)
    values (v_project.id, p_db_pass_verifier, encode(platform.random_bytes(24), 'hex'));
  insert into platform.branches (project_id, parent_project_id, name, git_branch, persistent, with_data, notify_url)
    values (v_project.id, v_parent.id, p_name, p_git_branch, coalesce(p_persistent, false), coalesce(p_with_data, false), p_notify_url)
    returning * into v_branch;
  if p_seed is not null then
    insert into platform_private.branch_seeds (branch_id, seed) values (v_branch.id, p_seed);
  end if;
  perform platform_private.queue_project_job(v_project, 'project__provision');
  perform platform_private.queue_project_job(v_project, 'branch__create');
  return v_branch;
end $$;
comment on function platform.create_branch(text, text, text, boolean, boolean, text, text, text, text) is
  'Creates a preview branch of a project: a project of its own, built from the parent''s migrations by a job.';

create or replace function platform.update_branch(p_id_or_ref text, p_name text, p_git_branch text, p_persistent boolean,
  p_status text, p_notify_url text)
  returns platform.branches
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches := platform_private.branch_row_for_role(p_id_or_ref, 'project.content');
begin
  if p_name is not null and (length(p_name) not between 1 and 256 or p_name ~ '[[:cntrl:]]') then
    raise exception 'branch_name must be 1-256 characters without control characters' using errcode = 'LMV01';
  end if;
  if p_name is not null and exists (select 1 from platform.branches b where b.parent_project_id = v_branch.parent_project_id
      and lower(b.name) = lower(p_name) and b.id <> v_branch.id) then
    raise exception 'A branch named "%" already exists', p_name using errcode = 'LMG02';
  end if;
  update platform.branches b set name = coalesce(p_name, b.name), git_branch = coalesce(p_git_branch, b.git_branch),
      persistent = coalesce(p_persistent, b.persistent), status = coalesce(p_status, b.status),
      notify_url = coalesce(p_notify_url, b.notify_url), updated_at = now()
    where b.id = v_branch.id returning * into v_branch;
  return v_branch;
end $$;

-- Deletes a preview branch: its row goes now (its name is free again), its project goes down like any deleted
-- project (the `project__delete` job drops its database, roles and files).
create or replace function platform_private.drop_branch(p_branch platform.branches) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
begin
  delete from platform.branches where id = p_branch.id;
  update platform.projects set status = 'GOING_DOWN', status_reason = null, deleted_at = coalesce(deleted_at, now()), updated_at = now()
    where id = p_branch.project_id and status <> 'REMOVED' returning * into v_project;
  if found then perform platform_private.queue_project_job(v_project, 'project__delete'); end if;
end $$;

create or replace function platform.delete_branch(p_id_or_ref text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches := platform_private.branch_row_for_role(p_id_or_ref, 'project.content');
begin
  if v_branch.is_default then
    raise exception 'the default branch is the project itself: delete the project, or disable branching' using errcode = 'LMG05';
  end if;
  perform platform_private.drop_branch(v_branch);
end $$;

-- Disables branching (DELETE /v1/projects/{ref}/branches): every preview branch is deleted, and the default entry goes.
create or replace function platform.disable_branching(p_ref text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_parent platform.projects := platform.project_for_role(p_ref, 'project.content');
  v_branch platform.branches;
begin
  if platform_private.is_preview_branch(v_parent.id) then
    raise exception 'branching is disabled on the parent project, not on a preview branch' using errcode = 'LMG05';
  end if;
  for v_branch in select * from platform.branches where parent_project_id = v_parent.id and not is_default for update loop
    perform platform_private.drop_branch(v_branch);
  end loop;
  delete from platform.branches where project_id = v_parent.id and is_default;
end $$;

-- A branch that push, merge or reset can act on: a preview branch (not the default entry) whose project serves.
create or replace function platform.branch_for_action(p_id_or_ref text, p_verb text)
  returns table (id uuid, project_ref text, parent_project_ref text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches := platform_private.branch_row_for_role(p_id_or_ref, case when p_verb = 'diff' then 'project.read' else 'project.content' end);
  v record;
begin
  select * into v from platform_private.branch_view(v_branch);
  if v_branch.is_default then
    raise exception 'cannot % the default branch: it is the project itself', p_verb using errcode = 'LMG05';
  end if;
  if v.project_status <> 'ACTIVE_HEALTHY' or v_branch.status in ('CREATING_PROJECT', 'RUNNING_MIGRATIONS') then
    raise exception 'cannot % a branch that is % (project %)', p_verb, v_branch.status, v.project_status using errcode = 'LMG04';
  end if;
  return query select v_branch.id, v.project_ref, v.parent_project_ref;
end $$;

-- Reset: the branch's database is made again from the template and the parent's migrations, by a job.
create or replace function platform.reset_branch(p_id_or_ref text, p_migration_version text) returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches := platform_private.branch_row_for_role(p_id_or_ref, 'project.content');
  v_project platform.projects;
begin
  perform platform.branch_for_action(p_id_or_ref, 'reset');
  if p_migration_version is not null and p_migration_version !~ '^\d{1,32}$' then
    raise exception 'migration_version must be a string of digits' using errcode = 'LMV01';
  end if;
  update platform.branches set status = 'RUNNING_MIGRATIONS', status_reason = null, updated_at = now() where id = v_branch.id;
  select * into v_project from platform.projects where id = v_branch.project_id;
  perform graphile_worker.add_job('branch__reset',
    json_build_object('project_id', v_project.id, 'migration_version', p_migration_version),
    queue_name := 'project:' || v_project.ref, job_key := 'branch__reset:' || v_project.ref, max_attempts := 3);
  return v_branch.id;
end $$;

-- Job outcomes: the branch's status, and why it failed.
create or replace function platform_private.set_branch_status(p_project_id bigint, p_status text, p_reason text default null)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.branches set status = p_status, status_reason = left(p_reason, 1000), updated_at = now()
    where project_id = p_project_id and not is_default
$$;

-- What a branch job needs: the branch, its parent's ref, the seed and whether data is copied.
create or replace function platform_private.branch_job_info(p_project_id bigint)
  returns table (branch_id uuid, parent_ref text, with_data boolean, seed text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select b.id, parent.ref, b.with_data, s.seed
  from platform.branches b join platform.projects parent on parent.id = b.parent_project_id
  left join platform_private.branch_seeds s on s.branch_id = b.id
  where b.project_id = p_project_id and not b.is_default
$$;

-- A parent's pause and deletion reach its branches: deleted with it, paused with it (a paused branch is restored
-- on its own, with POST /v1/projects/{branch ref}/restore, as the CLI's `branches unpause` does).
create or replace function platform_private.cascade_to_branches() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches;
  v_project platform.projects;
begin
  if new.status = 'GOING_DOWN' then
    for v_branch in select * from platform.branches where parent_project_id = new.id and not is_default loop
      perform platform_private.drop_branch(v_branch);
    end loop;
    delete from platform.branches where project_id = new.id and is_default;
    -- A branch's project deleted as a project (DELETE /v1/projects/{branch ref}) takes its branch entry along.
    delete from platform.branches where project_id = new.id and not is_default;
  elsif new.status = 'PAUSING' then
    for v_project in
      update platform.projects p set status = 'PAUSING', status_reason = null, updated_at = now()
        from platform.branches b
        where b.parent_project_id = new.id and not b.is_default and p.id = b.project_id and p.status = 'ACTIVE_HEALTHY'
        returning p.*
    loop
      perform platform_private.queue_project_job(v_project, 'project__pause');
    end loop;
  end if;
  return null;
end $$;

drop trigger if exists _300_cascade_to_branches on platform.projects;
create trigger _300_cascade_to_branches after update of status on platform.projects
  for each row when (new.status is distinct from old.status and new.status in ('GOING_DOWN', 'PAUSING'))
  execute function platform_private.cascade_to_branches();

-- Restore (Supabase: cancel a branch's scheduled deletion). Loam deletes a branch at once, so there is never a
-- deletion to cancel: a branch that exists is brought back to serving when it is paused (as restoring its project
-- does), and is left as it is otherwise. Returns the branch's project ref.
create or replace function platform.restore_branch(p_id_or_ref text) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_branch platform.branches := platform_private.branch_row_for_role(p_id_or_ref, 'project.content');
  v_project platform.projects;
begin
  if v_branch.is_default then
    raise exception 'cannot restore the default branch: it is the project itself' using errcode = 'LMG05';
  end if;
  select * into v_project from platform.projects where id = v_branch.project_id;
  if v_project.status = 'INACTIVE' then
    perform platform.restore_project(v_project.ref);
  end if;
  return v_project.ref;
end $$;
comment on function platform.restore_branch(text) is 'Brings a paused preview branch back to serving (Supabase: restore a branch).';
