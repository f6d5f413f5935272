-- The new API keys (sb_publishable_… / sb_secret_…), the JWT signing keys of a project's auth, and the
-- third-party issuers a project trusts (Supabase's /v1/projects/{ref}/api-keys, …/config/auth/signing-keys and
-- …/config/auth/third-party-auth). All three are private: the data plane reads them through
-- platform_private.project_keyring, the Management API through the functions in sql/platform/functions/keys.sql.

-- Whether the legacy JWT keys (anon, service_role) are still accepted by the data plane.
alter table platform_private.project_secrets add column legacy_api_keys_enabled boolean not null default true;

-- A key is looked up by the SHA-256 of its whole text (`hash`); `key_sealed` keeps it for `?reveal=true`
-- (sealed with the operator key, bound to the project and the key's id).
create table platform_private.api_keys (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  type text not null check (type in ('publishable', 'secret')),
  name text not null check (name ~ '^[a-z_][a-z0-9_]+$' and length(name) between 4 and 64),
  description text check (length(description) <= 256),
  prefix text not null,
  hash text not null unique,
  key_sealed text not null,
  secret_jwt_template jsonb,
  inserted_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, name)
);
alter table platform_private.api_keys enable row level security;

-- Signing keys of the project's access tokens. The legacy row stands for the HS256 secret in project_secrets
-- (it has no key material of its own); asymmetric keys keep their private JWK sealed, their public JWK in clear.
-- One key at most is in use; a project without rows signs with the legacy secret.
create table platform_private.signing_keys (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  algorithm text not null check (algorithm in ('ES256', 'RS256', 'EdDSA', 'HS256')),
  status text not null check (status in ('in_use', 'standby', 'previously_used', 'revoked')),
  legacy boolean not null default false,
  public_jwk jsonb,
  private_sealed text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (legacy = (private_sealed is null))
);
create unique index signing_keys_in_use on platform_private.signing_keys (project_id) where status = 'in_use';
create unique index signing_keys_legacy on platform_private.signing_keys (project_id) where legacy;
alter table platform_private.signing_keys enable row level security;

-- Issuers whose tokens the project's data plane accepts, by their JWKS (fetched by the API process).
create table platform_private.third_party_auth (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  type text not null,
  oidc_issuer_url text,
  jwks_url text,
  custom_jwks jsonb,
  inserted_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (num_nonnulls(oidc_issuer_url, jwks_url, custom_jwks) >= 1)
);
create index third_party_auth_project_idx on platform_private.third_party_auth (project_id);
alter table platform_private.third_party_auth enable row level security;
