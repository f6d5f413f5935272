-- The SAML service provider key pair of a project (table in migrations/0027-saml-sp-keys.sql): read by the
-- data plane, stored once. Two API processes making a pair at the same time: the first stored wins, both use it.

create or replace function platform_private.saml_sp_key(p_ref text) returns jsonb
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object('private_sealed', k.private_sealed, 'certificate', k.certificate)
  from platform.projects p join platform_private.saml_sp_keys k on k.project_id = p.id
  where p.ref = p_ref and p.deleted_at is null
$$;

create or replace function platform_private.save_saml_sp_key(p_ref text, p_private_sealed text, p_certificate text) returns jsonb
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  insert into platform_private.saml_sp_keys (project_id, private_sealed, certificate)
    select p.id, p_private_sealed, p_certificate from platform.projects p where p.ref = p_ref and p.deleted_at is null
    on conflict (project_id) do nothing;
  return platform_private.saml_sp_key(p_ref);
end $$;
