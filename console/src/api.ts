// Talking to Loam: the Management API (/v1) with the signed-in account's session token, and a project's own APIs
// (/project/<ref>/…) with the project's keys (its publishable key where it has one, and the service_role JWT),
// fetched once per project through the Management API and kept in memory only.

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

/** The keys the console uses for a project, held in this module's memory only (never in localStorage).
 *  `publishable` is the project's first publishable key (sb_publishable_…) when it has one; `anon` the legacy
 *  anon JWT (null when legacy keys are off); `service` is the legacy
 *  service_role JWT, the one key a browser may act with full rights with: Loam (as Supabase's gateway) refuses a
 *  secret key (sb_secret_…) from a browser, so the console never asks for secret keys at all. */
export interface Keys { publishable: string | null; anon: string | null; service: string | null; legacyEnabled: boolean }
interface KeyRow { name: string; type?: string; api_key: string | null }
const keyCache = new Map<string, Promise<Keys>>();

export function projectKeys(ref: string): Promise<Keys> {
  let k = keyCache.get(ref);
  if (!k) {
    k = (async () => {
      // Without ?reveal: publishable keys are shown as they are, secret keys masked, the legacy JWTs as the role allows.
      const [keys, legacy] = await Promise.all([
        api<KeyRow[]>('GET', `/projects/${ref}/api-keys`),
        api<{ enabled: boolean }>('GET', `/projects/${ref}/api-keys/legacy`).catch(() => ({ enabled: true })),
      ]);
      const legacyKey = (n: string) => (legacy.enabled ? keys.find((x) => x.name === n && (x.type ?? 'legacy') === 'legacy')?.api_key ?? null : null);
      const publishable = keys.find((x) => x.type === 'publishable' && x.api_key)?.api_key ?? null;
      return { publishable, anon: legacyKey('anon'), service: legacyKey('service_role'), legacyEnabled: legacy.enabled };
    })();
    // A project still coming up has no keys yet: that answer is not kept, the next call asks again.
    k.then((r) => { if (r.legacyEnabled && !r.anon) keyCache.delete(ref); }, () => keyCache.delete(ref));
    keyCache.set(ref, k);
  }
  return k;
}

/** Why the console cannot act on a project's data with full rights, or null when it can. */
export async function serviceUnavailable(ref: string): Promise<string | null> {
  const keys = await projectKeys(ref);
  if (keys.service) return null;
  return keys.legacyEnabled
    ? 'Your role does not reveal the service_role key, which this page acts with (Developers and above).'
    : 'This project has turned its legacy API keys off. Browsers may not use secret keys (sb_secret_…), so this page, which acts with full rights, needs the legacy service_role key: turn legacy keys back on in the project\'s API settings, or use a secret key from a server.';
}

export const projectBase = (ref: string) => `${location.origin}/project/${ref}`;

/** The headers that act on a project's APIs with full rights (the caller checks keys.service first). */
export const serviceHeaders = (keys: Keys): Record<string, string> => ({ apikey: keys.publishable ?? keys.service!, authorization: `Bearer ${keys.service}` });

/** A request to one of the project's APIs (path starts with /rest/v1, /auth/v1, /storage/v1 …) as service_role. */
export async function projectFetch(ref: string, path: string, init: RequestInit & { raw?: boolean } = {}): Promise<Response> {
  const keys = await projectKeys(ref);
  if (!keys.service) throw new ApiError(403, 'service_key_unavailable', (await serviceUnavailable(ref))!, null);
  const headers = new Headers(init.headers);
  // The publishable key is the request's key where the project has one; the service_role JWT is who acts.
  for (const [k, v] of Object.entries(serviceHeaders(keys))) headers.set(k, v);
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
