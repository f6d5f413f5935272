alter table platform.role_permissions enable row level security;
drop policy if exists select_all on platform.role_permissions;
create policy select_all on platform.role_permissions for select to loam_api using (true);
grant select on platform.role_permissions to loam_api;
