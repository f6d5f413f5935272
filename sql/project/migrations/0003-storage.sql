-- Storage, second part: what the /storage/v1 API needs beyond 0001's tables — Supabase's listing function
-- `storage.search`, the v2 listing, `updated_at` upkeep, and the few lookups the API makes past RLS (a bucket's
-- limits, whether it is public) as narrow SECURITY DEFINER functions instead of a privileged connection.

-- Users write their own storage policies (`create policy … on storage.objects`), which takes ownership of the
-- table: storage.buckets and storage.objects belong to a cluster-wide NOLOGIN role every project owner is a
-- member of (as Supabase's `postgres` is of supabase_storage_admin). An owner can only connect to its own
-- database, so the membership reaches no other project's tables. The API roles are not members: RLS applies.
do $$ begin create role loam_storage_admin nologin noinherit; exception when duplicate_object then null; end $$;
grant usage on schema storage to loam_storage_admin;
alter table storage.buckets owner to loam_storage_admin;
alter table storage.objects owner to loam_storage_admin;
-- Databases that existed before this migration: the owner role is named like the database (new projects get the
-- membership when they are created).
do $$
begin
  if exists (select 1 from pg_roles where rolname = current_database()) then
    execute format('grant loam_storage_admin to %I', current_database());
  end if;
end $$;

-- Bucket names and object keys are checked here too, so rows written through psql obey the same rules as the API.
alter table storage.buckets
  add constraint buckets_id_valid check (id ~ '^[A-Za-z0-9_!.*''() &$=@;:+,?-]{1,100}$' and id not in ('.', '..'));
alter table storage.objects
  add constraint objects_name_valid check (
    name is not null and name <> '' and name !~ '(^|/)\.\.?(/|$)' and name !~ '^/' and name !~ '//');
alter table storage.objects alter column bucket_id set not null;
alter table storage.objects alter column metadata set default '{}'::jsonb;

create function storage.update_updated_at_column() returns trigger
  language plpgsql
as $$
begin
  new.updated_at = now();
  return new;
end $$;
comment on function storage.update_updated_at_column() is 'Keeps updated_at current on storage.buckets and storage.objects.';

create trigger update_objects_updated_at before update on storage.objects
  for each row execute function storage.update_updated_at_column();
create trigger update_buckets_updated_at before update on storage.buckets
  for each row execute function storage.update_updated_at_column();

-- What an upload or a public read must know about a bucket whatever the caller's RLS lets it see (storage-api
-- looks buckets up as superuser for this too). Nothing beyond these four columns is revealed.
create function _loam.storage_bucket(p_id text)
  returns table (id text, public boolean, file_size_limit bigint, allowed_mime_types text[])
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select b.id, b.public, b.file_size_limit, b.allowed_mime_types from storage.buckets b where b.id = p_id $$;
comment on function _loam.storage_bucket(text) is 'Limits and visibility of one bucket, for the storage API.';

-- Counting is not a permission question: a bucket with objects the caller cannot see is still not empty.
create function _loam.storage_bucket_has_objects(p_id text) returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select exists (select 1 from storage.objects o where o.bucket_id = p_id) $$;
comment on function _loam.storage_bucket_has_objects(text) is 'Whether a bucket holds any object, whoever can see them.';

-- A public bucket's objects are readable by anyone (storage-api reads them as superuser); this returns the row
-- only when the bucket is public, so it grants nothing else.
create function _loam.storage_public_object(p_bucket text, p_name text) returns setof storage.objects
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select o.* from storage.objects o join storage.buckets b on b.id = o.bucket_id
  where o.bucket_id = p_bucket and o.name = p_name and b.public
$$;
comment on function _loam.storage_public_object(text, text) is 'An object of a public bucket, for reads without RLS.';

-- Whether an object exists at all: tells "not found" from "not allowed" after an RLS-filtered delete.
create function _loam.storage_object_exists(p_bucket text, p_name text) returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select exists (select 1 from storage.objects o where o.bucket_id = p_bucket and o.name = p_name) $$;
comment on function _loam.storage_object_exists(text, text) is 'Whether an object exists, whoever can see it.';

-- Supabase's listing function, same name and arguments: the entries one level below `prefix` — files (with
-- their row) and folders (name only, other columns null) — filtered by `search`, sorted and paged. It runs as
-- the caller, so RLS on storage.objects decides what is listed.
create function storage.search(prefix text, bucketname text, limits integer default 100, levels integer default 1,
                               offsets integer default 0, search text default '', sortcolumn text default 'name',
                               sortorder text default 'asc')
  returns table (name text, id uuid, updated_at timestamptz, created_at timestamptz, last_accessed_at timestamptz,
                 metadata jsonb)
  language plpgsql stable
as $$
declare
  v_order text := case when lower(sortorder) = 'desc' then 'desc' else 'asc' end;
  v_column text := case when sortcolumn in ('name', 'updated_at', 'created_at', 'last_accessed_at')
                        then sortcolumn else 'name' end;
begin
  return query execute format(
    $q$
      with entries as (
        select distinct on (o.path_tokens[$1])
               o.path_tokens[$1] as name,
               case when array_length(o.path_tokens, 1) = $1 then o.id end as id,
               case when array_length(o.path_tokens, 1) = $1 then o.updated_at end as updated_at,
               case when array_length(o.path_tokens, 1) = $1 then o.created_at end as created_at,
               case when array_length(o.path_tokens, 1) = $1 then o.last_accessed_at end as last_accessed_at,
               case when array_length(o.path_tokens, 1) = $1 then o.metadata end as metadata
        from storage.objects o
        where o.bucket_id = $2
          and o.name ilike $3 || '%%'
          and array_length(o.path_tokens, 1) >= $1
        -- a name that is both a file and a folder lists as the folder, as Supabase does
        order by o.path_tokens[$1], array_length(o.path_tokens, 1) desc
      )
      select * from entries
      order by %1$I %2$s nulls last, entries.name collate "C" %2$s
      limit $4 offset $5
    $q$, v_column, v_order)
  using levels, bucketname, prefix || search, limits, offsets;
end $$;
comment on function storage.search(text, text, integer, integer, integer, text, text, text)
  is 'Lists the files and folders one level below a prefix (Supabase Storage list API).';

-- The v2 listing: keys under `prefix` in (sort column, name) order after a cursor; with a delimiter, everything
-- below the next delimiter collapses into one folder entry (id null), and only name order applies. The caller
-- asks for one row more than a page to learn whether there is a next one.
create function storage.list_objects_with_delimiter(bucket_id text, prefix_param text, delimiter_param text,
                                                     max_keys integer default 100, start_after text default '',
                                                     next_token text default '', sort_column text default 'name',
                                                     sort_order text default 'asc', sort_column_after text default null)
  returns table (name text, id uuid, metadata jsonb, updated_at timestamptz, created_at timestamptz,
                 last_accessed_at timestamptz)
  language plpgsql stable
as $$
declare
  v_column text := case when sort_column in ('created_at', 'updated_at') and delimiter_param = '' then sort_column end;
  v_op text := case when lower(sort_order) = 'desc' then '<' else '>' end;
  v_dir text := case when lower(sort_order) = 'desc' then 'desc' else 'asc' end;
begin
  return query execute format(
    $q$
      with matching as (
        select case when $3 <> '' and strpos(substr(o.name, length($2) + 1), $3) > 0
                    then left(o.name, length($2) + strpos(substr(o.name, length($2) + 1), $3))
                    else o.name end as entry,
               o.name, o.id, o.metadata, o.updated_at, o.created_at, o.last_accessed_at
        from storage.objects o
        where o.bucket_id = $1
          and o.name collate "C" like replace(replace(replace($2, E'\\', E'\\\\'), '%%', E'\\%%'), '_', E'\\_') || '%%'
      ), entries as (
        select distinct on (m.entry collate "C")
               m.entry as name,
               case when m.entry = m.name then m.id end as id,
               case when m.entry = m.name then m.metadata end as metadata,
               case when m.entry = m.name then m.updated_at end as updated_at,
               case when m.entry = m.name then m.created_at end as created_at,
               case when m.entry = m.name then m.last_accessed_at end as last_accessed_at
        from matching m
        order by m.entry collate "C", (m.entry = m.name)
      )
      select * from entries e
      where $4::text is null or %1$s
      order by %2$s e.name collate "C" %3$s
      limit $5
    $q$,
    case when v_column is null then format('e.name collate "C" %s $4', v_op)
         else format($c$(date_trunc('milliseconds', e.%I), e.name collate "C") %s (coalesce(nullif($6, '')::timestamptz, 'epoch'), $4)$c$, v_column, v_op) end,
    case when v_column is null then '' else format('e.%I %s,', v_column, v_dir) end,
    v_dir)
  using bucket_id, prefix_param, delimiter_param, coalesce(nullif(next_token, ''), nullif(start_after, '')), max_keys,
        sort_column_after;
end $$;
comment on function storage.list_objects_with_delimiter(text, text, text, integer, text, text, text, text, text)
  is 'Lists keys (and, with a delimiter, folders) under a prefix, for the Storage list-v2 API.';

grant execute on function storage.search(text, text, integer, integer, integer, text, text, text),
  storage.list_objects_with_delimiter(text, text, text, integer, text, text, text, text, text),
  _loam.storage_bucket(text), _loam.storage_bucket_has_objects(text), _loam.storage_public_object(text, text),
  _loam.storage_object_exists(text, text)
  to anon, authenticated, service_role;
