alter table platform.plans enable row level security;
drop policy if exists select_all on platform.plans;
create policy select_all on platform.plans for select to loam_api using (true);
grant select on platform.plans to loam_api;
