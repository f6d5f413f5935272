-- Auth, second part: the tables GoTrue keeps beside auth.users (identities, sessions, refresh tokens, one-time
-- tokens, PKCE flow state, audit log, AMR claims), an outbox for auth emails, and the SQL functions the
-- /auth/v1 API calls. Table and column names are GoTrue's, so SQL written for Supabase reads them unchanged.
--
-- Who may touch what (policies/project/auth.tables.sql): only service_role (the data plane's auth handlers run as it) has privileges on these
-- tables and may execute these functions; anon and authenticated reach auth data only through the API.
-- The functions run with the caller's rights (security invoker): service_role bypasses RLS, nobody else can
-- call them, so no security definer is needed.

create table auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid primary key default gen_random_uuid(),
  unique (provider_id, provider)
);
create index identities_user_id_idx on auth.identities (user_id);
create index identities_email_idx on auth.identities (email text_pattern_ops);
comment on table auth.identities is 'Auth: stores identities associated to a user.';

create table auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users on delete cascade,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  factor_id uuid,
  aal text check (aal in ('aal1', 'aal2', 'aal3')),
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet,
  tag text
);
create index sessions_user_id_idx on auth.sessions (user_id);
create index sessions_not_after_idx on auth.sessions (not_after desc);
comment on table auth.sessions is 'Auth: stores session data associated to a user.';

create table auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  parent varchar(255),
  session_id uuid references auth.sessions on delete cascade
);
create index refresh_tokens_parent_idx on auth.refresh_tokens (parent);
create index refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);
comment on table auth.refresh_tokens is 'Auth: store of tokens used to refresh JWT tokens once they expire.';

create table auth.mfa_amr_claims (
  session_id uuid not null references auth.sessions on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  authentication_method text not null,
  id uuid primary key default gen_random_uuid(),
  unique (session_id, authentication_method)
);
comment on table auth.mfa_amr_claims is 'auth: stores authenticator method reference claims for multi factor authentication';

create type auth.one_time_token_type as enum (
  'confirmation_token', 'reauthentication_token', 'recovery_token',
  'email_change_token_new', 'email_change_token_current', 'phone_change_token');

create table auth.one_time_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users on delete cascade,
  token_type auth.one_time_token_type not null,
  token_hash text not null check (char_length(token_hash) > 0),
  relates_to text not null,
  created_at timestamp not null default now(),
  updated_at timestamp not null default now(),
  unique (user_id, token_type)
);
create index one_time_tokens_token_hash_hash_idx on auth.one_time_tokens using hash (token_hash);
comment on table auth.one_time_tokens is 'Auth: one-time tokens (email confirmation, recovery, email change), stored as hashes.';

create type auth.code_challenge_method as enum ('s256', 'plain');

create table auth.flow_state (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  auth_code text not null,
  code_challenge_method auth.code_challenge_method not null,
  code_challenge text not null,
  provider_type text not null,
  provider_access_token text,
  provider_refresh_token text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  authentication_method text not null,
  auth_code_issued_at timestamptz
);
create index idx_auth_code on auth.flow_state (auth_code);
create index idx_user_id_auth_method on auth.flow_state (user_id, authentication_method);
comment on table auth.flow_state is 'stores metadata for pkce logins';

create table auth.audit_log_entries (
  instance_id uuid,
  id uuid primary key default gen_random_uuid(),
  payload json,
  created_at timestamptz default now(),
  ip_address varchar(64) not null default ''
);
comment on table auth.audit_log_entries is 'Auth: Audit trail for user actions.';

create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
create type auth.factor_status as enum ('unverified', 'verified');

create table auth.mfa_factors (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users on delete cascade,
  friendly_name text,
  factor_type auth.factor_type not null,
  status auth.factor_status not null default 'unverified',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  secret text,
  phone text,
  last_challenged_at timestamptz
);
create unique index mfa_factors_user_friendly_name_unique on auth.mfa_factors (friendly_name, user_id)
  where trim(friendly_name) <> '';
create index factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);
comment on table auth.mfa_factors is 'auth: stores metadata about factors';

create table auth.mfa_challenges (
  id uuid primary key default gen_random_uuid(),
  factor_id uuid not null references auth.mfa_factors on delete cascade,
  created_at timestamptz not null default now(),
  verified_at timestamptz,
  ip_address inet not null,
  otp_code text
);
create index mfa_challenge_created_at_idx on auth.mfa_challenges (created_at desc);
comment on table auth.mfa_challenges is 'auth: stores metadata about challenge requests made';

-- Not a GoTrue table: emails the auth API produced. A worker sends them when SMTP is configured; without
-- SMTP they stay here, readable with psql or GET /auth/v1/admin/outbox.
create table auth.email_outbox (
  id bigint generated always as identity primary key,
  user_id uuid references auth.users on delete set null,
  kind text not null,
  to_address text not null,
  subject text not null,
  body_html text not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  attempts integer not null default 0,
  last_error text
);
create index email_outbox_to_address_idx on auth.email_outbox (lower(to_address), id desc);
comment on table auth.email_outbox is 'Auth emails (confirmation, recovery, magic link, invite, email change); sent by the worker when SMTP is configured.';

create index users_instance_id_email_idx on auth.users (instance_id, lower(email));
create index users_is_anonymous_idx on auth.users (is_anonymous);

-- Row-level security and grants: policies/project/auth.tables.sql (re-applied on every migrate).

-- ---------------------------------------------------------------------------------------------------------
-- Functions. Each takes and returns jsonb so the API makes one call per step. Errors use the LMU codes of
-- sql/ERRORS.md, whose messages are GoTrue's.

-- The user as GoTrue renders it (omitting what GoTrue omits when empty).
create function auth.user_json(u auth.users) returns jsonb
  language sql stable
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'email_confirmed_at', u.email_confirmed_at, 'invited_at', u.invited_at,
    'phone_confirmed_at', u.phone_confirmed_at, 'confirmation_sent_at', u.confirmation_sent_at,
    'confirmed_at', u.confirmed_at, 'recovery_sent_at', u.recovery_sent_at,
    'new_email', nullif(u.email_change, ''), 'email_change_sent_at', u.email_change_sent_at,
    'last_sign_in_at', u.last_sign_in_at, 'banned_until', u.banned_until, 'deleted_at', u.deleted_at,
    'reauthentication_sent_at', u.reauthentication_sent_at,
    'factors', (select jsonb_agg(jsonb_build_object('id', f.id, 'friendly_name', coalesce(f.friendly_name, ''),
        'factor_type', f.factor_type, 'status', f.status, 'created_at', f.created_at, 'updated_at', f.updated_at)
        order by f.created_at) from auth.mfa_factors f where f.user_id = u.id)))
  || jsonb_build_object(
    'id', u.id, 'aud', coalesce(u.aud, ''), 'role', coalesce(u.role, ''), 'email', coalesce(u.email, ''),
    'phone', coalesce(u.phone, ''),
    'app_metadata', coalesce(u.raw_app_meta_data, '{}'), 'user_metadata', coalesce(u.raw_user_meta_data, '{}'),
    'identities', coalesce((select jsonb_agg(jsonb_build_object(
        'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id, 'identity_data', i.identity_data,
        'provider', i.provider, 'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at,
        'updated_at', i.updated_at, 'email', i.email) order by i.created_at)
      from auth.identities i where i.user_id = u.id), '[]'),
    'created_at', u.created_at, 'updated_at', u.updated_at, 'is_anonymous', u.is_anonymous)
$$;
comment on function auth.user_json(auth.users) is 'A user as the auth API returns it.';

create function auth.audit(p_user auth.users, p_action text, p_log_type text, p_ip text, p_traits jsonb default null)
  returns void
  language sql volatile
as $$
  insert into auth.audit_log_entries (payload, ip_address)
  values (json_build_object('actor_id', p_user.id, 'actor_username', coalesce(p_user.email, ''),
            'action', p_action, 'log_type', p_log_type, 'traits', p_traits), coalesce(p_ip, ''))
$$;

-- A new session with its first refresh token; returns what the API needs to sign the access token.
create function auth.start_session(p_user_id uuid, p_method text, p_ip text, p_user_agent text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_session uuid := gen_random_uuid();
  v_token text := replace(gen_random_uuid()::text, '-', '') || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8);
begin
  update auth.users set last_sign_in_at = now(), updated_at = now() where id = p_user_id returning * into v_user;
  insert into auth.sessions (id, user_id, aal, refreshed_at, user_agent, ip)
    values (v_session, p_user_id, 'aal1', now(), p_user_agent, nullif(p_ip, '')::inet);
  insert into auth.mfa_amr_claims (session_id, authentication_method) values (v_session, p_method);
  insert into auth.refresh_tokens (token, user_id, revoked, session_id) values (v_token, p_user_id, false, v_session);
  update auth.identities set last_sign_in_at = now() where user_id = p_user_id;
  perform auth.audit(v_user, 'login', 'account', p_ip, jsonb_build_object('provider_type', p_method));
  return auth.session_json(v_user, v_session, v_token);
end $$;

create function auth.session_json(p_user auth.users, p_session uuid, p_refresh_token text) returns jsonb
  language sql stable
as $$
  select jsonb_build_object(
    'user', auth.user_json(p_user), 'session_id', p_session, 'refresh_token', p_refresh_token,
    'aal', coalesce((select s.aal from auth.sessions s where s.id = p_session), 'aal1'),
    'amr', coalesce((select jsonb_agg(jsonb_build_object('method', c.authentication_method,
        'timestamp', extract(epoch from c.created_at)::bigint) order by c.created_at desc)
      from auth.mfa_amr_claims c where c.session_id = p_session), '[]'))
$$;

-- Password sign-in, first half: the stored hash (or nothing) for an email; the API compares it off-thread.
create function auth.password_lookup(p_email text)
  returns table (id uuid, encrypted_password text, email_confirmed boolean, banned boolean)
  language sql stable
as $$
  select u.id, u.encrypted_password, u.email_confirmed_at is not null, coalesce(u.banned_until > now(), false)
  from auth.users u
  where lower(u.email) = lower(trim(p_email)) and u.is_sso_user = false and u.deleted_at is null
$$;

-- Refresh-token rotation. A revoked token that is the parent of the session's active token gets that token
-- back (the client lost the response); any other revoked token is accepted only within the reuse interval,
-- after which the whole session is revoked (a stolen token was replayed). That last case must commit, so it is
-- returned as {"error": ...} rather than raised. p_timebox (seconds, 0 = none) ends sessions by age.
create function auth.refresh(p_token text, p_reuse_interval integer, p_timebox integer, p_ip text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_rt auth.refresh_tokens;
  v_active auth.refresh_tokens;
  v_session auth.sessions;
  v_user auth.users;
  v_new text;
begin
  select * into v_rt from auth.refresh_tokens where token = p_token for update;
  if not found then
    raise exception 'Invalid Refresh Token: Refresh Token Not Found' using errcode = 'LMU03';
  end if;
  select * into v_session from auth.sessions where id = v_rt.session_id for update;
  if not found then
    raise exception 'Invalid Refresh Token: No Valid Session Found' using errcode = 'LMU05';
  end if;
  select * into v_user from auth.users where id = v_session.user_id;
  if v_user.banned_until > now() then
    raise exception 'Invalid Refresh Token: User Banned' using errcode = 'LMU13';
  end if;
  if (v_session.not_after is not null and v_session.not_after < now())
     or (p_timebox > 0 and v_session.created_at + make_interval(secs => p_timebox) < now()) then
    raise exception 'Invalid Refresh Token: Session Expired' using errcode = 'LMU17';
  end if;

  if v_rt.revoked then
    select * into v_active from auth.refresh_tokens
      where session_id = v_session.id and not revoked order by id desc limit 1;
    if found and v_active.parent = v_rt.token then
      v_new := v_active.token;
    elsif now() > v_rt.updated_at + make_interval(secs => p_reuse_interval) then
      update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = v_session.id and not revoked;
      perform auth.audit(v_user, 'token_revoked', 'token', p_ip, jsonb_build_object('reason', 'refresh token reuse'));
      return jsonb_build_object('error', 'refresh_token_already_used');
    end if;
  end if;

  if v_new is null then
    v_new := replace(gen_random_uuid()::text, '-', '') || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8);
    update auth.refresh_tokens set revoked = true, updated_at = now() where id = v_rt.id;
    insert into auth.refresh_tokens (token, user_id, revoked, parent, session_id)
      values (v_new, v_user.id, false, v_rt.token, v_session.id);
  end if;
  update auth.sessions set refreshed_at = now(), updated_at = now() where id = v_session.id;
  perform auth.audit(v_user, 'token_refreshed', 'token', p_ip);
  return auth.session_json(v_user, v_session.id, v_new);
end $$;

-- The caller of /user, /logout: the JWT's user and session must still exist.
create function auth.caller(p_user_id uuid, p_session_id uuid) returns auth.users
  language plpgsql stable
as $$
declare
  v_user auth.users;
begin
  select * into v_user from auth.users where id = p_user_id;
  if not found then
    raise exception 'User from sub claim in JWT does not exist' using errcode = 'LMU09';
  end if;
  if p_session_id is not null and not exists (select 1 from auth.sessions where id = p_session_id) then
    raise exception 'Session from session_id claim in JWT does not exist' using errcode = 'LMU08';
  end if;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMU15';
  end if;
  return v_user;
end $$;

create function auth.logout(p_user_id uuid, p_session_id uuid, p_scope text, p_ip text) returns void
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, null);
begin
  if p_scope = 'local' then
    delete from auth.sessions where id = p_session_id;
  elsif p_scope = 'others' then
    delete from auth.sessions where user_id = p_user_id and id is distinct from p_session_id;
  else
    delete from auth.sessions where user_id = p_user_id;
  end if;
  perform auth.audit(v_user, 'logout', 'account', p_ip, jsonb_build_object('scope', p_scope));
end $$;

-- Records a one-time token (its hash) for a user and the email that carries it, in one step. Refuses when the
-- same kind of email went to this user less than p_max_frequency seconds ago (GoTrue's smtp_max_frequency).
create function auth.issue_token(p_user auth.users, p_type auth.one_time_token_type, p_token_hash text,
                                 p_relates_to text, p_email jsonb, p_max_frequency integer) returns bigint
  language plpgsql volatile
as $$
declare
  v_last timestamptz;
  v_id bigint;
begin
  v_last := case p_type
    when 'confirmation_token' then p_user.confirmation_sent_at
    when 'recovery_token' then p_user.recovery_sent_at
    when 'email_change_token_new' then p_user.email_change_sent_at
    when 'reauthentication_token' then p_user.reauthentication_sent_at
    else null end;
  if v_last is not null and p_max_frequency > 0 and v_last > now() - make_interval(secs => p_max_frequency) then
    raise exception 'For security purposes, you can only request this after % seconds.',
      ceil(extract(epoch from (v_last + make_interval(secs => p_max_frequency) - now())))::integer
      using errcode = 'LMU14';
  end if;
  insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to)
    values (p_user.id, p_type, p_token_hash, p_relates_to)
    on conflict (user_id, token_type) do update
      set token_hash = excluded.token_hash, relates_to = excluded.relates_to, created_at = now(), updated_at = now();
  if p_type = 'confirmation_token' then
    update auth.users set confirmation_token = p_token_hash, confirmation_sent_at = now() where id = p_user.id;
  elsif p_type = 'recovery_token' then
    update auth.users set recovery_token = p_token_hash, recovery_sent_at = now() where id = p_user.id;
  elsif p_type = 'reauthentication_token' then
    update auth.users set reauthentication_token = p_token_hash, reauthentication_sent_at = now() where id = p_user.id;
  elsif p_type = 'email_change_token_new' then
    update auth.users set email_change_token_new = p_token_hash, email_change = p_relates_to,
      email_change_sent_at = now(), email_change_confirm_status = 0 where id = p_user.id;
  end if;
  if jsonb_typeof(p_email) = 'object' then
    insert into auth.email_outbox (user_id, kind, to_address, subject, body_html)
      values (p_user.id, p_email ->> 'kind', p_relates_to, p_email ->> 'subject', p_email ->> 'body')
      returning id into v_id;
  end if;
  return v_id;
end $$;

-- A PKCE flow: the challenge is kept; after verification the user gets a code exchangeable once with the
-- matching verifier.
create function auth.start_flow(p_user_id uuid, p_pkce jsonb, p_method text) returns void
  language sql volatile
as $$
  insert into auth.flow_state (user_id, auth_code, code_challenge_method, code_challenge, provider_type, authentication_method)
  select p_user_id, gen_random_uuid()::text, (p_pkce ->> 'method')::auth.code_challenge_method,
         p_pkce ->> 'challenge', 'email', p_method
  where jsonb_typeof(p_pkce) = 'object'
$$;

-- Sign-up with email and password. p: email, password_hash, data, autoconfirm, token_hash, email_message
-- (the rendered confirmation email), max_frequency, pkce, ip, user_agent. Returns {user} or {user, session...} or
-- {obfuscated: true} when a confirmed user exists and confirmation is on (so sign-up does not reveal accounts).
create function auth.signup(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_email text := lower(trim(p ->> 'email'));
  v_user auth.users;
  v_id bigint;
  v_autoconfirm boolean := (p ->> 'autoconfirm')::boolean;
begin
  select * into v_user from auth.users u where lower(u.email) = v_email and not u.is_sso_user;
  if found then
    if v_user.email_confirmed_at is not null or v_autoconfirm then
      if v_autoconfirm then
        raise exception 'User already registered' using errcode = 'LMU01';
      end if;
      return jsonb_build_object('obfuscated', true);
    end if;
    -- Not confirmed yet: the confirmation is sent again. The password stays the first one: letting a second
    -- sign-up replace it would let anyone take over the account its owner is about to confirm.
  else
    begin
      insert into auth.users (instance_id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data,
                              email_confirmed_at)
        values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', v_email, p ->> 'password_hash',
                '{"provider": "email", "providers": ["email"]}', coalesce(p -> 'data', '{}'),
                case when v_autoconfirm then now() end)
        returning * into v_user;
    exception when unique_violation then
      -- Two sign-ups of one address at the same moment: the loser hears what a later one would.
      raise exception 'User already registered' using errcode = 'LMU01';
    end;
    insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
      values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'email', v_email,
              'email_verified', v_autoconfirm, 'phone_verified', false), 'email', now());
    perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', '{"provider": "email"}');
  end if;
  if v_autoconfirm then
    return auth.start_session(v_user.id, 'password', p ->> 'ip', p ->> 'user_agent');
  end if;
  v_id := auth.issue_token(v_user, 'confirmation_token', p ->> 'token_hash', v_email,
                           (p -> 'email_message') || '{"kind": "confirmation"}', (p ->> 'max_frequency')::integer);
  perform auth.start_flow(v_user.id, p -> 'pkce', 'email/signup');
  select * into v_user from auth.users where id = v_user.id;
  return jsonb_build_object('user', auth.user_json(v_user), 'email_id', v_id);
end $$;

create function auth.signup_anonymous(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
begin
  insert into auth.users (instance_id, aud, role, raw_app_meta_data, raw_user_meta_data, is_anonymous)
    values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated',
            '{"provider": "anonymous", "providers": ["anonymous"]}', coalesce(p -> 'data', '{}'), true)
    returning * into v_user;
  perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', '{"provider": "anonymous"}');
  return auth.start_session(v_user.id, 'anonymous', p ->> 'ip', p ->> 'user_agent');
end $$;

-- A one-time token by email: recovery (/recover), magic link and email OTP (/otp), resend (/resend),
-- invite. p: email, type ('recovery' | 'magiclink' | 'signup' | 'email_change' | 'invite'), token_hash,
-- emails (rendered, by the type finally used: a magic link to a new user is a sign-up), max_frequency, pkce, create_user, data. Unknown emails do nothing and say nothing, except
-- that /otp with create_user signs them up. Returns {sent: bool, email_id}.
create function auth.send_token(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_email text := lower(trim(p ->> 'email'));
  v_type text := p ->> 'type';
  v_user auth.users;
  v_id bigint;
  v_token_type auth.one_time_token_type;
begin
  select * into v_user from auth.users u where lower(u.email) = v_email and not u.is_sso_user and u.deleted_at is null;
  if not found and v_type = 'email_change' then
    select * into v_user from auth.users u where lower(u.email_change) = v_email;
  end if;
  if not found then
    if v_type = 'magiclink' and coalesce((p ->> 'create_user')::boolean, false) then
      insert into auth.users (instance_id, aud, role, email, raw_app_meta_data, raw_user_meta_data)
        values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', v_email,
                '{"provider": "email", "providers": ["email"]}', coalesce(p -> 'data', '{}'))
        returning * into v_user;
      insert into auth.identities (provider_id, user_id, identity_data, provider)
        values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'email', v_email,
                'email_verified', false, 'phone_verified', false), 'email');
      perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', '{"provider": "email"}');
      v_type := 'signup';
    elsif v_type = 'invite' then
      insert into auth.users (instance_id, aud, role, email, raw_app_meta_data, raw_user_meta_data, invited_at)
        values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', v_email,
                '{"provider": "email", "providers": ["email"]}', coalesce(p -> 'data', '{}'), now())
        returning * into v_user;
      insert into auth.identities (provider_id, user_id, identity_data, provider)
        values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'email', v_email,
                'email_verified', false, 'phone_verified', false), 'email');
      perform auth.audit(v_user, 'user_invited', 'team', p ->> 'ip', '{"provider": "email"}');
    else
      return jsonb_build_object('sent', false, 'found', false);
    end if;
  elsif v_type = 'invite' then
    if v_user.email_confirmed_at is not null then
      raise exception 'A user with this email address has already been registered' using errcode = 'LMU02';
    end if;
    update auth.users set invited_at = now() where id = v_user.id returning * into v_user;
  elsif v_type = 'magiclink' and v_user.email_confirmed_at is null then
    -- An unconfirmed user signing in by link confirms their address with it.
    v_type := 'signup';
  elsif v_type = 'signup' and v_user.email_confirmed_at is not null then
    return jsonb_build_object('sent', false);
  end if;

  v_token_type := case v_type when 'recovery' then 'recovery_token' when 'magiclink' then 'recovery_token'
                              when 'email_change' then 'email_change_token_new' else 'confirmation_token' end;
  v_id := auth.issue_token(v_user, v_token_type, p ->> 'token_hash',
            case when v_type = 'email_change' then v_user.email_change else v_email end,
            case when p -> 'emails' -> v_type is null then null
                 else (p -> 'emails' -> v_type) || jsonb_build_object('kind', v_type) end,
            (p ->> 'max_frequency')::integer);
  perform auth.start_flow(v_user.id, p -> 'pkce', case v_type when 'signup' then 'email/signup'
                                                          when 'magiclink' then 'magiclink' else v_type end);
  if v_type = 'recovery' then perform auth.audit(v_user, 'user_recovery_requested', 'user', p ->> 'ip'); end if;
  select * into v_user from auth.users where id = v_user.id;
  return jsonb_build_object('sent', true, 'email_id', v_id, 'type', v_type, 'user', auth.user_json(v_user));
end $$;

-- Verification of a one-time token (link or OTP). p: type, token_hash (one or more candidate hashes in
-- `hashes`), otp_exp, pkce (true when the link belongs to a PKCE flow). Confirms what the token stands for, then
-- either starts a session or, in a PKCE flow, returns the code to exchange.
create function auth.verify(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_type text := p ->> 'type';
  v_types auth.one_time_token_type[];
  v_ott auth.one_time_tokens;
  v_user auth.users;
  v_sent timestamptz;
  v_method text;
  v_code text;
  v_message text := case when (p ->> 'link')::boolean then 'Email link is invalid or has expired'
                         else 'Token has expired or is invalid' end;
begin
  v_types := case v_type
    when 'signup' then array['confirmation_token']
    when 'invite' then array['confirmation_token']
    when 'recovery' then array['recovery_token']
    when 'magiclink' then array['recovery_token', 'confirmation_token']
    when 'email' then array['confirmation_token', 'recovery_token']
    when 'email_change' then array['email_change_token_new', 'email_change_token_current']
  end::auth.one_time_token_type[];
  if v_types is null then
    raise exception 'Unsupported verification type' using errcode = 'LMU18';
  end if;
  select t.* into v_ott from auth.one_time_tokens t
    where t.token_hash in (select jsonb_array_elements_text(p -> 'hashes')) and t.token_type = any (v_types)
      and (p ->> 'email' is null or lower(t.relates_to) = lower(p ->> 'email'))
    limit 1 for update;
  if not found then
    raise exception '%', v_message using errcode = 'LMU06';
  end if;
  select * into v_user from auth.users where id = v_ott.user_id for update;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMU15';
  end if;
  v_sent := case v_ott.token_type when 'confirmation_token' then v_user.confirmation_sent_at
                                  when 'recovery_token' then v_user.recovery_sent_at
                                  else v_user.email_change_sent_at end;
  if v_sent is null or v_sent + make_interval(secs => (p ->> 'otp_exp')::integer) < now() then
    raise exception '%', v_message using errcode = 'LMU06';
  end if;
  delete from auth.one_time_tokens where id = v_ott.id;

  if v_ott.token_type = 'confirmation_token' then
    update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()), confirmation_token = '',
      updated_at = now() where id = v_user.id;
    update auth.identities set identity_data = identity_data || '{"email_verified": true}'
      where user_id = v_user.id and provider = 'email';
    v_method := case when v_user.invited_at is not null and v_user.email_confirmed_at is null then 'invite'
                     when v_type in ('email', 'magiclink') then 'otp' else 'email/signup' end;
    perform auth.audit(v_user, case when v_method = 'invite' then 'invite_accepted' else 'user_signedup' end, 'user', p ->> 'ip');
  elsif v_ott.token_type = 'recovery_token' then
    update auth.users set recovery_token = '', email_confirmed_at = coalesce(email_confirmed_at, now()),
      updated_at = now() where id = v_user.id;
    v_method := case when v_type = 'recovery' then 'recovery' else 'otp' end;
  else
    update auth.users set email = email_change, email_change = '', email_change_token_new = '', is_anonymous = false,
      email_change_token_current = '', email_change_confirm_status = 0, updated_at = now() where id = v_user.id;
    update auth.identities set identity_data = identity_data || jsonb_build_object('email', v_user.email_change)
      where user_id = v_user.id and provider = 'email';
    v_method := 'email_change';
    perform auth.audit(v_user, 'user_modified', 'user', p ->> 'ip');
  end if;

  if (p ->> 'pkce')::boolean then
    update auth.flow_state f set auth_code_issued_at = now(), updated_at = now()
      where f.id = (select id from auth.flow_state where user_id = v_user.id order by created_at desc limit 1)
      returning auth_code into v_code;
    if v_code is null then
      raise exception 'No associated flow state found.' using errcode = 'LMU10';
    end if;
    return jsonb_build_object('code', v_code, 'type', v_type);
  end if;
  return auth.start_session(v_user.id, v_method, p ->> 'ip', p ->> 'user_agent') || jsonb_build_object('type', v_type);
end $$;

-- PKCE exchange: the code once, with the verifier whose SHA-256 (base64url) is the stored challenge.
create function auth.exchange_code(p_code text, p_verifier text, p_ip text, p_user_agent text) returns jsonb
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
  return auth.start_session(v_flow.user_id, v_flow.authentication_method, p_ip, p_user_agent);
end $$;

-- GET /reauthenticate: a code by email that a password change may require (security_update_password_require_
-- reauthentication). p: token_hash, email_message, max_frequency.
create function auth.reauthenticate(p_user_id uuid, p_session_id uuid, p jsonb) returns bigint
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
begin
  if coalesce(v_user.email, '') = '' then
    raise exception 'Reauthentication requires the user to have an email or a phone number' using errcode = 'LMU18';
  end if;
  if v_user.email_confirmed_at is null then
    raise exception 'Please verify your email first.' using errcode = 'LMU27';
  end if;
  return auth.issue_token(v_user, 'reauthentication_token', p ->> 'token_hash', v_user.email,
                          (p -> 'email_message') || '{"kind": "reauthentication"}', (p ->> 'max_frequency')::integer);
end $$;

-- PUT /user and PUT /admin/users/{id}. p: password_hash, data (merged into user_metadata; null values remove
-- keys), app_metadata (admin only), email + email_confirm (admin, or autoconfirm) or email_token_hash +
-- email_message (a confirmation to the new address), role, ban_until (admin). Returns {user, email_id}.
create function auth.update_user(p_user_id uuid, p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_id bigint;
  v_email text := lower(trim(p ->> 'email'));
begin
  select * into v_user from auth.users where id = p_user_id for update;
  if not found then
    raise exception 'User not found' using errcode = 'LMU07';
  end if;
  if v_email is not null and v_email is distinct from lower(v_user.email) then
    if exists (select 1 from auth.users where lower(email) = v_email and id <> p_user_id and not is_sso_user) then
      raise exception 'A user with this email address has already been registered' using errcode = 'LMU02';
    end if;
    if coalesce((p ->> 'email_confirm')::boolean, false) then
      update auth.users set email = v_email, email_confirmed_at = coalesce(email_confirmed_at, now()),
        is_anonymous = false where id = p_user_id;
      update auth.identities set identity_data = identity_data || jsonb_build_object('email', v_email)
        where user_id = p_user_id and provider = 'email';
      if not found then
        insert into auth.identities (provider_id, user_id, identity_data, provider)
          values (p_user_id::text, p_user_id, jsonb_build_object('sub', p_user_id::text, 'email', v_email,
                  'email_verified', true, 'phone_verified', false), 'email');
        update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}')
          || '{"provider": "email", "providers": ["email"]}' where id = p_user_id;
      end if;
    elsif p ? 'email_token_hash' then
      v_id := auth.issue_token(v_user, 'email_change_token_new', p ->> 'email_token_hash', v_email,
                               (p -> 'email_message') || '{"kind": "email_change"}', (p ->> 'max_frequency')::integer);
    end if;
  end if;
  if p ? 'nonce_hash' then
    if coalesce(v_user.reauthentication_token, '') = '' or v_user.reauthentication_token <> p ->> 'nonce_hash'
       or v_user.reauthentication_sent_at + make_interval(secs => (p ->> 'otp_exp')::integer) < now() then
      raise exception 'Nonce has expired or is invalid' using errcode = 'LMU28';
    end if;
    update auth.users set reauthentication_token = '' where id = p_user_id;
    delete from auth.one_time_tokens where user_id = p_user_id and token_type = 'reauthentication_token';
  end if;
  if p ? 'password_hash' then
    update auth.users set encrypted_password = p ->> 'password_hash' where id = p_user_id;
    perform auth.audit(v_user, 'user_updated_password', 'user', p ->> 'ip');
  end if;
  if p ? 'data' then
    update auth.users set raw_user_meta_data = jsonb_strip_nulls(coalesce(raw_user_meta_data, '{}') || (p -> 'data'))
      where id = p_user_id;
  end if;
  if p ? 'app_metadata' then
    update auth.users set raw_app_meta_data = jsonb_strip_nulls(coalesce(raw_app_meta_data, '{}') || (p -> 'app_metadata'))
      where id = p_user_id;
  end if;
  if p ? 'role' then
    update auth.users set role = p ->> 'role' where id = p_user_id;
  end if;
  if p ? 'email_confirm' and (p ->> 'email_confirm')::boolean then
    update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = p_user_id;
  end if;
  if p ? 'ban_until' then
    -- Sessions stay; every use of them (refresh, /user) is refused while the ban lasts, as in GoTrue.
    update auth.users set banned_until = (p ->> 'ban_until')::timestamptz where id = p_user_id;
  end if;
  update auth.users set updated_at = now() where id = p_user_id returning * into v_user;
  perform auth.audit(v_user, 'user_modified', 'user', p ->> 'ip');
  return jsonb_build_object('user', auth.user_json(v_user), 'email_id', v_id);
end $$;

-- POST /admin/users. p: email, password_hash, email_confirm, user_metadata, app_metadata, role, id, ban_until.
create function auth.admin_create_user(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_email text := lower(trim(p ->> 'email'));
  v_user auth.users;
begin
  if exists (select 1 from auth.users where lower(email) = v_email and not is_sso_user) then
    raise exception 'A user with this email address has already been registered' using errcode = 'LMU02';
  end if;
  insert into auth.users (id, instance_id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data,
                          email_confirmed_at, banned_until)
    values (coalesce((p ->> 'id')::uuid, gen_random_uuid()), '00000000-0000-0000-0000-000000000000', 'authenticated',
            coalesce(p ->> 'role', 'authenticated'), v_email, p ->> 'password_hash',
            '{"provider": "email", "providers": ["email"]}'::jsonb || coalesce(p -> 'app_metadata', '{}'),
            coalesce(p -> 'user_metadata', '{}'),
            case when coalesce((p ->> 'email_confirm')::boolean, false) then now() end,
            (p ->> 'ban_until')::timestamptz)
    returning * into v_user;
  insert into auth.identities (provider_id, user_id, identity_data, provider)
    values (v_user.id::text, v_user.id, jsonb_build_object('sub', v_user.id::text, 'email', v_email,
            'email_verified', v_user.email_confirmed_at is not null, 'phone_verified', false), 'email');
  perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', '{"provider": "email"}');
  return auth.user_json(v_user);
end $$;

create function auth.admin_list_users(p_page integer, p_per_page integer) returns jsonb
  language sql stable
as $$
  select jsonb_build_object(
    'total', (select count(*) from auth.users),
    'users', coalesce((select jsonb_agg(auth.user_json(u) order by u.created_at desc, u.id)
      from (select * from auth.users order by created_at desc, id limit p_per_page offset (p_page - 1) * p_per_page) u), '[]'))
$$;

create function auth.admin_get_user(p_user_id uuid) returns jsonb
  language plpgsql stable
as $$
declare
  v_user auth.users;
begin
  select * into v_user from auth.users where id = p_user_id;
  if not found then
    raise exception 'User not found' using errcode = 'LMU07';
  end if;
  return auth.user_json(v_user);
end $$;

create function auth.admin_delete_user(p_user_id uuid, p_soft boolean, p_ip text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
begin
  select * into v_user from auth.users where id = p_user_id for update;
  if not found then
    raise exception 'User not found' using errcode = 'LMU07';
  end if;
  perform auth.audit(v_user, 'user_deleted', 'team', p_ip);
  if p_soft then
    -- GoTrue's soft delete: the row stays (foreign keys keep pointing at it) but can no longer sign in.
    delete from auth.sessions where user_id = p_user_id;
    delete from auth.identities where user_id = p_user_id;
    update auth.users set deleted_at = now(), email = null, encrypted_password = null, phone = null,
      raw_app_meta_data = '{}', raw_user_meta_data = '{}' where id = p_user_id returning * into v_user;
  else
    delete from auth.users where id = p_user_id;
  end if;
  return auth.user_json(v_user);
end $$;

-- MFA (TOTP). The API generates secrets and checks codes (HMAC in Node); these functions keep the state.
-- Enrollment: GoTrue's limits (10 factors, name unique per user, AAL2 needed once a factor is verified).
create function auth.mfa_enroll(p_user_id uuid, p_session_id uuid, p_friendly_name text, p_secret text, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_factor auth.mfa_factors;
begin
  -- Unverified factors older than a day are abandoned enrollments.
  delete from auth.mfa_factors where user_id = p_user_id and status = 'unverified' and created_at < now() - interval '1 day';
  if exists (select 1 from auth.mfa_factors where user_id = p_user_id and friendly_name = p_friendly_name) then
    raise exception 'A factor with the friendly name "%" for this user already exists', p_friendly_name using errcode = 'LMU21';
  end if;
  if (select count(*) from auth.mfa_factors where user_id = p_user_id) >= 10 then
    raise exception 'Maximum number of verified factors reached, unenroll to continue' using errcode = 'LMU22';
  end if;
  if exists (select 1 from auth.mfa_factors where user_id = p_user_id and status = 'verified')
     and (select aal from auth.sessions where id = p_session_id) is distinct from 'aal2' then
    raise exception 'AAL2 required to enroll a new factor' using errcode = 'LMU23';
  end if;
  insert into auth.mfa_factors (user_id, friendly_name, factor_type, secret)
    values (p_user_id, coalesce(p_friendly_name, ''), 'totp', p_secret) returning * into v_factor;
  perform auth.audit(v_user, 'factor_in_progress', 'factor', p_ip, jsonb_build_object('factor_id', v_factor.id));
  return jsonb_build_object('id', v_factor.id, 'type', 'totp', 'friendly_name', v_factor.friendly_name);
end $$;

create function auth.mfa_factor(p_user_id uuid, p_factor_id uuid) returns auth.mfa_factors
  language plpgsql stable
as $$
declare
  v_factor auth.mfa_factors;
begin
  select * into v_factor from auth.mfa_factors where id = p_factor_id and user_id = p_user_id;
  if not found then
    raise exception 'Factor not found' using errcode = 'LMU20';
  end if;
  return v_factor;
end $$;

create function auth.mfa_challenge(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_ip text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_factor auth.mfa_factors;
  v_challenge auth.mfa_challenges;
begin
  perform auth.caller(p_user_id, p_session_id);
  v_factor := auth.mfa_factor(p_user_id, p_factor_id);
  insert into auth.mfa_challenges (factor_id, ip_address) values (v_factor.id, coalesce(nullif(p_ip, ''), '0.0.0.0')::inet)
    returning * into v_challenge;
  update auth.mfa_factors set last_challenged_at = now() where id = v_factor.id;
  return jsonb_build_object('id', v_challenge.id, 'type', v_factor.factor_type,
    'expires_at', extract(epoch from v_challenge.created_at + interval '300 seconds')::bigint);
end $$;

-- Verification, first half: the secret to check the code against, if the challenge is the factor's and fresh.
create function auth.mfa_challenge_secret(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_challenge_id uuid)
  returns text
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
  return v_factor.secret;
end $$;

-- Verification, second half (the code was right): the factor is verified, the session reaches aal2 with the
-- totp method, and gets a fresh refresh token.
create function auth.mfa_verified(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_challenge_id uuid, p_ip text)
  returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users := auth.caller(p_user_id, p_session_id);
  v_token text := replace(gen_random_uuid()::text, '-', '') || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8);
  v_parent text;
begin
  update auth.mfa_challenges set verified_at = now() where id = p_challenge_id and verified_at is null;
  if not found then
    raise exception 'MFA factor with the provided challenge ID not found' using errcode = 'LMU24';
  end if;
  update auth.mfa_factors set status = 'verified', updated_at = now() where id = p_factor_id;
  update auth.sessions set aal = 'aal2', factor_id = p_factor_id, updated_at = now() where id = p_session_id;
  insert into auth.mfa_amr_claims (session_id, authentication_method) values (p_session_id, 'totp')
    on conflict (session_id, authentication_method) do update set updated_at = now(), created_at = now();
  select token into v_parent from auth.refresh_tokens where session_id = p_session_id and not revoked order by id desc limit 1;
  update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = p_session_id and not revoked;
  insert into auth.refresh_tokens (token, user_id, revoked, parent, session_id) values (v_token, p_user_id, false, v_parent, p_session_id);
  perform auth.audit(v_user, 'verification_attempted', 'factor', p_ip, jsonb_build_object('factor_id', p_factor_id, 'result', 'verified'));
  return auth.session_json(v_user, p_session_id, v_token);
end $$;

create function auth.mfa_unenroll(p_user_id uuid, p_session_id uuid, p_factor_id uuid, p_admin boolean, p_ip text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_factor auth.mfa_factors := auth.mfa_factor(p_user_id, p_factor_id);
begin
  if p_admin then
    select * into v_user from auth.users where id = p_user_id;
  else
    v_user := auth.caller(p_user_id, p_session_id);
    if v_factor.status = 'verified' and (select aal from auth.sessions where id = p_session_id) is distinct from 'aal2' then
      raise exception 'AAL2 required to unenroll verified factor' using errcode = 'LMU26';
    end if;
  end if;
  delete from auth.mfa_factors where id = v_factor.id;
  -- Sessions that reached aal2 with this factor fall back to aal1.
  update auth.sessions set aal = 'aal1', factor_id = null where factor_id = v_factor.id;
  perform auth.audit(v_user, 'factor_unenrolled', 'factor', p_ip, jsonb_build_object('factor_id', v_factor.id));
  return jsonb_build_object('id', v_factor.id);
end $$;

-- The email outbox for the operator and the worker.
create function auth.outbox(p_email text, p_limit integer) returns jsonb
  language sql stable
as $$
  select coalesce(jsonb_agg(to_jsonb(o) order by o.id desc), '[]')
  from (select * from auth.email_outbox where p_email is null or lower(to_address) = lower(p_email)
        order by id desc limit p_limit) o
$$;
