-- Auth fixes (issue 16): the admin's generate_link for an email change, as GoTrue makes it.

-- Records an email change to p.new_email for the user with p.email and the token of one of its two links:
-- type 'email_change_current' (the token goes to the current address) or 'email_change_new' (to the new one).
-- The other link's token, if one was made before, stays, as in GoTrue. Returns the user.
create function auth.admin_email_change_link(p jsonb) returns jsonb
  language plpgsql volatile
as $$
declare
  v_user auth.users;
  v_new text := lower(trim(p ->> 'new_email'));
  v_current boolean := p ->> 'type' = 'email_change_current';
begin
  select * into v_user from auth.users where lower(email) = lower(trim(p ->> 'email')) and not is_sso_user for update;
  if not found then
    raise exception 'User with this email not found' using errcode = 'LMU07';
  end if;
  if exists (select 1 from auth.users where lower(email) = v_new and id <> v_user.id and not is_sso_user) then
    raise exception 'A user with this email address has already been registered' using errcode = 'LMU02';
  end if;
  update auth.users set email_change = v_new, email_change_sent_at = now(), email_change_confirm_status = 0,
      email_change_token_current = case when v_current then p ->> 'token_hash' else email_change_token_current end,
      email_change_token_new = case when v_current then email_change_token_new else p ->> 'token_hash' end
    where id = v_user.id
    returning * into v_user;
  insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to)
    values (v_user.id, case when v_current then 'email_change_token_current' else 'email_change_token_new' end::auth.one_time_token_type,
            p ->> 'token_hash', case when v_current then v_user.email else v_new end)
    on conflict (user_id, token_type) do update
      set token_hash = excluded.token_hash, relates_to = excluded.relates_to, created_at = now(), updated_at = now();
  return auth.user_json(v_user);
end $$;
