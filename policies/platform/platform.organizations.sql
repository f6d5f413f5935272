alter table platform.organizations enable row level security;
drop policy if exists select_member on platform.organizations;
create policy select_member on platform.organizations for select to loam_api using (platform.is_org_member(id));
grant select on platform.organizations to loam_api;
