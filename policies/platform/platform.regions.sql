alter table platform.regions enable row level security;
drop policy if exists select_all on platform.regions;
create policy select_all on platform.regions for select to loam_api using (true);
grant select on platform.regions to loam_api;
