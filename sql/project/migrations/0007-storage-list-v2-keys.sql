-- Storage parity with Supabase (issue 14): the v2 listing in any sort order with a delimiter, and empty path segments.

-- The v2 listing with a delimiter in any sort order, as Supabase Storage lists it (its search_by_timestamp): a
-- folder entry (id null) sorts by when its first object was created — both its created_at and updated_at are
-- the earliest created_at below it — and entries page by (sort column, name) after a cursor.

create or replace function storage.list_objects_with_delimiter(bucket_id text, prefix_param text, delimiter_param text,
                                                              max_keys integer default 100, start_after text default '',
                                                              next_token text default '', sort_column text default 'name',
                                                              sort_order text default 'asc', sort_column_after text default null)
  returns table (name text, id uuid, metadata jsonb, updated_at timestamptz, created_at timestamptz,
                 last_accessed_at timestamptz)
  language plpgsql stable
as $$
declare
  v_column text := case when sort_column in ('created_at', 'updated_at') then sort_column end;
  v_op text := case when lower(sort_order) = 'desc' then '<' else '>' end;
  v_dir text := case when lower(sort_order) = 'desc' then 'desc' else 'asc' end;
begin
  return query execute format(
    $q$
      with matching as (
        select case when $3 <> '' and strpos(substr(o.name, length($2) + 1), $3) > 0
                    then left(o.name, length($2) + strpos(substr(o.name, length($2) + 1), $3))
                    else o.name end as entry,
               o.name, o.id, o.metadata, o.updated_at, o.created_at, o.last_accessed_at
        from storage.objects o
        where o.bucket_id = $1
          and o.name collate "C" like replace(replace(replace($2, E'\\', E'\\\\'), '%%', E'\\%%'), '_', E'\\_') || '%%'
      ), entries as (
        select m.entry collate "C" as name,
               (array_agg(m.id) filter (where m.entry = m.name))[1] as id,
               (array_agg(m.metadata) filter (where m.entry = m.name))[1] as metadata,
               case when bool_or(m.entry = m.name) then max(m.updated_at) filter (where m.entry = m.name)
                    else min(m.created_at) end as updated_at,
               case when bool_or(m.entry = m.name) then max(m.created_at) filter (where m.entry = m.name)
                    else min(m.created_at) end as created_at,
               max(m.last_accessed_at) filter (where m.entry = m.name) as last_accessed_at
        from matching m
        group by 1
      )
      select * from entries e
      where $4::text is null or %1$s
      order by %2$s e.name collate "C" %3$s
      limit $5
    $q$,
    case when v_column is null then format('e.name collate "C" %s $4', v_op)
         else format($c$(date_trunc('milliseconds', e.%I), e.name collate "C") %s (coalesce(nullif($6, '')::timestamptz, 'epoch'), $4)$c$, v_column, v_op) end,
    case when v_column is null then '' else format('date_trunc(''milliseconds'', e.%I) %s,', v_column, v_dir) end,
    v_dir)
  using bucket_id, prefix_param, delimiter_param, coalesce(nullif(next_token, ''), nullif(start_after, '')), max_keys,
        sort_column_after;
end $$;

-- Empty path segments (`a///b`) are names as any other, as Supabase Storage takes them; dot segments and a
-- leading slash stay refused (a URL would normalise them away).
alter table storage.objects drop constraint objects_name_valid;
alter table storage.objects add constraint objects_name_valid check (
  name is not null and name <> '' and name !~ '(^|/)\.\.?(/|$)' and name !~ '^/');
