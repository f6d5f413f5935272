-- GoTrue's `filter` on the admin users list (GET /admin/users?filter=): users whose email contains it (LIKE) or
-- whose user_metadata.full_name does (ILIKE); `p_filter` is the LIKE pattern (`%text%`), null for all users.
-- The total counts the matches, as GoTrue's X-Total-Count does.
drop function auth.admin_list_users(integer, integer);
create function auth.admin_list_users(p_page integer, p_per_page integer, p_filter text default null) returns jsonb
  language sql stable
as $$
  with m as (
    select u.id, u.created_at from auth.users u
     where p_filter is null or u.email like p_filter or (u.raw_user_meta_data ->> 'full_name') ilike p_filter)
  select jsonb_build_object(
    'total', (select count(*) from m),
    'users', coalesce((select jsonb_agg(auth.user_json(u) order by u.created_at desc, u.id) from auth.users u
      where u.id in (select m.id from m order by m.created_at desc, m.id limit p_per_page offset (p_page - 1) * p_per_page)), '[]'))
$$;
