-- SSO with SAML 2.0 (issue 16): each project is its own SAML service provider, with its own RSA key and
-- self-signed certificate (GoTrue's GOTRUE_SAML_PRIVATE_KEY, one per project here). The API makes the pair on
-- first use; the private key is sealed with the operator key (db/src/secret-box.ts, bound to the project), so
-- the table alone, or a copy of it in another project's row, gives nothing away.
create table platform_private.saml_sp_keys (
  project_id bigint primary key references platform.projects on delete cascade,
  private_sealed text not null,
  certificate text not null,
  created_at timestamptz not null default now()
);
alter table platform_private.saml_sp_keys enable row level security;
comment on table platform_private.saml_sp_keys is 'The SAML service provider key (sealed) and certificate of each project.';
