-- Auth (issue 16): WebAuthn MFA factors and passkeys, and the OAuth 2.1 server (the project's auth as an identity
-- provider). Tables and columns carry GoTrue's names. The API (server/src/auth/webauthn.ts, oauth-server.ts)
-- builds and checks the WebAuthn ceremonies with @simplewebauthn/server and hashes secrets; these functions keep
-- the state, each challenge and code used at most once.

-- ---------------------------------------------------------------------------------------------------------------
-- WebAuthn MFA factors: the credential lives on the factor (web_authn_credential: id, public_key — base64url —,
-- counter, transports, aaguid), the ceremony's expected challenge on the challenge row.
alter table auth.mfa_factors
  add column if not exists web_authn_credential jsonb,
  add column if not exists web_authn_aaguid uuid,
  add column if not exists last_webauthn_challenge_data jsonb;
alter table auth.mfa_challenges add column if not exists web_authn_session_data jsonb;

-- What a WebAuthn challenge needs: the factor (the caller's), the user's name for the authenticator, and the
-- credentials of the user's verified WebAuthn factors (excluded when registering another).
create function auth.mfa_webauthn_state(p_user_id uuid, p_session_id uuid, p_factor_id uuid) returns jsonb
  language plpgsql stable
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_factor auth.mfa_factors := auth.mfa_factor(p_user_id, p_factor_id);
begin
  return jsonb_build_object(
    'factor', jsonb_build_object('id', v_factor.id, 'status', v_factor.status, 'factor_type', v_factor.factor_type,
      'credential', v_factor.web_authn_credential),
    'user', jsonb_build_object('id', v_user.id, 'email', coalesce(v_user.email, ''), 'phone', coalesce(v_user.phone, ''),
      'name', v_user.raw_user_meta_data ->> 'name'),
    'credentials', coalesce((select jsonb_agg(f.web_authn_credential) from auth.mfa_factors f
      where f.user_id = p_user_id and f.factor_type = 'webauthn' and f.status = 'verified'
        and f.web_authn_credential is not null), '[]'));
end $$;

create function auth.mfa_enroll_webauthn(p_user_id uuid, p_session_id uuid, p_friendly_name text, p_ip text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_factor auth.mfa_factors;
begin
  delete from auth.mfa_factors where user_id = p_user_id and status = 'unverified' and created_at < now() - interval '1 day';
  if coalesce(p_friendly_name, '') <> '' and exists (select 1 from auth.mfa_factors where user_id = p_user_id and friendly_name = p_friendly_name) then
    raise exception 'A factor with the friendly name "%" for this user already exists', p_friendly_name using errcode = 'LMU21';
  end if;
  if (select count(*) from auth.mfa_factors where user_id = p_user_id) >= 10 then
    raise exception 'Maximum number of verified factors reached, unenroll to continue' using errcode = 'LMU22';
  end if;
  if exists (select 1 from auth.mfa_factors where user_id = p_user_id and status = 'verified')
     and (select aal from auth.sessions where id = p_session_id) is distinct from 'aal2' then
    raise exception 'AAL2 required to enroll a new factor' using errcode = 'LMU23';
  end if;
  insert into auth.mfa_factors (user_id, friendly_name, factor_type)
    values (p_user_id, coalesce(p_friendly_name, ''), 'webauthn') returning * into v_factor;
  perform auth.audit(v_user, 'factor_in_progress', 'factor', p_ip, jsonb_build_object('factor_id', v_factor.id, 'factor_type', 'webauthn'));
  return jsonb_build_object('id', v_factor.id, 'type', 'webauthn', 'friendly_name', v_factor.friendly_name);
end $$;

-- A challenge remembers the ceremony (its type and expected challenge) the API built.
create function auth.mfa_webauthn_challenge(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_ip text, p_session_data jsonb)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_factor auth.mfa_factors;
  v_challenge auth.mfa_challenges;
begin
  perform auth.caller(p_user_id, p_session_id);
  v_factor := auth.mfa_factor(p_user_id, p_factor_id);
  insert into auth.mfa_challenges (factor_id, ip_address, web_authn_session_data)
    values (v_factor.id, coalesce(nullif(p_ip, ''), '0.0.0.0')::inet, p_session_data)
    returning * into v_challenge;
  update auth.mfa_factors set last_challenged_at = now() where id = v_factor.id;
  return jsonb_build_object('id', v_challenge.id, 'type', 'webauthn',
    'expires_at', extract(epoch from v_challenge.created_at + interval '300 seconds')::bigint);
end $$;

-- Verification, first half: the ceremony a challenge expects, if the challenge is the factor's, unused and fresh.
create function auth.mfa_webauthn_pending(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_challenge_id uuid) returns jsonb
  language plpgsql volatile
as $$
declare
  v_factor auth.mfa_factors;
  v_challenge auth.mfa_challenges;
begin
  perform auth.caller(p_user_id, p_session_id);
  v_factor := auth.mfa_factor(p_user_id, p_factor_id);
  select * into v_challenge from auth.mfa_challenges
    where id = p_challenge_id and factor_id = v_factor.id and verified_at is null and web_authn_session_data is not null;
  if not found then
    raise exception 'MFA factor with the provided challenge ID not found' using errcode = 'LMU24';
  end if;
  if v_challenge.created_at + interval '300 seconds' < now() then
    raise exception 'MFA challenge % has expired, verify against another challenge or create a new challenge.', v_challenge.id
      using errcode = 'LMU25';
  end if;
  return jsonb_build_object('session_data', v_challenge.web_authn_session_data, 'status', v_factor.status,
    'credential', v_factor.web_authn_credential);
end $$;

-- Verification, second half (the API checked the ceremony): the challenge is consumed (a second use of it finds
-- nothing), a registration stores the credential, an assertion moves the counter forward (never back: a cloned
-- authenticator or a replayed assertion), the session reaches aal2 with the webauthn method, other unverified
-- WebAuthn factors go, as in GoTrue.
create function auth.mfa_webauthn_verified(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_challenge_id uuid,
  p_credential jsonb, p_counter bigint, p_challenge_data jsonb, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_factor auth.mfa_factors;
  v_token text := replace(gen_random_uuid()::text, '-', '') || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8);
  v_parent text;
begin
  delete from auth.mfa_challenges where id = p_challenge_id and factor_id = p_factor_id and verified_at is null;
  if not found then
    raise exception 'MFA factor with the provided challenge ID not found' using errcode = 'LMU24';
  end if;
  select * into v_factor from auth.mfa_factors where id = p_factor_id and user_id = p_user_id for update;
  if not found then
    raise exception 'Factor not found' using errcode = 'LMU20';
  end if;
  if v_factor.status = 'verified' then
    if p_counter > 0 and p_counter <= coalesce((v_factor.web_authn_credential ->> 'counter')::bigint, 0) then
      raise exception 'The authenticator''s signature counter did not increase: the assertion may be replayed or the authenticator cloned'
        using errcode = 'LMY01';
    end if;
    update auth.mfa_factors set updated_at = now(), last_webauthn_challenge_data = p_challenge_data,
        web_authn_credential = jsonb_set(web_authn_credential, '{counter}', to_jsonb(p_counter))
      where id = v_factor.id;
  else
    update auth.mfa_factors set status = 'verified', updated_at = now(), web_authn_credential = p_credential,
        web_authn_aaguid = nullif(p_credential ->> 'aaguid', '')::uuid, last_webauthn_challenge_data = p_challenge_data
      where id = v_factor.id;
    delete from auth.mfa_factors where user_id = p_user_id and factor_type = 'webauthn' and status = 'unverified';
  end if;
  update auth.sessions set aal = 'aal2', factor_id = p_factor_id, updated_at = now() where id = p_session_id;
  insert into auth.mfa_amr_claims (session_id, authentication_method) values (p_session_id, 'webauthn')
    on conflict (session_id, authentication_method) do update set updated_at = now(), created_at = now();
  select token into v_parent from auth.refresh_tokens where session_id = p_session_id and not revoked order by id desc limit 1;
  update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = p_session_id and not revoked;
  insert into auth.refresh_tokens (token, user_id, revoked, parent, session_id) values (v_token, p_user_id, false, v_parent, p_session_id);
  perform auth.audit(v_user, 'verification_attempted', 'factor', p_ip,
    jsonb_build_object('factor_id', p_factor_id, 'factor_type', 'webauthn', 'result', 'verified'));
  return auth.session_json(v_user, p_session_id, v_token);
end $$;

-- ---------------------------------------------------------------------------------------------------------------
-- Passkeys (GoTrue's tables): credentials a user signs in with, and the ceremonies waiting for an answer.
create table if not exists auth.webauthn_credentials (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users on delete cascade,
  credential_id bytea not null,
  public_key bytea not null,
  attestation_type text not null default '',
  aaguid uuid,
  sign_count bigint not null default 0,
  transports jsonb not null default '[]',
  backup_eligible boolean not null default false,
  backed_up boolean not null default false,
  friendly_name text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz
);
create unique index if not exists webauthn_credentials_credential_id_key on auth.webauthn_credentials (credential_id);
create index if not exists webauthn_credentials_user_id_idx on auth.webauthn_credentials (user_id);
comment on table auth.webauthn_credentials is 'auth: passkeys (WebAuthn credentials) users sign in with';

create table if not exists auth.webauthn_challenges (
  id uuid primary key default gen_random_uuid(),
  user_id uuid references auth.users on delete cascade,
  challenge_type text not null check (challenge_type in ('signup', 'registration', 'authentication')),
  session_data jsonb not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index if not exists webauthn_challenges_user_id_idx on auth.webauthn_challenges (user_id);
create index if not exists webauthn_challenges_expires_at_idx on auth.webauthn_challenges (expires_at);
comment on table auth.webauthn_challenges is 'auth: WebAuthn ceremonies started and not yet answered';

create function auth.passkey_json(c auth.webauthn_credentials) returns jsonb
  language sql immutable
as $$
  select jsonb_strip_nulls(jsonb_build_object('id', c.id, 'friendly_name', nullif(c.friendly_name, ''),
    'created_at', c.created_at, 'last_used_at', c.last_used_at))
$$;

-- Before a registration: the caller may add a passkey (not an SSO user; aal2 when MFA is on; under the cap) and
-- these are its existing credentials (excluded by the authenticator) and names.
create function auth.passkey_registration_state(p_user_id uuid, p_session_id uuid, p_max integer) returns jsonb
  language plpgsql stable
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
begin
  if v_user.is_sso_user then
    raise exception 'SSO users cannot register passkeys' using errcode = 'LMY02';
  end if;
  if exists (select 1 from auth.mfa_factors where user_id = p_user_id and status = 'verified')
     and (select aal from auth.sessions where id = p_session_id) is distinct from 'aal2' then
    raise exception 'AAL2 session is required to manage passkeys when MFA is enabled' using errcode = 'LMY03';
  end if;
  if (select count(*) from auth.webauthn_credentials where user_id = p_user_id) >= p_max then
    raise exception 'Maximum number of passkeys reached' using errcode = 'LMY04';
  end if;
  return jsonb_build_object(
    'user', jsonb_build_object('id', v_user.id, 'email', coalesce(v_user.email, ''), 'phone', coalesce(v_user.phone, ''),
      'name', v_user.raw_user_meta_data ->> 'name'),
    'credentials', coalesce((select jsonb_agg(jsonb_build_object('id', translate(rtrim(encode(c.credential_id, 'base64'), '='), E'+/\n', '-_'),
        'transports', c.transports)) from auth.webauthn_credentials c where c.user_id = p_user_id), '[]'));
end $$;

create function auth.passkey_challenge(p_user_id uuid, p_type text, p_session_data jsonb, p_seconds integer) returns jsonb
  language plpgsql volatile
as $$
declare
  v_row auth.webauthn_challenges;
begin
  -- Ceremonies nobody finished are dropped as new ones start.
  delete from auth.webauthn_challenges where expires_at < now() - interval '1 hour';
  insert into auth.webauthn_challenges (user_id, challenge_type, session_data, expires_at)
    values (p_user_id, p_type, p_session_data, now() + make_interval(secs => p_seconds)) returning * into v_row;
  return jsonb_build_object('challenge_id', v_row.id, 'expires_at', extract(epoch from v_row.expires_at)::bigint);
end $$;

-- A challenge is taken once: a second verify with it (a replay, or a race) finds nothing. The caller commits
-- the deletion even when the challenge turns out to be expired.
create function auth.passkey_consume_challenge(p_id uuid, p_type text, p_user_id uuid) returns jsonb
  language plpgsql volatile
as $$
declare
  v_row auth.webauthn_challenges;
begin
  delete from auth.webauthn_challenges
    where id = p_id and challenge_type = p_type and user_id is not distinct from p_user_id
    returning * into v_row;
  if not found then
    raise exception 'Challenge not found or already used' using errcode = 'LMY05';
  end if;
  return jsonb_build_object('session_data', v_row.session_data, 'expired', v_row.expires_at < now());
end $$;

create function auth.passkey_register(p_user_id uuid, p_session_id uuid, p_max integer, p_credential jsonb, p_friendly_name text, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_row auth.webauthn_credentials;
begin
  perform 1 from auth.users where id = p_user_id for update;
  if (select count(*) from auth.webauthn_credentials where user_id = p_user_id) >= p_max then
    raise exception 'Maximum number of passkeys reached' using errcode = 'LMY04';
  end if;
  begin
    insert into auth.webauthn_credentials (user_id, credential_id, public_key, attestation_type, aaguid, sign_count,
        transports, backup_eligible, backed_up, friendly_name)
      values (p_user_id, decode(p_credential ->> 'credential_id', 'hex'), decode(p_credential ->> 'public_key', 'hex'),
        coalesce(p_credential ->> 'attestation_type', ''), nullif(p_credential ->> 'aaguid', '')::uuid,
        coalesce((p_credential ->> 'sign_count')::bigint, 0), coalesce(p_credential -> 'transports', '[]'),
        coalesce((p_credential ->> 'backup_eligible')::boolean, false), coalesce((p_credential ->> 'backed_up')::boolean, false),
        left(coalesce(p_friendly_name, ''), 120))
      returning * into v_row;
  exception when unique_violation then
    raise exception 'This credential is already registered' using errcode = 'LMY06';
  end;
  perform auth.audit(v_user, 'passkey_created', 'user', p_ip, jsonb_build_object('passkey_id', v_row.id));
  return auth.passkey_json(v_row);
end $$;

-- The credential an assertion names, if it is the user's (the user handle the authenticator returned).
create function auth.passkey_credential(p_user_id uuid, p_credential_id text) returns jsonb
  language sql stable
as $$
  select jsonb_build_object('id', c.id, 'public_key', encode(c.public_key, 'hex'), 'sign_count', c.sign_count,
    'transports', c.transports)
  from auth.webauthn_credentials c
  where c.user_id = p_user_id and c.credential_id = decode(p_credential_id, 'hex')
$$;

-- Sign-in with a checked assertion: the counter moves forward (or both are 0, as synced passkeys report), the
-- user must be confirmed and not banned; a session with the passkey method.
create function auth.passkey_signin(p_passkey_id uuid, p_counter bigint, p_ip text, p_user_agent text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_cred auth.webauthn_credentials;
  v_user auth.users;
begin
  select * into v_cred from auth.webauthn_credentials where id = p_passkey_id for update;
  if not found then
    raise exception 'Credential verification failed' using errcode = 'LMY07';
  end if;
  if (p_counter > 0 or v_cred.sign_count > 0) and p_counter <= v_cred.sign_count then
    raise exception 'Credential verification failed' using errcode = 'LMY07';
  end if;
  select * into v_user from auth.users where id = v_cred.user_id;
  if coalesce(v_user.email, '') <> '' and v_user.email_confirmed_at is null then
    raise exception 'Email not confirmed' using errcode = 'LMY08';
  end if;
  if coalesce(v_user.phone, '') <> '' and v_user.phone_confirmed_at is null then
    raise exception 'Phone not confirmed' using errcode = 'LMY09';
  end if;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMY10';
  end if;
  update auth.webauthn_credentials set sign_count = p_counter, last_used_at = now(), updated_at = now() where id = v_cred.id;
  return auth.start_session(v_user.id, 'passkey', p_ip, p_user_agent);
end $$;

create function auth.passkey_list(p_user_id uuid) returns jsonb
  language sql stable
as $$
  select coalesce(jsonb_agg(auth.passkey_json(c) order by c.created_at), '[]')
  from auth.webauthn_credentials c where c.user_id = p_user_id
$$;

create function auth.passkey_rename(p_user_id uuid, p_passkey_id uuid, p_friendly_name text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_row auth.webauthn_credentials;
begin
  update auth.webauthn_credentials set friendly_name = p_friendly_name, updated_at = now()
    where id = p_passkey_id and user_id = p_user_id returning * into v_row;
  if not found then
    raise exception 'Passkey not found' using errcode = 'LMY11';
  end if;
  return auth.passkey_json(v_row);
end $$;

-- p_session_id null: the admin API (no AAL rule).
create function auth.passkey_delete(p_user_id uuid, p_session_id uuid, p_passkey_id uuid, p_admin boolean, p_ip text) returns void
  language plpgsql volatile
as $$
declare
  v_user auth.users;
begin
  if p_admin then
    select * into v_user from auth.users where id = p_user_id;
    if not found then
      raise exception 'User not found' using errcode = 'LMU07';
    end if;
  else
    v_user := auth.caller(p_user_id, p_session_id);
    if exists (select 1 from auth.mfa_factors where user_id = p_user_id and status = 'verified')
       and (select aal from auth.sessions where id = p_session_id) is distinct from 'aal2' then
      raise exception 'AAL2 session is required to manage passkeys when MFA is enabled' using errcode = 'LMY03';
    end if;
  end if;
  delete from auth.webauthn_credentials where id = p_passkey_id and user_id = p_user_id;
  if not found then
    raise exception 'Passkey not found' using errcode = 'LMY11';
  end if;
  perform auth.audit(v_user, 'passkey_deleted', 'user', p_ip, jsonb_build_object('passkey_id', p_passkey_id));
end $$;
