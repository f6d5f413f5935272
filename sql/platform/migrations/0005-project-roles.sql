-- Each project gets its own data-plane login (`<ref>_authenticator`) instead of one authenticator shared by
-- every project: a tenant's function can always `reset role` back to the login it runs under, so that login must
-- reach nothing but its own project. Its password lives beside the management role's.
alter table platform_private.project_secrets
  add column api_password text not null default replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
-- Which privilege layout a project's database has (db/src/provisioning.ts, PRIVILEGE_LAYOUT): `loam migrate`
-- brings older ones to the current layout before it runs template migrations there as the project's owner.
alter table platform.projects add column privilege_layout integer not null default 0;
delete from platform_private.settings where key = 'authenticator_password';
