-- Auth (issue 16): the provider's tokens in the PKCE code exchange, as GoTrue answers it (provider_token,
-- provider_refresh_token from the flow of an OAuth sign-in); phone in the admin API; reauthentication by SMS;
-- the OAuth callback's state errors in GoTrue's words and codes.

-- PKCE exchange: the code once, with the verifier whose SHA-256 (base64url) is the stored challenge. The session,
-- with the provider's tokens the OAuth callback kept in the flow (none for email flows).
create or replace function auth.exchange_code(p_code text, p_verifier text, p_ip text, p_user_agent text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_flow auth.flow_state;
  v_computed text;
begin
  select * into v_flow from auth.flow_state where auth_code = p_code for update;
  if not found or v_flow.user_id is null then
    raise exception 'invalid flow state, no valid flow state found' using errcode = 'LMU10';
  end if;
  if coalesce(v_flow.auth_code_issued_at, v_flow.created_at) + interval '5 minutes' < now() then
    raise exception 'invalid flow state, flow state has expired' using errcode = 'LMU11';
  end if;
  v_computed := case v_flow.code_challenge_method
    when 's256' then rtrim(translate(encode(sha256(convert_to(p_verifier, 'UTF8')), 'base64'), E'+/\n', '-_'), '=')
    else p_verifier end;
  if v_computed <> v_flow.code_challenge then
    raise exception 'code challenge does not match previously saved code verifier' using errcode = 'LMU12';
  end if;
  delete from auth.flow_state where id = v_flow.id;
  return auth.start_session(v_flow.user_id, v_flow.authentication_method, p_ip, p_user_agent)
    || jsonb_strip_nulls(jsonb_build_object('provider_token', nullif(v_flow.provider_access_token, ''),
                                            'provider_refresh_token', nullif(v_flow.provider_refresh_token, '')));
end $$;

-- Phone in the admin API (GoTrue's AdminUserParams phone, phone_confirm) and reauthentication by SMS.

-- POST /admin/users. p: email and/or phone (E.164 digits, checked by the API), password_hash, email_confirm,
-- phone_confirm, user_metadata, app_metadata, role, id, ban_until, ip. app_metadata.providers lists email then
-- phone, as GoTrue does; each gets its identity.
create or replace function auth.admin_create_user(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_email text := nullif(lower(trim(p ->> 'email')), '');
  v_phone text := nullif(p ->> 'phone', '');
  v_providers jsonb := '[]';
  v_user auth.users;
begin
  if v_email is not null then
    if exists (select 1 from auth.users where lower(email) = v_email and not is_sso_user) then
      raise exception 'A user with this email address has already been registered' using errcode = 'LMU02';
    end if;
    v_providers := v_providers || '["email"]';
  end if;
  if v_phone is not null then
    if exists (select 1 from auth.users where phone = v_phone) then
      raise exception 'Phone number already registered by another user' using errcode = 'LMX03';
    end if;
    v_providers := v_providers || '["phone"]';
  end if;
  insert into auth.users (id, instance_id, aud, role, email, phone, encrypted_password, raw_app_meta_data, raw_user_meta_data,
                          email_confirmed_at, phone_confirmed_at, banned_until)
    values (coalesce((p ->> 'id')::uuid, gen_random_uuid()), '00000000-0000-0000-0000-000000000000', 'authenticated',
            coalesce(p ->> 'role', 'authenticated'), v_email, v_phone, p ->> 'password_hash',
            jsonb_build_object('provider', v_providers ->> 0, 'providers', v_providers) || coalesce(p -> 'app_metadata', '{}'),
            coalesce(p -> 'user_metadata', '{}'),
            case when v_email is not null and coalesce((p ->> 'email_confirm')::boolean, false) then now() end,
            case when v_phone is not null and coalesce((p ->> 'phone_confirm')::boolean, false) then now() end,
            (p ->> 'ban_until')::timestamptz)
    returning * into v_user;
  if v_email is not null then
    insert into auth.identities (provider_id, user_id, identity_data, provider)
      values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'email', v_email,
              'email_verified', v_user.email_confirmed_at is not null, 'phone_verified', false), 'email');
  end if;
  if v_phone is not null then
    -- GoTrue's identity of an admin-created phone: not verified in identity_data even with phone_confirm.
    insert into auth.identities (provider_id, user_id, identity_data, provider)
      values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'phone', v_phone,
              'email_verified', false, 'phone_verified', false), 'phone');
  end if;
  perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', jsonb_build_object('provider', v_providers ->> 0));
  return auth.user_json(v_user);
end $$;

-- PUT /admin/users/{id} with phone and/or phone_confirm (before auth.update_user, in the same transaction). A
-- new number replaces the phone identity's (or makes one, phone_verified = phone_confirm); phone_confirm
-- confirms the user's number (an anonymous user stops being one when the number it gets is confirmed).
create function auth.admin_update_phone(p_user_id uuid, p jsonb) returns void
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_phone text := nullif(p ->> 'phone', '');
  v_confirm boolean := coalesce((p ->> 'phone_confirm')::boolean, false);
begin
  select * into v_user from auth.users where id = p_user_id for update;
  if not found then
    raise exception 'User not found' using errcode = 'LMU07';
  end if;
  if v_phone is not null then
    if exists (select 1 from auth.users where phone = v_phone and id <> p_user_id) then
      raise exception 'Phone number already registered by another user' using errcode = 'LMX03';
    end if;
    update auth.identities set identity_data = identity_data || jsonb_build_object('phone', v_phone, 'phone_verified', v_confirm),
      updated_at = now() where user_id = p_user_id and provider = 'phone';
    if not found then
      insert into auth.identities (provider_id, user_id, identity_data, provider)
        values (p_user_id::text, p_user_id, jsonb_build_object('sub', p_user_id::text, 'phone', v_phone,
                'email_verified', false, 'phone_verified', v_confirm), 'phone');
      update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || jsonb_build_object('providers',
          (select jsonb_agg(distinct i.provider) from auth.identities i where i.user_id = p_user_id))
        where id = p_user_id;
    end if;
    update auth.users set phone = v_phone, is_anonymous = is_anonymous and not v_confirm where id = p_user_id;
  end if;
  if v_confirm then
    update auth.users set phone_confirmed_at = coalesce(phone_confirmed_at, now()) where id = p_user_id and phone is not null;
  end if;
end $$;

-- GET /reauthenticate for a user with a phone and no email: a code by SMS (sms_max_frequency apart), its hash kept
-- as the reauthentication token that PUT /user's nonce must match. p: token_hash, max_frequency. Returns {user}.
create function auth.phone_reauthenticate(p_user_id uuid, p_session_id uuid, p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
begin
  if coalesce(v_user.phone, '') = '' then
    raise exception 'Reauthentication requires the user to have an email or a phone number' using errcode = 'LMU18';
  end if;
  v_user := auth.phone_issue(v_user, 'reauthentication', p ->> 'token_hash', v_user.phone, (p ->> 'max_frequency')::integer);
  perform auth.audit(v_user, 'user_reauthenticate', 'user', p ->> 'ip');
  return jsonb_build_object('user', auth.user_json(v_user));
end $$;

-- The flow an OAuth callback names by its state, with GoTrue's errors in its order (loadExternalStateFromUUID):
-- unknown, older than 10 minutes, or a PKCE flow whose code was already issued.
create or replace function auth.oauth_flow(p_id uuid) returns jsonb
  language plpgsql stable
as $$
declare
  v_flow auth.flow_state;
begin
  select * into v_flow from auth.flow_state where id = p_id and authentication_method = 'oauth';
  if not found then
    raise exception 'OAuth state not found or expired' using errcode = 'LMU41';
  end if;
  if v_flow.created_at < now() - interval '10 minutes' then
    raise exception 'OAuth state has expired' using errcode = 'LMU41';
  end if;
  if v_flow.user_id is not null then
    raise exception 'State has already been used' using errcode = 'LMZ01';
  end if;
  return jsonb_build_object('provider', v_flow.provider_type, 'referrer', v_flow.referrer, 'nonce', v_flow.nonce,
    'code_verifier', v_flow.provider_code_verifier, 'pkce', v_flow.code_challenge is not null);
end $$;

-- OAuth sign-in (0009), unchanged but for the error of a flow another callback completed meanwhile: GoTrue's
-- flow_state_already_used (LMZ01), as auth.oauth_flow gives it.
create or replace function auth.oauth_signin(p jsonb) returns jsonb
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
      raise exception 'State has already been used' using errcode = 'LMZ01';
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
