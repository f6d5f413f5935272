alter table platform.access_tokens enable row level security;
drop policy if exists select_own on platform.access_tokens;
create policy select_own on platform.access_tokens for select to loam_api using (account_id = platform.current_account_id());
grant select on platform.access_tokens to loam_api;
