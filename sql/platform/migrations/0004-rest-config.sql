-- Per-project REST (PostgREST) settings, the Management API's /v1/projects/{ref}/postgrest: exposed schemas, the
-- extra search path, the max_rows cap, aggregates on/off and the data-plane rate limit. A project without a row
-- has the defaults. Functions live here (not in sql/platform/functions) because this file is the REST area's part
-- of the control database; they are plpgsql because migrations run before the helpers they call are re-applied.

create table platform.project_rest_config (
  project_id bigint primary key references platform.projects on delete cascade,
  db_schema text not null default 'public'
    check (db_schema ~ '^\s*[A-Za-z_][A-Za-z0-9_$]*(\s*,\s*[A-Za-z_][A-Za-z0-9_$]*)*\s*$'),
  db_extra_search_path text not null default 'public, extensions'
    check (db_extra_search_path ~ '^\s*([A-Za-z_][A-Za-z0-9_$]*(\s*,\s*[A-Za-z_][A-Za-z0-9_$]*)*)?\s*$'),
  max_rows integer default 1000 check (max_rows is null or max_rows between 1 and 1000000),
  aggregates_enabled boolean not null default false,
  -- null: the platform's default (LOAM_REST_RATE_LIMIT_PER_MINUTE, 600 unless set)
  rate_limit_per_minute integer check (rate_limit_per_minute between 1 and 10000000),
  updated_at timestamptz not null default now()
);
comment on table platform.project_rest_config is 'REST API settings of a project (exposed schemas, max rows, aggregates, rate limit).';

-- Read and written only through the functions below (members only), so no policy grants anything directly.
alter table platform.project_rest_config enable row level security;

create function platform.rest_config(p_ref text)
  returns table (db_schema text, db_extra_search_path text, max_rows integer, aggregates_enabled boolean, rate_limit_per_minute integer)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
    select coalesce(c.db_schema, 'public'), coalesce(c.db_extra_search_path, 'public, extensions'),
           case when c.project_id is null then 1000 else c.max_rows end,
           coalesce(c.aggregates_enabled, false), c.rate_limit_per_minute
    from platform.project_for_member(p_ref) p
    left join platform.project_rest_config c on c.project_id = p.id;
end $$;
comment on function platform.rest_config(text) is 'The REST settings of a project the caller is a member of.';

-- Absent fields keep their value (p_set_max_rows tells an explicit null max_rows — no cap — from an absent one).
-- Every API process drops its cached settings through the project-changed notification.
create function platform.update_rest_config(p_ref text, p_db_schema text, p_db_extra_search_path text,
                                            p_set_max_rows boolean, p_max_rows integer, p_aggregates boolean, p_rate_limit integer)
  returns table (db_schema text, db_extra_search_path text, max_rows integer, aggregates_enabled boolean, rate_limit_per_minute integer)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects;
begin
  v_project := platform.project_for_member(p_ref);
  insert into platform.project_rest_config as c (project_id) values (v_project.id) on conflict (project_id) do nothing;
  update platform.project_rest_config c set
    db_schema = coalesce(p_db_schema, c.db_schema),
    db_extra_search_path = coalesce(p_db_extra_search_path, c.db_extra_search_path),
    max_rows = case when p_set_max_rows then p_max_rows else c.max_rows end,
    aggregates_enabled = coalesce(p_aggregates, c.aggregates_enabled),
    rate_limit_per_minute = coalesce(p_rate_limit, c.rate_limit_per_minute),
    updated_at = now()
  where c.project_id = v_project.id;
  perform pg_notify('loam_project_changed', v_project.ref);
  return query select * from platform.rest_config(p_ref);
end $$;
comment on function platform.update_rest_config(text, text, text, boolean, integer, boolean, integer) is 'Changes a project''s REST settings.';

-- For the data plane (the platform's own connection): settings by ref, defaults when none were saved.
create function platform_private.project_rest_settings(p_ref text)
  returns table (db_schema text, db_extra_search_path text, max_rows integer, aggregates_enabled boolean, rate_limit_per_minute integer)
  language sql stable
as $$
  select coalesce(c.db_schema, 'public'), coalesce(c.db_extra_search_path, 'public, extensions'),
         case when c.project_id is null then 1000 else c.max_rows end,
         coalesce(c.aggregates_enabled, false), c.rate_limit_per_minute
  from platform.projects p left join platform.project_rest_config c on c.project_id = p.id
  where p.ref = p_ref
$$;

-- Data-plane request counts per project and minute, shared by every API process (each flushes its local counts
-- about once a second and reads back the minute's total).
create table platform_private.rest_request_counts (
  project_ref text not null,
  minute timestamptz not null,
  requests bigint not null default 0,
  primary key (project_ref, minute)
);
alter table platform_private.rest_request_counts enable row level security;

create function platform_private.count_rest_requests(p_refs text[], p_counts bigint[])
  returns table (project_ref text, requests bigint)
  language sql volatile
as $$
  delete from platform_private.rest_request_counts where minute < date_trunc('minute', now()) - interval '2 minutes';
  insert into platform_private.rest_request_counts as r (project_ref, minute, requests)
    select u.ref, date_trunc('minute', now()), u.n from unnest(p_refs, p_counts) u(ref, n)
  on conflict (project_ref, minute) do update set requests = r.requests + excluded.requests
  returning r.project_ref, r.requests;
$$;
