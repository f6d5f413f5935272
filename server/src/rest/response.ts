// Stage 5: a Result becomes the HTTP response — status, Content-Range (with 206/416 as PostgREST computes
// them), Preference-Applied, Location, response GUC headers, and the body in the negotiated media type.
import type { ServerResponse as Response } from 'node:http';
import { RestError, restErrors } from './errors.ts';
import type { Result } from './execute.ts';
import type { ApiRequest } from './request.ts';

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  stripped: 'application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8',
  object: 'application/vnd.pgrst.object+json; charset=utf-8',
  'object-stripped': 'application/vnd.pgrst.object+json; nulls=stripped; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  geojson: 'application/geo+json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  openapi: 'application/openapi+json; charset=utf-8',
};

function contentRange(lower: number, pageTotal: number, total: number | null): string {
  const upper = lower + pageTotal - 1;
  const range = pageTotal > 0 && (total === null || total !== 0) ? `${lower}-${upper}` : '*';
  return `${range}/${total === null ? '*' : total}`;
}

function preferenceApplied(req: ApiRequest): string | undefined {
  const p = req.prefer;
  const out: string[] = [];
  if (p.resolution && req.action === 'insert') out.push(`resolution=${p.resolution}`);
  if (p.missing && ['insert', 'update'].includes(req.action)) out.push(`missing=${p.missing}`);
  if (p.return && !['read', 'head'].includes(req.action)) out.push(`return=${p.return}`);
  if (p.count) out.push(`count=${p.count}`);
  if (p.tx) out.push(`tx=${p.tx}`);
  if (p.handling) out.push(`handling=${p.handling}`);
  if (p.maxAffected !== undefined && p.handling === 'strict') out.push(`max-affected=${p.maxAffected}`);
  if (p.timezone) out.push(`timezone=${p.timezone}`);
  return out.length ? out.join(', ') : undefined;
}

function toCsv(json: string): string {
  const rows = JSON.parse(json || '[]') as Record<string, unknown>[] | Record<string, unknown>;
  const list = Array.isArray(rows) ? rows : [rows];
  if (!list.length) return '';
  const cols = Object.keys(list[0]);
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...list.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n');
}

export function render(res: Response, req: ApiRequest, r: Result): void {
  if (r.plan) return send(res, 200, { ...r.headers }, r.body);
  const headers: Record<string, string> = {};
  let status = r.status;
  const isRead = req.action === 'read' || req.action === 'head';
  if (isRead || (req.action === 'rpc')) {
    const lower = r.offset;
    if (r.total !== null && isRead) {
      if (lower > r.total && !(lower === 0)) {
        throw restErrors.range(`An offset of ${lower} was requested, but there are only ${r.total} rows.`);
      }
      if (r.pageTotal < r.total && status === 200) status = 206;
    }
    headers['Content-Range'] = contentRange(lower, r.pageTotal, r.total);
  } else if (req.action === 'insert' || req.action === 'delete') {
    headers['Content-Range'] = `*/${r.total === null ? '*' : r.total}`;
  } else if (req.action === 'update') {
    headers['Content-Range'] = contentRange(0, r.pageTotal, r.total);
  }
  const applied = preferenceApplied(req);
  if (applied) headers['Preference-Applied'] = applied;
  if (r.location) headers.Location = r.location;
  Object.assign(headers, r.headers);
  let body = r.body;
  if (body === '' || req.action === 'head' || status === 204) {
    if (body !== '' && req.action === 'head') headers['Content-Type'] ??= CONTENT_TYPES[req.accept] ?? CONTENT_TYPES.json;
    send(res, status, headers, '');
    return;
  }
  const type = req.accept;
  if (type === 'csv' && !r.csv) body = toCsv(body);
  else if ((type === 'object' || type === 'object-stripped') && body.startsWith('[')) body = body.slice(1, -1);
  if (type === 'text' && req.action === 'rpc') {
    const v = JSON.parse(body);
    body = typeof v === 'string' ? v : JSON.stringify(v);
  }
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = CONTENT_TYPES[type] ?? CONTENT_TYPES.json;
  send(res, status, headers, body);
}

// Node's own writeHead/end: Express's res.set/res.send do work (charset and type sniffing, header
// normalisation) this hot path does not need. Headers set earlier with res.set (CORS) are kept.
function send(res: Response, status: number, headers: Record<string, string>, body: string): void {
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

export function renderError(res: Response, err: RestError): void {
  send(res, err.status, { ...err.headers, 'Content-Type': 'application/json; charset=utf-8' }, JSON.stringify(err.body()));
}
