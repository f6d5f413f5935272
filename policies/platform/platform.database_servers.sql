alter table platform.database_servers enable row level security;
drop policy if exists select_all on platform.database_servers;
create policy select_all on platform.database_servers for select to loam_api using (true);
grant select (id, name, region, public_host, public_port, is_default) on platform.database_servers to loam_api;
