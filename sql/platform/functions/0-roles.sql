-- Organization roles: the one place that decides whether the caller's role allows an action. Every role check of
-- the Management API — the route guard (server/src/management/roles.ts), the SQL functions that change a project
-- or an organization, and the policies of the tables only some roles may read — ends in platform.require_role()
-- or platform.role_allows(), which read platform.role_permissions.

create or replace function platform.role_rank(p_role text) returns integer
  language sql immutable
as $$ select case p_role when 'Read-only' then 1 when 'Developer' then 2 when 'Administrator' then 3 when 'Owner' then 4 end $$;
comment on function platform.role_rank(text) is 'Orders the organization roles: Read-only < Developer < Administrator < Owner.';

-- security definer so that policies on organization_members (and on tables that ask for a role) do not recurse.
create or replace function platform.org_role(p_organization_id bigint) returns text
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select m.role from platform.organization_members m
  where m.organization_id = p_organization_id and m.account_id = platform.current_account_id()
$$;
comment on function platform.org_role(bigint) is 'The caller''s role in an organization, or null when not a member.';

create or replace function platform.role_allows(p_role text, p_action text) returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce(platform.role_rank(p_role) >= platform.role_rank(
    (select r.min_role from platform.role_permissions r where r.action = p_action)), false)
$$;
comment on function platform.role_allows(text, text) is 'Whether a role may do an action (unknown actions: no).';

create or replace function platform.caller_may(p_organization_id bigint, p_action text) returns boolean
  language sql stable
as $$ select platform.role_allows(platform.org_role(p_organization_id), p_action) $$;
comment on function platform.caller_may(bigint, text) is 'Whether the caller''s role in an organization allows an action.';

-- Not a member: the organization does not exist for the caller (404), as everywhere else.
create or replace function platform.require_role(p_organization_id bigint, p_action text) returns text
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_role text := platform.org_role(p_organization_id);
  v_rule platform.role_permissions;
begin
  if v_role is null then raise exception 'Organization not found' using errcode = 'LMN02'; end if;
  select r.* into v_rule from platform.role_permissions r where r.action = p_action;
  if not found then raise exception 'unknown action "%"', p_action using errcode = 'LMO02'; end if;
  if platform.role_rank(v_role) < platform.role_rank(v_rule.min_role) then
    raise exception 'Your role in this organization (%) does not allow this: to % needs the % role or higher',
      v_role, v_rule.description, v_rule.min_role using errcode = 'LMO01';
  end if;
  return v_role;
end $$;
comment on function platform.require_role(bigint, text) is
  'Raises 403 (insufficient_role) unless the caller''s role in the organization allows the action; returns the role.';

-- plpgsql: files that use it (database-settings.sql) are applied before projects.sql defines project_for_member.
create or replace function platform.project_for_role(p_ref text, p_action text) returns platform.projects
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  perform platform.require_role(v_project.organization_id, p_action);
  return v_project;
end $$;
comment on function platform.project_for_role(text, text) is 'A project of the caller''s (404 otherwise) whose role allows the action (403 otherwise).';

create or replace function platform.authorize_project(p_ref text, p_action text) returns text
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return platform.require_role((platform.project_for_member(p_ref)).organization_id, p_action);
end $$;
comment on function platform.authorize_project(text, text) is 'The route guard''s check for /v1/projects/{ref}/…: 404, 403 or the caller''s role.';

create or replace function platform.authorize_organization(p_slug text, p_action text) returns text
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  select o.id into v_id from platform.organizations o where o.slug = p_slug;
  if v_id is null then raise exception 'Organization not found' using errcode = 'LMN02'; end if;
  return platform.require_role(v_id, p_action);
end $$;
comment on function platform.authorize_organization(text, text) is 'The route guard''s check for /v1/organizations/{slug}/…: 404, 403 or the caller''s role.';

create or replace function platform_private.audit(p_organization_id bigint, p_project_id bigint, p_action text, p_target text)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  insert into platform.audit_log (organization_id, project_id, account_id, token_id, action, target)
  values (p_organization_id, p_project_id, platform.current_account_id(), platform.current_token_id(), p_action, p_target)
$$;
