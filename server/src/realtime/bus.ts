// Who is in which channel, in this process and across all of Loam's API processes. Broadcasts and presence
// changes are delivered to this process' members at once and sent to the other processes with NOTIFY on the
// control database (channel `loam_realtime`); one connection per process LISTENs. A message too large for
// NOTIFY (8000 bytes) is written to platform_private.realtime_payloads and only its id is notified.
//
// Presence is replicated: every process keeps the whole presence state (what its own members tracked, and what
// the others told it). A process that starts asks the others for theirs (`hello` → `state`); one that stops
// says `bye` and the others drop its entries; one that dies without a word (kill -9) drops out of the live
// processes (cluster.ts) and every other process sends its members' leaves.
//
// The replication stream's decoded changes of a project travel the same way (`c`), from the one process that
// reads the project's WAL (changes.ts) to the others, which check them against their own subscribers.
import crypto from 'node:crypto';
import pg from 'pg';
import { controlPool } from '../../../db/src/pools.ts';
import { onTick, PROCESS_ID } from './cluster.ts';

export { PROCESS_ID };
const CHANNEL = 'loam_realtime';
const NOTIFY_MAX = 7900;

/** A joined channel of one socket, as the bus sees it. */
export interface Member {
  id: string;
  /** `from` is the member that sent it (for `self: false`), absent for messages from elsewhere. */
  deliver(event: string, payload: unknown, from?: string): void;
  /** Whether this member may see presence (private channels without presence read do not). */
  readsPresence(): boolean;
}

/** project ref, private or not, sub-topic: a private and a public channel of one name never meet. */
export const channelKey = (ref: string, isPrivate: boolean, topic: string) => `${ref}\u0000${isPrivate ? 1 : 0}\u0000${topic}`;
export const keyProject = (key: string) => key.slice(0, key.indexOf('\u0000'));

interface Entry { meta: Record<string, unknown>; proc: string; member: string }
type Metas = { metas: Record<string, unknown>[] };

const members = new Map<string, Set<Member>>();
/** key → presence key → phx_ref → entry */
const presence = new Map<string, Map<string, Map<string, Entry>>>();

export function subscribe(key: string, m: Member): void {
  let set = members.get(key);
  if (!set) members.set(key, (set = new Set()));
  set.add(m);
}

export function unsubscribe(key: string, m: Member): void {
  const set = members.get(key);
  if (!set) return;
  set.delete(m);
  if (!set.size) members.delete(key);
}

/** Members of a channel in this process (for limits and tests). */
export const localCount = (key: string) => members.get(key)?.size ?? 0;

// ------------------------------------------------------------------------------------------------- broadcast

export function broadcast(key: string, event: string, payload: unknown, from?: string): void {
  deliverBroadcast(key, event, payload, from);
  const bytes = Buffer.isBuffer((payload as any)?.payload) ? (payload as any).payload as Buffer : undefined;
  const wire = bytes ? { ...(payload as object), payload: null } : payload;
  send({ k: 'b', key, event, payload: wire, bytes: bytes?.toString('base64'), from });
}

/** To this process' members only. */
export const deliverLocal = (key: string, event: string, payload: unknown) => deliverBroadcast(key, event, payload);

function deliverBroadcast(key: string, event: string, payload: unknown, from?: string) {
  for (const m of members.get(key) ?? []) m.deliver(event, payload, from);
}

// -------------------------------------------------------------------------------------------------- presence

const withRef = (ref: string, meta: Record<string, unknown>) => ({ ...meta, phx_ref: ref });

/** The channel's presence state in Phoenix' shape: `{key: {metas: [{phx_ref, …meta}]}}`. */
export function presenceState(key: string): Record<string, Metas> {
  const out: Record<string, Metas> = {};
  for (const [pk, refs] of presence.get(key) ?? []) out[pk] = { metas: [...refs].map(([r, e]) => withRef(r, e.meta)) };
  return out;
}

type Change = { joins: [pk: string, ref: string, meta: Record<string, unknown>, member: string][]; leaves: [pk: string, ref: string][] };

/** Applies joins and leaves of one process to the store; returns the presence_diff for members. */
function apply(key: string, proc: string, c: Change) {
  const joins: Record<string, Metas> = {}, leaves: Record<string, Metas> = {};
  let byKey = presence.get(key);
  for (const [pk, ref] of c.leaves) {
    const e = byKey?.get(pk)?.get(ref);
    if (!e) continue;
    byKey!.get(pk)!.delete(ref);
    if (!byKey!.get(pk)!.size) byKey!.delete(pk);
    (leaves[pk] ??= { metas: [] }).metas.push(withRef(ref, e.meta));
  }
  for (const [pk, ref, meta, member] of c.joins) {
    if (!byKey) presence.set(key, (byKey = new Map()));
    let refs = byKey.get(pk);
    if (!refs) byKey.set(pk, (refs = new Map()));
    refs.set(ref, { meta, proc, member });
    (joins[pk] ??= { metas: [] }).metas.push(withRef(ref, meta));
  }
  if (byKey && !byKey.size) presence.delete(key);
  const j = Object.keys(joins).length > 0, l = Object.keys(leaves).length > 0;
  // A re-track is a leave and a join. realtime-js applies a diff's joins before its leaves and, doing so, strips
  // phx_ref from the metas it already held, so the leave would never match: the leave goes first, on its own.
  const diffs = j && l ? [{ joins: {}, leaves }, { joins, leaves: {} }] : j || l ? [{ joins, leaves }] : [];
  for (const d of diffs) for (const m of members.get(key) ?? []) if (m.readsPresence()) m.deliver('presence_diff', d);
}

/** Tracks (or re-tracks, replacing the previous meta) what a member says about itself. */
export function track(key: string, member: string, pk: string, meta: Record<string, unknown>): void {
  const previous = mine(key, member);
  const ref = crypto.randomBytes(8).toString('base64url');
  const c: Change = { joins: [[pk, ref, meta, member]], leaves: previous };
  apply(key, PROCESS_ID, c);
  send({ k: 'p', key, c });
}

export function untrack(key: string, member: string): void {
  const leaves = mine(key, member);
  if (!leaves.length) return;
  const c: Change = { joins: [], leaves };
  apply(key, PROCESS_ID, c);
  send({ k: 'p', key, c });
}

function mine(key: string, member: string): [string, string][] {
  const out: [string, string][] = [];
  for (const [pk, refs] of presence.get(key) ?? []) for (const [ref, e] of refs) if (e.member === member && e.proc === PROCESS_ID) out.push([pk, ref]);
  return out;
}

function dropProcess(proc: string) {
  for (const [key, byKey] of [...presence]) {
    const leaves: [string, string][] = [];
    for (const [pk, refs] of byKey) for (const [ref, e] of refs) if (e.proc === proc) leaves.push([pk, ref]);
    if (leaves.length) apply(key, proc, { joins: [], leaves });
  }
}

// A process no longer alive: its members leave. One that was presumed dead and is back tells everyone again.
onTick((live, reborn) => {
  const gone = new Set<string>();
  for (const byKey of presence.values()) for (const refs of byKey.values()) for (const e of refs.values()) if (!live.has(e.proc)) gone.add(e.proc);
  for (const proc of gone) if (proc !== PROCESS_ID) dropProcess(proc);
  if (reborn) send({ k: 'state', to: '*', entries: ownState() });
});

function ownState() {
  const out: { key: string; c: Change }[] = [];
  for (const [key, byKey] of presence) {
    const joins: Change['joins'] = [];
    for (const [pk, refs] of byKey) for (const [ref, e] of refs) if (e.proc === PROCESS_ID) joins.push([pk, ref, e.meta, e.member]);
    if (joins.length) out.push({ key, c: { joins, leaves: [] } });
  }
  return out;
}

// ------------------------------------------------------------------------------------------- between processes

type Wire =
  | { k: 'b'; key: string; event: string; payload: any; bytes?: string; from?: string }
  | { k: 'p'; key: string; c: Change }
  | { k: 'hello' } | { k: 'bye' }
  | { k: 'state'; to: string; entries: { key: string; c: Change }[] }
  | { k: 'c'; ref: string; c: unknown };

let onChange: ((ref: string, change: any) => void) | undefined;
/** Where decoded changes from the process that reads a project's WAL go (changes.ts). */
export function setChangeHandler(fn: (ref: string, change: any) => void): void { onChange = fn; }
/** Sends a decoded change to the other processes. */
export function publishChange(ref: string, change: unknown): void { send({ k: 'c', ref, c: change }); }

let queue: string[] = [];
let flushing: Promise<void> | undefined;
let listener: pg.Client | undefined;
let running = false;
let received: Promise<void> = Promise.resolve();

/** Messages waiting for the control database: past this, others' copies are dropped (local members got theirs). */
const MAX_QUEUE = 100_000;

function send(msg: Wire): void {
  if (!running || queue.length >= MAX_QUEUE) return;
  queue.push(JSON.stringify({ o: PROCESS_ID, ...msg }));
  kick();
}

function kick(): void {
  flushing ??= flush().finally(() => { flushing = undefined; if (queue.length && running) kick(); });
}

/** One statement per batch keeps one process' messages in order (NOTIFYs of a transaction arrive in order). */
async function flush(): Promise<void> {
  const batch = queue;
  queue = [];
  const texts: string[] = [];
  try {
    for (const t of batch) {
      if (Buffer.byteLength(t) <= NOTIFY_MAX) { texts.push(t); continue; }
      const { rows } = await controlPool().query('insert into platform_private.realtime_payloads (body) values ($1) returning id', [t]);
      texts.push(JSON.stringify({ o: PROCESS_ID, big: String(rows[0].id) }));
    }
    await controlPool().query(`select pg_notify('${CHANNEL}', t) from unnest($1::text[]) with ordinality as x(t, n) order by n`, [texts]);
    if (batch.some((t) => Buffer.byteLength(t) > NOTIFY_MAX) && Math.random() < 0.1) {
      await controlPool().query(`delete from platform_private.realtime_payloads where created_at < now() - interval '5 minutes'`);
    }
  } catch {
    // The control database is away: other processes miss these messages; this process' members got theirs.
  }
}

async function receive(text: string): Promise<void> {
  let msg: any;
  try { msg = JSON.parse(text); } catch { return; }
  if (msg.o === PROCESS_ID) return;
  if (msg.big) {
    const { rows } = await controlPool().query('select body from platform_private.realtime_payloads where id = $1', [msg.big]);
    if (!rows.length) return;
    msg = JSON.parse(rows[0].body);
  }
  const w = msg as Wire & { o: string };
  switch (w.k) {
    case 'b': {
      const payload = w.bytes ? { ...w.payload, payload: Buffer.from(w.bytes, 'base64') } : w.payload;
      return deliverBroadcast(w.key, w.event, payload);
    }
    case 'p': return apply(w.key, w.o, w.c);
    case 'hello': return send({ k: 'state', to: w.o, entries: ownState() });
    case 'c': return onChange?.(w.ref, w.c);
    case 'state': if (w.to === PROCESS_ID || w.to === '*') for (const e of w.entries) apply(e.key, w.o, e.c); return;
    case 'bye': return dropProcess(w.o);
  }
}

export async function startBus(url: string): Promise<void> {
  running = true;
  await listen(url);
  send({ k: 'hello' });
}

async function listen(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  listener = client;
  // In order: a large message read from its table must not be overtaken by the small ones after it.
  client.on('notification', (n) => { if (n.payload) { const t = n.payload; received = received.then(() => receive(t)).catch(() => {}); } });
  client.on('error', () => {
    if (listener !== client) return;
    listener = undefined;
    setTimeout(() => reconnect(url), 1000).unref();
  });
  await client.connect();
  await client.query(`listen ${CHANNEL}`);
}

function reconnect(url: string): void {
  if (!running) return;
  listen(url).then(() => send({ k: 'hello' })).catch(() => { if (running) setTimeout(() => reconnect(url), 1000).unref(); });
}

export async function stopBus(): Promise<void> {
  if (!running) return;
  send({ k: 'bye' });
  await flushing;
  running = false;
  const c = listener;
  listener = undefined;
  await c?.end().catch(() => {});
  members.clear();
  presence.clear();
}
