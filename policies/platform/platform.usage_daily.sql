alter table platform.usage_daily enable row level security;
drop policy if exists select_own on platform.usage_daily;
create policy select_own on platform.usage_daily for select to loam_api using (account_id = platform.current_account_id());
grant select on platform.usage_daily to loam_api;
