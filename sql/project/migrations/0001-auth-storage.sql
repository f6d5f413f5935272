-- Project template, first version: the auth and storage schemas a Supabase project has, and the grants that
-- make row-level security the gate for anon / authenticated / service_role.

grant usage on schema public to anon, authenticated, service_role;

create schema auth;
comment on schema auth is 'End-user accounts of this project (GoTrue-compatible).';
grant usage on schema auth to anon, authenticated, service_role;

create table auth.users (
  instance_id uuid,
  id uuid primary key default gen_random_uuid(),
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  phone text unique,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0 check (email_change_confirm_status between 0 and 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index users_email_partial_key on auth.users (email) where is_sso_user = false;
comment on table auth.users is 'Auth: stores user login data within a secure schema.';
alter table auth.users enable row level security;
grant all on auth.users to service_role;

-- Identity is read from the request context the data plane sets (PostgREST's setting names), in one place.
create function auth.jwt() returns jsonb
  language sql stable
as $$
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''), nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
comment on function auth.jwt() is 'The claims of the JWT of the current request.';

create function auth.uid() returns uuid
  language sql stable
as $$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), auth.jwt() ->> 'sub')::uuid
$$;
comment on function auth.uid() is 'The id of the user making the current request (the JWT''s sub claim).';

create function auth.role() returns text
  language sql stable
as $$
  select coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), auth.jwt() ->> 'role')::text
$$;
comment on function auth.role() is 'The role claim of the JWT of the current request.';

create function auth.email() returns text
  language sql stable
as $$
  select coalesce(nullif(current_setting('request.jwt.claim.email', true), ''), auth.jwt() ->> 'email')::text
$$;
comment on function auth.email() is 'The email claim of the JWT of the current request.';

grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email() to anon, authenticated, service_role;

create schema storage;
comment on schema storage is 'File storage metadata of this project (Supabase Storage compatible).';
grant usage on schema storage to anon, authenticated, service_role;

create table storage.buckets (
  id text primary key,
  name text not null unique,
  owner uuid,
  owner_id text,
  public boolean not null default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
comment on table storage.buckets is 'Storage buckets.';

create table storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  metadata jsonb,
  user_metadata jsonb,
  version text,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now()
);
create unique index bucketid_objname on storage.objects (bucket_id, name);
create index name_prefix_search on storage.objects (name text_pattern_ops);
comment on table storage.objects is 'Storage objects: one row per stored file.';

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;

create function storage.foldername(name text) returns text[]
  language sql immutable
as $$ select (string_to_array(name, '/'))[1 : array_length(string_to_array(name, '/'), 1) - 1] $$;

create function storage.filename(name text) returns text
  language sql immutable
as $$ select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)] $$;

create function storage.extension(name text) returns text
  language sql immutable
as $$
  select case when storage.filename(name) like '%.%'
              then reverse(split_part(reverse(storage.filename(name)), '.', 1)) else '' end
$$;

grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text)
  to anon, authenticated, service_role;

-- Schema changes, made any way (psql, migrations, the SQL endpoint), bump a version the data plane reads in the
-- same round trip as its request context; its schema caches reload when it moves. The NOTIFY keeps PostgREST's
-- `NOTIFY pgrst, 'reload schema'` convention for anything listening.
create table _loam.schema_state (
  id boolean primary key default true check (id),
  version bigint not null default 0
);
insert into _loam.schema_state default values;
grant usage on schema _loam to anon, authenticated, service_role;
grant select on _loam.schema_state to anon, authenticated, service_role;

create function _loam.schema_changed() returns event_trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
begin
  update _loam.schema_state set version = version + 1;
  perform pg_notify('pgrst', 'reload schema');
end $$;

create event trigger loam_ddl_command_end on ddl_command_end execute function _loam.schema_changed();
create event trigger loam_sql_drop on sql_drop execute function _loam.schema_changed();
