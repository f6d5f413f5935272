-- Schema-level grants: loam_api (the role of every Management API request) sees `platform` and nothing else.
revoke all on schema platform_private from public;
revoke all on all functions in schema platform_private from public;
grant usage on schema platform to loam_api;
revoke all on all functions in schema platform from public;
grant execute on all functions in schema platform to loam_api;
