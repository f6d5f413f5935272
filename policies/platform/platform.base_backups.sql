-- Base backups and restore points are read and written only through sql/platform/functions/projects_pitr.sql
-- (restore points: members only, 404 otherwise; base backups: the workers and the operator): the API role has no
-- direct access, RLS is on with no policy.
alter table platform.base_backups enable row level security;
revoke all on platform.base_backups from loam_api;
alter table platform.restore_points enable row level security;
revoke all on platform.restore_points from loam_api;
