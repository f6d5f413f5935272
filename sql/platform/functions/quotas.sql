-- Per-token daily request quotas: the plan that applies to an account, the batched counts the API processes
-- write, the counted-at-once request near the limit, and the operator's `loam plans set`.

-- The plan whose limits apply to an account: that of an organization it belongs to on a paid plan, else free.
-- whoami shows the same plan.
create or replace function platform_private.account_plan(p_account_id uuid) returns text
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select o.plan from platform.organizations o
    join platform.organization_members m on m.organization_id = o.id
    where m.account_id = p_account_id order by (o.plan = 'free'), o.id limit 1), 'free')
$$;

-- Counts an API process kept in memory, written in one statement.
create or replace function platform_private.record_token_usage(p_tokens uuid[], p_days date[], p_counts integer[])
  returns void
  language sql volatile
as $$
  insert into platform_private.token_usage_daily as u (token_id, day, requests)
    select t, d, sum(n)::integer from unnest(p_tokens, p_days, p_counts) as x(t, d, n)
    where exists (select 1 from platform.access_tokens a where a.id = t)
    group by t, d
    on conflict (token_id, day) do update set requests = u.requests + excluded.requests;
  -- Rows are kept a week (the operator may look back), then go: swept by one batch in fifty, not each.
  delete from platform_private.token_usage_daily where (select random()) < 0.02 and day < (now() at time zone 'utc')::date - 7;
$$;

-- Near the limit: this process's uncounted requests (already served) and the one asking now, counted at once.
-- The new one is allowed only while the total stays within the quota: concurrent processes serialize on the
-- row, so together they cannot pass it.
create or replace function platform_private.count_token_request(p_token uuid, p_day date, p_pending integer, p_quota integer)
  returns table (allowed boolean, requests integer)
  language plpgsql volatile
as $$
declare
  v_requests integer;
begin
  insert into platform_private.token_usage_daily as u (token_id, day, requests) values (p_token, p_day, p_pending)
    on conflict (token_id, day) do update set requests = u.requests + excluded.requests
    returning u.requests into v_requests;
  if v_requests < p_quota then
    update platform_private.token_usage_daily as u set requests = u.requests + 1 where u.token_id = p_token and u.day = p_day
      returning u.requests into v_requests;
    return query select true, v_requests;
  else
    return query select false, v_requests;
  end if;
end $$;

-- `loam plans set <plan> <limit>=<n>`: one integer limit of a plan; null lifts a limit that may be null.
create or replace function platform_private.set_plan_limit(p_plan text, p_limit text, p_value bigint)
  returns setof platform.plans
  language plpgsql volatile
as $$
declare
  v_column record;
begin
  select c.column_name, c.is_nullable = 'YES' as nullable into v_column from information_schema.columns c
    where c.table_schema = 'platform' and c.table_name = 'plans' and c.column_name = p_limit
      and c.data_type in ('integer', 'bigint', 'smallint');
  if not found then
    raise exception 'plans have no limit "%" (limits: %)', p_limit, (select string_agg(c.column_name, ', ' order by c.ordinal_position)
      from information_schema.columns c where c.table_schema = 'platform' and c.table_name = 'plans'
      and c.data_type in ('integer', 'bigint', 'smallint')) using errcode = 'LMP01';
  end if;
  if p_value is null and not v_column.nullable then
    raise exception 'limit "%" cannot be unlimited', p_limit using errcode = 'LMP02';
  end if;
  if p_value < 0 or p_value > 2147483647 then
    raise exception 'limit "%" must be between 0 and 2147483647', p_limit using errcode = 'LMP02';
  end if;
  if not exists (select 1 from platform.plans where id = p_plan) then
    raise exception 'no plan "%"', p_plan using errcode = 'LMP03';
  end if;
  execute format('update platform.plans set %I = $1 where id = $2', p_limit) using p_value, p_plan;
  return query select * from platform.plans where id = p_plan;
end $$;

-- For whoami (as the caller): the plan that applies to the caller, and one of the caller's tokens' count today.
create or replace function platform.my_plan() returns text
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select platform_private.account_plan(platform.current_account_id()) $$;
comment on function platform.my_plan() is 'The plan whose limits apply to the calling account.';

create or replace function platform.my_token_requests_today(p_token_id uuid) returns integer
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select u.requests from platform_private.token_usage_daily u
    join platform.access_tokens t on t.id = u.token_id and t.account_id = platform.current_account_id()
    where u.token_id = p_token_id and u.day = (now() at time zone 'utc')::date), 0)
$$;
comment on function platform.my_token_requests_today(uuid) is 'Requests counted today (UTC) of one of the caller''s access tokens.';
