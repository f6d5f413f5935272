-- Members see their organization's pending invitations (the team page lists them); changes go through the
-- functions in organizations.sql, which check the role. Tokens live in platform_private, out of every caller's reach.
alter table platform.organization_invitations enable row level security;
drop policy if exists select_member on platform.organization_invitations;
create policy select_member on platform.organization_invitations for select to loam_api
  using (platform.is_org_member(organization_id));
grant select on platform.organization_invitations to loam_api;
