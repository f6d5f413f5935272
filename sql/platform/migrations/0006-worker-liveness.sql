-- Worker liveness: one row per running worker pool, refreshed every few seconds. graphile-worker keeps a job
-- locked for 4 hours when the process holding it dies; with these rows every worker can tell which lock holders
-- are gone and unlock their jobs at once (platform_private.unlock_dead_workers, sql/platform/functions/workers.sql).

create table platform_private.worker_heartbeats (
  -- graphile-worker's pool id, the value it writes in jobs.locked_by.
  worker_id text primary key,
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  seen_at timestamptz not null default now(),
  -- Each worker says how long it may stay silent (its own LOAM_WORKER_DEAD_AFTER_MS), so processes configured
  -- differently never judge one another by the wrong clock.
  expires_at timestamptz not null
);
comment on table platform_private.worker_heartbeats is 'Running worker pools and when each is presumed dead unless it reports again.';

-- Only the platform's own connection (the table's owner) reads or writes it.
alter table platform_private.worker_heartbeats enable row level security;
