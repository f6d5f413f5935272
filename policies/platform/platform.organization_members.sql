alter table platform.organization_members enable row level security;
drop policy if exists select_member on platform.organization_members;
create policy select_member on platform.organization_members for select to loam_api
  using (platform.is_org_member(organization_id));
grant select on platform.organization_members to loam_api;
