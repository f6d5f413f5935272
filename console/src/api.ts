// Talking to Loam: the Management API (/v1) with the signed-in account's session token, and a project's own APIs
// (/project/<ref>/…) with the project's service key, fetched once per project through the Management API.

export class ApiError extends Error {
  status: number;
  code: string;
  body: unknown;
  constructor(status: number, code: string, message: string, body: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const TOKEN_KEY = 'loam.session';
let token: string | null = localStorage.getItem(TOKEN_KEY);
const listeners = new Set<() => void>();

export const session = {
  get token() { return token; },
  set(t: string | null) {
    token = t;
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
    keyCache.clear();
    listeners.forEach((l) => l());
  },
  subscribe(l: () => void) { listeners.add(l); return () => { listeners.delete(l); }; },
};

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return text; }
}

function errorOf(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as Record<string, unknown>;
  const message = String(b.message ?? b.msg ?? b.error_description ?? b.error ?? (typeof body === 'string' && body) ?? `HTTP ${status}`);
  return new ApiError(status, String(b.code ?? b.error_code ?? b.statusCode ?? status), message, body);
}

/** A Management API call; throws ApiError on a non-2xx answer. A 401 signs the console out. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await parse(res);
  if (!res.ok) {
    if (res.status === 401 && token && !path.startsWith('/auth/')) session.set(null);
    throw errorOf(res.status, data);
  }
  return data as T;
}

export interface Keys { anon: string; service: string }
const keyCache = new Map<string, Promise<Keys>>();

/** The project's anon and service keys (the service key is what the console's data tools act with). */
export function projectKeys(ref: string): Promise<Keys> {
  let k = keyCache.get(ref);
  if (!k) {
    k = api<{ name: string; api_key: string }[]>('GET', `/projects/${ref}/api-keys?reveal=true`).then((keys) => {
      const find = (n: string) => keys.find((x) => x.name === n)?.api_key ?? '';
      return { anon: find('anon'), service: find('service_role') };
    });
    k.catch(() => keyCache.delete(ref));
    keyCache.set(ref, k);
  }
  return k;
}

export const projectBase = (ref: string) => `${location.origin}/project/${ref}`;

/** A request to one of the project's APIs (path starts with /rest/v1, /auth/v1, /storage/v1 …) as service_role. */
export async function projectFetch(ref: string, path: string, init: RequestInit & { raw?: boolean } = {}): Promise<Response> {
  const keys = await projectKeys(ref);
  const headers = new Headers(init.headers);
  headers.set('apikey', keys.service);
  headers.set('authorization', `Bearer ${keys.service}`);
  if (init.body && typeof init.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
  return fetch(`/project/${ref}${path}`, { ...init, headers });
}

/** projectFetch, JSON in and out, throwing ApiError on failure. */
export async function projectJson<T = any>(ref: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await projectFetch(ref, path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await parse(res);
  if (!res.ok) throw errorOf(res.status, data);
  return data as T;
}

/** SQL in the project's database as its owner (the Management API's SQL endpoint). */
export function sql<T = Record<string, unknown>>(ref: string, query: string, opts: { readOnly?: boolean; parameters?: unknown[] } = {}): Promise<T[]> {
  return api<T[]>('POST', `/projects/${ref}/database/query`, {
    query, ...(opts.readOnly ? { read_only: true } : {}), ...(opts.parameters ? { parameters: opts.parameters } : {}),
  });
}

/** An identifier quoted for SQL, as quote_ident does. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** A string literal for SQL. */
export const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;

export interface Me { id: string; email: string; full_name: string | null }
export interface Org { id: string; slug: string; name: string }
export interface Member { user_id: string; user_name: string; email: string; role_name: Role; mfa_enabled: boolean }
export type Role = 'Owner' | 'Administrator' | 'Developer' | 'Read-only';
export const ROLES: Role[] = ['Owner', 'Administrator', 'Developer', 'Read-only'];
export interface Project {
  id: string; ref: string; name: string; region: string; status: string; created_at: string;
  organization_id: string; organization_slug: string;
  database: { host: string; port: number | null; name: string; user: string; version: string };
}
