-- Who did what in an organization: for those who manage its members (Administrators and Owners).
alter table platform.audit_log enable row level security;
drop policy if exists select_admin on platform.audit_log;
create policy select_admin on platform.audit_log for select to loam_api
  using (platform.caller_may(organization_id, 'members.manage'));
grant select on platform.audit_log to loam_api;
