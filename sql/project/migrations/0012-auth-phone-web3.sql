-- Auth (issue 16): phone sign-up / sign-in with SMS codes, phone changes, phone MFA factors, and Web3 sign-in,
-- as GoTrue does them. Phones are stored as GoTrue stores them: E.164 digits without the "+". Codes are kept as
-- GoTrue's hashes (sha224 of phone + code, hex) in the users' columns and auth.one_time_tokens. The SMS itself is
-- sent by the API (server/src/auth/phone.ts) inside the same transaction, so a failed send records nothing.

-- Signed Web3 messages already used: a message signs in once (GoTrue accepts a message again until it expires;
-- Loam does not, so a captured message and signature cannot open another session).
create table auth.web3_used_messages (
  message_hash text primary key,
  expires_at timestamptz not null
);
create index web3_used_messages_expires_at_idx on auth.web3_used_messages (expires_at);
comment on table auth.web3_used_messages is 'Auth: hashes of signed Web3 sign-in messages already used, kept until they expire.';

-- Records a phone code (its hash) for a user: a confirmation (sign-up, OTP sign-in), a phone change (to
-- p_phone), or a reauthentication. Refuses when the same kind went to this user less than p_max_frequency
-- seconds ago (sms_max_frequency).
create function auth.phone_issue(p_user auth.users, p_kind text, p_token_hash text, p_phone text, p_max_frequency integer)
  returns auth.users
  language plpgsql volatile
as $$
declare
  v_last timestamptz := case p_kind when 'confirmation' then p_user.confirmation_sent_at
                                    when 'phone_change' then p_user.phone_change_sent_at
                                    else p_user.reauthentication_sent_at end;
  v_user auth.users;
begin
  if v_last is not null and p_max_frequency > 0 and v_last > now() - make_interval(secs => p_max_frequency) then
    raise exception 'For security purposes, you can only request this after % seconds.',
      ceil(extract(epoch from (v_last + make_interval(secs => p_max_frequency) - now())))::integer
      using errcode = 'LMX02';
  end if;
  if p_kind = 'confirmation' then
    update auth.users set confirmation_token = p_token_hash, confirmation_sent_at = now() where id = p_user.id returning * into v_user;
  elsif p_kind = 'phone_change' then
    update auth.users set phone_change = p_phone, phone_change_token = p_token_hash, phone_change_sent_at = now()
      where id = p_user.id returning * into v_user;
  else
    update auth.users set reauthentication_token = p_token_hash, reauthentication_sent_at = now() where id = p_user.id returning * into v_user;
  end if;
  insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to)
    values (p_user.id, case p_kind when 'confirmation' then 'confirmation_token' when 'phone_change' then 'phone_change_token'
                                   else 'reauthentication_token' end::auth.one_time_token_type, p_token_hash, p_phone)
    on conflict (user_id, token_type) do update
      set token_hash = excluded.token_hash, relates_to = excluded.relates_to, created_at = now(), updated_at = now();
  return v_user;
end $$;

create function auth.phone_new_user(p_phone text, p_password_hash text, p_data jsonb, p_confirmed boolean, p_ip text)
  returns auth.users
  language plpgsql volatile
as $$
declare
  v_user auth.users;
begin
  begin
    insert into auth.users (instance_id, aud, role, phone, encrypted_password, raw_app_meta_data, raw_user_meta_data,
                            phone_confirmed_at)
      values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', p_phone, p_password_hash,
              '{"provider": "phone", "providers": ["phone"]}', coalesce(p_data, '{}'), case when p_confirmed then now() end)
      returning * into v_user;
  exception when unique_violation then
    raise exception 'User already registered' using errcode = 'LMU01';
  end;
  insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
    values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'phone', p_phone,
            'email_verified', false, 'phone_verified', p_confirmed), 'phone', now());
  perform auth.audit(v_user, 'user_signedup', 'team', p_ip, '{"provider": "phone"}');
  return v_user;
end $$;

-- POST /signup with a phone. p: phone, password_hash, data, autoconfirm, token_hash, max_frequency, ip,
-- user_agent. Returns a session (autoconfirm), {user} (a code is to be sent), or {obfuscated: true} when a
-- confirmed user has the number (sign-up does not reveal accounts).
create function auth.phone_signup(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_phone text := p ->> 'phone';
  v_autoconfirm boolean := (p ->> 'autoconfirm')::boolean;
  v_user auth.users;
begin
  select * into v_user from auth.users u where u.phone = v_phone and u.deleted_at is null for update;
  if found then
    if v_user.phone_confirmed_at is not null or v_autoconfirm then
      if v_autoconfirm then
        raise exception 'User already registered' using errcode = 'LMU01';
      end if;
      return jsonb_build_object('obfuscated', true);
    end if;
    -- Not confirmed yet: the code is sent again; the first password stays (as for email sign-ups).
  else
    v_user := auth.phone_new_user(v_phone, p ->> 'password_hash', p -> 'data', v_autoconfirm, p ->> 'ip');
  end if;
  if v_autoconfirm then
    return auth.start_session(v_user.id, 'password', p ->> 'ip', p ->> 'user_agent');
  end if;
  v_user := auth.phone_issue(v_user, 'confirmation', p ->> 'token_hash', v_phone, (p ->> 'max_frequency')::integer);
  return jsonb_build_object('user', auth.user_json(v_user));
end $$;

-- POST /otp with a phone. p: phone, create_user, data, autoconfirm, token_hash, max_frequency, ip. A new (or
-- never confirmed) number signs up first. Returns {user, created} or {found: false}.
create function auth.phone_otp(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_phone text := p ->> 'phone';
  v_user auth.users;
  v_created boolean := false;
begin
  select * into v_user from auth.users u where u.phone = v_phone and u.deleted_at is null for update;
  if not found then
    if not coalesce((p ->> 'create_user')::boolean, false) then
      return jsonb_build_object('found', false);
    end if;
    v_user := auth.phone_new_user(v_phone, null, p -> 'data', (p ->> 'autoconfirm')::boolean, p ->> 'ip');
    v_created := true;
  end if;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMU15';
  end if;
  v_user := auth.phone_issue(v_user, 'confirmation', p ->> 'token_hash', v_phone, (p ->> 'max_frequency')::integer);
  return jsonb_build_object('user', auth.user_json(v_user), 'created', v_created or v_user.phone_confirmed_at is null);
end $$;

-- POST /resend, type sms (to an unconfirmed number) or phone_change (to the pending new number of the user with
-- p.phone). p: type, phone, token_hash, max_frequency. Returns {user} or {sent: false} when there is nothing to send.
create function auth.phone_resend(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
begin
  select * into v_user from auth.users u where u.phone = p ->> 'phone' and u.deleted_at is null for update;
  if not found then
    raise exception 'User not found' using errcode = 'LMU07';
  end if;
  if p ->> 'type' = 'sms' then
    if v_user.phone_confirmed_at is not null then
      return jsonb_build_object('sent', false);
    end if;
    v_user := auth.phone_issue(v_user, 'confirmation', p ->> 'token_hash', v_user.phone, (p ->> 'max_frequency')::integer);
  else
    if coalesce(v_user.phone_change, '') = '' then
      return jsonb_build_object('sent', false);
    end if;
    v_user := auth.phone_issue(v_user, 'phone_change', p ->> 'token_hash', v_user.phone_change, (p ->> 'max_frequency')::integer);
  end if;
  return jsonb_build_object('user', auth.user_json(v_user));
end $$;

-- PUT /user with a new phone. p: phone, token_hash (null with autoconfirm: the number changes at once),
-- max_frequency, ip. Returns the user.
create function auth.phone_change_request(p_user_id uuid, p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_phone text := p ->> 'phone';
begin
  select * into v_user from auth.users where id = p_user_id for update;
  if not found then
    raise exception 'User not found' using errcode = 'LMU07';
  end if;
  if exists (select 1 from auth.users where phone = v_phone and id <> p_user_id) then
    raise exception 'A user with this phone number has already been registered' using errcode = 'LMX03';
  end if;
  if p ->> 'token_hash' is null then
    update auth.users set phone = v_phone, phone_confirmed_at = now(), phone_change = '', is_anonymous = false,
      updated_at = now() where id = p_user_id returning * into v_user;
    perform auth.phone_identity(v_user);
  else
    v_user := auth.phone_issue(v_user, 'phone_change', p ->> 'token_hash', v_phone, (p ->> 'max_frequency')::integer);
  end if;
  perform auth.audit(v_user, 'user_modified', 'user', p ->> 'ip');
  return auth.user_json(v_user);
end $$;

-- The user's phone identity follows its confirmed number (created when the user had none).
create function auth.phone_identity(p_user auth.users) returns void
  language plpgsql volatile
as $$
begin
  update auth.identities set identity_data = identity_data || jsonb_build_object('phone', p_user.phone, 'phone_verified', true),
    updated_at = now() where user_id = p_user.id and provider = 'phone';
  if not found then
    insert into auth.identities (provider_id, user_id, identity_data, provider)
      values (p_user.id::text, p_user.id, jsonb_build_object('sub', p_user.id::text, 'phone', p_user.phone,
              'email_verified', false, 'phone_verified', true), 'phone');
    update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || jsonb_build_object('providers',
        (select jsonb_agg(distinct i.provider) from auth.identities i where i.user_id = p_user.id))
      where id = p_user.id;
  end if;
end $$;

-- POST /verify, type sms or phone_change. p: type, phone, token_hash, test_otp (true when the code is the number's
-- test code, which is valid without a stored hash), otp_exp, ip, user_agent. Starts a session.
create function auth.phone_verify(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_type text := p ->> 'type';
  v_user auth.users;
  v_expected text;
  v_sent timestamptz;
  v_hash text := p ->> 'token_hash';
begin
  if v_type = 'sms' then
    select * into v_user from auth.users u where u.phone = p ->> 'phone' and u.deleted_at is null for update;
  else
    select * into v_user from auth.users u where u.phone_change = p ->> 'phone' and u.deleted_at is null for update;
  end if;
  if not found then
    raise exception 'Token has expired or is invalid' using errcode = 'LMU06';
  end if;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMU15';
  end if;
  v_expected := case v_type when 'sms' then v_user.confirmation_token else v_user.phone_change_token end;
  v_sent := case v_type when 'sms' then v_user.confirmation_sent_at else v_user.phone_change_sent_at end;
  if not coalesce((p ->> 'test_otp')::boolean, false)
     and (coalesce(v_expected, '') = '' or v_sent is null or v_sent + make_interval(secs => (p ->> 'otp_exp')::integer) < now()
          or (v_expected <> v_hash and v_expected <> 'pkce_' || v_hash)) then
    raise exception 'Token has expired or is invalid' using errcode = 'LMU06';
  end if;
  if v_type = 'sms' then
    update auth.users set phone_confirmed_at = coalesce(phone_confirmed_at, now()), confirmation_token = '', updated_at = now()
      where id = v_user.id returning * into v_user;
    delete from auth.one_time_tokens where user_id = v_user.id and token_type = 'confirmation_token';
    perform auth.audit(v_user, 'user_signedup', 'user', p ->> 'ip', '{"provider": "phone"}');
  else
    update auth.users set phone = phone_change, phone_change = '', phone_change_token = '', phone_confirmed_at = now(),
      is_anonymous = false, updated_at = now() where id = v_user.id returning * into v_user;
    delete from auth.one_time_tokens where user_id = v_user.id and token_type = 'phone_change_token';
    perform auth.audit(v_user, 'user_modified', 'user', p ->> 'ip');
  end if;
  perform auth.phone_identity(v_user);
  return auth.start_session(v_user.id, 'otp', p ->> 'ip', p ->> 'user_agent') || jsonb_build_object('type', v_type);
end $$;

-- Password sign-in with a phone, first half: the stored hash (or nothing); the API compares it off-thread.
create function auth.phone_password_lookup(p_phone text)
  returns table (id uuid, encrypted_password text, phone_confirmed boolean, banned boolean)
  language sql stable
as $$
  select u.id, u.encrypted_password, u.phone_confirmed_at is not null, coalesce(u.banned_until > now(), false)
  from auth.users u
  where u.phone = p_phone and u.deleted_at is null
$$;

-- Phone MFA. Enrollment with GoTrue's limits (as auth.mfa_enroll for TOTP).
create function auth.mfa_enroll_phone(p_user_id uuid, p_session_id uuid, p_friendly_name text, p_phone text, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_factor auth.mfa_factors;
begin
  delete from auth.mfa_factors where user_id = p_user_id and status = 'unverified' and created_at < now() - interval '1 day';
  if p_friendly_name <> '' and exists (select 1 from auth.mfa_factors where user_id = p_user_id and friendly_name = p_friendly_name) then
    raise exception 'A factor with the friendly name "%" for this user already exists', p_friendly_name using errcode = 'LMU21';
  end if;
  if exists (select 1 from auth.mfa_factors where user_id = p_user_id and factor_type = 'phone' and phone = p_phone and status = 'verified') then
    raise exception 'A verified phone factor already exists, unenroll the existing factor to continue' using errcode = 'LMX04';
  end if;
  if (select count(*) from auth.mfa_factors where user_id = p_user_id) >= 10 then
    raise exception 'Maximum number of verified factors reached, unenroll to continue' using errcode = 'LMU22';
  end if;
  if exists (select 1 from auth.mfa_factors where user_id = p_user_id and status = 'verified')
     and (select aal from auth.sessions where id = p_session_id) is distinct from 'aal2' then
    raise exception 'AAL2 required to enroll a new factor' using errcode = 'LMU23';
  end if;
  insert into auth.mfa_factors (user_id, friendly_name, factor_type, phone)
    values (p_user_id, coalesce(p_friendly_name, ''), 'phone', p_phone) returning * into v_factor;
  perform auth.audit(v_user, 'factor_in_progress', 'factor', p_ip, jsonb_build_object('factor_id', v_factor.id));
  return jsonb_build_object('id', v_factor.id, 'type', 'phone', 'friendly_name', v_factor.friendly_name, 'phone', v_factor.phone);
end $$;

-- A phone challenge: the code's hash is kept on the challenge; challenges of one factor are spaced by
-- p_max_frequency seconds (mfa_phone_max_frequency).
create function auth.mfa_challenge_phone(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_ip text, p_code_hash text,
                                         p_max_frequency integer) returns jsonb
  language plpgsql volatile
as $$
declare
  v_factor auth.mfa_factors;
  v_challenge auth.mfa_challenges;
begin
  perform auth.caller(p_user_id, p_session_id);
  v_factor := auth.mfa_factor(p_user_id, p_factor_id);
  if v_factor.factor_type <> 'phone' then
    raise exception 'Factor not found' using errcode = 'LMU20';
  end if;
  if v_factor.last_challenged_at is not null and p_max_frequency > 0
     and v_factor.last_challenged_at > now() - make_interval(secs => p_max_frequency) then
    raise exception 'For security purposes, you can only request this after % seconds.',
      ceil(extract(epoch from (v_factor.last_challenged_at + make_interval(secs => p_max_frequency) - now())))::integer
      using errcode = 'LMX02';
  end if;
  insert into auth.mfa_challenges (factor_id, ip_address, otp_code)
    values (v_factor.id, coalesce(nullif(p_ip, ''), '0.0.0.0')::inet, p_code_hash) returning * into v_challenge;
  update auth.mfa_factors set last_challenged_at = now() where id = v_factor.id;
  return jsonb_build_object('id', v_challenge.id, 'type', 'phone',
    'expires_at', extract(epoch from v_challenge.created_at + interval '300 seconds')::bigint);
end $$;

-- Phone verification, first half: the challenge's code hash and the factor's phone, if the challenge is the
-- factor's and fresh.
create function auth.mfa_phone_challenge(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_challenge_id uuid)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_factor auth.mfa_factors;
  v_challenge auth.mfa_challenges;
begin
  perform auth.caller(p_user_id, p_session_id);
  v_factor := auth.mfa_factor(p_user_id, p_factor_id);
  select * into v_challenge from auth.mfa_challenges where id = p_challenge_id and factor_id = v_factor.id and verified_at is null;
  if not found then
    raise exception 'MFA factor with the provided challenge ID not found' using errcode = 'LMU24';
  end if;
  if v_challenge.created_at + interval '300 seconds' < now() then
    delete from auth.mfa_challenges where id = v_challenge.id;
    raise exception 'MFA challenge % has expired, verify against another challenge or create a new challenge.', v_challenge.id
      using errcode = 'LMU25';
  end if;
  return jsonb_build_object('factor_type', v_factor.factor_type, 'phone', v_factor.phone, 'otp_code', v_challenge.otp_code);
end $$;

-- Phone verification, second half (the code was right): as auth.mfa_verified, with the phone method.
create function auth.mfa_phone_verified(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_challenge_id uuid, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_token text := replace(gen_random_uuid()::text, '-', '') || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8);
  v_parent text;
begin
  update auth.mfa_challenges set verified_at = now(), otp_code = null where id = p_challenge_id and verified_at is null;
  if not found then
    raise exception 'MFA factor with the provided challenge ID not found' using errcode = 'LMU24';
  end if;
  update auth.mfa_factors set status = 'verified', updated_at = now() where id = p_factor_id;
  update auth.sessions set aal = 'aal2', factor_id = p_factor_id, updated_at = now() where id = p_session_id;
  insert into auth.mfa_amr_claims (session_id, authentication_method) values (p_session_id, 'mfa/phone')
    on conflict (session_id, authentication_method) do update set updated_at = now(), created_at = now();
  select token into v_parent from auth.refresh_tokens where session_id = p_session_id and not revoked order by id desc limit 1;
  update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = p_session_id and not revoked;
  insert into auth.refresh_tokens (token, user_id, revoked, parent, session_id) values (v_token, p_user_id, false, v_parent, p_session_id);
  perform auth.audit(v_user, 'verification_attempted', 'factor', p_ip, jsonb_build_object('factor_id', p_factor_id, 'result', 'verified'));
  return auth.session_json(v_user, p_session_id, v_token);
end $$;

-- POST /token?grant_type=web3. p: sub (web3:<chain>:<address>), identity_data, message_hash, expires_at,
-- disable_signup, ip, user_agent. The message is spent (a second use is refused), then the identity signs in
-- (or up) as any provider identity does; the session's method is web3.
create function auth.web3_signin(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_session jsonb;
begin
  delete from auth.web3_used_messages where expires_at < now();
  insert into auth.web3_used_messages (message_hash, expires_at) values (p ->> 'message_hash', (p ->> 'expires_at')::timestamptz)
    on conflict do nothing;
  if not found then
    raise exception 'Signed message was already used' using errcode = 'LMX10';
  end if;
  v_session := auth.oauth_signin(jsonb_build_object('provider', 'web3', 'sub', p ->> 'sub', 'identity_data', p -> 'identity_data',
    'disable_signup', p -> 'disable_signup', 'ip', p ->> 'ip', 'user_agent', p ->> 'user_agent'));
  update auth.mfa_amr_claims set authentication_method = 'web3' where session_id = (v_session ->> 'session_id')::uuid;
  return auth.session_json((select u from auth.users u where u.id = (v_session -> 'user' ->> 'id')::uuid),
                           (v_session ->> 'session_id')::uuid, v_session ->> 'refresh_token');
end $$;
