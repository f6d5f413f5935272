-- Per-token daily request quotas: the plan that applies to an account and the operator's `loam plans set`
-- (the requests are counted in platform_private.authenticate, tokens.sql).

-- The plan whose limits apply to an account: that of an organization it belongs to on a paid plan, else free.
-- whoami shows the same plan.
create or replace function platform_private.account_plan(p_account_id uuid) returns text
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select o.plan from platform.organizations o
    join platform.organization_members m on m.organization_id = o.id
    where m.account_id = p_account_id order by (o.plan = 'free'), o.id limit 1), 'free')
$$;

-- Quotas were counted in batches by the API processes before authenticate() counted them exactly.
drop function if exists platform_private.record_token_usage(uuid[], date[], integer[]);
drop function if exists platform_private.count_token_request(uuid, date, integer, integer);

-- `loam plans set <plan> <limit>=<n>`: one integer limit of a plan; null lifts a limit that may be null. An unset
-- rate_limit_per_minute is not unlimited but the operator's LOAM_RATE_LIMIT_PER_MINUTE, so it takes a number.
create or replace function platform_private.set_plan_limit(p_plan text, p_limit text, p_value bigint)
  returns setof platform.plans
  language plpgsql volatile
as $$
declare
  v_column record;
begin
  select c.column_name, c.is_nullable = 'YES' and c.column_name <> 'rate_limit_per_minute' as nullable,
      case c.data_type when 'smallint' then 32767 when 'integer' then 2147483647 else 9223372036854775807 end as most
    into v_column from information_schema.columns c
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
  if p_value < 0 or p_value > v_column.most then
    raise exception 'limit "%" must be between 0 and %', p_limit, v_column.most using errcode = 'LMP02';
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
