-- The `extensions` schema every Supabase project has: where `create extension … schema extensions` puts
-- pgcrypto, PostGIS and the rest, on the REST API's search path (db_extra_search_path defaults to
-- `public, extensions`) but not exposed by it. The project owner owns it (handed over with public, auth, storage
-- and realtime for new projects; in existing databases this migration runs as the owner), so the owner installs
-- extensions there with no more rights than its own.
create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
-- Supabase projects also have `graphql_public`, which the CLI's default config.toml exposes through the REST
-- API (Loam's GraphQL is served at /graphql/v1 and needs nothing in it).
create schema if not exists graphql_public;
grant usage on schema graphql_public to anon, authenticated, service_role;
comment on schema extensions is 'Extensions (create extension … schema extensions); on the REST search path, not exposed.';

-- The project's in-database REST configuration, PostgREST's `alter role authenticator set pgrst.<key>` for a
-- project whose authenticator the owner cannot alter: one row per setting (db_aggregates_enabled,
-- db_plan_enabled, db_tx_end, db_max_rows, db_pre_request), read with the schema cache, applied after
-- `notify pgrst, 'reload config'` (or any schema change). Owned by the project owner like `extensions`; the API
-- roles only read it, and the schema is never exposed.
create schema if not exists pgrst;
grant usage on schema pgrst to anon, authenticated, service_role;
create table if not exists pgrst.config (key text primary key, value text not null);
comment on table pgrst.config is 'REST settings over the project''s own (PostgREST''s pgrst.* keys, e.g. db_max_rows = 100); notify pgrst, ''reload config'' applies them.';
grant select on pgrst.config to anon, authenticated, service_role;
