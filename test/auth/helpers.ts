// Shared set-up for the auth tests: a project with chosen auth settings, supabase-js clients against it, and
// the outbox (where emails wait when no SMTP server is configured).
import crypto from 'node:crypto';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { createProject, http, type Project } from '../helpers/platform.ts';

export async function authProject(settings: Record<string, unknown> = {}): Promise<Project> {
  const p = await createProject();
  if (Object.keys(settings).length) await configure(p, settings);
  return p;
}

export async function configure(p: Project, settings: Record<string, unknown>): Promise<void> {
  const res = await http('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: p.owner.token, body: settings });
  if (res.status !== 200) throw new Error(`config failed: ${res.status} ${JSON.stringify(res.body)}`);
  // Other processes learn of the change by NOTIFY; this one too, but give the notification a moment.
  await new Promise((r) => setTimeout(r, 100));
}

export function client(p: Project, key = p.anonKey, options: { flowType?: 'implicit' | 'pkce' } = {}): SupabaseClient {
  return createClient(p.url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType: options.flowType ?? 'implicit' },
  });
}

export const newEmail = () => `user-${crypto.randomBytes(5).toString('hex')}@example.com`;
export const PASSWORD = 'a fine password 1';

export interface OutboxEmail { id: number; kind: string; to_address: string; subject: string; body_html: string }

/** The newest email to an address, read through the admin endpoint. */
export async function lastEmail(p: Project, to: string): Promise<OutboxEmail> {
  const res = await http('GET', `/project/${p.ref}/auth/v1/admin/outbox?email=${encodeURIComponent(to)}`,
    { token: p.serviceKey, headers: { apikey: p.serviceKey } });
  if (res.status !== 200 || !res.body.length) throw new Error(`no email to ${to}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body[0];
}

export const codeOf = (e: OutboxEmail) => /enter this code: (\d+)/.exec(e.body_html)![1];
export const linkOf = (e: OutboxEmail) => /href="([^"]+\/verify\?[^"]+)"/.exec(e.body_html)![1].replace(/&amp;/g, '&').replace(/&#38;/g, '&');

/** Raw HTTP against the project's auth API, with the anon key unless told otherwise. */
export function authHttp(p: Project, method: string, path: string, opts: { token?: string; body?: unknown; apikey?: string; headers?: Record<string, string> } = {}) {
  return http(method, `/project/${p.ref}/auth/v1${path}`, {
    token: opts.token ?? p.anonKey, body: opts.body,
    headers: { apikey: opts.apikey ?? p.anonKey, 'x-supabase-api-version': '2024-01-01', ...opts.headers },
  });
}
