-- Worker liveness: heartbeats of running worker pools, and unlocking the jobs of pools that are gone (a process
-- killed mid-job would otherwise hold its jobs, and their project queues, for graphile-worker's 4 hours).
-- Called only by the platform's own connection, which owns graphile_worker: no definer rights needed.

create or replace function platform_private.worker_heartbeat(p_worker_id text, p_host text, p_pid integer, p_dead_after_ms integer)
  returns boolean
  language sql volatile
as $$
  insert into platform_private.worker_heartbeats (worker_id, host, pid, expires_at)
    values (p_worker_id, p_host, p_pid, now() + p_dead_after_ms * interval '1 millisecond')
  on conflict (worker_id) do update set seen_at = now(), expires_at = excluded.expires_at
  -- true when the row was (re)created: a worker that finds itself re-inserted was presumed dead meanwhile.
  returning xmax = 0
$$;
comment on function platform_private.worker_heartbeat(text, text, integer, integer) is
  'Records that a worker pool is alive and for how long it may stay silent; true when its row was new.';

create or replace function platform_private.worker_stopped(p_worker_id text) returns void
  language sql volatile
as $$ delete from platform_private.worker_heartbeats where worker_id = p_worker_id $$;
comment on function platform_private.worker_stopped(text) is 'Removes the liveness record of a worker pool that stopped cleanly.';

-- A lock holder is gone when its heartbeat expired, or when it has none at all and took the lock more than
-- p_dead_after_ms ago (a pool writes its first heartbeat within moments of starting; a holder with none by then
-- died before it could, or predates heartbeats). Returns the ids whose jobs were unlocked.
create or replace function platform_private.unlock_dead_workers(p_dead_after_ms integer) returns text[]
  language plpgsql volatile
as $$
declare
  v_dead text[];
  v_jobs bigint;
begin
  -- Row locks on the expired heartbeats: a pool that reports again meanwhile waits, then re-inserts its row
  -- (and learns from worker_heartbeat's result that it was presumed dead).
  select coalesce(array_agg(distinct d.id), '{}') into v_dead from (
    select h.worker_id as id from platform_private.worker_heartbeats h where h.expires_at < now() for update skip locked
  ) d;
  select v_dead || coalesce(array_agg(distinct j.locked_by), '{}') into v_dead
    from graphile_worker.jobs j
    where j.locked_by is not null and not j.locked_by = any (v_dead)
      and j.locked_at < now() - p_dead_after_ms * interval '1 millisecond'
      and not exists (select 1 from platform_private.worker_heartbeats h where h.worker_id = j.locked_by);
  if cardinality(v_dead) = 0 then return v_dead; end if;
  -- graphile-worker counted the interrupted run as an attempt. When it was the last one, nothing would run the
  -- job again and its project would stay in COMING_UP / PAUSING / GOING_DOWN: one more attempt lets the job
  -- finish, or fail through its own last-attempt path (which records the failure state and reason). Capped, so
  -- a job that itself kills its worker every time does not loop forever.
  update graphile_worker._private_jobs j set max_attempts = j.attempts + 1
    where j.locked_by = any (v_dead) and j.attempts >= j.max_attempts and j.attempts < 10;
  select count(*) into v_jobs from graphile_worker.jobs j where j.locked_by = any (v_dead);
  -- graphile-worker's own facility: clears the locks on their jobs and on their jobs' queues.
  perform graphile_worker.force_unlock_workers(v_dead);
  -- The jobs are due already; without this the workers would find them only at their next poll. Same message
  -- as graphile-worker's add_job sends (the random part keeps PostgreSQL from folding equal notifications).
  if v_jobs > 0 then
    perform pg_notify('jobs:insert', '{"r":' || random()::text || ',"count":' || v_jobs::text || '}');
  end if;
  delete from platform_private.worker_heartbeats where worker_id = any (v_dead);
  return v_dead;
end $$;
comment on function platform_private.unlock_dead_workers(integer) is
  'Unlocks the jobs of worker pools presumed dead and removes their liveness records; returns their ids.';
