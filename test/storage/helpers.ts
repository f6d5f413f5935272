// Storage test helpers: supabase-js clients for a project's keys and for end users (rows in auth.users with JWTs
// signed by the project's secret), and raw fetch against /storage/v1.
import crypto from 'node:crypto';
import http from 'node:http';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, sql, type Project } from '../helpers/platform.ts';

export function client(p: Project, key = p.serviceKey, token?: string): SupabaseClient {
  return createClient(p.url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
  });
}

export async function projectSecret(p: Project): Promise<string> {
  const c = await adminClient();
  try {
    const { rows } = await c.query(
      `select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1`, [p.ref]);
    return rows[0].jwt_secret;
  } finally {
    await c.end();
  }
}

export interface User { id: string; token: string; client: SupabaseClient }

/** A user of the project (a row in auth.users) and a supabase-js client that acts as them. */
export async function user(p: Project): Promise<User> {
  const id = crypto.randomUUID();
  await sql(p, `insert into auth.users (id, email, role, aud) values ('${id}', 'u${id.slice(0, 8)}@example.com', 'authenticated', 'authenticated')`);
  const now = Math.floor(Date.now() / 1000);
  const token = signJwt({ sub: id, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600 }, await projectSecret(p));
  return { id, token, client: client(p, p.anonKey, token) };
}

/** fetch against the project's storage API; `key` goes in both apikey and Authorization, as supabase-js sends it. */
export async function storageFetch(p: Project, path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const key = init.key === undefined ? p.serviceKey : init.key;
  if (key) {
    headers.set('apikey', key);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
  }
  return fetch(`${p.url}/storage/v1${path}`, { ...init, headers });
}

/** The error body storage-api sends, with the HTTP status. */
export async function errorOf(res: Response): Promise<{ status: number; statusCode: string; error: string; message: string; code: string }> {
  const body = await res.json();
  return { status: res.status, ...body };
}

/** An HTTP request whose path is sent exactly as given (fetch would resolve `..` and `%2e%2e` first). */
export function rawRequest(p: Project, method: string, pathAfterStorage: string, body?: string, headers: Record<string, string> = {}):
  Promise<{ status: number; body: string }> {
  const u = new URL(p.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, method, path: `${u.pathname}/storage/v1${pathAfterStorage}`,
      headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}`, ...headers },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
