-- Sites, their deploys and files are read and written only through the functions of sql/platform/functions/sites.sql
-- (members only, 404 otherwise); reads by members are allowed directly too.
alter table platform.sites enable row level security;
drop policy if exists select_member on platform.sites;
create policy select_member on platform.sites for select to loam_api
  using (exists (select 1 from platform.projects p where p.id = project_id and p.deleted_at is null and platform.is_org_member(p.organization_id)));
grant select on platform.sites to loam_api;

alter table platform.site_deploys enable row level security;
drop policy if exists select_member on platform.site_deploys;
create policy select_member on platform.site_deploys for select to loam_api
  using (exists (select 1 from platform.sites s where s.id = site_id));
grant select on platform.site_deploys to loam_api;

alter table platform.site_files enable row level security;
drop policy if exists select_member on platform.site_files;
create policy select_member on platform.site_files for select to loam_api
  using (exists (select 1 from platform.site_deploys d where d.id = deploy_id));
grant select on platform.site_files to loam_api;

alter table platform.site_builds enable row level security;
drop policy if exists select_member on platform.site_builds;
create policy select_member on platform.site_builds for select to loam_api
  using (exists (select 1 from platform.sites s where s.id = site_id));
grant select on platform.site_builds to loam_api;
