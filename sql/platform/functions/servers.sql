-- Database servers: registering another PostgreSQL server (and its region) so new projects can be placed on it.

create or replace function platform_private.register_server(
  p_name text, p_region text, p_admin_url text, p_public_host text, p_public_port integer, p_capacity integer default 1000)
  returns platform.database_servers
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_server platform.database_servers;
begin
  insert into platform.regions (id, name) values (p_region, p_region) on conflict do nothing;
  insert into platform.database_servers (name, region, public_host, public_port, capacity)
    values (p_name, p_region, p_public_host, p_public_port, p_capacity)
    on conflict (name) do update set region = excluded.region, public_host = excluded.public_host,
      public_port = excluded.public_port, capacity = excluded.capacity
    returning * into v_server;
  insert into platform_private.database_server_credentials (server_id, admin_url) values (v_server.id, p_admin_url)
    on conflict (server_id) do update set admin_url = excluded.admin_url;
  return v_server;
end $$;
