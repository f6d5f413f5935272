-- Storage: the bytes each project stores, counted against its plan's `storage_size_mb`, and the queueing of the
-- job that removes abandoned uploads (S3 multipart uploads never completed, TUS uploads never finished).
--
-- The count is kept here, in the control database, by the data plane as it stores and removes bytes — not summed
-- from storage.objects, whose `metadata.size` the project's owner can rewrite. Bytes are added before they are
-- stored (refused past the quota) and taken off after they are gone (the sizes the blob store removed).

create table platform_private.storage_usage (
  project_id bigint primary key references platform.projects on delete cascade,
  bytes bigint not null default 0 check (bytes >= 0),
  updated_at timestamptz not null default now()
);
alter table platform_private.storage_usage enable row level security;
comment on table platform_private.storage_usage is 'Bytes of objects and upload parts a project stores (its storage quota''s usage).';

-- Reserves p_bytes of the project's quota (its organization's plan), atomically across API processes: the row
-- lock serialises concurrent reservations of one project. Past the quota nothing is reserved.
create function platform_private.reserve_storage(p_ref text, p_bytes bigint) returns bigint
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project bigint;
  v_quota bigint;
  v_used bigint;
begin
  select p.id, pl.storage_size_mb::bigint * 1048576 into v_project, v_quota
    from platform.projects p join platform.organizations o on o.id = p.organization_id
    join platform.plans pl on pl.id = o.plan where p.ref = p_ref;
  if v_project is null then
    raise exception 'project not found' using errcode = 'LMN01';
  end if;
  insert into platform_private.storage_usage (project_id) values (v_project) on conflict do nothing;
  select u.bytes into v_used from platform_private.storage_usage u where u.project_id = v_project for update;
  if p_bytes > 0 and v_used + p_bytes > v_quota then
    raise exception 'The project''s storage quota of % bytes (from its plan) would be exceeded: % bytes are stored', v_quota, v_used
      using errcode = 'LMQ50';
  end if;
  update platform_private.storage_usage u set bytes = greatest(u.bytes + p_bytes, 0), updated_at = now()
    where u.project_id = v_project returning u.bytes into v_used;
  return v_used;
end $$;
comment on function platform_private.reserve_storage(text, bigint) is
  'Counts bytes a project is about to store against its plan''s quota (negative: bytes removed); refuses (LMQ50) past it.';

-- The quota and what is used, for an early refusal (a declared size) before any byte is read.
create function platform_private.storage_quota(p_ref text) returns table (quota bigint, used bigint)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select pl.storage_size_mb::bigint * 1048576, coalesce(u.bytes, 0)
  from platform.projects p join platform.organizations o on o.id = p.organization_id
  join platform.plans pl on pl.id = o.plan
  left join platform_private.storage_usage u on u.project_id = p.id
  where p.ref = p_ref
$$;

-- Queues the expiry of a project's abandoned uploads (worker task storage_uploads__expire) for when the oldest
-- upload would be abandoned. One pending job per project: queueing again keeps the earlier time.
-- p_age: seconds after which an upload counts as abandoned, as the API process that took the upload was set.
create function platform_private.queue_storage_upload_expiry(p_ref text, p_delay interval, p_age integer) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  perform graphile_worker.add_job('storage_uploads__expire', json_build_object('ref', p_ref, 'age', p_age),
    run_at := now() + greatest(p_delay, interval '0'), job_key := 'storage_uploads__expire:' || p_ref,
    job_key_mode := 'preserve_run_at', max_attempts := 5);
end $$;
