-- Edge functions, their versions, sources, secrets and logs are read and written only through the functions in
-- sql/platform/functions/functions.sql (members only, through project_for_member): no direct grant, no policy.
alter table platform.functions enable row level security;
alter table platform.function_versions enable row level security;
revoke all on platform.functions, platform.function_versions from loam_api;
