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

-- ---------------------------------------------------------------------------------------------------------------
-- OAuth 2.1 server (GoTrue's tables): clients other apps register, authorization requests waiting for the user's
-- consent, and the consents given. Client secrets are kept as SHA-256 hashes (base64url), as GoTrue keeps them.
create table if not exists auth.oauth_clients (
  id uuid primary key default gen_random_uuid(),
  client_secret_hash text,
  registration_type text not null check (registration_type in ('dynamic', 'manual')),
  client_type text not null default 'confidential' check (client_type in ('public', 'confidential')),
  token_endpoint_auth_method text not null check (token_endpoint_auth_method in ('none', 'client_secret_basic', 'client_secret_post')),
  redirect_uris text[] not null,
  grant_types text[] not null,
  client_name text check (char_length(client_name) <= 1024),
  client_uri text check (char_length(client_uri) <= 2048),
  logo_uri text check (char_length(logo_uri) <= 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
comment on table auth.oauth_clients is 'auth: applications that sign their users in with this project (OAuth 2.1 server)';

create table if not exists auth.oauth_authorizations (
  id uuid primary key default gen_random_uuid(),
  authorization_id text not null unique,
  client_id uuid not null references auth.oauth_clients on delete cascade,
  user_id uuid references auth.users on delete cascade,
  redirect_uri text not null check (char_length(redirect_uri) <= 2048),
  scope text not null check (char_length(scope) <= 4096),
  state text check (char_length(state) <= 4096),
  resource text check (char_length(resource) <= 2048),
  code_challenge text check (char_length(code_challenge) <= 128),
  code_challenge_method text,
  nonce text check (char_length(nonce) <= 4096),
  response_type text not null default 'code',
  status text not null default 'pending' check (status in ('pending', 'approved', 'denied', 'expired')),
  authorization_code text unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  approved_at timestamptz
);
create index if not exists oauth_auth_pending_exp_idx on auth.oauth_authorizations (expires_at) where status = 'pending';
comment on table auth.oauth_authorizations is 'auth: OAuth 2.1 authorization requests and their codes';

create table if not exists auth.oauth_consents (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users on delete cascade,
  client_id uuid not null references auth.oauth_clients on delete cascade,
  scopes text not null check (char_length(scopes) <= 2048 and char_length(trim(scopes)) > 0),
  granted_at timestamptz not null default now(),
  revoked_at timestamptz,
  unique (user_id, client_id)
);
comment on table auth.oauth_consents is 'auth: what each user allowed each OAuth client';

alter table auth.sessions
  add column if not exists oauth_client_id uuid references auth.oauth_clients on delete cascade,
  add column if not exists scopes text check (char_length(scopes) <= 4096);

-- A client as the API shows it (never its secret hash).
create function auth.oauth_client_json(c auth.oauth_clients) returns jsonb
  language sql immutable
as $$
  select jsonb_strip_nulls(jsonb_build_object('client_id', c.id, 'client_type', c.client_type,
    'redirect_uris', to_jsonb(c.redirect_uris), 'token_endpoint_auth_method', c.token_endpoint_auth_method,
    'grant_types', to_jsonb(c.grant_types), 'response_types', jsonb_build_array('code'),
    'client_name', nullif(c.client_name, ''), 'client_uri', nullif(c.client_uri, ''), 'logo_uri', nullif(c.logo_uri, ''),
    'registration_type', c.registration_type, 'created_at', c.created_at, 'updated_at', c.updated_at))
$$;

-- p: client_type, token_endpoint_auth_method, redirect_uris, grant_types, client_name, client_uri, logo_uri,
-- registration_type, client_secret_hash (validated by the API).
create function auth.oauth_client_register(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_row auth.oauth_clients;
begin
  insert into auth.oauth_clients (client_secret_hash, registration_type, client_type, token_endpoint_auth_method,
      redirect_uris, grant_types, client_name, client_uri, logo_uri)
    values (p ->> 'client_secret_hash', p ->> 'registration_type', p ->> 'client_type', p ->> 'token_endpoint_auth_method',
      array(select jsonb_array_elements_text(p -> 'redirect_uris')), array(select jsonb_array_elements_text(p -> 'grant_types')),
      nullif(p ->> 'client_name', ''), nullif(p ->> 'client_uri', ''), nullif(p ->> 'logo_uri', ''))
    returning * into v_row;
  return auth.oauth_client_json(v_row);
end $$;

-- The client with its secret hash, for the API's own checks; null when unknown or deleted.
create function auth.oauth_client(p_id uuid) returns jsonb
  language sql stable
as $$
  select auth.oauth_client_json(c) || jsonb_build_object('client_secret_hash', c.client_secret_hash)
  from auth.oauth_clients c where c.id = p_id and c.deleted_at is null
$$;

create function auth.oauth_client_list() returns jsonb
  language sql stable
as $$
  select jsonb_build_object('clients', coalesce(jsonb_agg(auth.oauth_client_json(c) order by c.created_at desc), '[]'))
  from auth.oauth_clients c where c.deleted_at is null
$$;

create function auth.oauth_client_update(p_id uuid, p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_row auth.oauth_clients;
begin
  update auth.oauth_clients set
      redirect_uris = case when p ? 'redirect_uris' then array(select jsonb_array_elements_text(p -> 'redirect_uris')) else redirect_uris end,
      grant_types = case when p ? 'grant_types' then array(select jsonb_array_elements_text(p -> 'grant_types')) else grant_types end,
      client_name = case when p ? 'client_name' then nullif(p ->> 'client_name', '') else client_name end,
      client_uri = case when p ? 'client_uri' then nullif(p ->> 'client_uri', '') else client_uri end,
      logo_uri = case when p ? 'logo_uri' then nullif(p ->> 'logo_uri', '') else logo_uri end,
      client_secret_hash = coalesce(p ->> 'client_secret_hash', client_secret_hash),
      updated_at = now()
    where id = p_id and deleted_at is null
    returning * into v_row;
  if not found then
    raise exception 'OAuth client not found' using errcode = 'LMY20';
  end if;
  return auth.oauth_client_json(v_row);
end $$;

-- Deleting a client ends what it was given: its sessions, pending codes, consents.
create function auth.oauth_client_delete(p_id uuid) returns void
  language plpgsql volatile
as $$
begin
  update auth.oauth_clients set deleted_at = now(), updated_at = now(), client_secret_hash = null
    where id = p_id and deleted_at is null;
  if not found then
    raise exception 'OAuth client not found' using errcode = 'LMY20';
  end if;
  delete from auth.sessions where oauth_client_id = p_id;
  delete from auth.oauth_authorizations where client_id = p_id;
  update auth.oauth_consents set revoked_at = now() where client_id = p_id and revoked_at is null;
end $$;

-- GET /oauth/authorize, once the client and redirect_uri are known good: a pending request, 10 minutes to live.
create function auth.oauth_authorize(p jsonb) returns text
  language plpgsql volatile
as $$
declare
  v_id text := replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
begin
  delete from auth.oauth_authorizations where expires_at < now() - interval '1 day';
  insert into auth.oauth_authorizations (authorization_id, client_id, redirect_uri, scope, state, resource,
      code_challenge, code_challenge_method, nonce, expires_at)
    values (v_id, (p ->> 'client_id')::uuid, p ->> 'redirect_uri', p ->> 'scope', nullif(p ->> 'state', ''),
      nullif(p ->> 'resource', ''), p ->> 'code_challenge', lower(p ->> 'code_challenge_method'), nullif(p ->> 'nonce', ''),
      now() + interval '10 minutes');
  return v_id;
end $$;

create function auth.oauth_authorization_json(a auth.oauth_authorizations) returns jsonb
  language sql immutable
as $$
  select jsonb_build_object('authorization_id', a.authorization_id, 'redirect_uri', a.redirect_uri, 'scope', a.scope,
    'state', a.state, 'code', a.authorization_code, 'status', a.status, 'client_id', a.client_id, 'user_id', a.user_id)
$$;

-- Whether every scope asked (space-separated) is among those given.
create function auth.oauth_scopes_cover(p_given text, p_asked text) returns boolean
  language sql immutable
as $$
  select coalesce(string_to_array(trim(p_asked), ' ') <@ string_to_array(trim(p_given), ' '), false)
$$;

-- The consent page's read (GET /oauth/authorizations/{id}): the first signed-in user to read a pending request
-- owns it; a consent that already covers the scopes approves it at once. Answers {error: …} for what must still
-- commit (an expired request is marked so).
create function auth.oauth_authorization_for_user(p_authorization_id text, p_user_id uuid, p_session_id uuid) returns jsonb
  language plpgsql volatile
as $$
declare
  v_auth auth.oauth_authorizations;
  v_client auth.oauth_clients;
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_auto boolean := false;
begin
  select * into v_auth from auth.oauth_authorizations where authorization_id = p_authorization_id for update;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if v_auth.expires_at < now() then
    update auth.oauth_authorizations set status = 'expired' where id = v_auth.id and status = 'pending';
    return jsonb_build_object('error', 'not_found');
  end if;
  if v_auth.status <> 'pending' then
    raise exception 'authorization request cannot be processed' using errcode = 'LMY21';
  end if;
  if v_auth.user_id is null then
    update auth.oauth_authorizations set user_id = p_user_id where id = v_auth.id returning * into v_auth;
    v_auto := exists (select 1 from auth.oauth_consents c where c.user_id = p_user_id and c.client_id = v_auth.client_id
      and c.revoked_at is null and auth.oauth_scopes_cover(c.scopes, v_auth.scope));
  elsif v_auth.user_id <> p_user_id then
    return jsonb_build_object('error', 'not_found');
  end if;
  if v_auto then
    update auth.oauth_authorizations set status = 'approved', approved_at = now(),
        authorization_code = replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
      where id = v_auth.id returning * into v_auth;
    return auth.oauth_authorization_json(v_auth) || jsonb_build_object('auto_approved', true);
  end if;
  select * into v_client from auth.oauth_clients where id = v_auth.client_id and deleted_at is null;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  return auth.oauth_authorization_json(v_auth) || jsonb_build_object(
    'client', jsonb_strip_nulls(jsonb_build_object('id', v_client.id, 'name', v_client.client_name, 'uri', v_client.client_uri, 'logo_uri', v_client.logo_uri)),
    'user', jsonb_strip_nulls(jsonb_build_object('id', v_user.id, 'email', nullif(v_user.email, ''))));
end $$;

-- The user's answer (POST /oauth/authorizations/{id}/consent): approve makes the code and records the consent.
create function auth.oauth_consent(p_authorization_id text, p_user_id uuid, p_session_id uuid, p_approve boolean) returns jsonb
  language plpgsql volatile
as $$
declare
  v_auth auth.oauth_authorizations;
begin
  perform auth.caller(p_user_id, p_session_id);
  select * into v_auth from auth.oauth_authorizations where authorization_id = p_authorization_id for update;
  if not found then
    return jsonb_build_object('error', 'not_found');
  end if;
  if v_auth.expires_at < now() then
    update auth.oauth_authorizations set status = 'expired' where id = v_auth.id and status = 'pending';
    return jsonb_build_object('error', 'not_found');
  end if;
  if v_auth.status <> 'pending' then
    raise exception 'authorization request is no longer pending' using errcode = 'LMY22';
  end if;
  if v_auth.user_id is distinct from p_user_id then
    return jsonb_build_object('error', 'not_found');
  end if;
  if p_approve then
    update auth.oauth_authorizations set status = 'approved', approved_at = now(),
        authorization_code = replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
      where id = v_auth.id returning * into v_auth;
    insert into auth.oauth_consents (user_id, client_id, scopes) values (p_user_id, v_auth.client_id, v_auth.scope)
      on conflict (user_id, client_id) do update set scopes = excluded.scopes, granted_at = now(), revoked_at = null;
  else
    update auth.oauth_authorizations set status = 'denied' where id = v_auth.id returning * into v_auth;
  end if;
  return auth.oauth_authorization_json(v_auth);
end $$;

-- POST /oauth/token, grant_type=authorization_code, for an authenticated client: the code is taken once (the row
-- goes in the same transaction as the session starts), PKCE S256 checked here. OAuth errors are answered as
-- {error, error_description} (nothing to roll back).
create function auth.oauth_exchange_code(p_code text, p_client_id uuid, p_redirect_uri text, p_resource text,
  p_verifier text, p_ip text, p_user_agent text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_auth auth.oauth_authorizations;
  v_user auth.users;
  v_session jsonb;
  v_hash text;
begin
  select * into v_auth from auth.oauth_authorizations where authorization_code = p_code and status = 'approved' for update;
  if not found then
    return jsonb_build_object('error', 'invalid_grant', 'error_description', 'Invalid authorization code');
  end if;
  if v_auth.expires_at < now() then
    return jsonb_build_object('error', 'invalid_grant', 'error_description', 'Authorization code has expired');
  end if;
  if v_auth.client_id <> p_client_id then
    return jsonb_build_object('error', 'invalid_grant', 'error_description', 'Authorization code was not issued for this client');
  end if;
  if coalesce(p_resource, '') <> '' and p_resource is distinct from v_auth.resource then
    return jsonb_build_object('error', 'invalid_grant', 'error_description', 'Authorization code resource does not match the resource parameter');
  end if;
  if coalesce(p_redirect_uri, '') <> '' and p_redirect_uri <> v_auth.redirect_uri then
    return jsonb_build_object('error', 'invalid_grant', 'error_description', 'Invalid redirect_uri');
  end if;
  v_hash := rtrim(translate(encode(sha256(convert_to(coalesce(p_verifier, ''), 'UTF8')), 'base64'), E'+/\n', '-_'), '=');
  if v_auth.code_challenge_method is distinct from 's256' or v_hash <> v_auth.code_challenge then
    return jsonb_build_object('error', 'invalid_grant', 'error_description',
      'PKCE verification failed: code challenge does not match previously saved code verifier');
  end if;
  select * into v_user from auth.users where id = v_auth.user_id;
  if not found then
    return jsonb_build_object('error', 'invalid_grant', 'error_description', 'User not found for authorization code');
  end if;
  if v_user.banned_until > now() then
    return jsonb_build_object('error', 'access_denied', 'error_description', 'User is banned');
  end if;
  delete from auth.oauth_authorizations where id = v_auth.id;
  v_session := auth.start_session(v_user.id, 'oauth_provider/authorization_code', p_ip, p_user_agent);
  update auth.sessions set oauth_client_id = p_client_id, scopes = v_auth.scope where id = (v_session ->> 'session_id')::uuid;
  perform auth.audit(v_user, 'login', 'account', p_ip,
    jsonb_build_object('provider_type', 'oauth_provider_authorization_code', 'client_id', p_client_id));
  return v_session || jsonb_build_object('client_id', p_client_id, 'scope', v_auth.scope, 'nonce', v_auth.nonce);
end $$;

-- POST /oauth/token, grant_type=refresh_token: the token's session must be this client's (GoTrue's rule), then the
-- usual rotation.
create function auth.oauth_refresh(p_token text, p_client_id uuid, p_reuse_interval integer, p_timebox integer, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_session auth.sessions;
  v_out jsonb;
begin
  select s.* into v_session from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id where t.token = p_token;
  if found then
    if v_session.oauth_client_id is null then
      return jsonb_build_object('error', 'invalid_client', 'error_description', 'Client authentication not allowed for non-OAuth session');
    end if;
    if v_session.oauth_client_id <> p_client_id then
      return jsonb_build_object('error', 'invalid_client', 'error_description', 'Client does not match the session''s OAuth client');
    end if;
  end if;
  v_out := auth.refresh(p_token, p_reuse_interval, p_timebox, p_ip);
  if v_out ? 'error' then
    return v_out;
  end if;
  return v_out || jsonb_build_object('client_id', v_session.oauth_client_id, 'scope', v_session.scopes);
end $$;

-- POST /token?grant_type=refresh_token (the project's own clients): a refresh token of a session an OAuth client
-- obtained is that client's, refreshed only at /oauth/token with its authentication (GoTrue's rule).
create function auth.refresh_first_party(p_token text, p_reuse_interval integer, p_timebox integer, p_ip text) returns jsonb
  language plpgsql volatile
as $$
begin
  if exists (select 1 from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id
             where t.token = p_token and s.oauth_client_id is not null) then
    return jsonb_build_object('error', 'invalid_client', 'error_description', 'Client authentication required for OAuth session');
  end if;
  return auth.refresh(p_token, p_reuse_interval, p_timebox, p_ip);
end $$;

-- GET /user/oauth/grants: the clients a user consented to, and what to.
create function auth.oauth_grants(p_user_id uuid) returns jsonb
  language sql stable
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'client', jsonb_strip_nulls(jsonb_build_object('id', k.id, 'name', k.client_name, 'uri', k.client_uri, 'logo_uri', k.logo_uri)),
      'scopes', to_jsonb(string_to_array(g.scopes, ' ')), 'granted_at', g.granted_at) order by g.granted_at desc), '[]')
  from auth.oauth_consents g join auth.oauth_clients k on k.id = g.client_id and k.deleted_at is null
  where g.user_id = p_user_id and g.revoked_at is null
$$;

-- DELETE /user/oauth/grants?client_id=: the consent is revoked and the client's sessions of this user end.
create function auth.oauth_revoke_grant(p_user_id uuid, p_client_id uuid, p_ip text) returns void
  language plpgsql volatile
as $$
declare
  v_user auth.users;
begin
  update auth.oauth_consents set revoked_at = now() where user_id = p_user_id and client_id = p_client_id and revoked_at is null;
  if not found then
    raise exception 'No active grant found for this client' using errcode = 'LMY23';
  end if;
  delete from auth.sessions where user_id = p_user_id and oauth_client_id = p_client_id;
  select * into v_user from auth.users where id = p_user_id;
  perform auth.audit(v_user, 'token_revoked', 'token', p_ip, jsonb_build_object('oauth_client_id', p_client_id, 'action', 'revoke_oauth_grant'));
end $$;
