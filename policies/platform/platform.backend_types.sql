alter table platform.backend_types enable row level security;
drop policy if exists select_all on platform.backend_types;
create policy select_all on platform.backend_types for select to loam_api using (true);
grant select on platform.backend_types to loam_api;
