-- Realtime across API processes: liveness, sockets counted over every live process, and which process reads a
-- project's WAL (sql/platform/migrations/0012-realtime-cluster.sql has the tables). Called only by the
-- platform's own connection, which owns the tables: no definer rights needed.

-- Records that a process is alive and for how long it may stay silent. True when its row was (re)created: a
-- process that finds itself new after the first time was presumed dead, and tells the others its state again.
create or replace function platform_private.realtime_heartbeat(p_id uuid, p_host text, p_pid integer, p_dead_after_ms integer)
  returns boolean
  language sql volatile
as $$
  insert into platform_private.realtime_processes (id, host, pid, expires_at)
    values (p_id, p_host, p_pid, now() + p_dead_after_ms * interval '1 millisecond')
  on conflict (id) do update set seen_at = now(), expires_at = excluded.expires_at
  returning xmax = 0
$$;
comment on function platform_private.realtime_heartbeat(uuid, text, integer, integer) is
  'Records that a realtime process is alive and for how long it may stay silent; true when its row was new.';

-- Forgets the processes that stopped reporting (their sockets, channels and streams go with them) and returns
-- the ids of those alive: every process drops the presence entries of any other.
create or replace function platform_private.realtime_live_processes() returns uuid[]
  language plpgsql volatile
as $$
begin
  delete from platform_private.realtime_processes where expires_at < now();
  return array(select id from platform_private.realtime_processes);
end $$;
comment on function platform_private.realtime_live_processes() is 'Removes realtime processes presumed dead; returns the live ones.';

create or replace function platform_private.realtime_stopped(p_id uuid) returns void
  language sql volatile
as $$ delete from platform_private.realtime_processes where id = p_id $$;
comment on function platform_private.realtime_stopped(uuid) is 'Removes a realtime process that stopped cleanly, and all it held.';

-- One more socket of a project in this process, unless the project has p_max over all live processes. The
-- project's transaction lock makes two processes' checks of one project take turns.
create or replace function platform_private.realtime_connect(p_process uuid, p_ref text, p_max integer) returns boolean
  language plpgsql volatile
as $$
declare
  v_open bigint;
begin
  perform pg_advisory_xact_lock(hashtext('loam_realtime_clients'), hashtext(p_ref));
  select coalesce(sum(c.clients), 0) into v_open
    from platform_private.realtime_clients c join platform_private.realtime_processes p on p.id = c.process_id
    where c.project_ref = p_ref and p.expires_at >= now();
  if v_open >= p_max then return false; end if;
  insert into platform_private.realtime_clients as c (process_id, project_ref, clients) values (p_process, p_ref, 1)
    on conflict (project_ref, process_id) do update set clients = c.clients + 1;
  return true;
end $$;
comment on function platform_private.realtime_connect(uuid, text, integer) is
  'Counts a new realtime socket of a project unless its limit over all live processes is reached.';

create or replace function platform_private.realtime_disconnect(p_process uuid, p_ref text) returns void
  language sql volatile
as $$
  update platform_private.realtime_clients set clients = greatest(clients - 1, 0)
    where project_ref = p_ref and process_id = p_process
$$;
comment on function platform_private.realtime_disconnect(uuid, text) is 'Counts a closed realtime socket.';

-- A process that was presumed dead and is back: its sockets counted again.
create or replace function platform_private.realtime_set_clients(p_process uuid, p_refs text[], p_counts integer[]) returns void
  language sql volatile
as $$
  insert into platform_private.realtime_clients as c (process_id, project_ref, clients)
    select p_process, r, n from unnest(p_refs, p_counts) as x(r, n)
  on conflict (project_ref, process_id) do update set clients = excluded.clients
$$;
comment on function platform_private.realtime_set_clients(uuid, text[], integer[]) is 'Restores the socket counts of a realtime process.';

-- Tries to become the process that reads a project's WAL: a session advisory lock on the project's id, held by
-- the caller's connection until it lets go or its session ends (a process that dies lets go with it).
create or replace function platform_private.realtime_try_lead(p_ref text) returns boolean
  language sql volatile
as $$
  select coalesce((select pg_try_advisory_lock(hashtext('loam_realtime_stream'), p.id::integer)
                     from platform.projects p where p.ref = p_ref), false)
$$;
comment on function platform_private.realtime_try_lead(text) is 'Takes the lock of the process that reads a project''s changes, if free.';

create or replace function platform_private.realtime_unlead(p_ref text) returns void
  language sql volatile
as $$
  select pg_advisory_unlock(hashtext('loam_realtime_stream'), p.id::integer) from platform.projects p where p.ref = p_ref
$$;
comment on function platform_private.realtime_unlead(text) is 'Lets go of a project''s stream lock.';

-- The leader's stream runs: joins in other processes wait for this row.
create or replace function platform_private.realtime_stream_started(p_process uuid, p_ref text) returns void
  language sql volatile
as $$
  insert into platform_private.realtime_streams (project_ref, process_id) values (p_ref, p_process)
    on conflict (project_ref) do update set process_id = excluded.process_id, started_at = now()
$$;
comment on function platform_private.realtime_stream_started(uuid, text) is 'Records that a process reads a project''s changes.';

-- The leader gives its stream up when no live process has channels of the project any more (false: keep it).
-- p_force (pause, delete, a stream that failed) gives it up regardless.
create or replace function platform_private.realtime_stream_release(p_process uuid, p_ref text, p_force boolean default false)
  returns boolean
  language plpgsql volatile
as $$
begin
  if not p_force and exists (
    select 1 from platform_private.realtime_interest i join platform_private.realtime_processes p on p.id = i.process_id
    where i.project_ref = p_ref and p.expires_at >= now()) then
    return false;
  end if;
  delete from platform_private.realtime_streams where project_ref = p_ref and process_id = p_process;
  return true;
end $$;
comment on function platform_private.realtime_stream_release(uuid, text, boolean) is
  'Ends a process'' claim on a project''s stream when no live process has channels of it.';

-- Whether some live process reads the project's changes.
create or replace function platform_private.realtime_stream_running(p_ref text) returns boolean
  language sql stable
as $$
  select exists (select 1 from platform_private.realtime_streams s join platform_private.realtime_processes p on p.id = s.process_id
                 where s.project_ref = p_ref and p.expires_at >= now())
$$;
comment on function platform_private.realtime_stream_running(text) is 'Whether a live process reads a project''s changes.';

-- Adds one process' hits of the second p_second (Unix time) to a per-second counter shared by all API processes
-- (messages per second) and returns the total so far. Rows of past seconds are dropped as new ones start.
create or replace function platform_private.realtime_rate_add(p_key text, p_second bigint, p_hits integer) returns integer
  language plpgsql volatile
as $$
declare
  v_window timestamptz := to_timestamp(p_second);
  v_hits integer;
begin
  insert into platform_private.rate_limits as r (key, window_start, hits) values (p_key, v_window, p_hits)
    on conflict (key, window_start) do update set hits = r.hits + excluded.hits
    returning hits into v_hits;
  if v_hits = p_hits then
    delete from platform_private.rate_limits where key = p_key and window_start < v_window;
  end if;
  return v_hits;
end $$;
comment on function platform_private.realtime_rate_add(text, bigint, integer) is
  'Adds hits to a per-second counter shared by all API processes; returns the second''s total.';
