-- Environments of a project's secrets: the fallback chain, per-environment lists and bulk upserts, the view a
-- target (function, site build) resolves to, bindings, and the audited reveal. Values are sealed and opened by
-- the API process (server/src/functions/secrets.ts); SQL holds ciphertext and digests. Members only, through
-- project_for_member; the tables are private (RLS on, no grant).

-- The environments an environment reads, nearest first.
create or replace function platform_private.environment_chain(p_environment text) returns text[]
  language plpgsql immutable
as $$
begin
  case p_environment
    when 'production' then return array['production'];
    when 'staging' then return array['staging', 'production'];
    when 'development' then return array['development', 'staging', 'production'];
    else raise exception 'unknown environment "%": production, staging or development', p_environment using errcode = 'LMH01';
  end case;
end $$;

-- Each name once: the value of the nearest environment of the chain that sets it.
create or replace function platform_private.resolve_secrets(p_project_id bigint, p_environment text)
  returns table (name text, source text, value_enc bytea, digest text, updated_at timestamptz)
  language sql stable
as $$
  select distinct on (s.name) s.name, s.environment, s.value_enc, s.digest, s.updated_at
  from platform_private.function_secrets s
  join unnest(platform_private.environment_chain(p_environment)) with ordinality as c(env, ord) on c.env = s.environment
  where s.project_id = p_project_id
  order by s.name, c.ord
$$;

-- What every environment of a project resolves to must fit in a process's environment (Linux allows about 2 MiB
-- for arguments and variables together): 1 MiB of names and values at most, checked after each write, in its
-- transaction, so a write past it changes nothing. A value's bytes are its ciphertext's less the 28 of iv and tag.
-- The lock (held to the end of the transaction) serializes the checks of one project: two writes at once cannot
-- each pass on their own and together go past; each check's statement sees what was committed before it.
create or replace function platform_private.check_secrets_size(p_project_id bigint) returns void
  language plpgsql volatile
as $$
declare
  v_env text;
  v_bytes bigint;
begin
  perform pg_advisory_xact_lock(hashtextextended('loam-secrets-size:' || p_project_id, 0));
  foreach v_env in array array['production', 'staging', 'development'] loop
    select coalesce(sum(octet_length(r.name) + octet_length(r.value_enc) - 28 + 2), 0) into v_bytes
      from platform_private.resolve_secrets(p_project_id, v_env) r;
    if v_bytes > 1048576 then
      raise exception 'the secrets of % would take % bytes with its fallbacks: an environment resolves to at most 1048576 bytes of names and values', v_env, v_bytes
        using errcode = 'LMH04';
    end if;
  end loop;
end $$;

create or replace function platform.secret_environments(p_ref text)
  returns table (name text, fallback text[], secrets integer, bound_functions integer, bound_sites integer)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select e.env, (platform_private.environment_chain(e.env))[2:],
    (select count(*)::integer from platform_private.function_secrets s where s.project_id = v_project.id and s.environment = e.env),
    (select count(*)::integer from platform_private.secret_bindings b where b.project_id = v_project.id and b.environment = e.env and b.function_id is not null),
    (select count(*)::integer from platform_private.secret_bindings b where b.project_id = v_project.id and b.environment = e.env and b.site_id is not null)
  from unnest(array['production', 'staging', 'development']) with ordinality as e(env, ord) order by e.ord;
end $$;
comment on function platform.secret_environments(text) is 'The environments of a project''s secrets, their fallbacks and what is bound to each.';

create or replace function platform.environment_secrets(p_ref text, p_environment text)
  returns table (name text, digest text, updated_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  perform platform_private.environment_chain(p_environment);
  return query select s.name, s.digest, s.updated_at from platform_private.function_secrets s
    where s.project_id = v_project.id and s.environment = p_environment order by s.name;
end $$;
comment on function platform.environment_secrets(text, text) is 'The secrets one environment sets itself (names and digests, never values).';

-- Bulk upsert of one environment's secrets: all of them or none.
create or replace function platform.set_environment_secrets(p_ref text, p_environment text, p_names text[], p_values bytea[], p_digests text[])
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  perform platform_private.environment_chain(p_environment);
  if exists (select 1 from unnest(p_names) n where n is null or n !~ '^[A-Za-z_][A-Za-z0-9_]{0,255}$' or upper(n) like 'SUPABASE\_%') then
    raise exception 'secret names must match [A-Za-z_][A-Za-z0-9_]* and must not start with SUPABASE_' using errcode = 'LMV07';
  end if;
  if (select count(*) from platform_private.function_secrets s where s.project_id = v_project.id and s.environment = p_environment
      and s.name <> all (p_names)) + cardinality(p_names) > 100 then
    raise exception 'an environment holds at most 100 secrets' using errcode = 'LMQ02';
  end if;
  insert into platform_private.function_secrets as s (project_id, environment, name, value_enc, digest)
    select v_project.id, p_environment, n, v, d from unnest(p_names, p_values, p_digests) as t(n, v, d)
    on conflict (project_id, environment, name) do update set value_enc = excluded.value_enc, digest = excluded.digest, updated_at = now();
  perform platform_private.check_secrets_size(v_project.id);
  perform pg_notify('loam_project_changed', p_ref);
end $$;
comment on function platform.set_environment_secrets(text, text, text[], bytea[], text[]) is 'Sets secrets of one environment (sealed values), replacing those of the same names.';

-- Deletes the named secrets of one environment; the names that were not there.
create or replace function platform.delete_environment_secrets(p_ref text, p_environment text, p_names text[])
  returns text[]
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_deleted text[];
begin
  perform platform_private.environment_chain(p_environment);
  with d as (delete from platform_private.function_secrets s where s.project_id = v_project.id and s.environment = p_environment
    and s.name = any (p_names) returning s.name)
  select coalesce(array_agg(d.name), '{}') into v_deleted from d;
  perform pg_notify('loam_project_changed', p_ref);
  return array(select n from unnest(p_names) n where n <> all (v_deleted));
end $$;
comment on function platform.delete_environment_secrets(text, text, text[]) is 'Deletes secrets of one environment; returns the names it did not hold.';

-- What an environment resolves to, each name with the environment it comes from (never values).
create or replace function platform.resolved_environment_secrets(p_ref text, p_environment text)
  returns table (name text, source text, digest text, updated_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select r.name, r.source, r.digest, r.updated_at from platform_private.resolve_secrets(v_project.id, p_environment) r order by r.name;
end $$;
comment on function platform.resolved_environment_secrets(text, text) is 'The secrets an environment resolves to through its fallback chain, with the environment each comes from.';

-- The audited reveal: the sealed value an environment resolves a name to, and a row saying who asked.
create or replace function platform.reveal_environment_secret(p_ref text, p_environment text, p_name text, p_token_id uuid)
  returns table (name text, source text, value_enc bytea)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_row record;
begin
  select r.name, r.source, r.value_enc into v_row from platform_private.resolve_secrets(v_project.id, p_environment) r where r.name = p_name;
  if not found then
    raise exception 'secret % not found in environment % or its fallbacks', p_name, p_environment using errcode = 'LMH02';
  end if;
  insert into platform_private.secret_reveals (project_id, environment, name, account_id, token_id)
    values (v_project.id, v_row.source, v_row.name, platform.current_account_id(), p_token_id);
  return query select v_row.name, v_row.source, v_row.value_enc;
end $$;
comment on function platform.reveal_environment_secret(text, text, text, uuid) is 'A secret''s sealed value, recorded in the reveal audit.';

create or replace function platform.secret_reveals(p_ref text, p_limit integer)
  returns table (id bigint, environment text, name text, account_id uuid, account_email text, token_id uuid, at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select r.id, r.environment, r.name, r.account_id, a.email, r.token_id, r.at
    from platform_private.secret_reveals r left join platform.accounts a on a.id = r.account_id
    where r.project_id = v_project.id order by r.id desc limit least(greatest(coalesce(p_limit, 100), 1), 1000);
end $$;
comment on function platform.secret_reveals(text, integer) is 'Who revealed which secret of the project, and when (newest first).';

-- ---- Bindings: target kind `functions` (by slug) or `sites` (by site id) ----------------------------------

create or replace function platform_private.binding_target(p_project_id bigint, p_kind text, p_target text,
  out function_id bigint, out site_id uuid)
  language plpgsql stable
as $$
begin
  if p_kind = 'functions' then
    select f.id into function_id from platform.functions f where f.project_id = p_project_id and f.slug = p_target;
    if not found then raise exception 'Function not found' using errcode = 'LMN04'; end if;
  elsif p_kind = 'sites' then
    select s.id into site_id from platform.sites s where s.project_id = p_project_id
      and p_target ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' and s.id = p_target::uuid;
    if not found then raise exception 'Site not found' using errcode = 'LMN10'; end if;
  else
    raise exception 'unknown binding target "%": functions or sites', p_kind using errcode = 'LMH03';
  end if;
end $$;

create or replace function platform.secret_bindings(p_ref text)
  returns table (kind text, target text, environment text, updated_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query
    select 'functions', f.slug, coalesce(b.environment, 'production'), b.updated_at
      from platform.functions f left join platform_private.secret_bindings b on b.function_id = f.id
      where f.project_id = v_project.id
    union all
    select 'sites', s.id::text, b.environment, b.updated_at
      from platform.sites s left join platform_private.secret_bindings b on b.site_id = s.id
      where s.project_id = v_project.id
    order by 1, 2;
end $$;
comment on function platform.secret_bindings(text) is 'The environment each function and site build reads (functions: production unless bound; sites: none unless bound).';

create or replace function platform.bind_secrets(p_ref text, p_kind text, p_target text, p_environment text)
  returns table (kind text, target text, environment text, updated_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_target record;
begin
  perform platform_private.environment_chain(p_environment);
  select * into v_target from platform_private.binding_target(v_project.id, p_kind, p_target);
  if v_target.function_id is not null then
    insert into platform_private.secret_bindings as b (project_id, function_id, environment) values (v_project.id, v_target.function_id, p_environment)
      on conflict (function_id) do update set environment = excluded.environment, updated_at = now();
  else
    insert into platform_private.secret_bindings as b (project_id, site_id, environment) values (v_project.id, v_target.site_id, p_environment)
      on conflict (site_id) do update set environment = excluded.environment, updated_at = now();
  end if;
  perform pg_notify('loam_project_changed', p_ref);
  return query select p_kind, p_target, p_environment, now();
end $$;
comment on function platform.bind_secrets(text, text, text, text) is 'Binds a function or a site build to an environment of the project''s secrets.';

create or replace function platform.unbind_secrets(p_ref text, p_kind text, p_target text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_target record;
begin
  select * into v_target from platform_private.binding_target(v_project.id, p_kind, p_target);
  delete from platform_private.secret_bindings b where b.function_id = v_target.function_id or b.site_id = v_target.site_id;
  perform pg_notify('loam_project_changed', p_ref);
end $$;
comment on function platform.unbind_secrets(text, text, text) is 'Removes a binding: a function reads production again, a site build no secrets.';

-- The resolved view of one target: the environment it reads and each secret it sees, with its source.
create or replace function platform.target_secrets(p_ref text, p_kind text, p_target text)
  returns table (environment text, name text, source text, digest text, updated_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_target record;
  v_env text;
begin
  select * into v_target from platform_private.binding_target(v_project.id, p_kind, p_target);
  select b.environment into v_env from platform_private.secret_bindings b where b.function_id = v_target.function_id or b.site_id = v_target.site_id;
  if v_env is null and p_kind = 'functions' then v_env := 'production'; end if;
  if v_env is null then
    return query select null::text, null::text, null::text, null::text, null::timestamptz where false;
    return;
  end if;
  return query select v_env, r.name, r.source, r.digest, r.updated_at from platform_private.resolve_secrets(v_project.id, v_env) r order by r.name;
end $$;
comment on function platform.target_secrets(text, text, text) is 'The secrets a function or site build reads, resolved through its environment''s fallbacks.';

-- ---- For the platform's own connection (function runtime, build worker) ------------------------------------

-- Every environment's resolved secrets of a project, and the environment each function reads.
create or replace function platform_private.environment_secrets_of(p_ref text)
  returns table (environment text, name text, source text, value_enc bytea)
  language sql stable
as $$
  select e.env, r.name, r.source, r.value_enc
  from platform.projects p, unnest(array['production', 'staging', 'development']) e(env),
    platform_private.resolve_secrets(p.id, e.env) r
  where p.ref = p_ref
$$;

create or replace function platform_private.function_environments(p_ref text)
  returns table (slug text, environment text)
  language sql stable
as $$
  select f.slug, b.environment from platform.projects p join platform.functions f on f.project_id = p.id
    join platform_private.secret_bindings b on b.function_id = f.id where p.ref = p_ref
$$;

-- A site build's secrets: those of the environment the site is bound to; none when it is not bound.
create or replace function platform_private.site_build_secrets_of(p_site_id uuid)
  returns table (name text, source text, value_enc bytea)
  language sql stable
as $$
  select r.name, r.source, r.value_enc from platform_private.secret_bindings b
    cross join platform_private.resolve_secrets(b.project_id, b.environment) r
  where b.site_id = p_site_id
$$;
