-- The `db_plan_enabled` REST setting (PostgREST's db-plan-enabled): whether `Accept: application/vnd.pgrst.plan`
-- answers with the query plan. Off by default, as in PostgREST. The three functions gain the column, so they are
-- dropped and created again (a function's result type cannot change in place).

alter table platform.project_rest_config add column plan_enabled boolean not null default false;

drop function platform.update_rest_config(text, text, text, boolean, integer, boolean, integer);
drop function platform.rest_config(text);
drop function platform_private.project_rest_settings(text);

create function platform.rest_config(p_ref text)
  returns table (db_schema text, db_extra_search_path text, max_rows integer, aggregates_enabled boolean, rate_limit_per_minute integer,
                 plan_enabled boolean)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
    select coalesce(c.db_schema, 'public'), coalesce(c.db_extra_search_path, 'public, extensions'),
           case when c.project_id is null then 1000 else c.max_rows end,
           coalesce(c.aggregates_enabled, false), c.rate_limit_per_minute, coalesce(c.plan_enabled, false)
    from platform.project_for_member(p_ref) p
    left join platform.project_rest_config c on c.project_id = p.id;
end $$;
comment on function platform.rest_config(text) is 'The REST settings of a project the caller is a member of.';

create function platform.update_rest_config(p_ref text, p_db_schema text, p_db_extra_search_path text,
                                            p_set_max_rows boolean, p_max_rows integer, p_aggregates boolean, p_rate_limit integer,
                                            p_plan_enabled boolean)
  returns table (db_schema text, db_extra_search_path text, max_rows integer, aggregates_enabled boolean, rate_limit_per_minute integer,
                 plan_enabled boolean)
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
    plan_enabled = coalesce(p_plan_enabled, c.plan_enabled),
    updated_at = now()
  where c.project_id = v_project.id;
  perform pg_notify('loam_project_changed', v_project.ref);
  return query select * from platform.rest_config(p_ref);
end $$;
comment on function platform.update_rest_config(text, text, text, boolean, integer, boolean, integer, boolean) is 'Changes a project''s REST settings.';

create function platform_private.project_rest_settings(p_ref text)
  returns table (db_schema text, db_extra_search_path text, max_rows integer, aggregates_enabled boolean, rate_limit_per_minute integer,
                 plan_enabled boolean)
  language sql stable
as $$
  select coalesce(c.db_schema, 'public'), coalesce(c.db_extra_search_path, 'public, extensions'),
         case when c.project_id is null then 1000 else c.max_rows end,
         coalesce(c.aggregates_enabled, false), c.rate_limit_per_minute, coalesce(c.plan_enabled, false)
  from platform.projects p left join platform.project_rest_config c on c.project_id = p.id
  where p.ref = p_ref
$$;
