-- Edge functions: deploy (a new immutable version and its validation job, in one transaction), the outcome of
-- that job (the live version switches only when a newer version validated), reads for the Management API and
-- the data plane, and the project's secrets. Members reach a project only through project_for_member.

create or replace function platform_private.function_of(p_project_id bigint, p_slug text) returns platform.functions
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v platform.functions;
begin
  select f.* into v from platform.functions f where f.project_id = p_project_id and f.slug = p_slug;
  if not found then raise exception 'Function not found' using errcode = 'LMN04'; end if;
  return v;
end $$;

-- A function as the Management API shows it; live_version is the number of the version that serves.
create or replace function platform.list_functions(p_ref text, p_slug text default null)
  returns table (uuid uuid, slug text, name text, verify_jwt boolean, entrypoint_path text, import_map_path text,
                 live_version integer, created_at timestamptz, updated_at timestamptz,
                 last_status text, last_error text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select f.uuid, f.slug, f.name, f.verify_jwt, f.entrypoint_path, f.import_map_path, lv.version, f.created_at,
           f.updated_at, last.status, last.error
    from platform.project_for_member(p_ref) p
    join platform.functions f on f.project_id = p.id
    left join platform.function_versions lv on lv.id = f.live_version_id
    left join lateral (select v.status, v.error from platform.function_versions v where v.function_id = f.id
                       order by v.version desc limit 1) last on true
    where p_slug is null or f.slug = p_slug
    order by f.slug;
end $$;
comment on function platform.list_functions(text, text) is 'The edge functions of a project (or one of them).';

-- Records a deploy: the function (created on first deploy), a new PENDING version with its files, and the
-- job that validates it. Nothing serves the version until that job says READY.
-- The signature before bundle-only deploys (p_go_live): an overload of it would make calls ambiguous.
drop function if exists platform.deploy_function(text, text, text, text, text, boolean, text[], bytea[], bytea[]);
create or replace function platform.deploy_function(p_ref text, p_slug text, p_name text, p_entrypoint text,
  p_import_map text, p_verify_jwt boolean, p_paths text[], p_hashes bytea[], p_contents bytea[],
  p_go_live boolean default true)
  returns bigint
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.content');
  v_function platform.functions;
  v_version_id bigint;
begin
  if p_slug is null or p_slug !~ '^[A-Za-z][A-Za-z0-9_-]{0,127}$' then
    raise exception 'slug must start with a letter and hold only letters, digits, _ and - (at most 128)' using errcode = 'LMV06';
  end if;
  if v_project.status <> 'ACTIVE_HEALTHY' then
    raise exception 'cannot deploy to a project whose status is %', v_project.status using errcode = 'LMS01';
  end if;
  insert into platform.functions (project_id, slug, name, verify_jwt)
    values (v_project.id, p_slug, coalesce(nullif(p_name, ''), p_slug), coalesce(p_verify_jwt, true))
    on conflict (project_id, slug) do update set updated_at = now()
    returning * into v_function;
  -- The row lock taken above serialises concurrent deploys of one function: version numbers never collide.
  update platform.functions set version_count = version_count + 1 where id = v_function.id
    returning * into v_function;
  insert into platform.function_versions (function_id, version, entrypoint_path, import_map_path, verify_jwt, go_live)
    values (v_function.id, v_function.version_count, p_entrypoint, p_import_map, p_verify_jwt, coalesce(p_go_live, true))
    returning id into v_version_id;
  insert into platform_private.function_blobs (project_id, sha256, content)
    select v_project.id, h, c from unnest(p_hashes, p_contents) as t(h, c)
    on conflict do nothing;
  insert into platform_private.function_version_files (version_id, path, sha256)
    select v_version_id, pth, h from unnest(p_paths, p_hashes) as t(pth, h);
  if p_name is not null and p_name <> '' then
    update platform.functions set name = p_name where id = v_function.id;
  end if;
  perform graphile_worker.add_job('function__deploy', json_build_object('version_id', v_version_id),
    job_key := 'function__deploy:' || v_version_id, max_attempts := 3);
  return v_version_id;
end $$;
comment on function platform.deploy_function(text, text, text, text, text, boolean, text[], bytea[], bytea[], boolean) is
  'Deploys a new version of an edge function (validated by a job before it serves; bundle-only versions wait for PUT …/functions).';

-- The state of one version, for a deploy request waiting on its job.
drop function if exists platform.function_version_status(text, bigint);
create or replace function platform.function_version_status(p_ref text, p_version_id bigint)
  returns table (status text, error text, version integer)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select v.status, v.error, v.version from platform.project_for_member(p_ref) p
    join platform.functions f on f.project_id = p.id
    join platform.function_versions v on v.function_id = f.id and v.id = p_version_id;
end $$;

create or replace function platform.update_function(p_ref text, p_slug text, p_name text, p_verify_jwt boolean)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_function platform.functions := platform_private.function_of((platform.project_for_role(p_ref, 'project.content')).id, p_slug);
begin
  update platform.functions set name = coalesce(nullif(p_name, ''), name), verify_jwt = coalesce(p_verify_jwt, verify_jwt),
    updated_at = now() where id = v_function.id;
  perform pg_notify('loam_project_changed', p_ref);
end $$;

create or replace function platform.delete_function(p_ref text, p_slug text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.content');
  v_function platform.functions := platform_private.function_of(v_project.id, p_slug);
begin
  delete from platform.functions where id = v_function.id;
  delete from platform_private.function_blobs b where b.project_id = v_project.id and not exists (
    select 1 from platform_private.function_version_files vf
    join platform.function_versions v on v.id = vf.version_id
    join platform.functions f on f.id = v.function_id
    where f.project_id = v_project.id and vf.sha256 = b.sha256);
  perform pg_notify('loam_project_changed', p_ref);
end $$;

-- PUT /v1/projects/{ref}/functions: makes the given versions live together (the CLI deploys several functions
-- bundle-only, then sends this), and sets their names and verify_jwt. Every version named must exist and have
-- validated (READY); otherwise nothing changes. Returns the functions touched.
create or replace function platform.bulk_update_functions(p_ref text, p_slugs text[], p_versions integer[],
  p_names text[], p_verify_jwt boolean[])
  returns setof text
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.content');
  r record;
  v platform.function_versions;
begin
  for r in select * from unnest(p_slugs, p_versions, p_names, p_verify_jwt) as t(slug, version, name, verify_jwt) loop
    select fv.* into v from platform.functions f join platform.function_versions fv on fv.function_id = f.id
      where f.project_id = v_project.id and f.slug = r.slug and fv.version = r.version
      for update of f;
    if not found then
      raise exception 'function % has no version %', r.slug, r.version using errcode = 'LMN20';
    end if;
    if v.status <> 'READY' then
      raise exception 'version % of function % is %, not READY%', r.version, r.slug, v.status,
        coalesce(': ' || v.error, '') using errcode = 'LMV20';
    end if;
    update platform.functions f set live_version_id = v.id, entrypoint_path = v.entrypoint_path,
      import_map_path = v.import_map_path, name = coalesce(nullif(r.name, ''), f.name),
      verify_jwt = coalesce(r.verify_jwt, v.verify_jwt, f.verify_jwt), updated_at = now()
      where f.id = v.function_id;
    return next r.slug;
  end loop;
  perform pg_notify('loam_project_changed', p_ref);
end $$;
comment on function platform.bulk_update_functions(text, text[], integer[], text[], boolean[]) is
  'Makes the given validated versions of a project''s edge functions live, with their names and verify_jwt.';

-- The versions whose unpacked folders may still be needed: live ones, and ones not yet judged.
create or replace function platform_private.function_versions_in_use(p_ref text)
  returns setof bigint
  language sql stable
as $$
  select v.id from platform.projects p join platform.functions f on f.project_id = p.id
    join platform.function_versions v on v.function_id = f.id
  where p.ref = p_ref and (v.id = f.live_version_id or v.status = 'PENDING')
$$;

-- The files of the live version (or of p_version when given), for GET …/body.
create or replace function platform.function_files(p_ref text, p_slug text)
  returns table (path text, content bytea, entrypoint_path text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select vf.path, b.content, v.entrypoint_path
    from platform.project_for_member(p_ref) p
    join platform.functions f on f.project_id = p.id and f.slug = p_slug
    join platform.function_versions v on v.id = f.live_version_id
    join platform_private.function_version_files vf on vf.version_id = v.id
    join platform_private.function_blobs b on b.project_id = p.id and b.sha256 = vf.sha256
    order by vf.path;
end $$;

create or replace function platform.function_logs(p_ref text, p_slug text, p_limit integer)
  returns table (at timestamptz, version integer, method text, path text, status integer, duration_ms integer, output text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select l.at, l.version, l.method, l.path, l.status, l.duration_ms, l.output
    from platform.project_for_member(p_ref) p
    join platform.functions f on f.project_id = p.id and f.slug = p_slug
    join platform_private.function_logs l on l.function_id = f.id
    order by l.id desc limit least(greatest(coalesce(p_limit, 100), 1), 1000);
end $$;

-- Secrets: the API process encrypts; SQL stores ciphertext and a digest. Supabase's secrets API is the
-- production environment of the store (environments.sql has the others).
create or replace function platform.list_secrets(p_ref text)
  returns table (name text, digest text, updated_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select s.name, s.digest, s.updated_at from platform.project_for_member(p_ref) p
    join platform_private.function_secrets s on s.project_id = p.id and s.environment = 'production' order by s.name;
end $$;

create or replace function platform.set_secrets(p_ref text, p_names text[], p_values bytea[], p_digests text[])
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  if exists (select 1 from unnest(p_names) n where n is null or n !~ '^[A-Za-z_][A-Za-z0-9_]{0,255}$' or upper(n) like 'SUPABASE\_%') then
    raise exception 'secret names must match [A-Za-z_][A-Za-z0-9_]* and must not start with SUPABASE_' using errcode = 'LMV07';
  end if;
  if (select count(*) from platform_private.function_secrets s where s.project_id = v_project.id and s.environment = 'production'
      and s.name <> all (p_names)) + cardinality(p_names) > 100 then
    raise exception 'a project holds at most 100 secrets' using errcode = 'LMQ02';
  end if;
  insert into platform_private.function_secrets as s (project_id, environment, name, value_enc, digest)
    select v_project.id, 'production', n, v, d from unnest(p_names, p_values, p_digests) as t(n, v, d)
    on conflict (project_id, environment, name) do update set value_enc = excluded.value_enc, digest = excluded.digest, updated_at = now();
  perform platform_private.check_secrets_size(v_project.id);
  perform pg_notify('loam_project_changed', p_ref);
end $$;

create or replace function platform.delete_secrets(p_ref text, p_names text[]) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  delete from platform_private.function_secrets s where s.project_id = v_project.id and s.environment = 'production' and s.name = any (p_names);
  perform pg_notify('loam_project_changed', p_ref);
end $$;

-- ---- For the platform's own connection (worker, data plane) -------------------------------------------------

-- One version's files, with the project it belongs to: what the worker validates and the runtime runs.
create or replace function platform_private.function_version_files(p_version_id bigint)
  returns table (ref text, slug text, version integer, entrypoint_path text, import_map_path text, status text,
                 path text, content bytea)
  language sql stable
as $$
  select p.ref, f.slug, v.version, v.entrypoint_path, v.import_map_path, v.status, vf.path, b.content
  from platform.function_versions v
  join platform.functions f on f.id = v.function_id
  join platform.projects p on p.id = f.project_id
  join platform_private.function_version_files vf on vf.version_id = v.id
  join platform_private.function_blobs b on b.project_id = p.id and b.sha256 = vf.sha256
  where v.id = p_version_id
$$;

-- The validation job's verdict. A READY version becomes live unless a newer one already is (deploy jobs may
-- finish out of order); a FAILED one changes nothing that serves.
create or replace function platform_private.finish_function_version(p_version_id bigint, p_ok boolean, p_error text)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v platform.function_versions;
begin
  update platform.function_versions set status = case when p_ok then 'READY' else 'FAILED' end,
    error = left(p_error, 4000), finished_at = now()
    where id = p_version_id and status = 'PENDING' returning * into v;
  if not found or not p_ok or not v.go_live then return; end if;
  update platform.functions f set live_version_id = v.id, entrypoint_path = v.entrypoint_path,
    import_map_path = v.import_map_path, verify_jwt = coalesce(v.verify_jwt, f.verify_jwt), updated_at = now()
    where f.id = v.function_id and (f.live_version_id is null
      or (select lv.version from platform.function_versions lv where lv.id = f.live_version_id) < v.version);
  -- Old versions beyond the last ten go, with the bytes nothing refers to any more.
  delete from platform.function_versions o where o.function_id = v.function_id and o.version <= v.version - 10
    and o.id <> (select f.live_version_id from platform.functions f where f.id = v.function_id);
  perform pg_notify('loam_project_changed', (select p.ref from platform.functions f join platform.projects p
    on p.id = f.project_id where f.id = v.function_id));
end $$;

-- What an invocation needs: the live version and its settings.
create or replace function platform_private.function_route(p_ref text, p_slug text)
  returns table (function_id bigint, version_id bigint, version integer, verify_jwt boolean)
  language sql stable
as $$
  select f.id, f.live_version_id, v.version, f.verify_jwt
  from platform.projects p join platform.functions f on f.project_id = p.id and f.slug = p_slug
  join platform.function_versions v on v.id = f.live_version_id
  where p.ref = p_ref and p.deleted_at is null
$$;

create or replace function platform_private.function_secrets(p_ref text)
  returns table (name text, value_enc bytea)
  language sql stable
as $$
  select s.name, s.value_enc from platform.projects p join platform_private.function_secrets s on s.project_id = p.id
  where p.ref = p_ref and s.environment = 'production'
$$;

-- Invocation records, written in batches by each API process; keeps the last 100 of each function.
drop function if exists platform_private.record_function_log(bigint, integer, text, text, integer, integer, text);
create or replace function platform_private.record_function_logs(p_function_ids bigint[], p_versions integer[],
  p_methods text[], p_paths text[], p_statuses integer[], p_durations integer[], p_outputs text[]) returns void
  language sql volatile
as $$
  insert into platform_private.function_logs (function_id, version, method, path, status, duration_ms, output)
    select f, v, left(m, 16), left(pa, 1000), st, d, left(o, 16000)
    from unnest(p_function_ids, p_versions, p_methods, p_paths, p_statuses, p_durations, p_outputs) as t(f, v, m, pa, st, d, o)
    where exists (select 1 from platform.functions fn where fn.id = f);
  delete from platform_private.function_logs l where l.function_id = any (p_function_ids) and l.id <= (
    select l2.id from platform_private.function_logs l2 where l2.function_id = l.function_id order by l2.id desc offset 100 limit 1);
$$;

-- When a project is removed: its functions, versions, bytes, secrets and logs.
create or replace function platform_private.purge_functions(p_ref text) returns void
  language sql volatile
as $$
  delete from platform.functions f using platform.projects p where p.id = f.project_id and p.ref = p_ref;
  delete from platform_private.function_blobs b using platform.projects p where p.id = b.project_id and p.ref = p_ref;
  delete from platform_private.function_secrets s using platform.projects p where p.id = s.project_id and p.ref = p_ref;
  delete from platform_private.function_db_logins l using platform.projects p where p.id = l.project_id and p.ref = p_ref;
$$;

-- A preview branch gets its parent's edge functions: each live version is deployed again in the branch (its files
-- copied into the branch's own blobs: blobs are never shared across projects), validated by the usual deploy job.
-- Run by the branch jobs after the branch's database is built (create and reset); returns the slugs deployed.
-- Secrets are not copied (a branch's secrets are its own, as on Supabase).
create or replace function platform_private.copy_parent_functions(p_branch_project_id bigint) returns text[]
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_parent_id bigint := (select b.parent_project_id from platform.branches b
                         where b.project_id = p_branch_project_id and not b.is_default);
  v_src record;
  v_function platform.functions;
  v_version_id bigint;
  v_slugs text[] := '{}';
begin
  if v_parent_id is null then return v_slugs; end if;
  for v_src in
    select f.slug, f.name, f.verify_jwt, v.id as version_id, v.entrypoint_path, v.import_map_path, v.verify_jwt as version_verify_jwt
    from platform.functions f join platform.function_versions v on v.id = f.live_version_id
    where f.project_id = v_parent_id and v.status = 'READY'
    order by f.slug
  loop
    -- Already there with the same files (a retried job): nothing to deploy.
    if exists (
      select 1 from platform.functions bf join platform.function_versions bv on bv.function_id = bf.id
      where bf.project_id = p_branch_project_id and bf.slug = v_src.slug and bv.status <> 'FAILED'
        and (select array_agg(vf.path || ':' || encode(vf.sha256, 'hex') order by vf.path) from platform_private.function_version_files vf where vf.version_id = bv.id)
          = (select array_agg(vf.path || ':' || encode(vf.sha256, 'hex') order by vf.path) from platform_private.function_version_files vf where vf.version_id = v_src.version_id)
    ) then
      continue;
    end if;
    insert into platform.functions (project_id, slug, name, verify_jwt)
      values (p_branch_project_id, v_src.slug, v_src.name, v_src.verify_jwt)
      on conflict (project_id, slug) do update set name = excluded.name, verify_jwt = excluded.verify_jwt, updated_at = now()
      returning * into v_function;
    update platform.functions set version_count = version_count + 1 where id = v_function.id returning * into v_function;
    insert into platform.function_versions (function_id, version, entrypoint_path, import_map_path, verify_jwt, go_live)
      values (v_function.id, v_function.version_count, v_src.entrypoint_path, v_src.import_map_path, v_src.version_verify_jwt, true)
      returning id into v_version_id;
    insert into platform_private.function_blobs (project_id, sha256, content)
      select p_branch_project_id, b.sha256, b.content
      from platform_private.function_version_files vf
      join platform_private.function_blobs b on b.project_id = v_parent_id and b.sha256 = vf.sha256
      where vf.version_id = v_src.version_id
      on conflict do nothing;
    insert into platform_private.function_version_files (version_id, path, sha256)
      select v_version_id, vf.path, vf.sha256 from platform_private.function_version_files vf where vf.version_id = v_src.version_id;
    perform graphile_worker.add_job('function__deploy', json_build_object('version_id', v_version_id),
      job_key := 'function__deploy:' || v_version_id, max_attempts := 3);
    v_slugs := v_slugs || v_src.slug;
  end loop;
  return v_slugs;
end $$;
