-- Organization roles as Supabase names them (Owner, Administrator, Developer, Read-only), the table of what each
-- role may do (the one place the Management API's role checks read), and invitations by email.

alter table platform.organization_members drop constraint if exists organization_members_role_check;
-- Loam had owners and plain members; a member could work on projects, which is what a Developer does.
update platform.organization_members set role = case role when 'owner' then 'Owner' else 'Developer' end
  where role in ('owner', 'member');
alter table platform.organization_members alter column role set default 'Developer',
  add constraint organization_members_role_check check (role in ('Owner', 'Administrator', 'Developer', 'Read-only'));

create table platform.role_permissions (
  action text primary key check (action ~ '^[a-z_]+(\.[a-z_]+)*$'),
  min_role text not null check (min_role in ('Owner', 'Administrator', 'Developer', 'Read-only')),
  description text not null
);
comment on table platform.role_permissions is
  'What each organization role may do: an action needs at least min_role (Read-only < Developer < Administrator < Owner). Read by platform.require_role().';

-- Supabase's access-control matrix: Administrators do everything but change the organization''s settings and
-- manage Owners; Developers work on a project''s content (SQL, tables, functions, sites) but change no project
-- setting and manage no project; Read-only members read.
insert into platform.role_permissions (action, min_role, description) values
  ('organization.read', 'Read-only', 'see the organization, its members and its projects'),
  ('organization.update', 'Owner', 'rename the organization or change its settings'),
  ('organization.delete', 'Owner', 'delete the organization'),
  ('members.manage', 'Administrator', 'invite members, change their roles, remove them (not Owners)'),
  ('members.manage_owners', 'Owner', 'make a member an Owner, or demote or remove an Owner'),
  ('projects.create', 'Administrator', 'create a project in the organization'),
  ('project.read', 'Read-only', 'read a project: status, settings, logs, advisors, read-only SQL'),
  ('project.content', 'Developer', 'change a project''s content: SQL writes, migrations, tables, edge functions, sites, buckets'),
  ('project.keys.reveal', 'Developer', 'see secret API keys (service_role, secret keys) and secret settings'),
  ('project.settings', 'Administrator', 'change a project''s settings: API, auth, storage, network, keys, secrets, services'),
  ('project.lifecycle', 'Administrator', 'rename, pause, restore or delete a project'),
  ('project.credentials', 'Administrator', 'reveal or rotate the database owner''s password');

create table platform.organization_invitations (
  id uuid primary key default gen_random_uuid(),
  organization_id bigint not null references platform.organizations on delete cascade,
  email text not null check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 320),
  role text not null check (role in ('Owner', 'Administrator', 'Developer', 'Read-only')),
  invited_by uuid references platform.accounts on delete set null,
  invited_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by uuid references platform.accounts on delete set null
);
create unique index organization_invitations_pending_key on platform.organization_invitations (organization_id, lower(email))
  where accepted_at is null;
comment on table platform.organization_invitations is 'Invitations to join an organization; the token that accepts one is only in the email.';

create table platform_private.invitation_tokens (
  invitation_id uuid primary key references platform.organization_invitations on delete cascade,
  token_hash bytea not null unique
);

-- Who did what that matters to an organization's security: role changes, invitations, credential reveals.
create table platform.audit_log (
  id bigint generated always as identity primary key,
  organization_id bigint not null references platform.organizations on delete cascade,
  project_id bigint references platform.projects on delete cascade,
  account_id uuid references platform.accounts on delete set null,
  action text not null,
  target text,
  created_at timestamptz not null default now()
);
create index on platform.audit_log (organization_id, id);
comment on table platform.audit_log is 'Security-relevant actions in an organization (who, what, when); readable by its Owners and Administrators.';
