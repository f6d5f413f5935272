-- Rate limits shared by every API process: a fixed-window counter per key in an unlogged table.

drop function if exists platform_private.rate_limit_hit(text, integer);

-- Counts one hit of `p_key` in the current window of `p_window_seconds`. Returns 0 when the hit is within
-- `p_limit`, else the seconds until the window ends (for Retry-After). The first hit of a window clears the
-- key's older windows and a few of keys gone for a day, so the table holds about one row per active key and
-- needs no sweeper.
create or replace function platform_private.rate_limit_hit(p_key text, p_limit integer, p_window_seconds integer default 60)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_window timestamptz := to_timestamp(floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds);
  v_hits integer;
begin
  insert into platform_private.rate_limits as r (key, window_start, hits) values (p_key, v_window, 1)
    on conflict (key, window_start) do update set hits = r.hits + 1
    returning hits into v_hits;
  if v_hits = 1 then
    delete from platform_private.rate_limits where key = p_key and window_start < v_window;
    -- And a few rows of keys that have not come back for a day (longer than any window): keys made of client
    -- addresses would otherwise stay for good. Each new row sweeps up to 20, so they cannot pile up; rows another
    -- request is sweeping are skipped, so two sweeps never wait on (or deadlock with) each other.
    delete from platform_private.rate_limits r where r.ctid = any(array(
      select o.ctid from platform_private.rate_limits o where o.window_start < now() - interval '1 day'
      limit 20 for update skip locked));
  end if;
  if v_hits <= p_limit then return 0; end if;
  return greatest(1, ceil(extract(epoch from (v_window + make_interval(secs => p_window_seconds) - now())))::integer);
end $$;
