-- S3 access keys of a project's storage (the Management API's /v1/projects/{ref}/storage/credentials). The
-- secret is needed in the clear to verify SigV4 signatures, so it is kept sealed with the operator's key
-- (db/src/secret-box.ts, AES-256-GCM bound to the project ref), never hashed and never returned after creation.
-- The functions live here, as in 0003, because this file is the storage area's part of the control database.

create table platform_private.storage_credentials (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  description text not null check (length(description) <= 256),
  access_key text not null unique check (access_key ~ '^[0-9a-f]{32}$'),
  secret_sealed text not null,
  created_at timestamptz not null default now()
);
create index storage_credentials_project_idx on platform_private.storage_credentials (project_id);
alter table platform_private.storage_credentials enable row level security;

create function platform.storage_credentials(p_ref text)
  returns table (id uuid, description text, access_key text, created_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select c.id, c.description, c.access_key, c.created_at
    from platform_private.storage_credentials c where c.project_id = v_project.id order by c.created_at, c.id;
end $$;
comment on function platform.storage_credentials(text) is 'The S3 access keys of a project the caller is a member of (never their secrets).';

create function platform.create_storage_credential(p_ref text, p_description text, p_access_key text, p_secret_sealed text)
  returns table (id uuid, description text, access_key text, created_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  if (select count(*) from platform_private.storage_credentials c where c.project_id = v_project.id) >= 50 then
    raise exception 'A project has at most 50 S3 access keys' using errcode = 'LMQ01';
  end if;
  return query insert into platform_private.storage_credentials as c (project_id, description, access_key, secret_sealed)
    values (v_project.id, p_description, p_access_key, p_secret_sealed)
    returning c.id, c.description, c.access_key, c.created_at;
end $$;
comment on function platform.create_storage_credential(text, text, text, text) is 'Records a new S3 access key of a project.';

create function platform.delete_storage_credential(p_ref text, p_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  delete from platform_private.storage_credentials c where c.id = p_id and c.project_id = v_project.id;
  if not found then raise exception 'Storage credential not found' using errcode = 'LMN05'; end if;
end $$;
comment on function platform.delete_storage_credential(text, uuid) is 'Revokes an S3 access key of a project.';

-- For the data plane (the platform's own connection): the project and sealed secret of an access key.
create function platform_private.storage_credential(p_access_key text)
  returns table (ref text, secret_sealed text)
  language sql stable
as $$
  select p.ref, c.secret_sealed from platform_private.storage_credentials c
  join platform.projects p on p.id = c.project_id
  where c.access_key = p_access_key and p.deleted_at is null
$$;
