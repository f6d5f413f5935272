// The table editor: schemas and tables (read from the catalog through the SQL endpoint), a virtualised grid whose
// rows, sorting, filtering and counting are done by the project's REST API (limit/offset pages fetched as they
// scroll into view), row insert/edit/delete with inputs by column type, table and column DDL, RLS and policies.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, ident, literal, projectFetch, sql, type Project } from '../api.ts';
import { Grid, cellText, type GridColumn } from '../components/Grid.tsx';
import { READ_ONLY_TITLE, useCanWrite } from '../context.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { Button, Confirm, ErrorNote, Field, Modal, Progress, Skeleton, Tabs, useAction, useAsync } from '../ui.tsx';

interface Column { name: string; type: string; udt: string; not_null: boolean; default: string | null; identity: boolean; pk: boolean; fk: { schema: string; table: string; column: string } | null }
interface TableInfo { name: string; kind: string; rls: boolean; estimate: number }
interface Policy { name: string; command: string; roles: string[]; using: string | null; check: string | null; permissive: string }
type Row = Record<string, unknown>;
interface Filter { column: string; op: string; value: string }

const PAGE = 200;
const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'is', 'in'];
const TYPES = ['bigint', 'integer', 'smallint', 'numeric', 'double precision', 'real', 'text', 'varchar', 'boolean', 'uuid', 'date',
  'timestamptz', 'timestamp', 'time', 'jsonb', 'json', 'bytea', 'text[]', 'bigint[]'];

const COLUMNS_SQL = `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, t.typname as udt, a.attnotnull as not_null,
  pg_get_expr(d.adbin, d.adrelid) as default, a.attidentity <> '' as identity,
  exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary and a.attnum = any (i.indkey)) as pk,
  (select json_build_object('schema', rn.nspname, 'table', r.relname, 'column', ra.attname)
     from pg_constraint f join pg_class r on r.oid = f.confrelid join pg_namespace rn on rn.oid = r.relnamespace
     join pg_attribute ra on ra.attrelid = f.confrelid and ra.attnum = f.confkey[1]
    where f.conrelid = c.oid and f.contype = 'f' and f.conkey = array[a.attnum] limit 1) as fk
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  join pg_type t on t.oid = a.atttypid left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
  where n.nspname = $1 and c.relname = $2 order by a.attnum`;

export function TablesPage({ project, rest }: { project: Project; rest: string }) {
  const ref = project.ref;
  const canWrite = useCanWrite(project.organization_slug);
  const [schemaPart, tablePart] = rest ? rest.split('/') : [];
  const schema = schemaPart || 'public';
  const schemas = useAsync(() => sql<{ name: string }>(ref, `select nspname as name from pg_namespace where nspname !~ '^pg_' and nspname not in ('information_schema') order by nspname = 'public' desc, nspname`, { readOnly: true }), [ref]);
  const tables = useAsync(() => sql<TableInfo>(ref, `select c.relname as name, c.relkind as kind, c.relrowsecurity as rls, greatest(c.reltuples, 0)::bigint as estimate
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'f') order by c.relname`, { readOnly: true, parameters: [schema] }), [ref, schema]);
  const [creating, setCreating] = useState(false);
  const table = tables.data?.find((t) => t.name === tablePart);
  return (
    <section className="editor">
      <aside className="editor-side" aria-label="Tables">
        <Field label="Schema">{(id) => (
          <select id={id} value={schema} onChange={(e) => navigate(`/p/${ref}/tables/${encodeURIComponent(e.target.value)}`)}>
            {(schemas.data ?? [{ name: schema }]).map((s) => <option key={s.name}>{s.name}</option>)}
          </select>
        )}</Field>
        <Button variant="primary" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setCreating(true)}>New table</Button>
        <ErrorNote error={tables.error} />
        {!tables.data ? <Skeleton rows={5} height={28} /> : (
          <ul className="side-list">
            {tables.data.map((t) => (
              <li key={t.name}><Link to={`/p/${ref}/tables/${encodeURIComponent(schema)}/${encodeURIComponent(t.name)}`}>{t.name}{t.kind === 'v' || t.kind === 'm' ? <span className="badge">view</span> : null}</Link></li>
            ))}
            {tables.data.length === 0 ? <li className="muted">No tables</li> : null}
          </ul>
        )}
      </aside>
      <div className="editor-main">
        {table ? <TableView key={`${schema}.${table.name}`} project={project} schema={schema} table={table} canWrite={canWrite} onChanged={tables.reload} />
          : tablePart && !tables.data ? <Skeleton rows={8} height={32} />
          : <p className="muted">{tablePart ? `No table ${tablePart} in ${schema}.` : 'Choose a table, or create one.'}</p>}
      </div>
      <CreateTable open={creating} onClose={() => setCreating(false)} project={project} schema={schema}
        onDone={(name) => { tables.reload(); navigate(`/p/${ref}/tables/${encodeURIComponent(schema)}/${encodeURIComponent(name)}`); }} />
    </section>
  );
}

function TableView({ project, schema, table, canWrite, onChanged }: { project: Project; schema: string; table: TableInfo; canWrite: boolean; onChanged: () => void }) {
  const [tab, setTab] = useState('data');
  const ref = project.ref;
  const columns = useAsync(() => sql<Column>(ref, COLUMNS_SQL, { readOnly: true, parameters: [schema, table.name] }), [ref, schema, table.name]);
  const [dropping, setDropping] = useState(false);
  const rls = useAction(async () => {
    await sql(ref, `alter table ${ident(schema)}.${ident(table.name)} ${table.rls ? 'disable' : 'enable'} row level security`);
    onChanged();
  });
  return (
    <>
      <header className="page-head">
        <div><h1>{table.name}</h1><p className="muted">{schema} · ~{table.estimate.toLocaleString()} rows</p></div>
        <div className="row">
          {table.kind === 'r' || table.kind === 'p' ? (
            <label className="toggle"><input type="checkbox" checked={table.rls} disabled={!canWrite || rls.busy} onChange={() => rls.run()} /> Row level security</label>
          ) : null}
          <Button variant="danger" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setDropping(true)}>Delete table</Button>
        </div>
      </header>
      <ErrorNote error={rls.error ?? columns.error} />
      {table.rls ? null : <p className="warn-note">RLS is off: anyone with the anon key can read and write this table through the API.</p>}
      <Tabs value={tab} onChange={setTab} tabs={[{ id: 'data', label: 'Data' }, { id: 'structure', label: 'Structure' }, { id: 'policies', label: 'Policies' }]} />
      {!columns.data ? <Skeleton rows={8} height={32} />
        : tab === 'data' ? <DataTab project={project} schema={schema} table={table} columns={columns.data} canWrite={canWrite} />
        : tab === 'structure' ? <StructureTab project={project} schema={schema} table={table.name} columns={columns.data} canWrite={canWrite} onChanged={columns.reload} />
        : <PoliciesTab project={project} schema={schema} table={table.name} canWrite={canWrite} />}
      <Confirm open={dropping} title="Delete table" typed={table.name} message={`Drops ${schema}.${table.name} and all its rows.`}
        action={() => sql(ref, `drop table ${ident(schema)}.${ident(table.name)}`)} onClose={() => setDropping(false)}
        onDone={() => { onChanged(); navigate(`/p/${ref}/tables/${encodeURIComponent(schema)}`); }} />
    </>
  );
}

function restValue(f: Filter): string {
  if (f.op === 'in') return `in.(${f.value})`;
  return `${f.op}.${f.value}`;
}

function DataTab({ project, schema, table, columns, canWrite }: { project: Project; schema: string; table: TableInfo; columns: Column[]; canWrite: boolean }) {
  const ref = project.ref;
  const { query } = useLocation();
  const initial = query.get('filter');
  const [filters, setFilters] = useState<Filter[]>(() => {
    const m = initial ? /^([^.]+)\.([a-z]+)\.(.*)$/.exec(initial) : null;
    return m ? [{ column: m[1], op: m[2], value: m[3] }] : [];
  });
  const pk = columns.filter((c) => c.pk);
  const [sort, setSort] = useState<{ column: string; ascending: boolean } | undefined>(pk[0] ? { column: pk[0].name, ascending: true } : undefined);
  const [count, setCount] = useState<number>();
  const [error, setError] = useState<Error>();
  const pages = useRef(new Map<number, Row[] | 'loading'>());
  const [, setTick] = useState(0);
  const gen = useRef(0);
  const [editing, setEditing] = useState<Row | 'new'>();
  const profile: Record<string, string> = schema === 'public' ? {} : { 'accept-profile': schema, 'content-profile': schema };

  const params = useCallback((extra: Record<string, string> = {}) => {
    const p = new URLSearchParams({ select: '*', ...extra });
    for (const f of filters) if (f.column && f.value !== '') p.append(f.column, restValue(f));
    if (sort) p.set('order', `${sort.column}.${sort.ascending ? 'asc' : 'desc'}.nullslast`);
    return p;
  }, [filters, sort]);

  // Rows come from the project's REST API with the service key. A member the Management API does not show the
  // keys to (a Read-only one, if the operator's roles say so) reads through a read-only SQL query instead.
  const viaSql = useRef(false);
  const sqlPage = async (page: number): Promise<{ rows: Row[]; total?: number }> => {
    const q = `${ident(schema)}.${ident(table.name)}`;
    const where = filters.filter((f) => f.column && f.value !== '').map((f) => {
      const c = ident(f.column);
      const list = () => f.value.split(',').map((v) => literal(v.trim())).join(', ');
      switch (f.op) {
        case 'is': return `${c} is ${/^(null|true|false|unknown)$/i.test(f.value) ? f.value : 'null'}`;
        case 'in': return `${c} in (${list()})`;
        case 'like': case 'ilike': return `${c}::text ${f.op} ${literal(f.value.replace(/\*/g, '%'))}`;
        default: return `${c} ${({ eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as Record<string, string>)[f.op]} ${literal(f.value)}`;
      }
    });
    const w = where.length ? ` where ${where.join(' and ')}` : '';
    const order = sort ? ` order by ${ident(sort.column)} ${sort.ascending ? 'asc' : 'desc'} nulls last` : '';
    const rows = await sql<Row>(ref, `select * from ${q}${w}${order} limit ${PAGE} offset ${page * PAGE}`, { readOnly: true });
    const total = page === 0 ? (await sql<{ n: number }>(ref, `select count(*) as n from ${q}${w}`, { readOnly: true }))[0].n : undefined;
    return { rows, total };
  };
  const restPage = async (page: number): Promise<{ rows: Row[]; total?: number }> => {
    const headers: Record<string, string> = { ...profile };
    if (page === 0) headers.prefer = `count=${table.estimate > 200_000 ? 'estimated' : 'exact'}`;
    const res = await projectFetch(ref, `/rest/v1/${encodeURIComponent(table.name)}?${params({ limit: String(PAGE), offset: String(page * PAGE) })}`, { headers });
    const body = await res.json();
    if (!res.ok) throw new ApiError(res.status, String(body.code ?? res.status), body.message ?? `HTTP ${res.status}`, body);
    const total = /\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '')?.[1];
    return { rows: body, total: page === 0 ? (total && total !== '*' ? Number(total) : body.length) : undefined };
  };
  const loadPage = useCallback(async (page: number, g: number) => {
    if (pages.current.has(page)) return;
    pages.current.set(page, 'loading');
    try {
      let r;
      if (viaSql.current) r = await sqlPage(page);
      else {
        try { r = await restPage(page); } catch (e) {
          if (!(e instanceof ApiError && (e.status === 403 || e.status === 401))) throw e;
          viaSql.current = true;
          r = await sqlPage(page);
        }
      }
      if (g !== gen.current) return;
      pages.current.set(page, r.rows);
      if (r.total !== undefined) setCount(Number(r.total));
      setTick((x) => x + 1);
    } catch (e) {
      if (g !== gen.current) return;
      pages.current.delete(page);
      setError(e as Error);
    }
  }, [ref, table.name, table.estimate, params]); // eslint-disable-line react-hooks/exhaustive-deps

  const reload = useCallback(() => {
    gen.current++;
    pages.current = new Map();
    setError(undefined);
    setCount(undefined);
    loadPage(0, gen.current);
  }, [loadPage]);
  useEffect(reload, [reload]);

  // Pages load once the view rests for a moment: dragging the scrollbar across 100,000 rows fetches the pages
  // where it stops, not every page it passes.
  const rangeTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const onRange = useCallback((start: number, end: number) => {
    clearTimeout(rangeTimer.current);
    const load = () => { for (let p = Math.floor(start / PAGE); p <= Math.floor(end / PAGE); p++) loadPage(p, gen.current); };
    const first = Math.floor(start / PAGE), last = Math.floor(end / PAGE);
    if (pages.current.has(first) && pages.current.has(last)) return;
    rangeTimer.current = setTimeout(load, 60);
  }, [loadPage]);
  useEffect(() => () => clearTimeout(rangeTimer.current), []);
  const getRow = (i: number) => { const p = pages.current.get(Math.floor(i / PAGE)); return Array.isArray(p) ? p[i % PAGE] : undefined; };
  const gridColumns: GridColumn[] = columns.map((c) => ({ name: c.name, type: c.type, width: c.pk ? 120 : c.udt === 'bool' ? 110 : 200, label: <>{c.name}{c.pk ? <span className="badge" title="primary key">PK</span> : null}</> }));
  const renderCell = (row: Row, col: GridColumn) => {
    const c = columns.find((x) => x.name === col.name)!;
    const v = row[col.name];
    if (c.fk && v !== null && v !== undefined) {
      return <Link to={`/p/${ref}/tables/${encodeURIComponent(c.fk.schema)}/${encodeURIComponent(c.fk.table)}?filter=${encodeURIComponent(`${c.fk.column}.eq.${v}`)}`} title={`${c.fk.table}.${c.fk.column}`}>{String(v)} →</Link>;
    }
    return cellText(v);
  };
  const sortBy = (column: string) => setSort((s) => (s?.column === column ? { column, ascending: !s.ascending } : { column, ascending: true }));
  const editable = table.kind === 'r' || table.kind === 'p';
  return (
    <>
      <div className="toolbar">
        <FilterBar columns={columns} filters={filters} onChange={setFilters} />
        <span className="muted" aria-live="polite" data-testid="row-count">{count === undefined ? 'Counting…' : `${count.toLocaleString()} rows`}</span>
        <Button onClick={reload}>Refresh</Button>
        <Button variant="primary" disabled={!canWrite || !editable} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setEditing('new')}>Insert row</Button>
      </div>
      <ErrorNote error={error} />
      <Grid label={`Rows of ${table.name}`} columns={gridColumns} rowCount={count ?? 0} getRow={getRow} renderCell={renderCell}
        onRange={onRange} sort={sort} onSort={sortBy} onRowOpen={editable ? (r) => setEditing(r) : undefined} height="calc(100vh - 330px)" />
      {count === undefined ? <div className="grid-loading"><Skeleton rows={1} height={4} /></div> : null}
      <RowEditor open={editing !== undefined} row={editing === 'new' ? undefined : editing} columns={columns} project={project} schema={schema}
        table={table.name} canWrite={canWrite} onClose={() => setEditing(undefined)} onDone={() => { setEditing(undefined); reload(); }} />
    </>
  );
}

function FilterBar({ columns, filters, onChange }: { columns: Column[]; filters: Filter[]; onChange: (f: Filter[]) => void }) {
  const [draft, setDraft] = useState<Filter[]>(filters);
  useEffect(() => setDraft(filters), [filters]);
  const set = (i: number, f: Partial<Filter>) => setDraft(draft.map((d, j) => (j === i ? { ...d, ...f } : d)));
  return (
    <form className="filters" onSubmit={(e) => { e.preventDefault(); onChange(draft.filter((f) => f.column)); }}>
      {draft.map((f, i) => (
        <span key={i} className="filter">
          <select aria-label="Filter column" value={f.column} onChange={(e) => set(i, { column: e.target.value })}>{columns.map((c) => <option key={c.name}>{c.name}</option>)}</select>
          <select aria-label="Filter operator" value={f.op} onChange={(e) => set(i, { op: e.target.value })}>{OPS.map((o) => <option key={o}>{o}</option>)}</select>
          <input aria-label="Filter value" value={f.value} onChange={(e) => set(i, { value: e.target.value })} placeholder={f.op === 'in' ? 'a,b,c' : f.op === 'is' ? 'null' : 'value'} />
          <button type="button" className="btn ghost" aria-label="Remove filter" onClick={() => { const next = draft.filter((_, j) => j !== i); setDraft(next); onChange(next); }}>✕</button>
        </span>
      ))}
      <Button onClick={() => setDraft([...draft, { column: columns[0]?.name ?? '', op: 'eq', value: '' }])}>Add filter</Button>
      {draft.length ? <Button type="submit">Apply</Button> : null}
    </form>
  );
}

const isNumeric = (c: Column) => /^(int2|int4|float4|float8)$/.test(c.udt);
const isJson = (c: Column) => c.udt === 'json' || c.udt === 'jsonb' || c.udt.startsWith('_');

function toInput(c: Column, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (isJson(c)) return JSON.stringify(v, null, 2);
  if (c.udt === 'timestamptz' || c.udt === 'timestamp') return String(v);
  return String(v);
}

function fromInput(c: Column, s: string): unknown {
  if (c.udt === 'bool') return s === 'true';
  if (isNumeric(c)) { const n = Number(s); if (Number.isNaN(n)) throw new Error(`${c.name}: not a number`); return n; }
  if (isJson(c)) { try { return JSON.parse(s); } catch { throw new Error(`${c.name}: not valid JSON`); } }
  return s;
}

function RowEditor({ open, row, columns, project, schema, table, canWrite, onClose, onDone }: {
  open: boolean; row: Row | undefined; columns: Column[]; project: Project; schema: string; table: string; canWrite: boolean; onClose: () => void; onDone: () => void;
}) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [nulls, setNulls] = useState<Record<string, boolean>>({});
  const [confirmDelete, setConfirmDelete] = useState(false);
  useEffect(() => {
    if (!open) return;
    setValues(Object.fromEntries(columns.map((c) => [c.name, row ? toInput(c, row[c.name]) : c.udt === 'bool' ? 'false' : ''])));
    setNulls(Object.fromEntries(columns.map((c) => [c.name, row ? row[c.name] === null : false])));
  }, [open, row, columns]);
  const pk = columns.filter((c) => c.pk);
  const profile: Record<string, string> = schema === 'public' ? {} : { 'content-profile': schema, 'accept-profile': schema };
  const match = () => new URLSearchParams(pk.map((c) => [c.name, `eq.${row![c.name]}`]));
  const send = async (method: string, query: string, body?: unknown) => {
    const res = await projectFetch(project.ref, `/rest/v1/${encodeURIComponent(table)}${query}`, {
      method, headers: { ...profile, prefer: 'return=minimal' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) { const b = await res.json().catch(() => ({})); throw new Error([b.message, b.details, b.hint].filter(Boolean).join(' — ') || `HTTP ${res.status}`); }
  };
  const save = useAction(async () => {
    const body: Row = {};
    for (const c of columns) {
      const s = values[c.name] ?? '';
      if (nulls[c.name]) body[c.name] = null;
      else if (!row && s === '' && (c.default !== null || c.identity)) continue; // the column's default
      else if (row && toInput(c, row[c.name]) === s && row[c.name] !== null) continue; // unchanged
      else body[c.name] = fromInput(c, s);
    }
    if (row) { if (Object.keys(body).length) await send('PATCH', `?${match()}`, body); } else await send('POST', '', body);
    onDone();
  });
  return (
    <Modal title={row ? 'Edit row' : 'Insert row'} open={open} onClose={onClose} wide>
      <form onSubmit={(e) => { e.preventDefault(); save.run(); }}>
        {columns.map((c) => (
          <Field key={c.name} label={`${c.name} (${c.type})${c.pk ? ' · primary key' : ''}`} hint={!row && (c.default || c.identity) ? `Default: ${c.identity ? 'identity' : c.default}` : undefined}>
            {(id) => (
              <div className="row">
                {c.udt === 'bool' ? (
                  <select id={id} value={values[c.name] ?? 'false'} disabled={nulls[c.name] || !canWrite} onChange={(e) => setValues({ ...values, [c.name]: e.target.value })}><option>true</option><option>false</option></select>
                ) : isJson(c) ? (
                  <textarea id={id} className="mono" rows={3} value={values[c.name] ?? ''} disabled={nulls[c.name] || !canWrite} onChange={(e) => setValues({ ...values, [c.name]: e.target.value })} />
                ) : (
                  <input id={id} className={isNumeric(c) ? 'mono' : ''} disabled={nulls[c.name] || !canWrite}
                    type={isNumeric(c) ? 'number' : c.udt === 'date' ? 'date' : 'text'} step={isNumeric(c) ? 'any' : undefined}
                    placeholder={c.udt === 'timestamptz' ? '2025-01-31 12:00:00+00' : c.udt === 'uuid' ? '00000000-0000-0000-0000-000000000000' : ''}
                    value={values[c.name] ?? ''} onChange={(e) => setValues({ ...values, [c.name]: e.target.value })} />
                )}
                {!c.not_null ? <label className="toggle"><input type="checkbox" checked={!!nulls[c.name]} disabled={!canWrite} onChange={(e) => setNulls({ ...nulls, [c.name]: e.target.checked })} /> NULL</label> : null}
              </div>
            )}
          </Field>
        ))}
        <ErrorNote error={save.error} />
        <div className="row between">
          {row && pk.length ? <Button variant="danger" disabled={!canWrite} onClick={() => setConfirmDelete(true)}>Delete row</Button> : <span />}
          {row && !pk.length ? <span className="muted">No primary key: rows cannot be changed here.</span> : null}
          <Button type="submit" variant="primary" busy={save.busy} disabled={!canWrite || (!!row && !pk.length)} title={canWrite ? undefined : READ_ONLY_TITLE}>{row ? 'Save' : 'Insert'}</Button>
        </div>
      </form>
      <Confirm open={confirmDelete} title="Delete row" message="This row is deleted." action={() => send('DELETE', `?${match()}`)}
        onClose={() => setConfirmDelete(false)} onDone={onDone} />
    </Modal>
  );
}

interface NewColumn { name: string; type: string; default: string; nullable: boolean; pk: boolean; references: string }

function columnSql(c: NewColumn): string {
  const refTarget = c.references.trim() ? /^(?:([^.]+)\.)?([^.(]+)\(([^)]+)\)$/.exec(c.references.trim()) : null;
  if (c.references.trim() && !refTarget) throw new Error(`${c.name}: references must look like table(column) or schema.table(column)`);
  return [ident(c.name), c.type,
    c.pk ? 'primary key' : '', !c.nullable && !c.pk ? 'not null' : '',
    c.default.trim() ? `default ${c.default.trim()}` : '',
    refTarget ? `references ${refTarget[1] ? `${ident(refTarget[1])}.` : ''}${ident(refTarget[2])}(${ident(refTarget[3])})` : '',
  ].filter(Boolean).join(' ');
}

function CreateTable({ open, onClose, project, schema, onDone }: { open: boolean; onClose: () => void; project: Project; schema: string; onDone: (name: string) => void }) {
  const [name, setName] = useState(''), [rls, setRls] = useState(true);
  const fresh = (): NewColumn[] => [
    { name: 'id', type: 'bigint generated by default as identity', default: '', nullable: false, pk: true, references: '' },
    { name: 'created_at', type: 'timestamptz', default: 'now()', nullable: false, pk: false, references: '' },
  ];
  const [cols, setCols] = useState<NewColumn[]>(fresh);
  useEffect(() => { if (open) { setName(''); setCols(fresh()); } }, [open]);
  const ddl = useMemo(() => {
    try {
      return `create table ${ident(schema)}.${ident(name || 'new_table')} (\n  ${cols.filter((c) => c.name).map(columnSql).join(',\n  ')}\n);${rls ? `\nalter table ${ident(schema)}.${ident(name || 'new_table')} enable row level security;` : ''}`;
    } catch (e) { return `-- ${(e as Error).message}`; }
  }, [cols, name, rls, schema]);
  const a = useAction(async () => { if (ddl.startsWith('--')) throw new Error(ddl.slice(3)); await sql(project.ref, ddl); onClose(); onDone(name); });
  const set = (i: number, c: Partial<NewColumn>) => setCols(cols.map((x, j) => (j === i ? { ...x, ...c } : x)));
  return (
    <Modal title={`New table in ${schema}`} open={open} onClose={onClose} wide>
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Table name">{(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <label className="toggle"><input type="checkbox" checked={rls} onChange={(e) => setRls(e.target.checked)} /> Enable row level security</label>
        <table className="table compact">
          <thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Default</th><th scope="col">Nullable</th><th scope="col">Primary</th><th scope="col">References</th><th scope="col"><span className="sr-only">Remove</span></th></tr></thead>
          <tbody>
            {cols.map((c, i) => (
              <tr key={i}>
                <td><input aria-label={`Column ${i + 1} name`} value={c.name} onChange={(e) => set(i, { name: e.target.value })} /></td>
                <td><input aria-label={`Column ${i + 1} type`} list="pg-types" value={c.type} onChange={(e) => set(i, { type: e.target.value })} /></td>
                <td><input aria-label={`Column ${i + 1} default`} className="mono" value={c.default} onChange={(e) => set(i, { default: e.target.value })} /></td>
                <td><input aria-label={`Column ${i + 1} nullable`} type="checkbox" checked={c.nullable} onChange={(e) => set(i, { nullable: e.target.checked })} /></td>
                <td><input aria-label={`Column ${i + 1} primary key`} type="checkbox" checked={c.pk} onChange={(e) => set(i, { pk: e.target.checked })} /></td>
                <td><input aria-label={`Column ${i + 1} references`} placeholder="table(column)" value={c.references} onChange={(e) => set(i, { references: e.target.value })} /></td>
                <td><button type="button" className="btn ghost" aria-label={`Remove column ${i + 1}`} onClick={() => setCols(cols.filter((_, j) => j !== i))}>✕</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <datalist id="pg-types">{TYPES.map((t) => <option key={t} value={t} />)}</datalist>
        <Button onClick={() => setCols([...cols, { name: '', type: 'text', default: '', nullable: true, pk: false, references: '' }])}>Add column</Button>
        <details><summary>SQL</summary><pre className="mono">{ddl}</pre></details>
        <ErrorNote error={a.error} />
        <div className="row end"><Button type="submit" variant="primary" busy={a.busy}>Create table</Button></div>
      </form>
    </Modal>
  );
}

function StructureTab({ project, schema, table, columns, canWrite, onChanged }: { project: Project; schema: string; table: string; columns: Column[]; canWrite: boolean; onChanged: () => void }) {
  const q = `${ident(schema)}.${ident(table)}`;
  const [col, setCol] = useState<NewColumn>({ name: '', type: 'text', default: '', nullable: true, pk: false, references: '' });
  const [dropping, setDropping] = useState<string>();
  const [renaming, setRenaming] = useState<{ from: string; to: string }>();
  const add = useAction(async () => { await sql(project.ref, `alter table ${q} add column ${columnSql(col)}`); setCol({ ...col, name: '' }); onChanged(); });
  const rename = useAction(async () => { await sql(project.ref, `alter table ${q} rename column ${ident(renaming!.from)} to ${ident(renaming!.to)}`); setRenaming(undefined); onChanged(); });
  const alterType = useAction(async (c: string, type: string) => { await sql(project.ref, `alter table ${q} alter column ${ident(c)} type ${type} using ${ident(c)}::${type}`); onChanged(); });
  const nullable = useAction(async (c: Column) => { await sql(project.ref, `alter table ${q} alter column ${ident(c.name)} ${c.not_null ? 'drop' : 'set'} not null`); onChanged(); });
  return (
    <>
      <ErrorNote error={add.error ?? rename.error ?? alterType.error ?? nullable.error} />
      <table className="table">
        <thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Default</th><th scope="col">Not null</th><th scope="col">Key</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
        <tbody>{columns.map((c) => (
          <tr key={c.name}>
            <td className="mono">{c.name}</td>
            <td><input aria-label={`Type of ${c.name}`} className="mono" defaultValue={c.type} disabled={!canWrite} list="pg-types"
              onBlur={(e) => { if (e.target.value !== c.type) alterType.run(c.name, e.target.value); }} /></td>
            <td className="mono">{c.identity ? 'identity' : c.default ?? ''}</td>
            <td><input type="checkbox" aria-label={`${c.name} not null`} checked={c.not_null} disabled={!canWrite || c.pk} onChange={() => nullable.run(c)} /></td>
            <td>{c.pk ? 'primary' : ''}{c.fk ? <Link to={`/p/${project.ref}/tables/${encodeURIComponent(c.fk.schema)}/${encodeURIComponent(c.fk.table)}`}>→ {c.fk.table}.{c.fk.column}</Link> : null}</td>
            <td className="right">
              <Button variant="ghost" disabled={!canWrite} onClick={() => setRenaming({ from: c.name, to: c.name })}>Rename</Button>
              <Button variant="ghost" disabled={!canWrite} onClick={() => setDropping(c.name)}>Drop</Button>
            </td>
          </tr>
        ))}</tbody>
      </table>
      <datalist id="pg-types">{TYPES.map((t) => <option key={t} value={t} />)}</datalist>
      <form className="card inline-form" onSubmit={(e) => { e.preventDefault(); add.run(); }}>
        <Field label="New column">{(id) => <input id={id} required value={col.name} onChange={(e) => setCol({ ...col, name: e.target.value })} disabled={!canWrite} />}</Field>
        <Field label="Type">{(id) => <input id={id} list="pg-types" value={col.type} onChange={(e) => setCol({ ...col, type: e.target.value })} disabled={!canWrite} />}</Field>
        <Field label="Default">{(id) => <input id={id} className="mono" value={col.default} onChange={(e) => setCol({ ...col, default: e.target.value })} disabled={!canWrite} />}</Field>
        <Field label="References">{(id) => <input id={id} placeholder="table(column)" value={col.references} onChange={(e) => setCol({ ...col, references: e.target.value })} disabled={!canWrite} />}</Field>
        <label className="toggle"><input type="checkbox" checked={col.nullable} onChange={(e) => setCol({ ...col, nullable: e.target.checked })} disabled={!canWrite} /> Nullable</label>
        <Button type="submit" variant="primary" busy={add.busy} disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE}>Add column</Button>
      </form>
      <Modal title="Rename column" open={!!renaming} onClose={() => setRenaming(undefined)}>
        <form onSubmit={(e) => { e.preventDefault(); rename.run(); }}>
          <Field label={`New name for ${renaming?.from}`}>{(id) => <input id={id} required value={renaming?.to ?? ''} onChange={(e) => setRenaming({ ...renaming!, to: e.target.value })} />}</Field>
          <ErrorNote error={rename.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={rename.busy}>Rename</Button></div>
        </form>
      </Modal>
      <Confirm open={!!dropping} title="Drop column" message={`Drops ${dropping} and its data from ${table}.`}
        action={() => sql(project.ref, `alter table ${q} drop column ${ident(dropping!)}`)} onClose={() => setDropping(undefined)} onDone={onChanged} />
    </>
  );
}

function PoliciesTab({ project, schema, table, canWrite }: { project: Project; schema: string; table: string; canWrite: boolean }) {
  const policies = useAsync(() => sql<Policy>(project.ref, `select policyname as name, cmd as command, roles, qual as using, with_check as check, permissive
    from pg_policies where schemaname = $1 and tablename = $2 order by policyname`, { readOnly: true, parameters: [schema, table] }), [project.ref, schema, table]);
  const [editing, setEditing] = useState<Policy | 'new'>();
  const [dropping, setDropping] = useState<string>();
  const q = `${ident(schema)}.${ident(table)}`;
  return (
    <>
      <div className="toolbar"><span className="muted">Policies decide which rows each role sees and changes when RLS is on.</span>
        <Button variant="primary" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setEditing('new')}>New policy</Button></div>
      <ErrorNote error={policies.error} />
      {!policies.data ? <Skeleton rows={2} height={40} /> : policies.data.length === 0 ? <p className="muted">No policies.</p> : (
        <table className="table">
          <thead><tr><th scope="col">Name</th><th scope="col">Command</th><th scope="col">Roles</th><th scope="col">Using</th><th scope="col">With check</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{policies.data.map((p) => (
            <tr key={p.name}><td>{p.name}</td><td>{p.command}</td><td>{(Array.isArray(p.roles) ? p.roles : String(p.roles).replace(/[{}]/g, '').split(',')).join(', ')}</td>
              <td className="mono">{p.using ?? ''}</td><td className="mono">{p.check ?? ''}</td>
              <td className="right"><Button variant="ghost" disabled={!canWrite} onClick={() => setEditing(p)}>Edit</Button><Button variant="ghost" disabled={!canWrite} onClick={() => setDropping(p.name)}>Drop</Button></td></tr>
          ))}</tbody>
        </table>
      )}
      <PolicyEditor open={editing !== undefined} policy={editing === 'new' ? undefined : editing} project={project} table={q}
        onClose={() => setEditing(undefined)} onDone={() => { setEditing(undefined); policies.reload(); }} />
      <Confirm open={!!dropping} title="Drop policy" message={`Drops the policy “${dropping}”.`}
        action={() => sql(project.ref, `drop policy ${ident(dropping!)} on ${q}`)} onClose={() => setDropping(undefined)} onDone={policies.reload} />
    </>
  );
}

function PolicyEditor({ open, policy, project, table, onClose, onDone }: { open: boolean; policy?: Policy; project: Project; table: string; onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState(''), [command, setCommand] = useState('SELECT'), [roles, setRoles] = useState('authenticated');
  const [using, setUsing] = useState(''), [check, setCheck] = useState('');
  useEffect(() => {
    if (!open) return;
    setName(policy?.name ?? ''); setCommand(policy?.command ?? 'SELECT');
    setRoles(policy ? (Array.isArray(policy.roles) ? policy.roles : String(policy.roles).replace(/[{}]/g, '').split(',')).join(', ') : 'authenticated');
    setUsing(policy?.using ?? ''); setCheck(policy?.check ?? '');
  }, [open, policy]);
  const needsUsing = command !== 'INSERT', needsCheck = command === 'INSERT' || command === 'UPDATE' || command === 'ALL';
  const text = `create policy ${ident(name || 'policy')} on ${table} as ${policy?.permissive === 'RESTRICTIVE' ? 'restrictive' : 'permissive'} for ${command.toLowerCase()} to ${roles.split(/[\s,]+/).filter(Boolean).map((r) => (r === 'public' ? r : ident(r))).join(', ') || 'public'}${needsUsing && using.trim() ? ` using (${using})` : ''}${needsCheck && check.trim() ? ` with check (${check})` : ''};`;
  // Editing is drop-and-create in one transaction: the table is never left without the policy.
  const a = useAction(async () => { await sql(project.ref, `${policy ? `drop policy ${ident(policy.name)} on ${table};\n` : ''}${text}`); onDone(); });
  return (
    <Modal title={policy ? `Edit policy ${policy.name}` : 'New policy'} open={open} onClose={onClose} wide>
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Policy name">{(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Command">{(id) => <select id={id} value={command} onChange={(e) => setCommand(e.target.value)}>{['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'ALL'].map((c) => <option key={c}>{c}</option>)}</select>}</Field>
        <Field label="Roles" hint="anon, authenticated, public …">{(id) => <input id={id} value={roles} onChange={(e) => setRoles(e.target.value)} />}</Field>
        {needsUsing ? <Field label="USING expression" hint="e.g. auth.uid() = user_id">{(id) => <textarea id={id} className="mono" rows={2} value={using} onChange={(e) => setUsing(e.target.value)} />}</Field> : null}
        {needsCheck ? <Field label="WITH CHECK expression">{(id) => <textarea id={id} className="mono" rows={2} value={check} onChange={(e) => setCheck(e.target.value)} />}</Field> : null}
        <pre className="mono small">{text}</pre>
        <ErrorNote error={a.error} />
        {a.busy ? <Progress value={undefined} label="Saving" /> : null}
        <div className="row end"><Button type="submit" variant="primary" busy={a.busy}>Save policy</Button></div>
      </form>
    </Modal>
  );
}


