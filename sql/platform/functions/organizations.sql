-- Organizations: creation (the creator becomes owner) within the plan's limit.

create or replace function platform.create_organization(p_name text) returns platform.organizations
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations;
  v_account uuid := platform.current_account_id();
begin
  if p_name is null or length(trim(p_name)) not between 1 and 256 then
    raise exception 'name must be 1-256 characters' using errcode = 'LMV01';
  end if;
  if (select count(*) from platform.organization_members where account_id = v_account and role = 'Owner')
      >= (select max_organizations from platform.plans where id = 'free') then
    raise exception 'organization limit of the plan reached' using errcode = 'LMQ01';
  end if;
  insert into platform.organizations (slug, name) values (platform.random_letters(20), trim(p_name)) returning * into v_org;
  insert into platform.organization_members (organization_id, account_id, role) values (v_org.id, v_account, 'Owner');
  return v_org;
end $$;
comment on function platform.create_organization(text) is 'Creates an organization owned by the caller.';

-- Members and invitations. Every change locks the organization's row first, so two Owners demoting each other at
-- once cannot leave it without one.

create or replace function platform_private.validate_role(p_role text) returns text
  language plpgsql immutable
as $$
begin
  if p_role is null or p_role not in ('Owner', 'Administrator', 'Developer', 'Read-only') then
    raise exception 'role_name must be one of Owner, Administrator, Developer, Read-only' using errcode = 'LMO05';
  end if;
  return p_role;
end $$;

-- The organization (locked) after the caller's role was checked for `p_action`.
create or replace function platform_private.org_for_change(p_slug text, p_action text) returns platform.organizations
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations;
begin
  perform platform.authorize_organization(p_slug, p_action);
  select o.* into v_org from platform.organizations o where o.slug = p_slug for update;
  return v_org;
end $$;

create or replace function platform_private.owners_left(p_organization_id bigint, p_without uuid) returns integer
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select count(*)::int from platform.organization_members m
  where m.organization_id = p_organization_id and m.role = 'Owner' and m.account_id <> p_without
$$;

create or replace function platform.update_member_role(p_slug text, p_account_id uuid, p_role text)
  returns platform.organization_members
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations := platform_private.org_for_change(p_slug, 'members.manage');
  v_member platform.organization_members;
begin
  perform platform_private.validate_role(p_role);
  select m.* into v_member from platform.organization_members m
    where m.organization_id = v_org.id and m.account_id = p_account_id;
  if not found then raise exception 'Member not found' using errcode = 'LMO03'; end if;
  if v_member.role = 'Owner' or p_role = 'Owner' then
    perform platform.require_role(v_org.id, 'members.manage_owners');
  end if;
  if v_member.role = 'Owner' and p_role <> 'Owner' and platform_private.owners_left(v_org.id, p_account_id) = 0 then
    raise exception 'The last Owner of an organization cannot be demoted: make another member Owner first' using errcode = 'LMO04';
  end if;
  update platform.organization_members set role = p_role
    where organization_id = v_org.id and account_id = p_account_id returning * into v_member;
  perform platform_private.audit(v_org.id, null, 'member.role_changed', p_account_id::text || ' → ' || p_role);
  return v_member;
end $$;
comment on function platform.update_member_role(text, uuid, text) is 'Changes a member''s role (Administrators: not to or from Owner; never the last Owner).';

-- Anyone may leave; removing someone else needs members.manage (and members.manage_owners for an Owner).
-- Returns the member as they were, with the email the caller can no longer read once they are gone.
create or replace function platform.remove_member(p_slug text, p_account_id uuid)
  returns table (account_id uuid, role text, email text, full_name text)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations := platform_private.org_for_change(p_slug,
    case when p_account_id = platform.current_account_id() then 'organization.read' else 'members.manage' end);
  v_member platform.organization_members;
begin
  select m.* into v_member from platform.organization_members m
    where m.organization_id = v_org.id and m.account_id = p_account_id;
  if not found then raise exception 'Member not found' using errcode = 'LMO03'; end if;
  if v_member.role = 'Owner' and p_account_id <> platform.current_account_id() then
    perform platform.require_role(v_org.id, 'members.manage_owners');
  end if;
  if v_member.role = 'Owner' and platform_private.owners_left(v_org.id, p_account_id) = 0 then
    raise exception 'The last Owner of an organization cannot be removed: make another member Owner first' using errcode = 'LMO04';
  end if;
  delete from platform.organization_members m where m.organization_id = v_org.id and m.account_id = p_account_id;
  perform platform_private.audit(v_org.id, null, 'member.removed', p_account_id::text);
  return query select a.id, v_member.role, a.email, a.full_name from platform.accounts a where a.id = p_account_id;
end $$;
comment on function platform.remove_member(text, uuid) is 'Removes a member (or lets the caller leave); never the last Owner.';

-- The token is made by the server (random, shown only in the email) and stored here as its SHA-256.
create or replace function platform.invite_member(p_slug text, p_email text, p_role text, p_token text, p_token_hash bytea,
    p_accept_url text, p_valid_for interval default interval '24 hours')
  returns platform.organization_invitations
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations := platform_private.org_for_change(p_slug, 'members.manage');
  v_email text := trim(coalesce(p_email, ''));
  v_invitation platform.organization_invitations;
  v_inviter text;
  v_email_id bigint;
begin
  perform platform_private.validate_role(p_role);
  if p_role = 'Owner' then perform platform.require_role(v_org.id, 'members.manage_owners'); end if;
  if v_email !~ '^[^@\s]+@[^@\s]+$' or length(v_email) > 320 then
    raise exception 'email must be an email address' using errcode = 'LMO06';
  end if;
  if exists (select 1 from platform.organization_members m join platform.accounts a on a.id = m.account_id
             where m.organization_id = v_org.id and lower(a.email) = lower(v_email)) then
    raise exception '% is already a member of this organization', v_email using errcode = 'LMO07';
  end if;
  delete from platform.organization_invitations i
    where i.organization_id = v_org.id and lower(i.email) = lower(v_email) and i.accepted_at is null and i.expires_at <= now();
  if exists (select 1 from platform.organization_invitations i
             where i.organization_id = v_org.id and lower(i.email) = lower(v_email) and i.accepted_at is null) then
    raise exception '% has a pending invitation: delete it to send a new one', v_email using errcode = 'LMO08';
  end if;
  insert into platform.organization_invitations (organization_id, email, role, invited_by, expires_at)
    values (v_org.id, v_email, p_role, platform.current_account_id(), now() + p_valid_for)
    returning * into v_invitation;
  insert into platform_private.invitation_tokens (invitation_id, token_hash) values (v_invitation.id, p_token_hash);
  select coalesce(a.full_name, a.email) into v_inviter from platform.accounts a where a.id = platform.current_account_id();
  insert into platform_private.email_outbox (to_address, subject, body_text, kind)
    values (v_email, format('You are invited to join %s on Loam', v_org.name),
      format(E'%s invited you to join the organization "%s" on Loam as %s.\n\nInvitation token: %s\n\n%s\n\n'
        'Sign in (or sign up) with this email address, then accept: POST /v1/invitations/{token}/accept. '
        'The invitation expires at %s.',
        v_inviter, v_org.name, p_role, p_token, replace(p_accept_url, '{token}', p_token), v_invitation.expires_at),
      'organization_invitation')
    returning id into v_email_id;
  perform platform_private.add_job('email__send', json_build_object('email_id', v_email_id), 'email:' || v_email_id);
  perform platform_private.audit(v_org.id, null, 'invitation.created', v_email || ' as ' || p_role);
  return v_invitation;
end $$;
comment on function platform.invite_member(text, text, text, text, bytea, text, interval) is
  'Invites an email address to the organization with a role, and queues the email carrying the token.';

create or replace function platform.delete_invitation(p_slug text, p_id uuid) returns platform.organization_invitations
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_org platform.organizations := platform_private.org_for_change(p_slug, 'members.manage');
  v_invitation platform.organization_invitations;
begin
  select i.* into v_invitation from platform.organization_invitations i
    where i.id = p_id and i.organization_id = v_org.id and i.accepted_at is null;
  if not found then raise exception 'Invitation not found' using errcode = 'LMO09'; end if;
  if v_invitation.role = 'Owner' then perform platform.require_role(v_org.id, 'members.manage_owners'); end if;
  delete from platform.organization_invitations where id = p_id;
  perform platform_private.audit(v_org.id, null, 'invitation.deleted', v_invitation.email);
  return v_invitation;
end $$;
comment on function platform.delete_invitation(text, uuid) is 'Withdraws a pending invitation.';

-- The caller accepts with the token from the email: only the account whose email the invitation names.
create or replace function platform.accept_invitation(p_token_hash bytea)
  returns table (organization_slug text, organization_name text, role_name text)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_invitation platform.organization_invitations;
  v_account platform.accounts;
begin
  select i.* into v_invitation from platform_private.invitation_tokens t
    join platform.organization_invitations i on i.id = t.invitation_id
    where t.token_hash = p_token_hash for update of i;
  if not found then raise exception 'Invitation not found' using errcode = 'LMO09'; end if;
  if v_invitation.accepted_at is not null then
    raise exception 'This invitation was already accepted' using errcode = 'LMO10';
  end if;
  if v_invitation.expires_at <= now() then
    raise exception 'This invitation expired at %: ask for a new one', v_invitation.expires_at using errcode = 'LMO11';
  end if;
  select a.* into v_account from platform.accounts a where a.id = platform.current_account_id();
  if v_account.id is null or lower(v_account.email) <> lower(v_invitation.email) then
    raise exception 'This invitation is for another email address: sign in with the account it was sent to' using errcode = 'LMO12';
  end if;
  if exists (select 1 from platform.organization_members m
             where m.organization_id = v_invitation.organization_id and m.account_id = v_account.id) then
    raise exception 'You are already a member of this organization' using errcode = 'LMO07';
  end if;
  perform 1 from platform.organizations o where o.id = v_invitation.organization_id for update;
  insert into platform.organization_members (organization_id, account_id, role)
    values (v_invitation.organization_id, v_account.id, v_invitation.role);
  update platform.organization_invitations set accepted_at = now(), accepted_by = v_account.id where id = v_invitation.id;
  perform platform_private.audit(v_invitation.organization_id, null, 'invitation.accepted', v_account.email || ' as ' || v_invitation.role);
  return query select o.slug, o.name, v_invitation.role from platform.organizations o where o.id = v_invitation.organization_id;
end $$;
comment on function platform.accept_invitation(bytea) is 'Joins the organization of an invitation sent to the caller''s email address.';
