-- Per-token daily request quotas (BaseKV's): the limit is a column of the plan, the count a row per token and
-- UTC day. API processes count in memory and write their counts in batches (server/src/management/quota.ts);
-- near the limit each request is counted here at once, so the limit holds across processes.

alter table platform.plans add column daily_requests_per_token integer check (daily_requests_per_token >= 0);
comment on column platform.plans.daily_requests_per_token is
  'Management API requests each access token of an account on this plan may make per UTC day (null: no limit).';
update platform.plans set daily_requests_per_token = 100000 where id = 'free';
update platform.plans set daily_requests_per_token = 1000000 where id = 'pro';

create table platform_private.token_usage_daily (
  token_id uuid not null references platform.access_tokens on delete cascade,
  day date not null,
  requests integer not null default 0,
  primary key (token_id, day)
);
comment on table platform_private.token_usage_daily is 'Management API requests per access token per UTC day (quota counting).';
alter table platform_private.token_usage_daily enable row level security;
