-- Backups and restores are read and written only through sql/platform/functions/projects_backups.sql (members only, 404
-- otherwise): the API role has no direct access, RLS is on with no policy.
alter table platform.backups enable row level security;
revoke all on platform.backups from loam_api;
alter table platform.backup_restores enable row level security;
revoke all on platform.backup_restores from loam_api;
