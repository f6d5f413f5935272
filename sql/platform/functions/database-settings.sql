-- A project's database settings kept in the control database (migration 0017): allowed networks, bans, TLS
-- enforcement, read-only mode, and the managed pg_hba.conf rules that enforce them; saved SQL snippets.

-- The project's row, created with the defaults (every address allowed) on first use.
create or replace function platform_private.project_network(p_project_id bigint) returns platform_private.project_network
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_row platform_private.project_network;
begin
  insert into platform_private.project_network (project_id) values (p_project_id) on conflict do nothing;
  select * into v_row from platform_private.project_network where project_id = p_project_id;
  return v_row;
end $$;

-- plpgsql (here and below) because this file is applied before projects.sql, which defines project_for_member.
create or replace function platform.project_network(p_ref text) returns platform_private.project_network
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$ begin return platform_private.project_network((platform.project_for_member(p_ref)).id); end $$;
comment on function platform.project_network(text) is 'A project''s network settings (allowed networks, TLS, read-only), for its members.';

-- CIDR text of one address family, or a clear error naming the entry that is not one.
create or replace function platform_private.cidrs(p_items text[], p_family integer) returns cidr[]
  language plpgsql immutable set search_path = pg_catalog, pg_temp
as $$
declare
  v_item text;
  v_cidr cidr;
  v_out cidr[] := '{}';
begin
  foreach v_item in array coalesce(p_items, '{}') loop
    begin
      v_cidr := v_item::cidr;
    exception when others then
      raise exception '"%" is not a CIDR block (e.g. 203.0.113.0/24): %', v_item, sqlerrm using errcode = 'LMV81';
    end;
    if family(v_cidr) <> p_family then
      raise exception '"%" is not an IPv% CIDR block', v_item, p_family using errcode = 'LMV81';
    end if;
    if not v_cidr = any (v_out) then v_out := v_out || v_cidr; end if;
  end loop;
  return v_out;
end $$;

create or replace function platform.set_network_restrictions(p_ref text, p_v4 text[], p_v6 text[])
  returns platform_private.project_network
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_current platform_private.project_network := platform.project_network(p_ref);
  v_row platform_private.project_network;
begin
  update platform_private.project_network n
     set old_allowed_cidrs = n.db_allowed_cidrs, old_allowed_cidrs_v6 = n.db_allowed_cidrs_v6,
         db_allowed_cidrs = platform_private.cidrs(p_v4, 4), db_allowed_cidrs_v6 = platform_private.cidrs(p_v6, 6),
         restrictions_updated_at = now()
   where n.project_id = v_current.project_id returning * into v_row;
  return v_row;
end $$;
comment on function platform.set_network_restrictions(text, text[], text[]) is
  'Replaces the networks a project''s database login may come from (an empty list of a family allows none of it).';

create or replace function platform.patch_network_restrictions(p_ref text, p_add4 text[], p_add6 text[], p_remove4 text[], p_remove6 text[])
  returns platform_private.project_network
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_current platform_private.project_network := platform.project_network(p_ref);
  v_rm4 cidr[] := platform_private.cidrs(p_remove4, 4);
  v_rm6 cidr[] := platform_private.cidrs(p_remove6, 6);
begin
  return platform.set_network_restrictions(p_ref,
    array(select c::text from unnest(v_current.db_allowed_cidrs || platform_private.cidrs(p_add4, 4)) c where not c = any (v_rm4)),
    array(select c::text from unnest(v_current.db_allowed_cidrs_v6 || platform_private.cidrs(p_add6, 6)) c where not c = any (v_rm6)));
end $$;
comment on function platform.patch_network_restrictions(text, text[], text[], text[], text[]) is
  'Adds and removes networks a project''s database login may come from.';

create or replace function platform.set_ssl_enforcement(p_ref text, p_enforced boolean)
  returns platform_private.project_network
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_row platform_private.project_network := platform.project_network(p_ref);
begin
  update platform_private.project_network n set ssl_enforced = p_enforced, restrictions_updated_at = now()
   where n.project_id = v_row.project_id returning * into v_row;
  return v_row;
end $$;
comment on function platform.set_ssl_enforcement(text, boolean) is 'Whether a project''s database login must use TLS.';

-- Called by the platform once the rules are in the server's pg_hba.conf. The rows are locked in one order
-- (by project) before they are updated: two calls at once (two projects' rules changed together) then wait
-- for each other instead of deadlocking.
create or replace function platform_private.network_applied(p_server_id bigint) returns void
  language sql volatile
as $$
  with locked as (
    select n.project_id from platform_private.project_network n join platform.projects p on p.id = n.project_id
     where p.database_server_id = p_server_id order by n.project_id for update of n)
  update platform_private.project_network n set restrictions_applied_at = now()
    from locked where locked.project_id = n.project_id
$$;

create or replace function platform.network_bans(p_ref text)
  returns table (address inet, identifier text, type text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query select b.address, b.identifier, b.type from platform_private.network_bans b
   where b.project_id = (platform.project_for_member(p_ref)).id order by b.address;
end $$;
comment on function platform.network_bans(text) is 'Addresses banned from a project''s database.';

create or replace function platform.remove_network_bans(p_ref text, p_addresses text[]) returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_item text;
  v_addresses inet[] := '{}';
  v_count integer;
begin
  foreach v_item in array coalesce(p_addresses, '{}') loop
    begin
      v_addresses := v_addresses || v_item::inet;
    exception when others then
      raise exception '"%" is not an IP address', v_item using errcode = 'LMV81';
    end;
  end loop;
  delete from platform_private.network_bans b where b.project_id = v_project.id and b.address = any (v_addresses);
  get diagnostics v_count = row_count;
  if v_count > 0 then
    perform platform_private.project_network(v_project.id);
    update platform_private.project_network n set restrictions_updated_at = now() where n.project_id = v_project.id;
  end if;
  return v_count;
end $$;
comment on function platform.remove_network_bans(text, text[]) is 'Lifts bans of addresses from a project''s database.';

-- For operators (and, later, automatic banning): refuses an address at a project's database.
create or replace function platform_private.ban_address(p_ref text, p_address inet, p_identifier text default '')
  returns void
  language sql volatile
as $$
  select platform_private.project_network(p.id) from platform.projects p where p.ref = p_ref;
  insert into platform_private.network_bans (project_id, address, identifier)
  select p.id, p_address, coalesce(p_identifier, '') from platform.projects p where p.ref = p_ref
  on conflict (project_id, address) do update set identifier = excluded.identifier
$$;

-- The SQL endpoint's check of the caller's address: the same networks and bans as the psql login.
create or replace function platform.check_database_address(p_ref text, p_address inet) returns void
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_network platform_private.project_network;
begin
  select * into v_network from platform_private.project_network where project_id = v_project.id;
  if exists (select 1 from platform_private.network_bans b where b.project_id = v_project.id and b.address >>= p_address)
     or (found and not exists (select 1 from unnest(v_network.db_allowed_cidrs || v_network.db_allowed_cidrs_v6) c
                               where c >>= p_address)) then
    raise exception 'address % may not reach this project''s database (network restrictions or bans)', host(p_address)
      using errcode = 'LMA80';
  end if;
end $$;
comment on function platform.check_database_address(text, inet) is
  'Raises LMA80 when an address is outside a project''s allowed networks or banned.';

-- The managed section of one server's pg_hba.conf, first match wins: bans and TLS-less logins refused, then the
-- allowed networks with a password, then everything else from the project's login refused. Only projects with
-- something to enforce get lines; everyone else falls through to the server's own rules.
create or replace function platform_private.hba_rules(p_server_id bigint) returns setof text
  language sql stable set search_path = pg_catalog, pg_temp
as $$
  with p as (
    select p.ref, n.*, format('"%s"', p.ref) as who,
           (n.db_allowed_cidrs <> '{0.0.0.0/0}' or n.db_allowed_cidrs_v6 <> '{::/0}') as restricted
    from platform.projects p join platform_private.project_network n on n.project_id = p.id
    where p.deleted_at is null and p.database_server_id = p_server_id)
  select line from (
    select p.ref, 1 as ord, format('host all %s %s reject', p.who, network(b.address::cidr)) as line
      from p join platform_private.network_bans b on b.project_id = p.project_id
    union all
    select p.ref, 2, format('hostnossl all %s all reject', p.who) from p where p.ssl_enforced
    union all
    select p.ref, 3, format('host all %s %s scram-sha-256', p.who, c)
      from p, unnest(p.db_allowed_cidrs || p.db_allowed_cidrs_v6) c where p.restricted
    union all
    select p.ref, 4, format('host all %s all reject', p.who) from p where p.restricted
  ) r order by ref, ord, line
$$;

-- Read-only mode: on while `readonly` is set and no temporary override is running.
create or replace function platform_private.readonly_effective(n platform_private.project_network) returns boolean
  language sql stable
as $$ select n.readonly and (n.readonly_override_until is null or n.readonly_override_until <= now()) $$;

create or replace function platform_private.set_readonly(p_ref text, p_readonly boolean) returns void
  language sql volatile
as $$
  select platform_private.project_network(p.id) from platform.projects p where p.ref = p_ref;
  update platform_private.project_network n set readonly = p_readonly, readonly_override_until = null
    from platform.projects p where p.id = n.project_id and p.ref = p_ref;
  select platform_private.add_job('project__readonly', json_build_object('ref', p_ref), 'project__readonly:' || p_ref);
$$;

-- 15 minutes of writes for a project in read-only mode (to delete data); a job turns it back on afterwards.
create or replace function platform.disable_readonly_temporarily(p_ref text) returns platform_private.project_network
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_row platform_private.project_network := platform.project_network(p_ref);
begin
  update platform_private.project_network n set readonly_override_until = now() + interval '15 minutes'
   where n.project_id = v_row.project_id returning * into v_row;
  perform graphile_worker.add_job('project__readonly', json_build_object('ref', p_ref),
    run_at := v_row.readonly_override_until + interval '1 second', max_attempts := 5);
  return v_row;
end $$;
comment on function platform.disable_readonly_temporarily(text) is 'Lets a read-only project write for 15 minutes.';

-- Snippets -------------------------------------------------------------------------------------------------

-- What a caller may see: their own snippets, and those of projects they are a member of shared with the project.
-- Dropped first: its columns grew (who changed it last) and a function's result type cannot change in place.
drop function if exists platform.snippets(text, uuid);
create function platform.snippets(p_ref text, p_id uuid default null)
  returns table (id uuid, name text, description text, visibility text, sql text, favorite boolean,
                 inserted_at timestamptz, updated_at timestamptz, project_id bigint, project_name text,
                 owner_number bigint, owner_name text, updated_by_number bigint, updated_by_name text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select s.id, s.name, s.description, s.visibility, s.sql, s.favorite, s.inserted_at, s.updated_at,
         p.id, p.name, n.number, coalesce(a.full_name, a.email),
         coalesce(un.number, n.number), coalesce(coalesce(ua.full_name, ua.email), coalesce(a.full_name, a.email))
  from platform_private.snippets s
  join platform.projects p on p.id = s.project_id and p.deleted_at is null and platform.is_org_member(p.organization_id)
  join platform.accounts a on a.id = s.account_id
  join platform_private.account_numbers n on n.account_id = s.account_id
  left join platform.accounts ua on ua.id = s.updated_by
  left join platform_private.account_numbers un on un.account_id = s.updated_by
  where (s.account_id = platform.current_account_id() or s.visibility = 'project')
    and (p_ref is null or p.ref = p_ref) and (p_id is null or s.id = p_id)
  order by s.inserted_at, s.id
$$;
comment on function platform.snippets(text, uuid) is 'SQL snippets the caller may read, optionally of one project or one id.';

create or replace function platform.create_snippet(p_ref text, p_name text, p_sql text, p_description text, p_visibility text)
  returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_id uuid;
begin
  if (select count(*) from platform_private.snippets s where s.account_id = platform.current_account_id()) >= 1000 then
    raise exception 'An account has at most 1000 snippets' using errcode = 'LMQ01';
  end if;
  insert into platform_private.account_numbers (account_id) values (platform.current_account_id()) on conflict do nothing;
  insert into platform_private.snippets (account_id, project_id, name, sql, description, visibility)
    values (platform.current_account_id(), v_project.id, p_name, p_sql, p_description, coalesce(p_visibility, 'user'))
    returning id into v_id;
  return v_id;
end $$;
comment on function platform.create_snippet(text, text, text, text, text) is 'Saves a SQL snippet of a project for the caller.';

-- A snippet the caller may change: one they can see (404 otherwise, LMI01), in a project whose organization lets
-- their role change content (403 insufficient_role: a Read-only member changes nothing), and either their own or,
-- shared with the project, one an Administrator or Owner may tidy up (403 snippet_not_owned, LMI02).
create or replace function platform_private.snippet_for_change(p_id uuid) returns platform_private.snippets
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_snippet platform_private.snippets;
  v_project platform.projects;
  v_role text;
begin
  select s.* into v_snippet from platform_private.snippets s
    join platform.projects p on p.id = s.project_id and p.deleted_at is null and platform.is_org_member(p.organization_id)
    where s.id = p_id and (s.account_id = platform.current_account_id() or s.visibility = 'project');
  if not found then raise exception 'Snippet not found' using errcode = 'LMI01'; end if;
  select p.* into v_project from platform.projects p where p.id = v_snippet.project_id;
  v_role := platform.require_role(v_project.organization_id, 'project.content');
  if v_snippet.account_id <> platform.current_account_id() and not platform.role_allows(v_role, 'project.settings') then
    raise exception 'This snippet is another member''s: only its owner, an Administrator or an Owner may change it'
      using errcode = 'LMI02';
  end if;
  return v_snippet;
end $$;

create or replace function platform.update_snippet(p_id uuid, p_name text, p_sql text, p_description text, p_visibility text)
  returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_snippet platform_private.snippets := platform_private.snippet_for_change(p_id);
begin
  insert into platform_private.account_numbers (account_id) values (platform.current_account_id()) on conflict do nothing;
  update platform_private.snippets s set
    name = coalesce(p_name, s.name), sql = coalesce(p_sql, s.sql),
    description = case when p_description is null then s.description when p_description = '' then null else p_description end,
    visibility = coalesce(p_visibility, s.visibility), updated_at = now(), updated_by = platform.current_account_id()
  where s.id = v_snippet.id;
  return v_snippet.id;
end $$;
comment on function platform.update_snippet(uuid, text, text, text, text) is
  'Renames or edits a SQL snippet (null leaves a field as it is; an empty description clears it). Loam''s own.';

create or replace function platform.delete_snippet(p_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  delete from platform_private.snippets s where s.id = (platform_private.snippet_for_change(p_id)).id;
end $$;
comment on function platform.delete_snippet(uuid) is 'Deletes a SQL snippet the caller may change. Loam''s own.';
