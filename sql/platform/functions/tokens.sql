-- Access tokens: sessions from login and personal access tokens, both stored only as hashes,
-- and the one lookup every Management API request makes (token → account, scopes, rate limit, usage).

create or replace function platform_private.issue_token(
  p_account_id uuid, p_kind text, p_name text, p_scopes text[], p_expires_at timestamptz, p_token_hash bytea, p_prefix text)
  returns platform.access_tokens
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_token platform.access_tokens;
  v_bad text;
begin
  select s into v_bad from unnest(coalesce(p_scopes, '{}')) s
    where s !~ '^(read|write|(organizations|projects|database|tokens):(read|write))$' limit 1;
  if v_bad is not null then
    raise exception 'unknown scope "%": use read, write, or <area>:read / <area>:write with area organizations, projects, database or tokens', v_bad
      using errcode = 'LMV03';
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = 'LMV05';
  end if;
  if p_name is null or length(p_name) not between 1 and 256 then
    raise exception 'name must be 1-256 characters' using errcode = 'LMV01';
  end if;
  -- Each login adds a session; expired ones of the account go here, so they do not pile up.
  delete from platform.access_tokens where account_id = p_account_id and kind = 'session' and expires_at <= now();
  insert into platform.access_tokens (account_id, kind, name, token_prefix, scopes, expires_at)
    values (p_account_id, p_kind, p_name, p_prefix, coalesce(p_scopes, '{}'), p_expires_at)
    returning * into v_token;
  insert into platform_private.access_token_hashes (token_id, token_hash) values (v_token.id, p_token_hash);
  return v_token;
end $$;

create or replace function platform.create_personal_token(
  p_name text, p_scopes text[], p_expires_at timestamptz, p_token_hash bytea, p_prefix text)
  returns platform.access_tokens
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select platform_private.issue_token(platform.current_account_id(), 'personal', p_name, p_scopes, p_expires_at, p_token_hash, p_prefix)
$$;
comment on function platform.create_personal_token(text, text[], timestamptz, bytea, text) is 'Creates a personal access token for the caller.';

create or replace function platform.delete_token(p_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  delete from platform.access_tokens where id = p_id and account_id = platform.current_account_id();
  if not found then raise exception 'Access token not found' using errcode = 'LMN03'; end if;
end $$;

-- One round trip per request: resolves the token, counts the request against the account's per-minute limit
-- and the token's daily quota (the plan's daily_requests_per_token, per UTC day), and records usage. The quota
-- is counted here, exactly: the conditional upsert serializes every API process on the token's row of the day,
-- so together they never serve more than the quota, and a process that dies loses no count. A request refused
-- by either limit is not counted against the quota (nor in usage_daily). No row: the token is unknown,
-- revoked or expired.
drop function if exists platform_private.authenticate(bytea, integer);
create function platform_private.authenticate(p_token_hash bytea, p_default_limit integer)
  returns table (account_id uuid, token_id uuid, token_prefix text, scopes text[], kind text, allowed boolean, retry_after integer,
                 daily_quota integer, quota_day text, used_today integer, over_quota boolean)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_token platform.access_tokens;
  v_limit integer;
  v_retry integer;
  v_quota integer;
  v_day date := (now() at time zone 'utc')::date;
  v_used integer;
begin
  select t.* into v_token from platform_private.access_token_hashes h
    join platform.access_tokens t on t.id = h.token_id
    where h.token_hash = p_token_hash and (t.expires_at is null or t.expires_at > now());
  if not found then return; end if;

  if v_token.last_used_at is null or v_token.last_used_at < now() - interval '1 minute' then
    update platform.access_tokens set last_used_at = now() where id = v_token.id;
  end if;

  select coalesce(min(p.rate_limit_per_minute), p_default_limit) into v_limit
    from platform.organization_members m
    join platform.organizations o on o.id = m.organization_id
    join platform.plans p on p.id = o.plan
    where m.account_id = v_token.account_id;
  v_quota := (select p.daily_requests_per_token from platform.plans p where p.id = platform_private.account_plan(v_token.account_id));

  v_retry := platform_private.rate_limit_hit('account:' || v_token.account_id, v_limit);
  if v_retry = 0 and (v_quota is null or v_quota > 0) then
    insert into platform_private.token_usage_daily as u (token_id, day, requests) values (v_token.id, v_day, 1)
      on conflict (token_id, day) do update set requests = u.requests + 1
      where v_quota is null or u.requests < v_quota
      returning u.requests into v_used;
    -- The token's first request of the day: its rows older than a week go (the operator may look back that far).
    if v_used = 1 then
      delete from platform_private.token_usage_daily u where u.token_id = v_token.id and u.day < v_day - 7;
    end if;
  end if;
  if v_used is not null then
    insert into platform.usage_daily as u (account_id, day, requests) values (v_token.account_id, current_date, 1)
      on conflict (account_id, day) do update set requests = u.requests + 1;
  end if;
  return query select v_token.account_id, v_token.id, v_token.token_prefix, v_token.scopes, v_token.kind, v_retry = 0, v_retry,
    v_quota, v_day::text, coalesce(v_used, v_quota, 0), v_retry = 0 and v_used is null;
end $$;

-- Superseded by the pruning in rate_limit_hit(); nothing called it.
drop function if exists platform_private.prune_rate_limits();
