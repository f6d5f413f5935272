-- Who is calling: the one place identity is read from, and the membership helper policies use.

create or replace function platform.current_account_id() returns uuid
  language sql stable
as $$ select nullif(current_setting('loam.account_id', true), '')::uuid $$;
comment on function platform.current_account_id() is 'The account making the current Management API request.';

create or replace function platform.current_token_id() returns uuid
  language sql stable
as $$ select nullif(current_setting('loam.token_id', true), '')::uuid $$;
comment on function platform.current_token_id() is 'The access token of the current Management API request (audited actions record it).';

-- security definer so that policies on organization_members can use it without recursing into themselves.
create or replace function platform.is_org_member(p_organization_id bigint) returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1 from platform.organization_members m
    where m.organization_id = p_organization_id and m.account_id = platform.current_account_id())
$$;

-- Random bytes from the core's CSPRNG (gen_random_uuid: 122 random bits each), so no extension is needed.
create or replace function platform.random_bytes(n integer) returns bytea
  language sql volatile
as $$
  select substring(string_agg(decode(replace(gen_random_uuid()::text, '-', ''), 'hex'), ''::bytea) from 1 for n)
  from generate_series(1, (n + 11) / 12)
$$;

-- Letters for refs and slugs (not secrets: modulo bias is harmless here).
create or replace function platform.random_letters(n integer) returns text
  language sql volatile
as $$ select string_agg(chr(97 + (get_byte(b, i) % 26)), '') from platform.random_bytes(n) b, generate_series(0, n - 1) i $$;

create or replace function platform_private.add_job(p_task text, p_payload json, p_job_key text default null) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ select null from graphile_worker.add_job(p_task, p_payload, job_key := p_job_key, max_attempts := 5) $$;

create or replace function platform_private.validate_name(p_name text) returns text
  language plpgsql immutable
as $$
begin
  -- 256 is the limit Supabase's API documents for project names, so names its clients accept are accepted here.
  if p_name is null or p_name !~ '^[A-Za-z0-9][A-Za-z0-9 _.''-]{0,255}$' then
    raise exception 'name must be 1-256 characters: letters, digits, spaces and _ . '' - (starting with a letter or digit)'
      using errcode = 'LMV01';
  end if;
  return p_name;
end $$;
