// The realtime WebSocket: `<project>/realtime/v1/websocket?apikey=…&vsn=…`, served on Loam's HTTP server by
// `ws`. One Connection per socket, one Channel per joined topic; channels meet through bus.ts (this process and
// the others). What each message does follows supabase/realtime's RealtimeChannel: replies, system messages,
// error reasons (`Code: message`) and the shutdown of a channel whose token expired.
import crypto from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { config } from '../../../db/src/config.ts';
import { cachedRuntime, onProjectChanged, type ProjectRuntime } from '../../../db/src/projects.ts';
import { checkProject } from '../project/resolve.ts';
import { recordSocket } from '../request-log.ts';
import { prepareKeyring } from '../project/keyring.ts';
import { ALL, ChannelError, channelPolicies, verifyToken, type Policies, type Subscriber } from './authorize.ts';
import * as bus from './bus.ts';
import * as changes from './changes.ts';
import { onTick, PROCESS_ID, startCluster, stopCluster } from './cluster.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { countEvent, realtimeSettings, type RealtimeSettings } from './limits.ts';
import { decode, encode, reply, type Message, type Vsn } from './protocol.ts';

const IDLE_MS = 60_000; // realtime-js heartbeats every 25 s
const MAX_FRAME = 4 * 1024 * 1024;

const connections = new Map<string, Set<Connection>>(); // project ref → sockets
let wss: WebSocketServer | undefined;
let sweeper: NodeJS.Timeout | undefined;
let unlisten: (() => void) | undefined;


class Connection {
  readonly channels = new Map<string, Channel>();
  seen = Date.now();
  readonly ws: WebSocket;
  readonly project: ProjectRuntime;
  readonly vsn: Vsn;
  readonly apikey: string;
  readonly limits: RealtimeSettings;
  constructor(ws: WebSocket, project: ProjectRuntime, vsn: Vsn, apikey: string, limits: RealtimeSettings) {
    this.ws = ws; this.project = project; this.vsn = vsn; this.apikey = apikey; this.limits = limits;
  }

  push(m: Message): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const frame = encode(m, this.vsn);
    if (frame !== undefined) this.ws.send(frame);
  }

  async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    this.seen = Date.now();
    let m: Message;
    try { m = decode(data, isBinary, this.vsn); } catch { return; }
    if (m.topic === 'phoenix' && m.event === 'heartbeat') return this.push(reply(m, 'ok'));
    if (m.event === 'phx_join') return this.join(m);
    const ch = this.channels.get(m.topic);
    if (!ch || (m.join_ref && ch.joinRef !== m.join_ref)) return this.push(reply(m, 'error', { reason: 'unmatched topic' }));
    // max_events_per_second is the project's, counted over every API process.
    if (!countEvent(this.project.ref, this.limits.max_events_per_second)) return ch.shutdown('Too many messages per second');
    switch (m.event) {
      case 'phx_leave': ch.close(); return this.push(reply(m, 'ok'));
      case 'access_token': return ch.accessToken(m.payload?.access_token);
      case 'broadcast': return ch.broadcast(m);
      case 'presence': return ch.presence(m);
      default: return;
    }
  }

  async join(m: Message): Promise<void> {
    const existing = this.channels.get(m.topic);
    if (existing) existing.close(true); // Phoenix: a duplicate join replaces the channel
    const fail = (e: ChannelError) => this.push(reply(m, 'error', { reason: e.reason }));
    if (!m.topic.startsWith('realtime:')) return fail(new ChannelError('TopicNameRequired', 'You must provide a topic name'));
    const sub = m.topic.slice('realtime:'.length);
    if (!sub) return fail(new ChannelError('TopicNameRequired', 'You must provide a topic name'));
    if (this.channels.size >= this.limits.max_channels_per_client) return this.push(reply(m, 'error', { reason: 'ChannelRateLimitReached: Too many channels' }));
    if (await overLimit('joins', this.project.ref, this.limits.max_joins_per_second)) {
      // As Supabase: the join is refused and the socket disconnected.
      this.push(reply(m, 'error', { reason: 'ClientJoinRateLimitReached: Too many joins per second' }));
      this.ws.close(1000, 'Too many joins per second');
      return;
    }
    const cfg = m.payload?.config ?? {};
    const token = typeof m.payload?.access_token === 'string' && !m.payload.access_token.startsWith('sb_') ? m.payload.access_token : this.apikey;
    let subscriber: Subscriber;
    try { subscriber = verifyToken(this.project, token); } catch (e) { return fail(e as ChannelError); }
    const isPrivate = cfg.private === true;
    if (this.limits.private_only && !isPrivate) return fail(new ChannelError('PrivateOnly', 'This project only allows private channels'));
    let policies = ALL;
    if (isPrivate) {
      try { policies = await channelPolicies(this.project, subscriber, sub); } catch {
        policies = { broadcastRead: false, broadcastWrite: false, presenceRead: false, presenceWrite: false };
      }
      if (!policies.broadcastRead && !policies.presenceRead) {
        return fail(new ChannelError('Unauthorized', `You do not have permissions to read from this Channel topic: ${sub}`));
      }
    }
    if (this.ws.readyState !== this.ws.OPEN) return;
    const bindings = Array.isArray(cfg.postgres_changes) ? cfg.postgres_changes.filter((b: unknown) => b && typeof b === 'object') : [];
    const ch = new Channel(this, m.topic, sub, m.join_ref ?? m.ref ?? '', isPrivate, cfg, subscriber, policies);
    this.channels.set(m.topic, ch);
    const pg = ch.bindChanges(bindings);
    // The reply waits for the replication stream (unlike Supabase's, which comes first and leaves a window in
    // which a SUBSCRIBED client misses changes): SUBSCRIBED then means every later commit is delivered.
    const started = pg.length ? await ch.startChanges() : undefined;
    if (ch.closed) return;
    this.push(reply(m, 'ok', { postgres_changes: pg }));
    bus.subscribe(ch.key, ch);
    if (ch.presenceEnabled) ch.syncPresence();
    if (started) ch.system('postgres_changes', started.status, started.message);
  }

  close(): void {
    for (const ch of [...this.channels.values()]) ch.close();
  }
}

class Channel implements bus.Member {
  readonly id = crypto.randomUUID();
  readonly key: string;
  readonly self: boolean;
  readonly ack: boolean;
  readonly presenceKey: string;
  presenceEnabled: boolean;
  private timer?: NodeJS.Timeout;
  private release?: () => void;
  private pgSubs: changes.Subscription[] = [];
  private bindings: changes.Binding[] = [];
  closed = false;

  readonly conn: Connection;
  readonly topic: string;
  readonly sub: string;
  readonly joinRef: string;
  readonly isPrivate: boolean;
  subscriber: Subscriber;
  policies: Policies;

  constructor(conn: Connection, topic: string, sub: string, joinRef: string, isPrivate: boolean, cfg: any, subscriber: Subscriber, policies: Policies) {
    this.conn = conn; this.topic = topic; this.sub = sub; this.joinRef = joinRef; this.isPrivate = isPrivate;
    this.subscriber = subscriber; this.policies = policies;
    this.key = bus.channelKey(conn.project.ref, isPrivate, sub);
    this.self = cfg.broadcast?.self === true;
    this.ack = cfg.broadcast?.ack === true;
    this.presenceKey = typeof cfg.presence?.key === 'string' && cfg.presence.key ? cfg.presence.key : crypto.randomUUID();
    this.presenceEnabled = cfg.presence?.enabled === true;
    this.armExpiry();
    this.release = changes.hold(conn.project);
  }

  private push(event: string, payload: unknown, ref: string | null = null) {
    this.conn.push({ join_ref: this.joinRef, ref, topic: this.topic, event, payload });
  }

  deliver(event: string, payload: unknown, from?: string): void {
    if (this.closed) return;
    if (event === 'broadcast' && ((from === this.id && !this.self) || !this.policies.broadcastRead)) return;
    this.push(event, payload);
  }

  readsPresence(): boolean { return this.presenceEnabled && this.policies.presenceRead; }

  syncPresence(): void {
    if (this.policies.presenceRead) this.push('presence_state', bus.presenceState(this.key));
  }

  system(extension: string, status: 'ok' | 'error', message: string) {
    this.push('system', { extension, status, message, channel: this.sub });
  }

  /** Supabase's shutdown_response: a system error message, then the channel closes. */
  shutdown(message: string): void {
    this.system('system', 'error', message);
    this.close(true);
  }

  close(notify = false): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    bus.untrack(this.key, this.id);
    bus.unsubscribe(this.key, this);
    for (const s of this.pgSubs) s.stop();
    this.pgSubs = [];
    this.release?.();
    if (this.conn.channels.get(this.topic) === this) this.conn.channels.delete(this.topic);
    if (notify) this.push('phx_close', {}, this.joinRef);
  }

  private armExpiry(): void {
    clearTimeout(this.timer);
    const ms = Math.min(this.subscriber.exp * 1000 - Date.now(), 3_600_000);
    this.timer = setTimeout(() => {
      try { this.subscriber = verifyToken(this.conn.project, this.subscriber.token); this.armExpiry(); } catch (e) {
        this.shutdown((e as ChannelError).message);
      }
    }, Math.max(ms, 0));
    this.timer.unref();
  }

  async accessToken(token: unknown): Promise<void> {
    if (typeof token !== 'string' || token.startsWith('sb_') || token === this.subscriber.token) return;
    let next: Subscriber;
    try { next = verifyToken(this.conn.project, token); } catch (e) { return this.shutdown((e as ChannelError).message); }
    if (this.isPrivate) {
      let p: Policies;
      try { p = await channelPolicies(this.conn.project, next, this.sub); } catch { return this.shutdown('Realtime was unable to connect to the project database'); }
      if ((this.policies.broadcastRead && !p.broadcastRead) || (this.policies.presenceRead && !p.presenceRead)) {
        return this.shutdown(`You no longer have permission to read from this Channel topic: ${this.sub}`);
      }
      this.policies = p;
    }
    if (this.closed) return;
    this.subscriber = next;
    this.armExpiry();
    for (const s of this.pgSubs) s.setSubscriber(next);
  }

  private tooLarge(payload: unknown): boolean {
    const size = Buffer.isBuffer(payload) ? payload.length : Buffer.byteLength(JSON.stringify(payload ?? null));
    return size > this.conn.limits.max_payload_size_in_kb * 1024;
  }

  broadcast(m: Message): void {
    const p = m.payload;
    if (p?.type !== 'broadcast' || typeof p.event !== 'string') return;
    if (this.tooLarge(p.payload)) {
      if (this.ack) this.conn.push(reply(m, 'error', { reason: 'PayloadTooLarge: Payload size exceeds tenant limit' }));
      return;
    }
    if (!this.policies.broadcastWrite) {
      if (this.ack) this.conn.push(reply(m, 'error', { reason: `Unauthorized: You do not have permissions to write to this Channel topic: ${this.sub}` }));
      return;
    }
    const out: Record<string, unknown> = { type: 'broadcast', event: p.event, payload: p.payload };
    if (p.meta) out.meta = p.meta;
    bus.broadcast(this.key, 'broadcast', out, this.id);
    if (this.ack) this.conn.push(reply(m, 'ok'));
  }

  presence(m: Message): void {
    const p = m.payload;
    if (p?.event === 'untrack') {
      bus.untrack(this.key, this.id);
      return this.conn.push(reply(m, 'ok'));
    }
    if (p?.event !== 'track') return this.conn.push(reply(m, 'error'));
    const meta = p.payload;
    if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return this.conn.push(reply(m, 'error', { reason: 'Presence track payload must be a map' }));
    if (this.tooLarge(meta)) return this.shutdown('Track message size exceeded');
    if (!this.policies.presenceWrite) return this.conn.push(reply(m, 'error', { reason: `Unauthorized: You do not have permissions to write to this Channel topic: ${this.sub}` }));
    if (!this.presenceEnabled) {
      // A track is what enables presence for this channel: it gets the state it has not seen yet.
      this.presenceEnabled = true;
      this.syncPresence();
    }
    bus.track(this.key, this.id, this.presenceKey, meta);
    this.conn.push(reply(m, 'ok'));
  }

  /** The join reply's postgres_changes: what the client asked for, each with the id its changes carry. */
  bindChanges(raw: any[]): changes.Binding['reply'][] {
    this.bindings = raw.map((b) => changes.binding(b));
    return this.bindings.map((b) => b.reply);
  }

  async startChanges(): Promise<{ status: 'ok' | 'error'; message: string }> {
    try {
      const s = await changes.subscribe(this.conn.project, this.bindings, this.subscriber, (payload) => this.push('postgres_changes', payload));
      if (this.closed) s.stop(); else this.pgSubs.push(s);
      return { status: 'ok', message: 'Subscribed to PostgreSQL' };
    } catch (err) {
      return { status: 'error', message: err instanceof Error ? err.message : String(err) };
    }
  }
}

// ------------------------------------------------------------------------------------------------- upgrade

/** Whether one more join or message of the project passes its per-second limit, counted in the control
 *  database over every API process. The control database being away lets it pass. */
async function overLimit(kind: 'joins', ref: string, limit: number): Promise<boolean> {
  const r = await controlPool().query('select platform_private.rate_limit_hit($1, $2, 1) as wait', [`realtime:${kind}:${ref}`, limit]).catch(() => undefined);
  return (r?.rows[0].wait ?? 0) > 0;
}

/** Counts a socket of the project unless max_concurrent_users is reached over every API process. */
async function admit(ref: string, max: number): Promise<boolean> {
  const r = await controlPool().query('select platform_private.realtime_connect($1, $2, $3) as ok', [PROCESS_ID, ref, max]).catch(() => undefined);
  return r ? r.rows[0].ok === true : (connections.get(ref)?.size ?? 0) < max;
}

// A process that was presumed dead and is back: its sockets count again.
onTick(async (_live, reborn) => {
  if (!reborn) return;
  const refs = [...connections.keys()];
  await controlPool().query('select platform_private.realtime_set_clients($1, $2, $3)', [PROCESS_ID, refs, refs.map((r) => connections.get(r)!.size)]);
});

const PATH = /^\/realtime\/v1\/websocket\/?(?:\?|$)/;

function refuse(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : 'Service Unavailable'}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

/** The project and the URL relative to it, as resolve.ts finds them; undefined when not a realtime socket. */
function target(req: http.IncomingMessage): { ref: string; rest: string } | undefined {
  const url = req.url ?? '/';
  const suffix = config.projectDomain ? `.${config.projectDomain}` : undefined;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  let ref: string, rest: string;
  if (suffix && host.endsWith(suffix)) { ref = host.slice(0, -suffix.length); rest = url; } else {
    const m = /^\/project\/([^/?]+)(.*)$/.exec(url);
    if (!m) return undefined;
    [ref, rest] = [m[1], m[2] || '/'];
  }
  return PATH.test(rest) ? { ref, rest } : undefined;
}

async function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const t = target(req);
  if (!t) return refuse(socket, 404, { message: 'Not found', code: 'not_found' });
  const q = new URLSearchParams(t.rest.includes('?') ? t.rest.slice(t.rest.indexOf('?') + 1) : '');
  const apikey = (q.get('apikey') ?? (typeof req.headers.apikey === 'string' ? req.headers.apikey : '')).trim();
  if (!apikey) return refuse(socket, 401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
  const vsn = (q.get('vsn') ?? '1.0.0') as Vsn;
  if (vsn !== '1.0.0' && vsn !== '2.0.0') return refuse(socket, 403, { message: `unsupported vsn ${vsn}` });
  const g = await checkProject(t.ref, { apikey, 'user-agent': req.headers['user-agent'] });
  if (!('project' in g)) return refuse(socket, g.status, g.body);
  const project = g.project;
  try { verifyToken(project, apikey); } catch (e) { return refuse(socket, 403, { message: (e as ChannelError).reason }); }
  const limits = await realtimeSettings(project.ref);
  if (!await admit(project.ref, limits.max_concurrent_users)) return refuse(socket, 429, { error: 'Too many connected users' });
  if (!wss) return refuse(socket, 503, { message: 'Realtime is unavailable' });
  wss.handleUpgrade(req, socket, head, (ws) => {
    const conn = new Connection(ws, project, vsn, apikey, limits);
    recordSocket(project.id, req, t.rest);
    let set = connections.get(project.ref);
    if (!set) connections.set(project.ref, (set = new Set()));
    set.add(conn);
    ws.on('message', (data, isBinary) => { conn.onMessage(data as Buffer, isBinary).catch(() => {}); });
    ws.on('error', () => {});
    ws.on('close', () => {
      conn.close();
      set!.delete(conn);
      void controlPool().query('select platform_private.realtime_disconnect($1, $2)', [PROCESS_ID, project.ref]).catch(() => {});
      if (!set!.size && connections.get(project.ref) === set) connections.delete(project.ref);
    });
  });
}

/** Serves realtime sockets on `server`; other upgrades are refused. */
export async function attachRealtime(server: http.Server, databaseUrl: string): Promise<void> {
  await startCluster(databaseUrl);
  await bus.startBus(databaseUrl);
  wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    upgrade(req, socket, head).catch(() => refuse(socket, 503, { message: 'Realtime is unavailable' }));
  });
  sweeper = setInterval(() => {
    const idle = Date.now() - IDLE_MS;
    for (const set of connections.values()) for (const c of set) if (c.seen < idle) c.ws.terminate();
  }, 15_000);
  sweeper.unref();
  // A project paused, deleted or re-keyed: its sockets close (clients reconnect and are checked anew), and its
  // replication slot goes with its last subscriber.
  unlisten = onProjectChanged((ref) => {
    const set = connections.get(ref);
    if (!set) return;
    cachedRuntime(ref).then(async (p) => {
      if (!(p && !p.deleted && p.status === 'ACTIVE_HEALTHY' && p.jwt_secret === [...set][0]?.project.jwt_secret)) {
        for (const c of [...set]) c.ws.close(1000, 'project changed');
        return;
      }
      // Its keys may have changed (a key deleted, a signing key revoked, legacy keys off): each socket takes the
      // new keyring and closes unless its key and every channel's token still verify.
      for (const c of [...set]) {
        await prepareKeyring(c.project);
        try {
          verifyToken(c.project, c.apikey);
          for (const ch of c.channels.values()) verifyToken(c.project, ch.subscriber.token);
        } catch {
          c.ws.close(1000, 'project changed');
        }
      }
    }).catch(() => {});
  });
}

/** Closes a project's sockets in this process with 1012 (service restart): its clients reconnect to new ones. */
export function closeProjectSockets(ref: string): void {
  for (const c of [...connections.get(ref) ?? []]) c.ws.close(1012, 'service restart');
}

export async function stopRealtime(): Promise<void> {
  clearInterval(sweeper);
  unlisten?.();
  // 1001 "going away": clients reconnect (to another process, or this one when it is back).
  for (const set of connections.values()) for (const c of set) { c.close(); c.ws.close(1001, 'server restarting'); }
  await new Promise((r) => setTimeout(r, 50));
  for (const set of connections.values()) for (const c of set) c.ws.terminate();
  connections.clear();
  wss?.close();
  wss = undefined;
  await changes.stopAll();
  await bus.stopBus();
  await stopCluster();
}
