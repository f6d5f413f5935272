-- Organizations: creation (the creator becomes owner) within the plan's limit.

create or replace function platform.create_organization(p_name text) returns platform.organizations
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations;
  v_account uuid := platform.current_account_id();
begin
  if p_name is null or length(trim(p_name)) not between 1 and 256 then
    raise exception 'name must be 1-256 characters' using errcode = 'LMV01';
  end if;
  if (select count(*) from platform.organization_members where account_id = v_account and role = 'owner')
      >= (select max_organizations from platform.plans where id = 'free') then
    raise exception 'organization limit of the plan reached' using errcode = 'LMQ01';
  end if;
  insert into platform.organizations (slug, name) values (platform.random_letters(20), trim(p_name)) returning * into v_org;
  insert into platform.organization_members (organization_id, account_id, role) values (v_org.id, v_account, 'owner');
  return v_org;
end $$;
comment on function platform.create_organization(text) is 'Creates an organization owned by the caller.';
