-- Discovery and lifecycle: the kinds of backend a project can be, and the database owner's password kept sealed
-- (so it can be revealed, audited, and rotated).

create table platform.backend_types (
  id text primary key check (id ~ '^[a-z][a-z0-9_-]{0,31}$'),
  name text not null,
  description text not null,
  database_apis boolean not null
);
comment on table platform.backend_types is 'What a project can be: GET /v1/backend-types lists them; projects.backend_type names one.';
insert into platform.backend_types values
  ('shared', 'Shared', 'A database on a shared PostgreSQL server with its REST, GraphQL, auth, storage, realtime and functions APIs, and sites.', true),
  ('frontend', 'Frontend', 'Static site hosting: sites and their deploys, no database APIs (REST, GraphQL, auth, storage, realtime and functions answer 404).', false);

alter table platform.projects add column backend_type text not null default 'shared' references platform.backend_types;

-- Sealed with the operator key (db/src/secret-box.ts) by the API when it sets the password; null for a password
-- chosen before Loam kept it, which cannot be revealed until it is rotated.
alter table platform_private.project_secrets
  add column db_pass_sealed text,
  add column db_pass_set_at timestamptz;

-- The old create_project without a backend type (the functions file defines the one with it).
drop function if exists platform.create_project(text, text, text, text);
drop function if exists platform.set_db_password(text, text);
