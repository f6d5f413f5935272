alter table platform.projects enable row level security;
drop policy if exists select_member on platform.projects;
create policy select_member on platform.projects for select to loam_api
  using (deleted_at is null and platform.is_org_member(organization_id));
grant select on platform.projects to loam_api;
