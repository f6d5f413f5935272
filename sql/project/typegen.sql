-- What `GET /v1/projects/{ref}/types/typescript` renders (server/src/management/types.ts), read from the
-- catalog in one statement as the project owner. $1 text[]: the schemas to describe. Relationships come from
-- the REST engine's schema cache (server/src/rest/schema-cache.ts), so the types name the embeds REST serves.
with s as (
  select n.oid, n.nspname from pg_catalog.pg_namespace n where n.nspname = any($1::text[])
),
rels as (
  select c.oid, c.relname, s.nspname, c.relkind,
    c.relkind in ('r', 'p', 'f') or (c.relkind = 'v' and (pg_catalog.pg_relation_is_updatable(c.oid, false) & 20) = 20) as is_updatable
  from pg_catalog.pg_class c join s on s.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'f', 'v', 'm') and not c.relispartition
),
cols as (
  select a.attrelid::int8 as table_id, a.attname as name,
    coalesce(bt.typname, t.typname) as format,
    not (a.attnotnull or (t.typtype = 'd' and t.typnotnull)) as is_nullable,
    a.attidentity in ('a', 'd') as is_identity,
    case a.attidentity when 'a' then 'ALWAYS' when 'd' then 'BY DEFAULT' end as identity_generation,
    (a.atthasdef or a.attgenerated <> '') as has_default,
    a.attgenerated <> '' as is_generated,
    r.relkind in ('r', 'p') or (r.relkind in ('v', 'f') and pg_catalog.pg_column_is_updatable(r.oid, a.attnum, false)) as is_updatable
  from rels r
  join pg_catalog.pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  join pg_catalog.pg_type t on t.oid = a.atttypid
  left join pg_catalog.pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
),
fns as (
  select p.oid, p.proname as name, s.nspname as schema,
    pg_catalog.pg_get_function_arguments(p.oid) as argument_types,
    p.prorettype::int8 as return_type_id, pg_catalog.pg_get_function_result(p.oid) as return_type,
    nullif(rt.typrelid, 0)::int8 as return_type_relation_id,
    p.proretset as is_set_returning_function,
    case when p.proretset then nullif(p.prorows, 0) end as prorows,
    coalesce((
      select jsonb_agg(jsonb_build_object('name', coalesce(a.name, ''), 'type_id', a.type_id::int8,
        'mode', case a.mode when 'o' then 'out' when 'b' then 'inout' when 'v' then 'variadic' when 't' then 'table' else 'in' end,
        -- defaults belong to the last pronargdefaults input arguments
        'has_default', a.mode in ('i', 'b', 'v') and a.in_pos > p.pronargs - p.pronargdefaults) order by a.ord)
      from (
        select x.ord, x.type_id, coalesce(p.proargmodes[x.ord], 'i') as mode, p.proargnames[x.ord] as name,
          count(*) filter (where coalesce(p.proargmodes[x.ord], 'i') in ('i', 'b', 'v')) over (order by x.ord) as in_pos
        from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality x(type_id, ord)
      ) a
    ), '[]') as args
  from pg_catalog.pg_proc p
  join s on s.oid = p.pronamespace
  join pg_catalog.pg_type rt on rt.oid = p.prorettype
  where p.prokind = 'f' and rt.typname not in ('trigger', 'event_trigger')
),
used as (
  select atttypid as id from pg_catalog.pg_attribute where attrelid in (select oid from rels)
  union select (a->>'type_id')::oid from fns, jsonb_array_elements(fns.args) a
  union select return_type_id::oid from fns
),
types as (
  select t.oid::int8 as id, t.typname as name, n.nspname as schema, pg_catalog.format_type(t.oid, null) as format,
    coalesce((select jsonb_agg(e.enumlabel order by e.enumsortorder) from pg_catalog.pg_enum e where e.enumtypid = t.oid), '[]') as enums,
    coalesce((select jsonb_agg(jsonb_build_object('name', a.attname, 'type_id', a.atttypid::int8) order by a.attnum)
      from pg_catalog.pg_class c join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where c.oid = t.typrelid and c.relkind = 'c'), '[]') as attributes,
    nullif(t.typrelid, 0)::int8 as type_relation_id
  from pg_catalog.pg_type t
  join pg_catalog.pg_namespace n on n.oid = t.typnamespace
  where t.oid in (select id from used)
    or t.typtype = 'e'
    or (t.typtype = 'c' and exists (select 1 from pg_catalog.pg_class c where c.oid = t.typrelid and c.relkind in ('c', 'r', 'p', 'v', 'm', 'f')) and n.nspname not in ('pg_catalog', 'information_schema'))
    or t.oid in (select typelem from pg_catalog.pg_type where oid in (select id from used))
)
select
  (select coalesce(jsonb_agg(nspname order by nspname), '[]') from s) as schemas,
  (select coalesce(jsonb_agg(jsonb_build_object('id', oid::int8, 'name', relname, 'schema', nspname, 'kind', relkind, 'is_updatable', is_updatable)), '[]') from rels) as relations,
  (select coalesce(jsonb_agg(to_jsonb(cols)), '[]') from cols) as columns,
  (select coalesce(jsonb_agg(to_jsonb(fns) - 'oid'), '[]') from fns) as functions,
  (select coalesce(jsonb_agg(to_jsonb(types)), '[]') from types) as types
