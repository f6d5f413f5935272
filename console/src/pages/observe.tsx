// Observability: request logs with filters (the logs endpoint, Supabase's analytics shape), charts of requests,
// errors and latency over time per API (plain SVG), usage counts, and the advisors' findings with remediation.
import { useMemo, useState } from 'react';
import { api, type Project } from '../api.ts';
import { Button, ErrorNote, Field, Skeleton, Tabs, fmtDate, useAsync } from '../ui.tsx';

interface LogRow { id: string; timestamp: number; event_message: string; log_attributes?: Record<string, unknown> }
interface Lint { name: string; title: string; level: string; facing?: string; categories?: string[]; description: string; detail: string; remediation?: string; cache_key?: string }

const SOURCES = ['edge_logs', 'postgres_logs', 'auth_logs', 'storage_logs', 'postgrest_logs', 'realtime_logs', 'function_edge_logs', 'function_logs'];
const WINDOWS: Record<string, number> = { '15 minutes': 15, '1 hour': 60, '6 hours': 360, '24 hours': 1440 };
const SERVICES = ['rest', 'auth', 'storage', 'graphql', 'functions', 'realtime'];

export function ObservePage({ project }: { project: Project }) {
  const [tab, setTab] = useState('charts');
  return (
    <section>
      <header className="page-head"><h1>Observability</h1></header>
      <Tabs value={tab} onChange={setTab} tabs={[{ id: 'charts', label: 'Charts' }, { id: 'logs', label: 'Logs' }, { id: 'advisors', label: 'Advisors' }]} />
      {tab === 'charts' ? <Charts project={project} /> : tab === 'logs' ? <Logs project={project} /> : <Advisors project={project} />}
    </section>
  );
}

function logsUrl(ref: string, sqlText: string, minutes: number) {
  const end = new Date(), start = new Date(end.getTime() - minutes * 60_000);
  return `/projects/${ref}/analytics/endpoints/logs.all?${new URLSearchParams({ sql: sqlText, iso_timestamp_start: start.toISOString(), iso_timestamp_end: end.toISOString() })}`;
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

function Logs({ project }: { project: Project }) {
  const [source, setSource] = useState('edge_logs'), [win, setWin] = useState('1 hour');
  const [status, setStatus] = useState(''), [method, setMethod] = useState(''), [path, setPath] = useState('');
  const [applied, setApplied] = useState({ source, win, status, method, path });
  const sqlText = useMemo(() => {
    const where: string[] = [];
    if (applied.status) where.push(/^\d+$/.test(applied.status) ? `status = ${applied.status}` : applied.status === 'errors' ? 'status >= 400' : `status = ${q(applied.status)}`);
    if (applied.method) where.push(`method = ${q(applied.method)}`);
    if (applied.path) where.push(`path = ${q(applied.path)}`);
    return `select id, timestamp, event_message from ${applied.source}${where.length ? ` where ${where.join(' and ')}` : ''} order by timestamp desc limit 200`;
  }, [applied]);
  const logs = useAsync(() => api<{ result: LogRow[] }>('GET', logsUrl(project.ref, sqlText, WINDOWS[applied.win])), [project.ref, sqlText, applied.win]);
  return (
    <>
      <form className="toolbar" onSubmit={(e) => { e.preventDefault(); setApplied({ source, win, status, method, path }); }}>
        <Field label="Source">{(id) => <select id={id} value={source} onChange={(e) => setSource(e.target.value)}>{SOURCES.map((s) => <option key={s}>{s}</option>)}</select>}</Field>
        <Field label="Window">{(id) => <select id={id} value={win} onChange={(e) => setWin(e.target.value)}>{Object.keys(WINDOWS).map((s) => <option key={s}>{s}</option>)}</select>}</Field>
        <Field label="Status">{(id) => <input id={id} placeholder="200, 404 or errors" value={status} onChange={(e) => setStatus(e.target.value)} size={10} />}</Field>
        <Field label="Method">{(id) => <select id={id} value={method} onChange={(e) => setMethod(e.target.value)}><option value="">any</option>{['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].map((m) => <option key={m}>{m}</option>)}</select>}</Field>
        <Field label="Path">{(id) => <input id={id} placeholder="/rest/v1/todos" value={path} onChange={(e) => setPath(e.target.value)} />}</Field>
        <Button type="submit" variant="primary">Apply</Button>
      </form>
      <ErrorNote error={logs.error} />
      {!logs.data ? <Skeleton rows={8} height={28} /> : logs.data.result.length === 0 ? <p className="muted">No log lines in this window.</p> : (
        <table className="table compact logs">
          <thead><tr><th scope="col">Time</th><th scope="col">Event</th></tr></thead>
          <tbody>{logs.data.result.map((r) => <tr key={r.id}><td className="nowrap">{fmtDate(r.timestamp / 1000)}</td><td className="mono">{r.event_message}</td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}

interface Point { t: number; v: number }

/** A line chart in SVG: fixed size (no layout shift), the max labelled, hover titles for each point. */
export function LineChart({ series, title, unit, from, to }: { series: { name: string; points: Point[] }[]; title: string; unit: string; from: number; to: number }) {
  const W = 560, H = 160, P = 28;
  const max = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.v)));
  const x = (t: number) => P + ((t - from) / Math.max(1, to - from)) * (W - 2 * P);
  const y = (v: number) => H - P - (v / max) * (H - 2 * P);
  return (
    <figure className="card chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} role="img" aria-label={`${title}: ${series.map((s) => `${s.name} total ${Math.round(s.points.reduce((a, p) => a + p.v, 0))}`).join(', ')}`}>
        <line x1={P} y1={H - P} x2={W - P} y2={H - P} className="axis" />
        <line x1={P} y1={P} x2={P} y2={H - P} className="axis" />
        <text x={P - 4} y={P + 4} className="tick" textAnchor="end">{Math.round(max)}</text>
        <text x={P - 4} y={H - P} className="tick" textAnchor="end">0</text>
        <text x={P} y={H - 8} className="tick">{new Date(from).toLocaleTimeString()}</text>
        <text x={W - P} y={H - 8} className="tick" textAnchor="end">{new Date(to).toLocaleTimeString()}</text>
        {series.map((s, i) => (
          <g key={s.name} className={`series s${i}`}>
            <polyline fill="none" points={s.points.map((p) => `${x(p.t)},${y(p.v)}`).join(' ')} />
            {s.points.filter((p) => p.v > 0).map((p) => <circle key={p.t} cx={x(p.t)} cy={y(p.v)} r={2.5}><title>{`${s.name} ${new Date(p.t).toLocaleTimeString()}: ${Math.round(p.v * 10) / 10}${unit}`}</title></circle>)}
          </g>
        ))}
      </svg>
      <div className="legend">{series.map((s, i) => <span key={s.name} className={`key s${i}`}>{s.name}</span>)}</div>
    </figure>
  );
}

function Charts({ project }: { project: Project }) {
  const [win, setWin] = useState('1 hour');
  const minutes = WINDOWS[win];
  const data = useAsync(async () => {
    const to = Date.now();
    const r = await api<{ result: LogRow[] }>('GET', logsUrl(project.ref, 'select * from edge_logs limit 1000', minutes));
    return { rows: r.result, to };
  }, [project.ref, minutes]);
  const charts = useMemo(() => {
    if (!data.data) return undefined;
    const to = data.data.to, from = to - minutes * 60_000;
    const BUCKETS = 30, step = (to - from) / BUCKETS;
    const empty = () => Array.from({ length: BUCKETS }, (_, i) => ({ t: from + (i + 0.5) * step, v: 0 }));
    const perService = new Map<string, { req: Point[]; err: Point[]; lat: Point[]; n: number[] }>();
    for (const r of data.data.rows) {
      const a = r.log_attributes ?? {};
      const svc = String(a.service ?? 'other');
      if (!perService.has(svc)) perService.set(svc, { req: empty(), err: empty(), lat: empty(), n: Array(BUCKETS).fill(0) });
      const s = perService.get(svc)!;
      const i = Math.min(BUCKETS - 1, Math.max(0, Math.floor((r.timestamp / 1000 - from) / step)));
      s.req[i].v++;
      if (Number(a.status ?? a['response.status_code']) >= 400) s.err[i].v++;
      s.lat[i].v += Number(a['response.origin_time'] ?? 0); s.n[i]++;
    }
    for (const s of perService.values()) s.lat.forEach((p, i) => { p.v = s.n[i] ? p.v / s.n[i] : 0; });
    const names = [...perService.keys()].sort((a, b) => SERVICES.indexOf(a) - SERVICES.indexOf(b));
    const series = (k: 'req' | 'err' | 'lat') => (names.length ? names : ['rest']).map((n) => ({ name: n, points: perService.get(n)?.[k] ?? empty() }));
    return { from, to, requests: series('req'), errors: series('err'), latency: series('lat'), total: data.data.rows.length };
  }, [data.data, minutes]);
  const usage = useAsync(() => api<{ result: Record<string, number | string>[] }>('GET', `/projects/${project.ref}/analytics/endpoints/usage.api-counts?interval=1day`), [project.ref]);
  return (
    <>
      <div className="toolbar">
        <Field label="Window">{(id) => <select id={id} value={win} onChange={(e) => setWin(e.target.value)}>{Object.keys(WINDOWS).map((s) => <option key={s}>{s}</option>)}</select>}</Field>
        <Button onClick={data.reload}>Refresh</Button>
        {charts ? <span className="muted">{charts.total} requests sampled{charts.total >= 1000 ? ' (the latest 1000)' : ''}</span> : null}
      </div>
      <ErrorNote error={data.error} />
      <div className="charts">
        {charts ? (
          <>
            <LineChart title="Requests" unit="" series={charts.requests} from={charts.from} to={charts.to} />
            <LineChart title="Errors (status ≥ 400)" unit="" series={charts.errors} from={charts.from} to={charts.to} />
            <LineChart title="Mean latency" unit=" ms" series={charts.latency} from={charts.from} to={charts.to} />
          </>
        ) : [0, 1, 2].map((i) => <div key={i} className="card chart skeleton" />)}
        {usage.data ? (
          <LineChart title="Requests per hour, last day (all APIs)" unit=""
            from={Date.parse(String(usage.data.result[0]?.timestamp ?? new Date().toISOString()))} to={Date.now()}
            series={['total_rest_requests', 'total_auth_requests', 'total_storage_requests', 'total_realtime_requests'].map((k) => ({
              name: k.replace(/^total_|_requests$/g, ''), points: usage.data!.result.map((r) => ({ t: Date.parse(String(r.timestamp)), v: Number(r[k] ?? 0) })),
            }))} />
        ) : <div className="card chart skeleton" />}
      </div>
    </>
  );
}

function Advisors({ project }: { project: Project }) {
  const security = useAsync(() => api<{ lints: Lint[] }>('GET', `/projects/${project.ref}/advisors/security`), [project.ref]);
  const performance = useAsync(() => api<{ lints: Lint[] }>('GET', `/projects/${project.ref}/advisors/performance`), [project.ref]);
  const block = (title: string, r: typeof security) => (
    <div>
      <h2>{title}</h2>
      <ErrorNote error={r.error} />
      {!r.data ? <Skeleton rows={3} height={60} /> : r.data.lints.length === 0 ? <p className="ok">No findings.</p> : (
        <ul className="findings">{r.data.lints.map((l, i) => (
          <li key={l.cache_key ?? `${l.name}-${i}`} className="card">
            <div className="row between"><strong>{l.title}</strong><span className={`status ${l.level === 'ERROR' ? 'bad' : l.level === 'WARN' ? 'warn' : 'muted'}`}>{l.level}</span></div>
            <p>{l.detail}</p>
            <p className="muted">{l.description}</p>
            {l.remediation ? <a href={l.remediation} target="_blank" rel="noreferrer noopener">How to fix</a> : null}
          </li>
        ))}</ul>
      )}
    </div>
  );
  return <>{block('Security', security)}{block('Performance', performance)}</>;
}
