// A project's logs and usage counts through the Management API (Supabase's analytics endpoints). The `sql` a
// client sends is never run: it is recognised — the shapes the Supabase MCP server's `get_logs`/`query_logs` and
// the dashboard send, in both dialects (`from logs where source = '…'` with `log_attributes['…']`, and a source
// table with `cross join unnest(metadata) as m`) — as a source, columns, simple filters, order and limit, and
// answered from the request log (sql/platform/functions/logs.sql). What it does not understand is a 400 that
// says what.
import { Router } from 'express';
import { ApiError } from '../errors.ts';
import { param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const logs = Router();

const MAX_WINDOW_MS = 24 * 3600 * 1000;
const MAX_LIMIT = 1000;
const SOURCES = new Set(['edge_logs', 'postgres_logs', 'function_edge_logs', 'function_logs', 'auth_logs',
  'storage_logs', 'realtime_logs', 'postgrest_logs', 'workflow_run_logs']);

const unsupported = (what: string) => new ApiError(400, 'unsupported_log_query', `Loam's log endpoint does not understand ${what}`);

interface Column { name: string; key: string }
interface Filter { key: string; op: string; value: string | number }
export interface LogQuery { source: string; columns: Column[] | '*'; filters: Filter[]; ascending: boolean; limit: number }

/** Splits on `sep` outside quotes, brackets and parentheses. */
function splitTop(text: string, sep: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0, quote = '', start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0) {
      sep.lastIndex = i;
      const m = sep.exec(text);
      if (m && m.index === i) { parts.push(text.slice(start, i)); start = i + m[0].length; i = start - 1; }
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

const IDENT = /^`?([A-Za-z_][A-Za-z0-9_]*)`?$/;

/** Recognises a log query; throws a 400 naming the part it does not understand. */
export function parseLogQuery(sqlText: string): LogQuery {
  const text = sqlText.replace(/--[^\n]*/g, ' ').replace(/\s+/g, ' ').trim().replace(/;$/, '').trim();
  const m = /^select (.+?) from (.+?)(?: order by (.+?))?(?: limit (\d+))?$/i.exec(text);
  if (!m) throw unsupported('this query: expected select … from <source> [where …] [order by timestamp] [limit n]');
  const [, selectList, fromPart, orderBy, limitText] = m;

  const [fromTables, where] = splitTop(fromPart, / where /iy);
  const joins = splitTop(fromTables, / cross join /iy);
  const table = IDENT.exec(joins[0])?.[1]?.toLowerCase();
  if (!table) throw unsupported(`the source "${joins[0].slice(0, 100)}"`);
  // Aliases of `unnest(…)`: each stands for the fields under a prefix (`m` → '', `request` → 'request.').
  const prefixes = new Map<string, string>([[table, ''], ['logs', '']]);
  const resolve = (expr: string): string => {
    const attr = /^log_attributes\s*\[\s*'([^']+)'\s*\]$/i.exec(expr);
    if (attr) return attr[1];
    const parts = expr.split('.');
    if (!parts.every((p) => IDENT.test(p))) throw unsupported(`the expression "${expr.slice(0, 100)}"`);
    const names = parts.map((p) => IDENT.exec(p)![1]);
    const prefix = names.length > 1 ? prefixes.get(names[0]) : undefined;
    return prefix === undefined ? names.join('.') : prefix + names.slice(1).join('.');
  };
  for (const join of joins.slice(1)) {
    const u = /^unnest\((.+)\)(?: as)? (\S+)$/i.exec(join);
    const alias = u && IDENT.exec(u[2])?.[1];
    if (!u || !alias) throw unsupported(`the join "${join.slice(0, 100)}"`);
    const inner = u[1].trim();
    prefixes.set(alias, /^metadata$/i.test(inner) ? '' : `${resolve(inner)}.`);
  }

  const filters: Filter[] = [];
  let source = table;
  for (const cond of where ? splitTop(where, / and /iy) : []) {
    const c = /^(.+?)\s*(=|!=|<>|<=|>=|<|>)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)$/.exec(cond);
    if (!c) throw unsupported(`the condition "${cond.slice(0, 100)}"`);
    const key = resolve(c[1].trim());
    const value = c[3].startsWith("'") ? c[3].slice(1, -1).replace(/''/g, "'") : Number(c[3]);
    if (table === 'logs' && key === 'source' && c[2] === '=') source = String(value);
    else filters.push({ key, op: c[2], value });
  }
  if (source === 'logs') throw unsupported('a query of `logs` without `where source = \'…\'`');
  if (!SOURCES.has(source)) throw unsupported(`the source "${source}" (Loam keeps ${[...SOURCES].join(', ')})`);

  let columns: Column[] | '*' = '*';
  if (selectList.trim() !== '*') {
    columns = splitTop(selectList, /,/y).map((item) => {
      const a = /^(.+?)(?: as (`?[A-Za-z_][A-Za-z0-9_]*`?))?$/i.exec(item)!;
      const key = resolve(a[1].trim());
      return { key, name: a[2] ? IDENT.exec(a[2])![1] : key.split('.').at(-1)! };
    });
  }
  let ascending = false;
  if (orderBy) {
    const o = /^(.+?)(?: (asc|desc))?$/i.exec(orderBy.trim())!;
    if (resolve(o[1]) !== 'timestamp') throw unsupported(`ordering by "${o[1].slice(0, 100)}" (only by timestamp)`);
    ascending = o[2]?.toLowerCase() === 'asc';
  }
  const limit = Math.min(limitText ? Number(limitText) : 100, MAX_LIMIT);
  return { source, columns, filters, ascending, limit };
}

interface LogRow { id: string; at: Date; event_message: string | null; attrs: Record<string, unknown> }

/** Microseconds since the epoch, as Supabase's log rows carry `timestamp`. */
const micros = (d: Date) => d.getTime() * 1000;

function value(row: LogRow, key: string): unknown {
  if (key === 'id') return row.id;
  if (key === 'timestamp') return micros(row.at);
  if (key === 'event_message') return row.event_message;
  return row.attrs[key] ?? null;
}

function matches(row: LogRow, f: Filter): boolean {
  let v = value(row, f.key);
  let w: unknown = f.value;
  if (f.key === 'timestamp' && typeof w === 'string') w = micros(new Date(w));
  if (typeof w === 'number' && typeof v === 'string' && v.trim() !== '') v = Number(v);
  if (v === null || v === undefined) return false;
  switch (f.op) {
    case '=': return v == w; // eslint-disable-line eqeqeq -- a status may be compared to '200' or 200
    case '!=': case '<>': return v != w; // eslint-disable-line eqeqeq
    case '<': return (v as number) < (w as number);
    case '<=': return (v as number) <= (w as number);
    case '>': return (v as number) > (w as number);
    default: return (v as number) >= (w as number);
  }
}

function timeWindow(q: Record<string, unknown>): { start: Date; end: Date } {
  const read = (name: string) => {
    const v = q[name];
    if (v === undefined || v === '') return undefined;
    const t = typeof v === 'string' ? Date.parse(v) : NaN;
    if (Number.isNaN(t)) throw new ApiError(400, 'invalid_timestamp', `${name} must be an ISO 8601 timestamp`);
    return t;
  };
  const endMs = read('iso_timestamp_end') ?? Date.now();
  // Without a start, the last minute (as Supabase's endpoint does).
  const startMs = read('iso_timestamp_start') ?? endMs - 60_000;
  if (startMs >= endMs) throw new ApiError(400, 'invalid_timestamp', 'iso_timestamp_start must be before iso_timestamp_end');
  if (endMs - startMs > MAX_WINDOW_MS) throw new ApiError(400, 'invalid_timestamp', 'The log window can be at most 24 hours');
  return { start: new Date(startMs), end: new Date(endMs) };
}

logs.get(['/projects/:ref/analytics/endpoints/logs.all', '/projects/:ref/analytics/endpoints/logs'], authenticate, scope('projects', 'read'), async (req, res) => {
  const sqlText = typeof req.query.sql === 'string' && req.query.sql.trim() ? req.query.sql : 'select id, timestamp, event_message from edge_logs';
  if (sqlText.length > 20_000) throw unsupported('a query longer than 20000 characters');
  const query = parseLogQuery(sqlText);
  const { start, end } = timeWindow(req.query);
  // Branching is not part of Loam: no workflow runs, so none of their logs — but the project must be the caller's.
  const source = query.source === 'workflow_run_logs' ? 'none' : query.source;
  let rows = await callerQuery<LogRow>(res, 'select * from platform.project_logs($1, $2, $3, $4, $5)',
    [param(req, 'ref'), source, start, end, query.filters.length ? MAX_LIMIT : query.limit]);
  rows = rows.filter((r) => query.filters.every((f) => matches(r, f))).slice(0, query.limit);
  if (query.ascending) rows.reverse();
  const result = rows.map((r) => query.columns === '*'
    ? { id: r.id, timestamp: micros(r.at), event_message: r.event_message, log_attributes: r.attrs }
    : Object.fromEntries(query.columns.map((c) => [c.name, value(r, c.key)])));
  res.json({ result });
});

const INTERVALS = ['15min', '30min', '1hr', '3hr', '1day', '3day', '7day'];

logs.get('/projects/:ref/analytics/endpoints/usage.api-counts', authenticate, scope('projects', 'read'), async (req, res) => {
  const interval = typeof req.query.interval === 'string' ? req.query.interval : '1day';
  if (!INTERVALS.includes(interval)) throw new ApiError(400, 'invalid_interval', `interval must be one of ${INTERVALS.join(', ')}`);
  const rows = await callerQuery<{ bucket: Date; [k: string]: unknown }>(res,
    'select * from platform.project_api_counts($1, $2)', [param(req, 'ref'), interval]);
  res.json({
    result: rows.map(({ bucket, ...counts }) => ({
      timestamp: bucket.toISOString(),
      ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Number(v)])),
    })),
  });
});

logs.get('/projects/:ref/analytics/endpoints/usage.api-requests-count', authenticate, scope('projects', 'read'), async (req, res) => {
  const [row] = await callerQuery<{ count: string }>(res, 'select platform.project_request_count($1) as count', [param(req, 'ref')]);
  res.json({ result: [{ count: Number(row.count) }] });
});
