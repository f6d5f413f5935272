alter table platform.accounts enable row level security;
-- An account sees itself and the people it shares an organization with.
drop policy if exists select_self_or_colleague on platform.accounts;
create policy select_self_or_colleague on platform.accounts for select to loam_api using (
  id = platform.current_account_id()
  or exists (select 1 from platform.organization_members m
             where m.account_id = accounts.id and platform.is_org_member(m.organization_id)));
drop policy if exists update_self on platform.accounts;
create policy update_self on platform.accounts for update to loam_api using (id = platform.current_account_id());
grant select (id, email, full_name, created_at, updated_at) on platform.accounts to loam_api;
grant update (full_name) on platform.accounts to loam_api;
