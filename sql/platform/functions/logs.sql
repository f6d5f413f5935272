-- Project logs: the request log's writer (batches from each API process, trimmed per project by rows and age),
-- its reader per log source (the source tables Supabase's log queries name), and the usage counts.

-- One batch of request records (a JSON array, see server/src/request-log.ts). Rows of projects that are gone are
-- dropped; each project keeps at most p_keep rows and nothing older than p_keep_seconds.
create or replace function platform_private.record_requests(p_rows jsonb, p_keep integer, p_keep_seconds integer)
  returns void
  language plpgsql volatile
as $$
declare
  v_projects bigint[];
begin
  with batch as (
    select t.project_id, t.at, t.service, left(t.method, 16) as method, left(t.path, 2000) as path, t.status,
           t.duration_ms, left(t.user_agent, 500) as user_agent, left(t.ip, 64) as ip,
           left(t.error_code, 16) as error_code, left(t.message, 4000) as message
    from jsonb_to_recordset(p_rows) as t(project_id bigint, at timestamptz, service text, method text, path text,
      status integer, duration_ms real, user_agent text, ip text, error_code text, message text)
    where exists (select 1 from platform.projects p where p.id = t.project_id and p.deleted_at is null)
  ), logged as (
    insert into platform_private.request_logs (project_id, at, service, method, path, status, duration_ms, user_agent, ip, error_code, message)
      select project_id, at, service, method, path, status, duration_ms, user_agent, ip, error_code, message from batch order by at
  )
  insert into platform_private.request_counts as c (project_id, minute, service, count)
    select project_id, date_trunc('minute', at), service, count(*) from batch
    where service <> 'postgres' group by 1, 2, 3
    on conflict (project_id, minute, service) do update set count = c.count + excluded.count;

  select array_agg(distinct (e->>'project_id')::bigint) into v_projects from jsonb_array_elements(p_rows) e;
  -- Rows past the newest p_keep, and rows older than the age limit (ids grow with time, so the oldest young
  -- row's id bounds them: the scan stops at the first row young enough).
  delete from platform_private.request_logs l
    using (select p,
             (select l2.id from platform_private.request_logs l2 where l2.project_id = p order by l2.id desc offset p_keep limit 1) as cut,
             (select min(l3.id) from platform_private.request_logs l3 where l3.project_id = p
                and l3.at >= now() - make_interval(secs => p_keep_seconds)) as young
           from unnest(v_projects) as p) c
    where l.project_id = c.p and (l.id <= c.cut or l.id < c.young);
  delete from platform_private.request_counts c
    where c.project_id = any (v_projects) and c.minute < now() - interval '7 days';
end $$;

-- A project's records of one log source between two instants, newest first: an id, the instant, the event
-- message and the source's fields as flat keys (`request.method`, `parsed.error_severity`, …). Members only.
create or replace function platform.project_logs(p_ref text, p_source text, p_start timestamptz, p_end timestamptz, p_limit integer)
  returns table (id text, at timestamptz, event_message text, attrs jsonb)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_limit integer := least(greatest(coalesce(p_limit, 100), 1), 1000);
begin
  if p_source in ('function_edge_logs', 'function_logs') then
    return query
    select l.id::text, l.at,
      case when p_source = 'function_logs' then l.output
           else l.method || ' | ' || l.status || ' | ' || l.path end,
      jsonb_build_object(
        'function_id', f.uuid, 'version', l.version::text,
        'deployment_id', v_project.ref || '_' || f.uuid || '_' || coalesce(l.version, 0),
        'execution_time_ms', l.duration_ms, 'execution_id', l.id::text,
        'request.method', l.method, 'request.url', l.path, 'request.pathname', l.path,
        'response.status_code', l.status,
        'level', case when l.status >= 500 then 'error' else 'log' end,
        'severity_text', case when l.status >= 500 then 'ERROR' else 'INFO' end,
        'event_type', 'Log')
    from platform.functions f
    join platform_private.function_logs l on l.function_id = f.id
    where f.project_id = v_project.id and l.at >= p_start and l.at <= p_end
      and (p_source = 'function_edge_logs' or l.output <> '')
    order by l.id desc limit v_limit;
    return;
  end if;

  return query
  select l.id::text, l.at,
    case
      when p_source = 'postgres_logs' then l.message
      when p_source = 'auth_logs' then jsonb_build_object('level', platform_private.log_level(l.status), 'method', l.method,
        'path', l.path, 'status', l.status, 'duration', l.duration_ms, 'msg', 'request completed',
        'remote_addr', l.ip)::text
      else concat_ws(' | ', l.method, l.status, l.ip, l.id, l.path, l.user_agent)
    end,
    case
      when p_source = 'postgres_logs' then jsonb_build_object('identifier', v_project.ref,
        'parsed.error_severity', 'ERROR', 'parsed.sql_state_code', l.error_code, 'parsed.message', l.message,
        'parsed.user_name', v_project.ref, 'parsed.database_name', v_project.ref)
      when p_source = 'auth_logs' then jsonb_build_object('level', platform_private.log_level(l.status),
        'status', l.status, 'path', l.path, 'method', l.method, 'msg', 'request completed',
        'error', case when l.status >= 400 then l.message end, 'duration', l.duration_ms, 'remote_addr', l.ip)
      else jsonb_build_object('identifier', v_project.ref, 'service', l.service,
        'request.method', l.method, 'request.path', l.path, 'request.url', l.path,
        'request.headers.user_agent', l.user_agent, 'request.headers.x_real_ip', l.ip,
        'response.status_code', l.status, 'response.origin_time', l.duration_ms,
        'level', platform_private.log_level(l.status), 'status', l.status, 'path', l.path, 'method', l.method,
        'error', case when l.status >= 400 then l.message end)
    end
  from platform_private.request_logs l
  where l.project_id = v_project.id and l.at >= p_start and l.at <= p_end
    and case p_source
      when 'edge_logs' then l.service <> 'postgres'
      when 'postgres_logs' then l.service = 'postgres'
      when 'auth_logs' then l.service = 'auth'
      when 'storage_logs' then l.service = 'storage'
      when 'realtime_logs' then l.service = 'realtime'
      when 'postgrest_logs' then l.service = 'rest'
      else false end
  order by l.id desc limit v_limit;
end $$;

create or replace function platform_private.log_level(p_status integer) returns text
  language sql immutable
as $$ select case when p_status >= 500 then 'error' when p_status >= 400 then 'warning' else 'info' end $$;

-- Requests per service over a recent interval, in time buckets (zero-filled), as Supabase's usage.api-counts.
create or replace function platform.project_api_counts(p_ref text, p_interval text)
  returns table (bucket timestamptz, total_auth_requests bigint, total_realtime_requests bigint,
                 total_rest_requests bigint, total_storage_requests bigint)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_range interval; v_step interval;
begin
  select r, s into v_range, v_step from (values
    ('15min', interval '15 minutes', interval '1 minute'), ('30min', interval '30 minutes', interval '1 minute'),
    ('1hr', interval '1 hour', interval '1 minute'), ('3hr', interval '3 hours', interval '15 minutes'),
    ('1day', interval '1 day', interval '1 hour'), ('3day', interval '3 days', interval '1 day'),
    ('7day', interval '7 days', interval '1 day')) as v(name, r, s)
  where v.name = p_interval;
  if v_range is null then raise exception 'interval must be one of 15min, 30min, 1hr, 3hr, 1day, 3day, 7day' using errcode = 'LMV90'; end if;
  return query
  select b,
    coalesce(sum(c.count) filter (where c.service = 'auth'), 0)::bigint,
    coalesce(sum(c.count) filter (where c.service = 'realtime'), 0)::bigint,
    coalesce(sum(c.count) filter (where c.service in ('rest', 'graphql')), 0)::bigint,
    coalesce(sum(c.count) filter (where c.service = 'storage'), 0)::bigint
  from generate_series(date_bin(v_step, now() - v_range, timestamptz '2000-01-01'), now(), v_step) as b
  left join platform_private.request_counts c
    on c.project_id = v_project.id and c.minute >= b and c.minute < b + v_step
  group by b order by b;
end $$;

-- The project's data-plane requests in the last 24 hours.
create or replace function platform.project_request_count(p_ref text) returns bigint
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return (select coalesce(sum(c.count), 0)::bigint from platform_private.request_counts c
          where c.project_id = v_project.id and c.minute >= date_trunc('minute', now() - interval '24 hours'));
end $$;
