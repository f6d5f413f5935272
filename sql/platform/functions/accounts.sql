-- Accounts: sign-up (with a personal organization), password login lookups and password resets.
-- Called by the server before anyone is signed in, so these live in platform_private.

create or replace function platform_private.create_account(p_email text, p_full_name text, p_password_hash text)
  returns platform.accounts
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_account platform.accounts;
  v_org_id bigint;
begin
  if exists (select 1 from platform.accounts a where lower(a.email) = lower(trim(p_email))) then
    raise exception 'An account with this email address already exists' using errcode = 'LMA02';
  end if;
  insert into platform.accounts (email, full_name) values (trim(p_email), nullif(trim(p_full_name), ''))
    returning * into v_account;
  insert into platform_private.account_passwords (account_id, password_hash) values (v_account.id, p_password_hash);
  insert into platform.organizations (slug, name)
    values (platform.random_letters(20), left(coalesce(v_account.full_name, split_part(v_account.email, '@', 1)), 240) || '''s Org')
    returning id into v_org_id;
  insert into platform.organization_members (organization_id, account_id, role) values (v_org_id, v_account.id, 'Owner');
  return v_account;
end $$;

create or replace function platform_private.login_lookup(p_email text)
  returns table (account_id uuid, password_hash text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select a.id, p.password_hash from platform.accounts a
  join platform_private.account_passwords p on p.account_id = a.id
  where lower(a.email) = lower(trim(p_email))
$$;

create or replace function platform_private.password_hash(p_account_id uuid) returns text
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select password_hash from platform_private.account_passwords where account_id = p_account_id $$;

-- Changing the password ends every session but the caller's; personal access tokens stay valid.
create or replace function platform_private.set_password(p_account_id uuid, p_password_hash text, p_keep_token_id uuid default null)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform_private.account_passwords set password_hash = p_password_hash, updated_at = now()
    where account_id = p_account_id;
  delete from platform.access_tokens
    where account_id = p_account_id and kind = 'session' and id is distinct from p_keep_token_id;
$$;

-- Records a reset token (by hash) and queues the email carrying it. Unknown emails do nothing, silently:
-- the caller's answer must not reveal whether an account exists.
create or replace function platform_private.request_password_reset(p_email text, p_token text, p_token_hash bytea, p_reset_url text)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_account platform.accounts;
  v_email_id bigint;
begin
  select * into v_account from platform.accounts where lower(email) = lower(trim(p_email));
  if not found then return; end if;
  insert into platform_private.password_resets (token_hash, account_id, expires_at)
    values (p_token_hash, v_account.id, now() + interval '1 hour');
  insert into platform_private.email_outbox (to_address, subject, body_text, kind, account_id)
    values (v_account.email, 'Reset your Loam password',
      format(E'Someone asked to reset the password of your Loam account.\n\nReset token: %s\n\n%s\n\nThe token works once and expires in one hour. If you did not ask for this, ignore this email.',
        p_token, replace(p_reset_url, '{token}', p_token)),
      'password_reset', v_account.id)
    returning id into v_email_id;
  perform platform_private.add_job('email__send', json_build_object('email_id', v_email_id), 'email:' || v_email_id);
end $$;

create or replace function platform_private.consume_password_reset(p_token_hash bytea) returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_account_id uuid;
begin
  update platform_private.password_resets set used_at = now()
    where token_hash = p_token_hash and used_at is null and expires_at > now()
    returning account_id into v_account_id;
  if v_account_id is null then
    raise exception 'Reset token is invalid or has expired' using errcode = 'LMA04';
  end if;
  return v_account_id;
end $$;

create or replace function platform_private.email_to_send(p_email_id bigint) returns platform_private.email_outbox
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select * from platform_private.email_outbox where id = p_email_id and sent_at is null $$;

create or replace function platform_private.email_sent(p_email_id bigint, p_error text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform_private.email_outbox
    set sent_at = case when p_error is null then now() end, attempts = attempts + 1, last_error = p_error
    where id = p_email_id
$$;
