-- A project's API keys, JWT signing keys and trusted third-party issuers (tables in migration 0016). Every
-- function checks membership through platform.project_for_member and tells every API process to drop its cached
-- keyring (NOTIFY loam_project_changed), so a deleted key or a revoked signing key stops working at once.

-- ---------------------------------------------------------------------------------------------- API keys

create or replace function platform.api_keys(p_ref text)
  returns setof platform_private.api_keys
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select * from platform_private.api_keys k where k.project_id = v_project.id order by k.inserted_at, k.id;
end $$;
comment on function platform.api_keys(text) is 'The new API keys (publishable, secret) of a project the caller is a member of.';

create or replace function platform.legacy_api_keys_enabled(p_ref text) returns boolean
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return (select s.legacy_api_keys_enabled from platform_private.project_secrets s where s.project_id = v_project.id);
end $$;
comment on function platform.legacy_api_keys_enabled(text) is 'Whether the legacy JWT keys (anon, service_role) of the project are accepted.';

create or replace function platform.set_legacy_api_keys(p_ref text, p_enabled boolean) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  update platform_private.project_secrets set legacy_api_keys_enabled = p_enabled where project_id = v_project.id;
  perform pg_notify('loam_project_changed', p_ref);
  return p_enabled;
end $$;
comment on function platform.set_legacy_api_keys(text, boolean) is 'Turns the legacy JWT keys of the project on or off.';

create or replace function platform.create_api_key(p_ref text, p_id uuid, p_type text, p_name text, p_description text,
                                                    p_prefix text, p_hash text, p_sealed text, p_template jsonb)
  returns platform_private.api_keys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_key platform_private.api_keys;
begin
  if (select count(*) from platform_private.api_keys k where k.project_id = v_project.id) >= 50 then
    raise exception 'A project has at most 50 API keys' using errcode = 'LMQ70';
  end if;
  if exists (select 1 from platform_private.api_keys k where k.project_id = v_project.id and k.name = p_name) then
    raise exception 'An API key named % already exists', p_name using errcode = 'LMT70';
  end if;
  insert into platform_private.api_keys (id, project_id, type, name, description, prefix, hash, key_sealed, secret_jwt_template)
    values (p_id, v_project.id, p_type, p_name, p_description, p_prefix, p_hash, p_sealed, p_template) returning * into v_key;
  perform pg_notify('loam_project_changed', p_ref);
  return v_key;
end $$;
comment on function platform.create_api_key(text, uuid, text, text, text, text, text, text, jsonb) is 'Records a new API key (made and sealed by the API process).';

create or replace function platform.update_api_key(p_ref text, p_id uuid, p_name text, p_description text, p_template jsonb, p_set_template boolean)
  returns platform_private.api_keys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_key platform_private.api_keys;
begin
  if p_name is not null and exists (select 1 from platform_private.api_keys k
                                     where k.project_id = v_project.id and k.name = p_name and k.id <> p_id) then
    raise exception 'An API key named % already exists', p_name using errcode = 'LMT70';
  end if;
  update platform_private.api_keys k set name = coalesce(p_name, k.name), description = coalesce(p_description, k.description),
      secret_jwt_template = case when p_set_template and k.type = 'secret' then p_template else k.secret_jwt_template end,
      updated_at = now()
    where k.id = p_id and k.project_id = v_project.id returning * into v_key;
  if not found then raise exception 'API key not found' using errcode = 'LMN70'; end if;
  perform pg_notify('loam_project_changed', p_ref);
  return v_key;
end $$;
comment on function platform.update_api_key(text, uuid, text, text, jsonb, boolean) is 'Renames an API key or changes its description or JWT template.';

create or replace function platform.delete_api_key(p_ref text, p_id uuid)
  returns platform_private.api_keys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_key platform_private.api_keys;
begin
  delete from platform_private.api_keys k where k.id = p_id and k.project_id = v_project.id returning * into v_key;
  if not found then raise exception 'API key not found' using errcode = 'LMN70'; end if;
  perform pg_notify('loam_project_changed', p_ref);
  return v_key;
end $$;
comment on function platform.delete_api_key(text, uuid) is 'Deletes an API key; every API process stops accepting it.';

-- ------------------------------------------------------------------------------------------ signing keys

-- The legacy HS256 secret as a signing key row: made the first time signing keys are looked at, in use unless
-- another key already is.
create or replace function platform_private.ensure_legacy_signing_key(p_project_id bigint) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  insert into platform_private.signing_keys (project_id, algorithm, status, legacy, created_at, updated_at)
  select p_project_id, 'HS256',
         case when exists (select 1 from platform_private.signing_keys k where k.project_id = p_project_id and k.status = 'in_use')
              then 'previously_used' else 'in_use' end,
         true, coalesce(s.jwt_secret_created_at, now()), coalesce(s.jwt_secret_created_at, now())
    from platform_private.project_secrets s
   where s.project_id = p_project_id and s.jwt_secret is not null
     and not exists (select 1 from platform_private.signing_keys k where k.project_id = p_project_id and k.legacy)
$$;

create or replace function platform.signing_keys(p_ref text)
  returns table (id uuid, algorithm text, status text, legacy boolean, public_jwk jsonb, created_at timestamptz, updated_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  perform platform_private.ensure_legacy_signing_key(v_project.id);
  return query select k.id, k.algorithm, k.status, k.legacy, k.public_jwk, k.created_at, k.updated_at
    from platform_private.signing_keys k where k.project_id = v_project.id
    order by case k.status when 'in_use' then 0 when 'standby' then 1 when 'previously_used' then 2 else 3 end, k.created_at, k.id;
end $$;
comment on function platform.signing_keys(text) is 'The JWT signing keys of a project (public parts only), the legacy secret included.';

create or replace function platform.create_signing_key(p_ref text, p_id uuid, p_algorithm text, p_status text, p_public_jwk jsonb, p_private_sealed text)
  returns table (id uuid, algorithm text, status text, legacy boolean, public_jwk jsonb, created_at timestamptz, updated_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  if p_status not in ('in_use', 'standby') then
    raise exception 'A new signing key is in_use or standby' using errcode = 'LMS70';
  end if;
  if (select count(*) from platform_private.signing_keys k where k.project_id = v_project.id) >= 20 then
    raise exception 'A project has at most 20 signing keys' using errcode = 'LMQ70';
  end if;
  perform platform_private.ensure_legacy_signing_key(v_project.id);
  if p_status = 'in_use' then
    update platform_private.signing_keys k set status = 'previously_used', updated_at = now()
      where k.project_id = v_project.id and k.status = 'in_use';
  end if;
  insert into platform_private.signing_keys (id, project_id, algorithm, status, public_jwk, private_sealed)
    values (p_id, v_project.id, p_algorithm, p_status, p_public_jwk, p_private_sealed);
  perform pg_notify('loam_project_changed', p_ref);
  return query select k.id, k.algorithm, k.status, k.legacy, k.public_jwk, k.created_at, k.updated_at
    from platform_private.signing_keys k where k.id = p_id;
end $$;
comment on function platform.create_signing_key(text, uuid, text, text, jsonb, text) is 'Adds a signing key (made and sealed by the API process); in_use moves the current key to previously_used.';

-- Supabase's life cycle: standby → in_use (rotation: the key in use becomes previously_used); previously_used →
-- in_use (rolling back), standby or revoked; revoked → previously_used; the key in use changes only by another
-- key taking its place.
create or replace function platform.update_signing_key(p_ref text, p_id uuid, p_status text)
  returns table (id uuid, algorithm text, status text, legacy boolean, public_jwk jsonb, created_at timestamptz, updated_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_key platform_private.signing_keys;
begin
  perform platform_private.ensure_legacy_signing_key(v_project.id);
  select * into v_key from platform_private.signing_keys k where k.id = p_id and k.project_id = v_project.id for update;
  if not found then raise exception 'Signing key not found' using errcode = 'LMN71'; end if;
  if v_key.status <> p_status then
    if not (v_key.status, p_status) in (('standby', 'in_use'), ('standby', 'revoked'), ('previously_used', 'in_use'),
        ('previously_used', 'standby'), ('previously_used', 'revoked'), ('revoked', 'previously_used')) then
      raise exception 'A signing key cannot go from % to %', v_key.status, p_status using errcode = 'LMS70';
    end if;
    if p_status = 'in_use' then
      update platform_private.signing_keys k set status = 'previously_used', updated_at = now()
        where k.project_id = v_project.id and k.status = 'in_use';
    end if;
    update platform_private.signing_keys k set status = p_status, updated_at = now() where k.id = p_id;
    perform pg_notify('loam_project_changed', p_ref);
  end if;
  return query select k.id, k.algorithm, k.status, k.legacy, k.public_jwk, k.created_at, k.updated_at
    from platform_private.signing_keys k where k.id = p_id;
end $$;
comment on function platform.update_signing_key(text, uuid, text) is 'Moves a signing key to another status (rotation, revocation).';

create or replace function platform.delete_signing_key(p_ref text, p_id uuid)
  returns table (id uuid, algorithm text, status text, legacy boolean, public_jwk jsonb, created_at timestamptz, updated_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_key platform_private.signing_keys;
begin
  select * into v_key from platform_private.signing_keys k where k.id = p_id and k.project_id = v_project.id for update;
  if not found then raise exception 'Signing key not found' using errcode = 'LMN71'; end if;
  if v_key.legacy or v_key.status not in ('standby', 'revoked') then
    raise exception 'Only a standby or revoked key can be deleted, and never the legacy secret' using errcode = 'LMS71';
  end if;
  delete from platform_private.signing_keys k where k.id = p_id;
  perform pg_notify('loam_project_changed', p_ref);
  return query select v_key.id, v_key.algorithm, v_key.status, v_key.legacy, v_key.public_jwk, v_key.created_at, v_key.updated_at;
end $$;
comment on function platform.delete_signing_key(text, uuid) is 'Deletes a standby or revoked signing key.';

-- ------------------------------------------------------------------------------------- third-party auth

create or replace function platform.third_party_auths(p_ref text)
  returns setof platform_private.third_party_auth
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select * from platform_private.third_party_auth t where t.project_id = v_project.id order by t.inserted_at, t.id;
end $$;
comment on function platform.third_party_auths(text) is 'The third-party issuers a project trusts.';

create or replace function platform.create_third_party_auth(p_ref text, p_type text, p_oidc_issuer_url text, p_jwks_url text, p_custom_jwks jsonb)
  returns platform_private.third_party_auth
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_row platform_private.third_party_auth;
begin
  if (select count(*) from platform_private.third_party_auth t where t.project_id = v_project.id) >= 10 then
    raise exception 'A project trusts at most 10 third-party issuers' using errcode = 'LMQ70';
  end if;
  if exists (select 1 from platform_private.third_party_auth t where t.project_id = v_project.id
              and (t.oidc_issuer_url = p_oidc_issuer_url or t.jwks_url = p_jwks_url)) then
    raise exception 'This issuer is already trusted by the project' using errcode = 'LMT71';
  end if;
  insert into platform_private.third_party_auth (project_id, type, oidc_issuer_url, jwks_url, custom_jwks)
    values (v_project.id, p_type, p_oidc_issuer_url, p_jwks_url, p_custom_jwks) returning * into v_row;
  perform pg_notify('loam_project_changed', p_ref);
  return v_row;
end $$;
comment on function platform.create_third_party_auth(text, text, text, text, jsonb) is 'Trusts another issuer''s tokens on the project''s data plane.';

create or replace function platform.delete_third_party_auth(p_ref text, p_id uuid)
  returns platform_private.third_party_auth
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_row platform_private.third_party_auth;
begin
  delete from platform_private.third_party_auth t where t.id = p_id and t.project_id = v_project.id returning * into v_row;
  if not found then raise exception 'Third-party auth integration not found' using errcode = 'LMN72'; end if;
  perform pg_notify('loam_project_changed', p_ref);
  return v_row;
end $$;
comment on function platform.delete_third_party_auth(text, uuid) is 'Stops trusting a third-party issuer.';

-- ------------------------------------------------------------------------------------------- data plane

-- Everything the data plane needs to tell who a request is: the hashes of the API keys, whether legacy keys are
-- on, the signing keys (sealed private parts of the key in use and of symmetric keys only) and the trusted issuers.
create or replace function platform_private.project_keyring(p_ref text) returns jsonb
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'legacy_api_keys_enabled', s.legacy_api_keys_enabled,
    'api_keys', coalesce((select jsonb_agg(jsonb_build_object('id', k.id, 'type', k.type, 'hash', k.hash, 'template', k.secret_jwt_template))
                            from platform_private.api_keys k where k.project_id = p.id), '[]'),
    'signing_keys', coalesce((select jsonb_agg(jsonb_build_object('id', k.id, 'algorithm', k.algorithm, 'status', k.status, 'legacy', k.legacy,
                                'public_jwk', k.public_jwk, 'private_sealed', case when k.status = 'in_use' or k.algorithm = 'HS256' then k.private_sealed end))
                            from platform_private.signing_keys k where k.project_id = p.id), '[]'),
    'third_party', coalesce((select jsonb_agg(jsonb_build_object('id', t.id, 'oidc_issuer_url', t.oidc_issuer_url, 'jwks_url', t.jwks_url,
                                'custom_jwks', t.custom_jwks))
                            from platform_private.third_party_auth t where t.project_id = p.id), '[]'))
  from platform.projects p join platform_private.project_secrets s on s.project_id = p.id
  where p.ref = p_ref
$$;

-- The sealed publishable keys of a project: S3's session-token mode signs with one of them (as with the legacy
-- anon key), and SigV4 needs the key itself to check the signature.
create or replace function platform_private.publishable_keys(p_ref text)
  returns table (id uuid, key_sealed text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select k.id, k.key_sealed from platform_private.api_keys k join platform.projects p on p.id = k.project_id
   where p.ref = p_ref and k.type = 'publishable' order by k.inserted_at limit 20
$$;
