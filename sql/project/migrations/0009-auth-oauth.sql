-- Auth (issue 16): generate_link for an email change; OAuth / OIDC sign-in and identity linking, as GoTrue does them.

-- Records an email change to p.new_email for the user with p.email and the token of one of its two links:
-- type 'email_change_current' (the token goes to the current address) or 'email_change_new' (to the new one).
-- The other link's token, if one was made before, stays, as in GoTrue. Returns the user.
create function auth.admin_email_change_link(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_new text := lower(trim(p ->> 'new_email'));
  v_current boolean := p ->> 'type' = 'email_change_current';
begin
  select * into v_user from auth.users where lower(email) = lower(trim(p ->> 'email')) and not is_sso_user for update;
  if not found then
    raise exception 'User with this email not found' using errcode = 'LMU07';
  end if;
  if exists (select 1 from auth.users where lower(email) = v_new and id <> v_user.id and not is_sso_user) then
    raise exception 'A user with this email address has already been registered' using errcode = 'LMU02';
  end if;
  update auth.users set email_change = v_new, email_change_sent_at = now(), email_change_confirm_status = 0,
      email_change_token_current = case when v_current then p ->> 'token_hash' else email_change_token_current end,
      email_change_token_new = case when v_current then email_change_token_new else p ->> 'token_hash' end
    where id = v_user.id
    returning * into v_user;
  insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to)
    values (v_user.id, case when v_current then 'email_change_token_current' else 'email_change_token_new' end::auth.one_time_token_type,
            p ->> 'token_hash', case when v_current then v_user.email else v_new end)
    on conflict (user_id, token_type) do update
      set token_hash = excluded.token_hash, relates_to = excluded.relates_to, created_at = now(), updated_at = now();
  return auth.user_json(v_user);
end $$;

-- OAuth / OIDC sign-in (GoTrue's /authorize → /callback, and grant_type=id_token) and identity linking.
-- A flow starts with a row in auth.flow_state whose id is the OAuth `state`; implicit flows have no PKCE code.
alter table auth.flow_state
  alter column auth_code drop not null,
  alter column code_challenge drop not null,
  alter column code_challenge_method drop not null,
  add column if not exists referrer text,
  add column if not exists nonce text,
  add column if not exists provider_code_verifier text,
  add column if not exists linking_target_id uuid;

-- p: provider, pkce ({challenge, method} or null), referrer, nonce, code_verifier, linking_target_id.
create function auth.oauth_start(p jsonb) returns uuid
  language plpgsql volatile
as $$
declare
  v_id uuid;
begin
  delete from auth.flow_state where created_at < now() - interval '1 day';
  insert into auth.flow_state (provider_type, authentication_method, code_challenge, code_challenge_method,
                               referrer, nonce, provider_code_verifier, linking_target_id)
    values (p ->> 'provider', 'oauth', p -> 'pkce' ->> 'challenge', (p -> 'pkce' ->> 'method')::auth.code_challenge_method,
            p ->> 'referrer', p ->> 'nonce', p ->> 'code_verifier', (p ->> 'linking_target_id')::uuid)
    returning id into v_id;
  return v_id;
end $$;

-- The flow a callback names by its state: unused and younger than 10 minutes.
create function auth.oauth_flow(p_id uuid) returns jsonb
  language plpgsql stable
as $$
declare
  v_flow auth.flow_state;
begin
  select * into v_flow from auth.flow_state where id = p_id and authentication_method = 'oauth';
  if not found or v_flow.user_id is not null then
    raise exception 'OAuth callback with invalid state' using errcode = 'LMU41';
  end if;
  if v_flow.created_at < now() - interval '10 minutes' then
    raise exception 'OAuth state has expired' using errcode = 'LMU41';
  end if;
  return jsonb_build_object('provider', v_flow.provider_type, 'referrer', v_flow.referrer, 'nonce', v_flow.nonce,
    'code_verifier', v_flow.provider_code_verifier, 'pkce', v_flow.code_challenge is not null);
end $$;

-- Signs in (or up, or links) the holder of a provider identity. p: provider, sub, email, email_verified,
-- identity_data, flow_id (OAuth flows; null for an id_token), linking_target_id (id_token linking),
-- disable_signup, provider_token, provider_refresh_token, ip, user_agent.
-- Returns {code} for a PKCE flow, else a session; with {referrer} of the flow.
create function auth.oauth_signin(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_provider text := p ->> 'provider';
  v_email text := nullif(lower(trim(p ->> 'email')), '');
  v_verified boolean := coalesce((p ->> 'email_verified')::boolean, false);
  v_data jsonb := coalesce(p -> 'identity_data', '{}') || jsonb_build_object('sub', p ->> 'sub', 'provider_id', p ->> 'sub');
  v_flow auth.flow_state;
  v_identity auth.identities;
  v_user auth.users;
  v_target uuid := (p ->> 'linking_target_id')::uuid;
  v_code text;
begin
  if p ->> 'flow_id' is not null then
    select * into v_flow from auth.flow_state where id = (p ->> 'flow_id')::uuid for update;
    if not found or v_flow.user_id is not null then
      raise exception 'State has already been used' using errcode = 'LMU41';
    end if;
    v_target := v_flow.linking_target_id;
  end if;
  select * into v_identity from auth.identities where provider = v_provider and provider_id = p ->> 'sub' for update;
  if v_target is not null then
    if found and v_identity.user_id <> v_target then
      raise exception 'Identity is already linked to another user' using errcode = 'LMU42';
    end if;
    select * into v_user from auth.users where id = v_target for update;
  elsif found then
    select * into v_user from auth.users where id = v_identity.user_id for update;
  elsif v_email is not null and v_verified then
    -- GoTrue's automatic linking: a verified address joins the account that has it.
    select * into v_user from auth.users where lower(email) = v_email and not is_sso_user for update;
  end if;
  if v_user.id is null then
    if coalesce((p ->> 'disable_signup')::boolean, false) then
      raise exception 'Signups not allowed for this instance' using errcode = 'LMU40';
    end if;
    insert into auth.users (instance_id, aud, role, email, raw_app_meta_data, raw_user_meta_data, email_confirmed_at)
      values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', v_email,
              jsonb_build_object('provider', v_provider, 'providers', jsonb_build_array(v_provider)), v_data,
              case when v_verified then now() end)
      returning * into v_user;
    perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', jsonb_build_object('provider', v_provider));
  end if;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMU15';
  end if;
  if v_identity.id is null or v_identity.user_id is distinct from v_user.id then
    insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
      values (p ->> 'sub', v_user.id, v_data, v_provider, now());
    if v_target is not null or v_user.created_at < now() then
      perform auth.audit(v_user, 'identity_linked', 'user', p ->> 'ip', jsonb_build_object('provider', v_provider));
    end if;
  else
    update auth.identities set identity_data = v_data, last_sign_in_at = now(), updated_at = now() where id = v_identity.id;
  end if;
  if v_target is null and v_email is not null and v_user.email_confirmed_at is null then
    -- GoTrue: an account whose address nobody proved yet keeps nothing an earlier sign-up put there (its
    -- password, its metadata, its other identities), so a sign-up made in someone else's name cannot take over
    -- their provider sign-in.
    update auth.users set encrypted_password = null, raw_user_meta_data = '{}' where id = v_user.id;
    delete from auth.identities where user_id = v_user.id and not (provider = v_provider and provider_id = p ->> 'sub');
  end if;
  update auth.users set
      raw_user_meta_data = coalesce(raw_user_meta_data, '{}') || v_data,
      raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || jsonb_build_object('providers',
        (select jsonb_agg(distinct i.provider) from auth.identities i where i.user_id = v_user.id)),
      email_confirmed_at = case when v_verified and lower(email) = v_email then coalesce(email_confirmed_at, now()) else email_confirmed_at end,
      updated_at = now()
    where id = v_user.id;
  if v_flow.id is not null and v_flow.code_challenge is not null then
    v_code := gen_random_uuid()::text;
    update auth.flow_state set user_id = v_user.id, auth_code = v_code, auth_code_issued_at = now(), updated_at = now(),
        provider_access_token = p ->> 'provider_token', provider_refresh_token = p ->> 'provider_refresh_token'
      where id = v_flow.id;
    return jsonb_build_object('code', v_code, 'referrer', v_flow.referrer);
  end if;
  if v_flow.id is not null then
    delete from auth.flow_state where id = v_flow.id;
  end if;
  return auth.start_session(v_user.id, 'oauth', p ->> 'ip', p ->> 'user_agent') || jsonb_build_object('referrer', v_flow.referrer);
end $$;

-- DELETE /user/identities/{id}: a user's identity, never the last one; the primary email goes with an email
-- identity as in GoTrue (the user's email becomes the next identity's).
create function auth.unlink_identity(p_user_id uuid, p_session_id uuid, p_identity_id uuid, p_ip text) returns void
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_identity auth.identities;
begin
  if (select count(*) from auth.identities where user_id = p_user_id) <= 1 then
    raise exception 'User must have at least 1 identity after unlinking' using errcode = 'LMU43';
  end if;
  select * into v_identity from auth.identities where id = p_identity_id and user_id = p_user_id;
  if not found then
    raise exception 'Identity doesn''t exist' using errcode = 'LMU44';
  end if;
  delete from auth.identities where id = v_identity.id;
  update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || jsonb_build_object(
      'providers', (select jsonb_agg(distinct i.provider) from auth.identities i where i.user_id = p_user_id),
      'provider', (select i.provider from auth.identities i where i.user_id = p_user_id order by i.created_at limit 1)),
    updated_at = now()
    where id = p_user_id;
  perform auth.audit(v_user, 'identity_unlinked', 'user', p_ip, jsonb_build_object('provider', v_identity.provider));
end $$;
