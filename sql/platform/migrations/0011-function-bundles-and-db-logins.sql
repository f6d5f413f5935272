-- Edge functions, second part: bundle-only deploys, and each project's database login for its functions.
--
-- A deploy with `bundleOnly=true` (what the Supabase CLI sends for each function when it deploys several, before
-- one bulk `PUT …/functions` makes them live together) records and validates a version without making it live.
alter table platform.function_versions add column go_live boolean not null default true;
comment on column platform.function_versions.go_live is
  'false for a bundle-only deploy: READY does not make it live; PUT /v1/projects/{ref}/functions does.';

-- SUPABASE_DB_URL: a LOGIN of the project's own (`<ref>_functions`, member of the owner role, with its own
-- connection limit), never a platform login. Its password is sealed with the operator key (db/src/secret-box.ts).
create table platform_private.function_db_logins (
  project_id bigint primary key references platform.projects on delete cascade,
  password_sealed text not null,
  created_at timestamptz not null default now()
);
comment on table platform_private.function_db_logins is
  'The sealed password of each project''s <ref>_functions login, handed to its edge functions as SUPABASE_DB_URL.';
alter table platform_private.function_db_logins enable row level security;
