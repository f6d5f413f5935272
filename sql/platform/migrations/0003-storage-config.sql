-- Per-project storage settings (the Management API's /config/storage): the largest file a project accepts and
-- whether image transformation is on. A project without a row has the defaults. The functions live here rather
-- than in sql/platform/functions because this file is the storage area's part of the control database.

create table platform.project_storage_config (
  project_id bigint primary key references platform.projects on delete cascade,
  file_size_limit bigint not null default 52428800 check (file_size_limit > 0),
  image_transformation_enabled boolean not null default true,
  updated_at timestamptz not null default now()
);
comment on table platform.project_storage_config is 'Storage settings of a project (file size limit, image transformation).';

-- Read and written only through the functions below (members only), so no policy grants anything directly.
-- They are plpgsql because migrations run before sql/platform/functions, whose helpers they call.
alter table platform.project_storage_config enable row level security;

create function platform.storage_config(p_ref text)
  returns table (file_size_limit bigint, image_transformation_enabled boolean)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
    select coalesce(c.file_size_limit, 52428800::bigint), coalesce(c.image_transformation_enabled, true)
    from platform.project_for_member(p_ref) p
    left join platform.project_storage_config c on c.project_id = p.id;
end $$;
comment on function platform.storage_config(text) is 'The storage settings of a project the caller is a member of.';

-- p_max is the platform's ceiling (LOAM_STORAGE_MAX_FILE_SIZE), which only the operator sets.
create function platform.update_storage_config(p_ref text, p_file_size_limit bigint, p_image_transformation boolean,
                                               p_max bigint)
  returns table (file_size_limit bigint, image_transformation_enabled boolean)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
begin
  v_project := platform.project_for_member(p_ref);
  if p_file_size_limit is not null and (p_file_size_limit < 1 or p_file_size_limit > p_max) then
    raise exception 'fileSizeLimit must be between 1 and % bytes', p_max using errcode = 'LMF01';
  end if;
  insert into platform.project_storage_config as c (project_id, file_size_limit, image_transformation_enabled)
  values (v_project.id, coalesce(p_file_size_limit, 52428800), coalesce(p_image_transformation, true))
  on conflict (project_id) do update set
    file_size_limit = coalesce(p_file_size_limit, c.file_size_limit),
    image_transformation_enabled = coalesce(p_image_transformation, c.image_transformation_enabled),
    updated_at = now();
  return query select * from platform.storage_config(p_ref);
end $$;
comment on function platform.update_storage_config(text, bigint, boolean, bigint) is 'Changes a project''s storage settings.';

-- For the data plane (the platform's own connection): settings by ref, defaults when none were saved.
create function platform_private.project_storage_config(p_ref text)
  returns table (file_size_limit bigint, image_transformation_enabled boolean)
  language sql stable
as $$
  select coalesce(c.file_size_limit, 52428800), coalesce(c.image_transformation_enabled, true)
  from platform.projects p left join platform.project_storage_config c on c.project_id = p.id
  where p.ref = p_ref
$$;

-- Queues the sweep of a project's unreferenced stored bytes (worker task storage__sweep). One pending sweep per
-- project: asking again does not postpone it.
create function platform_private.queue_storage_sweep(p_ref text, p_delay interval default interval '1 hour') returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  perform graphile_worker.add_job('storage__sweep', json_build_object('ref', p_ref), run_at := now() + p_delay,
    job_key := 'storage__sweep:' || p_ref, job_key_mode := 'preserve_run_at', max_attempts := 3);
end $$;
