-- Auth (issue 16): SSO with SAML 2.0, as GoTrue does it. GoTrue's tables and names (sso_providers,
-- saml_providers, sso_domains, saml_relay_states), so SQL written for Supabase reads them unchanged, plus
-- saml_used_assertions (Loam's): the IDs of assertions already accepted, so none signs in twice.
-- The API (server/src/auth/sso.ts) parses metadata and verifies assertions; these functions keep the state.

create table auth.sso_providers (
  id uuid primary key default gen_random_uuid(),
  resource_id text check (resource_id is null or char_length(resource_id) > 0),
  disabled boolean,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index sso_providers_resource_id_idx on auth.sso_providers (lower(resource_id));
comment on table auth.sso_providers is 'Auth: Manages SSO identity provider information; see saml_providers for SAML.';

create table auth.saml_providers (
  id uuid primary key default gen_random_uuid(),
  sso_provider_id uuid not null references auth.sso_providers on delete cascade,
  entity_id text not null unique check (char_length(entity_id) > 0),
  metadata_xml text not null check (char_length(metadata_xml) > 0),
  metadata_url text check (metadata_url is null or char_length(metadata_url) > 0),
  attribute_mapping jsonb,
  name_id_format text,
  created_at timestamptz,
  updated_at timestamptz
);
create index saml_providers_sso_provider_id_idx on auth.saml_providers (sso_provider_id);
comment on table auth.saml_providers is 'Auth: Manages SAML Identity Provider connections.';

create table auth.sso_domains (
  id uuid primary key default gen_random_uuid(),
  sso_provider_id uuid not null references auth.sso_providers on delete cascade,
  domain text not null check (char_length(domain) > 0),
  created_at timestamptz,
  updated_at timestamptz
);
create index sso_domains_sso_provider_id_idx on auth.sso_domains (sso_provider_id);
create unique index sso_domains_domain_idx on auth.sso_domains (lower(domain));
comment on table auth.sso_domains is 'Auth: Manages SSO email address domain mapping to an SSO Identity Provider.';

create table auth.saml_relay_states (
  id uuid primary key default gen_random_uuid(),
  sso_provider_id uuid not null references auth.sso_providers on delete cascade,
  request_id text not null check (char_length(request_id) > 0),
  for_email text,
  redirect_to text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  flow_state_id uuid references auth.flow_state on delete cascade
);
create index saml_relay_states_sso_provider_id_idx on auth.saml_relay_states (sso_provider_id);
create index saml_relay_states_created_at_idx on auth.saml_relay_states (created_at desc);
comment on table auth.saml_relay_states is 'Auth: Contains SAML Relay State information for each Service Provider initiated login.';

create table auth.saml_used_assertions (
  id text primary key,
  sso_provider_id uuid not null references auth.sso_providers on delete cascade,
  expires_at timestamptz not null
);
create index saml_used_assertions_expires_at_idx on auth.saml_used_assertions (expires_at);
comment on table auth.saml_used_assertions is 'Auth (Loam): IDs of SAML assertions already accepted, kept until they expire, so a captured response cannot sign in again.';

-- A provider as the admin API returns it (GoTrue's SSOProvider: id, saml, domains, dates); the TypeScript
-- side drops what GoTrue does not show (metadata_xml in lists, the ids Supabase's Management API adds).
create function auth.sso_provider_json(p_id uuid) returns jsonb
  language sql stable
as $$
  select jsonb_strip_nulls(jsonb_build_object('resource_id', s.resource_id))
    || jsonb_build_object(
      'id', s.id, 'disabled', s.disabled,
      'saml', (select jsonb_strip_nulls(jsonb_build_object('metadata_url', sp.metadata_url, 'name_id_format', sp.name_id_format))
                || jsonb_build_object('id', sp.id, 'entity_id', sp.entity_id, 'metadata_xml', sp.metadata_xml,
                     'attribute_mapping', coalesce(sp.attribute_mapping, '{}'))
               from auth.saml_providers sp where sp.sso_provider_id = s.id),
      'domains', coalesce((select jsonb_agg(jsonb_build_object('id', d.id, 'domain', d.domain, 'created_at', d.created_at,
                   'updated_at', d.updated_at) order by d.created_at, d.domain)
                 from auth.sso_domains d where d.sso_provider_id = s.id), '[]'),
      'created_at', s.created_at, 'updated_at', s.updated_at)
  from auth.sso_providers s where s.id = p_id
$$;

create function auth.sso_providers_list(p_resource_id text) returns jsonb
  language sql stable
as $$
  select coalesce(jsonb_agg(auth.sso_provider_json(s.id) order by s.created_at), '[]')
  from auth.sso_providers s where p_resource_id is null or lower(s.resource_id) = lower(p_resource_id)
$$;

-- The provider an admin URL names: a uuid, or `resource_<id>`.
create function auth.sso_provider_get(p_ref text) returns jsonb
  language plpgsql stable
as $$
declare
  v_id uuid;
begin
  if p_ref like 'resource\_%' then
    select id into v_id from auth.sso_providers where lower(resource_id) = lower(substr(p_ref, 10));
  elsif p_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select id into v_id from auth.sso_providers where id = p_ref::uuid;
  end if;
  if v_id is null then
    raise exception 'SSO Identity Provider not found' using errcode = 'LMW03';
  end if;
  return auth.sso_provider_json(v_id);
end $$;

-- Domains of a create or update: each at most once across providers.
create function auth.sso_set_domains(p_provider uuid, p_domains jsonb, p_create boolean) returns void
  language plpgsql volatile
as $$
declare
  v_domain text;
  v_owner uuid;
begin
  for v_domain in select distinct lower(trim(x)) from jsonb_array_elements_text(p_domains) x loop
    if v_domain = '' then
      raise exception 'SSO domain must not be empty' using errcode = 'LMW09';
    end if;
    select sso_provider_id into v_owner from auth.sso_domains where lower(domain) = v_domain;
    if v_owner is not null and v_owner <> p_provider then
      if p_create then
        raise exception 'SSO Domain ''%'' is already assigned to an SSO identity provider (%)', v_domain, v_owner using errcode = 'LMW02';
      end if;
      raise exception 'SSO domain ''%'' already assigned to another provider (%)', v_domain, v_owner using errcode = 'LMW02';
    end if;
  end loop;
  delete from auth.sso_domains where sso_provider_id = p_provider
    and lower(domain) not in (select lower(trim(x)) from jsonb_array_elements_text(p_domains) x);
  insert into auth.sso_domains (sso_provider_id, domain, created_at, updated_at)
    select p_provider, d, now(), now()
    from (select distinct lower(trim(x)) d from jsonb_array_elements_text(p_domains) x) n
    where not exists (select 1 from auth.sso_domains e where e.sso_provider_id = p_provider and lower(e.domain) = n.d);
end $$;

-- POST /admin/sso/providers. p: entity_id, metadata_xml, metadata_url, domains, attribute_mapping,
-- name_id_format, resource_id, disabled (already validated and parsed by the API).
create function auth.sso_provider_create(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_id uuid;
begin
  if exists (select 1 from auth.saml_providers where entity_id = p ->> 'entity_id') then
    raise exception 'SAML Identity Provider with this EntityID (%) already exists', p ->> 'entity_id' using errcode = 'LMW01';
  end if;
  if (select count(*) from auth.sso_providers) >= 100 then
    raise exception 'A project has at most 100 SSO providers' using errcode = 'LMW10';
  end if;
  insert into auth.sso_providers (resource_id, disabled) values (p ->> 'resource_id', (p ->> 'disabled')::boolean)
    returning id into v_id;
  insert into auth.saml_providers (sso_provider_id, entity_id, metadata_xml, metadata_url, attribute_mapping, name_id_format,
                                   created_at, updated_at)
    values (v_id, p ->> 'entity_id', p ->> 'metadata_xml', p ->> 'metadata_url', coalesce(p -> 'attribute_mapping', '{}'),
            nullif(p ->> 'name_id_format', ''), now(), now());
  perform auth.sso_set_domains(v_id, coalesce(p -> 'domains', '[]'), true);
  return auth.sso_provider_json(v_id);
end $$;

-- PUT /admin/sso/providers/{id}: only what p holds changes (GoTrue's rules: the metadata keeps its EntityID,
-- domains given replace the list, name_id_format always takes the given value, '' clearing it).
create function auth.sso_provider_update(p_ref text, p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_id uuid := (auth.sso_provider_get(p_ref) ->> 'id')::uuid;
  v_entity text := (select entity_id from auth.saml_providers where sso_provider_id = v_id);
begin
  if p ? 'entity_id' then
    if p ->> 'entity_id' <> v_entity then
      raise exception 'SAML Metadata can be updated only if the EntityID matches for the provider; expected ''%'' but got ''%''',
        v_entity, p ->> 'entity_id' using errcode = 'LMW08';
    end if;
    update auth.saml_providers set metadata_xml = p ->> 'metadata_xml',
        metadata_url = coalesce(p ->> 'metadata_url', metadata_url), updated_at = now()
      where sso_provider_id = v_id;
  end if;
  if p ? 'domains' then
    perform auth.sso_set_domains(v_id, p -> 'domains', false);
  end if;
  if p ? 'attribute_mapping' then
    update auth.saml_providers set attribute_mapping = p -> 'attribute_mapping', updated_at = now() where sso_provider_id = v_id;
  end if;
  update auth.saml_providers set name_id_format = nullif(p ->> 'name_id_format', '') where sso_provider_id = v_id
    and name_id_format is distinct from nullif(p ->> 'name_id_format', '');
  update auth.sso_providers set
      resource_id = case when p ? 'resource_id' then nullif(p ->> 'resource_id', '') else resource_id end,
      disabled = case when p ? 'disabled' then (p ->> 'disabled')::boolean else disabled end,
      updated_at = now()
    where id = v_id;
  return auth.sso_provider_json(v_id);
end $$;

create function auth.sso_provider_delete(p_ref text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_json jsonb := auth.sso_provider_get(p_ref);
begin
  delete from auth.sso_providers where id = (v_json ->> 'id')::uuid;
  return v_json;
end $$;

-- POST /sso: the provider by id or by (email) domain, and the relay state of the AuthnRequest the API is about
-- to send (its id and request id are made by the API: the request is signed with them). A PKCE flow gets a
-- flow_state row too. p: provider_id | domain, relay_state_id, request_id, redirect_to, pkce.
create function auth.sso_start(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_provider auth.sso_providers;
  v_saml auth.saml_providers;
  v_flow uuid;
begin
  if p ->> 'provider_id' is not null then
    select * into v_provider from auth.sso_providers where id = (p ->> 'provider_id')::uuid;
    if not found then
      raise exception 'No such SSO provider' using errcode = 'LMW03';
    end if;
  else
    select s.* into v_provider from auth.sso_providers s join auth.sso_domains d on d.sso_provider_id = s.id
      where lower(d.domain) = lower(trim(p ->> 'domain'));
    if not found then
      raise exception 'No SSO provider assigned for this domain' using errcode = 'LMW03';
    end if;
  end if;
  if v_provider.disabled then
    raise exception 'SSO Provider is currently disabled' using errcode = 'LMW04';
  end if;
  select * into v_saml from auth.saml_providers where sso_provider_id = v_provider.id;
  delete from auth.saml_relay_states where created_at < now() - interval '1 day';
  if p -> 'pkce' is not null and jsonb_typeof(p -> 'pkce') = 'object' then
    insert into auth.flow_state (provider_type, authentication_method, code_challenge, code_challenge_method, referrer)
      values ('sso/saml', 'sso/saml', p -> 'pkce' ->> 'challenge', (p -> 'pkce' ->> 'method')::auth.code_challenge_method,
              p ->> 'redirect_to')
      returning id into v_flow;
  end if;
  insert into auth.saml_relay_states (id, sso_provider_id, request_id, redirect_to, flow_state_id)
    values ((p ->> 'relay_state_id')::uuid, v_provider.id, p ->> 'request_id', p ->> 'redirect_to', v_flow);
  return jsonb_build_object('provider_id', v_provider.id, 'entity_id', v_saml.entity_id, 'metadata_xml', v_saml.metadata_xml,
    'name_id_format', v_saml.name_id_format);
end $$;

-- The ACS's first step for an SP-initiated response: the relay state, consumed (a second response naming it
-- finds nothing), with its provider. Relay states live 2 minutes, as GoTrue's default validity period.
create function auth.saml_relay_state_take(p_id uuid) returns jsonb
  language plpgsql volatile
as $$
declare
  v_state auth.saml_relay_states;
begin
  delete from auth.saml_relay_states where id = p_id returning * into v_state;
  if not found then
    raise exception 'SAML RelayState does not exist, try logging in again?' using errcode = 'LMW05';
  end if;
  if v_state.created_at < now() - interval '2 minutes' then
    -- The raise undoes the delete; the state is useless anyway, and /sso's cleanup removes it after a day.
    raise exception 'SAML RelayState has expired. Try logging in again?' using errcode = 'LMW06';
  end if;
  if (select disabled from auth.sso_providers where id = v_state.sso_provider_id) then
    raise exception 'SSO Provider assigned for this domain is currently disabled' using errcode = 'LMW04';
  end if;
  return jsonb_build_object('provider_id', v_state.sso_provider_id, 'request_id', v_state.request_id,
    'redirect_to', v_state.redirect_to, 'flow_state_id', v_state.flow_state_id)
    || (select jsonb_build_object('entity_id', sp.entity_id, 'metadata_xml', sp.metadata_xml,
          'attribute_mapping', coalesce(sp.attribute_mapping, '{}'))
        from auth.saml_providers sp where sp.sso_provider_id = v_state.sso_provider_id);
end $$;

-- An IdP-initiated response names its IdP by the Issuer: the provider with that EntityID.
create function auth.saml_provider_by_entity(p_entity_id text) returns jsonb
  language plpgsql stable
as $$
declare
  v_saml auth.saml_providers;
begin
  select * into v_saml from auth.saml_providers where entity_id = p_entity_id;
  if not found then
    raise exception 'A SAML connection has not been established with this Identity Provider' using errcode = 'LMW07';
  end if;
  if (select disabled from auth.sso_providers where id = v_saml.sso_provider_id) then
    raise exception 'SSO Provider assigned for this domain is currently disabled' using errcode = 'LMW04';
  end if;
  return jsonb_build_object('provider_id', v_saml.sso_provider_id, 'entity_id', v_saml.entity_id,
    'metadata_xml', v_saml.metadata_xml, 'attribute_mapping', coalesce(v_saml.attribute_mapping, '{}'));
end $$;

-- Signs in (or up) the subject of a verified assertion, as GoTrue's SAML ACS: the identity's provider is
-- `sso:<provider id>`, accounts link only within that provider (never to a non-SSO account of the same
-- address), users made here are SSO users. p: provider_id, sub, email, identity_data, assertion_id,
-- assertion_expires_at, flow_state_id, session_not_after, disable_signup, ip, user_agent.
-- Returns {code} for a PKCE flow, else a session.
create function auth.sso_signin(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_provider text := 'sso:' || (p ->> 'provider_id');
  v_email text := lower(trim(p ->> 'email'));
  v_data jsonb := coalesce(p -> 'identity_data', '{}');
  v_identity auth.identities;
  v_user auth.users;
  v_flow auth.flow_state;
  v_session jsonb;
begin
  delete from auth.saml_used_assertions where expires_at < now() - interval '5 minutes';
  insert into auth.saml_used_assertions (id, sso_provider_id, expires_at)
    values (p ->> 'assertion_id', (p ->> 'provider_id')::uuid, coalesce((p ->> 'assertion_expires_at')::timestamptz, now() + interval '1 day'))
    on conflict (id) do nothing;
  if not found then
    raise exception 'SAML Assertion has already been used' using errcode = 'LMW11';
  end if;
  select * into v_identity from auth.identities where provider = v_provider and provider_id = p ->> 'sub' for update;
  if found then
    select * into v_user from auth.users where id = v_identity.user_id for update;
  else
    -- GoTrue's linking domain of an SSO provider is the provider itself.
    select u.* into v_user from auth.users u
      where u.id = (select i.user_id from auth.identities i where i.provider = v_provider and i.email = v_email limit 1)
      for update;
  end if;
  if v_user.id is null then
    if coalesce((p ->> 'disable_signup')::boolean, false) then
      raise exception 'Signups not allowed for this instance' using errcode = 'LMU40';
    end if;
    insert into auth.users (instance_id, aud, role, email, raw_app_meta_data, raw_user_meta_data, email_confirmed_at, is_sso_user)
      values ('00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', v_email,
              jsonb_build_object('provider', v_provider, 'providers', jsonb_build_array(v_provider)), v_data, now(), true)
      returning * into v_user;
    perform auth.audit(v_user, 'user_signedup', 'team', p ->> 'ip', jsonb_build_object('provider', v_provider));
  end if;
  if v_user.banned_until > now() then
    raise exception 'User is banned' using errcode = 'LMU15';
  end if;
  if v_identity.id is null then
    insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
      values (p ->> 'sub', v_user.id, v_data, v_provider, now());
  else
    update auth.identities set identity_data = v_data, last_sign_in_at = now(), updated_at = now() where id = v_identity.id;
  end if;
  update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}') || v_data,
      raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || jsonb_build_object('providers',
        (select jsonb_agg(distinct i.provider) from auth.identities i where i.user_id = v_user.id)),
      updated_at = now()
    where id = v_user.id;
  if p ->> 'flow_state_id' is not null then
    select * into v_flow from auth.flow_state where id = (p ->> 'flow_state_id')::uuid for update;
    if not found or v_flow.user_id is not null then
      raise exception 'State has already been used' using errcode = 'LMW12';
    end if;
    update auth.flow_state set user_id = v_user.id, auth_code = gen_random_uuid()::text, auth_code_issued_at = now(),
        updated_at = now()
      where id = v_flow.id returning * into v_flow;
    return jsonb_build_object('code', v_flow.auth_code);
  end if;
  v_session := auth.start_session(v_user.id, 'sso/saml', p ->> 'ip', p ->> 'user_agent');
  if p ->> 'session_not_after' is not null then
    update auth.sessions set not_after = (p ->> 'session_not_after')::timestamptz where id = (v_session ->> 'session_id')::uuid;
  end if;
  return v_session;
end $$;
