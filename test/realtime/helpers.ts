// Realtime test helpers: supabase-js clients of a project, and waiting for what a channel receives.
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import http from 'node:http';
import { after } from 'node:test';
import type { Project } from '../helpers/platform.ts';

const clients: SupabaseClient[] = [];
/** Closes the channels of every client made so far. */
export async function closeAll(): Promise<void> { for (const c of clients.splice(0)) await c.removeAllChannels(); }
after(closeAll);

export function client(p: Project | { url: string; anonKey: string }, key = p.anonKey, url = p.url, realtime: Record<string, unknown> = {}): SupabaseClient {
  const c = createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false }, realtime: { heartbeatIntervalMs: 5000, ...realtime } });
  clients.push(c);
  return c;
}

/** Subscribes and resolves with the status (SUBSCRIBED, CHANNEL_ERROR with its error, …). */
export function subscribed(ch: RealtimeChannel, timeoutMs = 10_000): Promise<{ status: string; error?: Error }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`channel ${ch.topic} did not settle`)), timeoutMs);
    ch.subscribe((status, error) => {
      if (status === 'SUBSCRIBED' || status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') { clearTimeout(t); resolve({ status, error }); }
    });
  });
}

/** Polls until `fn` returns something truthy. */
export async function until<T>(fn: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The HTTP status a WebSocket upgrade request gets (101 when accepted). */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
    req.on('error', reject);
  });
}

/** Whether the run's server can stream changes (wal_level=logical): the embedded one is set up for it; a server
 *  given by DATABASE_URL may not be, and then the tests that need the WAL are skipped (and say why). */
export async function walLevelLogical(): Promise<boolean> {
  const { adminClient } = await import('../helpers/platform.ts');
  const c = await adminClient();
  try { return (await c.query('show wal_level')).rows[0].wal_level === 'logical'; } finally { await c.end(); }
}
