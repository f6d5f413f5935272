// Postgres changes: the rows written to tables of the project's `supabase_realtime` publication, read from
// the WAL by logical replication (pgoutput) and delivered to each subscriber only when its role and claims may
// select the row under RLS, with only the columns that role may read.
//
// One replication connection and one TEMPORARY slot per project for all of Loam's API processes: every process
// with channels of the project records it (platform_private.realtime_interest) and tries the project's advisory
// lock (cluster.ts' session); the one that holds it reads the WAL and sends each decoded change to the others
// through the bus (NOTIFY, large ones through a table), and each process checks the changes against its own
// subscribers. The lock goes with its session, so when that process dies another one takes over at its next
// heartbeat. The stream ends when no live process has channels of the project any more, and on pause or delete:
// PostgreSQL drops a temporary slot when its session ends, so a paused, deleted or crashed project (or process)
// leaves no slot holding WAL. The connection is the database server's administrator (the REPLICATION
// attribute), and runs no SQL: only CREATE_REPLICATION_SLOT and START_REPLICATION, whose decoding runs no
// function a tenant can define — SECURITY.md has the argument.
import crypto from 'node:crypto';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import pg from 'pg';
import { settings } from '../../../db/src/config.ts';
import { switchContext, withContext } from '../../../db/src/context.ts';
import { cachedRuntime, forgetRuntime, onProjectChanged, type ProjectRuntime } from '../../../db/src/projects.ts';
import { controlPool, projectPool } from '../../../db/src/pools.ts';
import { dbRole } from '../../../db/src/roles.ts';
import { authenticatorAddress, serverAdminAddress } from '../../../db/src/servers.ts';
import { pool, type Subscriber } from './authorize.ts';
import * as bus from './bus.ts';
import { lockQuery, onLockLost, onTick, PROCESS_ID } from './cluster.ts';

const OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in'] as const;
type Op = (typeof OPS)[number];
interface Filter { column: string; op: Op; values: string[] }

export interface Binding {
  event: 'INSERT' | 'UPDATE' | 'DELETE' | '*';
  schema: string;
  table?: string;
  filter?: Filter;
  error?: string;
  /** What the join reply says about it (the client matches it to its own binding). */
  reply: Record<string, unknown> & { id: number };
}

let nextId = 1;

/** A binding from phx_join's config.postgres_changes; an invalid one carries `error`. */
export function binding(raw: any): Binding {
  const event = String(raw.event ?? '*').toUpperCase();
  const schema = typeof raw.schema === 'string' ? raw.schema : 'public';
  const table = typeof raw.table === 'string' && raw.table !== '*' ? raw.table : undefined;
  const b: Binding = { event: event as Binding['event'], schema, table, reply: { ...raw, id: nextId++ } };
  if (!['INSERT', 'UPDATE', 'DELETE', '*'].includes(event)) b.error = `invalid event: ${raw.event}`;
  if (typeof raw.filter === 'string' && raw.filter) {
    const m = /^([^=]+)=(eq|neq|lt|lte|gt|gte|in)\.(.*)$/s.exec(raw.filter);
    if (!m) b.error = `Error parsing \`filter\` params: ${raw.filter}`;
    else {
      let values = [m[3]];
      if (m[2] === 'in') {
        const inner = /^\((.*)\)$/s.exec(m[3]);
        if (!inner) b.error = `Error parsing \`filter\` params: ${raw.filter}`;
        else values = inner[1].split(',').map((v) => v.trim().replace(/^"(.*)"$/s, '$1'));
      }
      b.filter = { column: m[1], op: m[2] as Op, values };
    }
  }
  return b;
}

function compare(a: string, b: string): number {
  const x = Number(a), y = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

function matches(f: Filter, record: Record<string, string | null>, types: Map<string, string>): boolean {
  let v = record[f.column];
  if (v === undefined || v === null) return false;
  if (types.get(f.column) === 'bool') v = v === 't' ? 'true' : v === 'f' ? 'false' : v;
  const c = compare(v, f.values[0]);
  switch (f.op) {
    case 'eq': return c === 0;
    case 'neq': return c !== 0;
    case 'lt': return c < 0;
    case 'lte': return c <= 0;
    case 'gt': return c > 0;
    case 'gte': return c >= 0;
    case 'in': return f.values.some((x) => compare(v!, x) === 0);
  }
}

export interface Subscription { stop(): void; setSubscriber(s: Subscriber): void }

interface Sub { bindings: Binding[]; subscriber: Subscriber; send(payload: unknown): void }

interface Relation {
  relationOid: number; schema: string; name: string; keyColumns: string[];
  columns: { name: string; typeOid: number; parser: (v: string) => unknown }[];
  /** column → type name and SQL type, read once per relation message. */
  types?: Promise<{ typname: Record<string, string>; sqlType: Record<string, string> }>;
}

type Row = Record<string, string | null>;
type WalChange = { tag: 'insert' | 'update' | 'delete'; relation: Relation; new?: Row; old?: Row | null; key?: Row | null };

/** A change as the reading process sends it to all (JSON): what each process needs to check and deliver it. */
interface Decoded {
  tag: 'insert' | 'update' | 'delete'; at: string;
  schema: string; table: string; relationOid: number; keyColumns: string[];
  columns: { name: string; type: string }[]; sqlType: Record<string, string>;
  new?: Row; old?: Row | null; key?: Row | null;
}

/** This process' channels of a project: postgres-changes subscribers, and channels of any kind (`holds`), which
 *  receive what realtime.send() writes. */
interface Local { project: ProjectRuntime; subs: Set<Sub>; holds: number; registered: Promise<void>; chain: Promise<void>; backlog: number; checking: number; waiting: (() => void)[]; error?: string }

const local = new Map<string, Local>();
/** The projects whose WAL this process reads (it holds their locks). */
const streams = new Map<string, Stream>();
const leading = new Map<string, Promise<void>>();
const changesPool = async (p: ProjectRuntime) => projectPool(await authenticatorAddress(p), p.db_name, { pipeline: true });
/** realtime.messages' own publication (Supabase's name): realtime.send() and broadcast_changes() write there. */
const MESSAGES_PUBLICATION = 'supabase_realtime_messages_publication';
const walChecked = new Map<string, Promise<void>>();
const INTEREST = { interest: true };
/** Changes of one project waiting for their RLS check in this process. */
/** Checks of one project's changes running side by side (its pool has 10 connections). */
const CHECKS = 4;

/** A server without wal_level=logical cannot stream changes: the subscriber is told which setting. */
function checkWalLevel(address: pg.ClientConfig): Promise<void> {
  const key = `${address.host}:${address.port}`;
  let p = walChecked.get(key);
  if (!p) {
    p = (async () => {
      const c = new pg.Client({ ...address, database: 'postgres' });
      c.on('error', () => {});
      await c.connect();
      try {
        const level = (await c.query('show wal_level')).rows[0].wal_level;
        if (level !== 'logical') {
          throw new Error(`Postgres changes need wal_level = logical on the database server (it is "${level}"): set wal_level=logical in postgresql.conf and restart PostgreSQL`);
        }
      } finally { await c.end().catch(() => {}); }
    })();
    walChecked.set(key, p);
    p.catch(() => walChecked.delete(key));
  }
  return p;
}

async function adminAddress(project: ProjectRuntime): Promise<pg.ClientConfig> {
  const admin = await serverAdminAddress(project.database_server_id ?? 1);
  return { host: admin.host, port: admin.port, user: admin.user, password: admin.password, ssl: admin.ssl } as pg.ClientConfig;
}

/** The replication stream of one project, in the process that holds the project's lock. */
class Stream {
  private service?: LogicalReplicationService;
  ready?: Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private commitTime = new Date();
  stopped = false;
  readonly project: ProjectRuntime;
  readonly slot: string;

  constructor(project: ProjectRuntime) {
    this.project = project;
    this.slot = `loam_rt_${project.ref}_${crypto.randomBytes(4).toString('hex')}`;
  }

  start(): Promise<void> {
    this.ready ??= this.open().catch((err) => {
      this.ready = undefined;
      void this.service?.destroy().catch(() => {});
      throw err;
    });
    return this.ready;
  }

  private async open(): Promise<void> {
    const address = await adminAddress(this.project);
    await checkWalLevel(address);
    const service = new LogicalReplicationService({ ...address, database: this.project.db_name }, { acknowledge: { auto: true, timeoutSeconds: 10 } });
    this.service = service;
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['supabase_realtime', MESSAGES_PUBLICATION] });
    const start = plugin.start.bind(plugin);
    // The slot is made on the replication connection itself, TEMPORARY: it lives exactly as long as the session.
    plugin.start = async (client: pg.Client, slot: string, lsn: string) => {
      await client.query(`CREATE_REPLICATION_SLOT "${slot}" TEMPORARY LOGICAL pgoutput`);
      return start(client, slot, lsn);
    };
    service.on('data', (_lsn: string, msg: any) => {
      if (msg.tag === 'relation') {
        // Keep values as the text PostgreSQL sent: they become query parameters and JSON as they are.
        for (const c of msg.columns) c.parser = (v: string) => v;
        return;
      }
      if (msg.tag === 'begin') { this.commitTime = new Date(Number(BigInt(msg.commitTime) / 1000n)); return; } // microseconds since 1970
      if (msg.tag === 'insert' || msg.tag === 'update' || msg.tag === 'delete') {
        const at = this.commitTime;
        this.chain = this.chain.then(() => this.publish(msg as WalChange, at)).catch(() => {});
      }
    });
    await new Promise<void>((resolve, reject) => {
      // Making a logical slot waits for the transactions running on the whole server to end: one left open
      // (by any tenant) would hold the join up for as long. The subscriber is told; the next join tries again.
      const timer = setTimeout(() => reject(new Error('Realtime could not start reading changes in time: a long-running transaction on the database server holds it up')), settings.realtimeStartTimeoutMs);
      timer.unref();
      service.once('start', () => { clearTimeout(timer); resolve(); });
      service.on('error', (err) => { reject(err); this.lost(); });
      service.subscribe(plugin, this.slot).catch((err) => { reject(err); this.lost(); });
    });
  }

  /** The connection ended under us (pause, delete, restart of PostgreSQL): reopen if the project still serves. */
  private lost(): void {
    if (this.stopped) return;
    this.service?.stop().catch(() => {});
    this.ready = undefined;
    setTimeout(() => {
      if (this.stopped) return;
      forgetRuntime(this.project.ref);
      cachedRuntime(this.project.ref).then((p) => {
        if (!p || p.deleted || p.status !== 'ACTIVE_HEALTHY') return release(this.project.ref, true);
        this.start().catch(() => this.lost());
      }).catch(() => this.lost());
    }, 1000).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Ending a replication connection politely can wait on the server (a slot still being made waits for running
    // transactions): after a second its socket is simply closed, which ends the session and drops the slot.
    const client = (this.service as unknown as { _client?: { connection?: { stream?: { destroy(): void } } } } | undefined)?._client;
    await Promise.race([this.service?.destroy().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    client?.connection?.stream?.destroy();
  }

  private types(rel: Relation) {
    rel.types ??= (async () => {
      const { rows } = await (await pool(this.project)).query(
        `select a.attname, t.typname, format_type(a.atttypid, a.atttypmod) as sql_type
           from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
          where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped`, [rel.relationOid]);
      return { typname: Object.fromEntries(rows.map((r) => [r.attname, r.typname])), sqlType: Object.fromEntries(rows.map((r) => [r.attname, r.sql_type])) };
    })();
    rel.types.catch(() => { rel.types = undefined; });
    return rel.types;
  }

  /** To this process' subscribers and, through the bus, to every other process'. */
  private async publish(change: WalChange, at: Date): Promise<void> {
    const rel = change.relation;
    if (rel.schema === 'realtime' && rel.name === 'messages') return this.message(change);
    const { typname, sqlType } = await this.types(rel);
    const d: Decoded = {
      tag: change.tag, at: at.toISOString(), schema: rel.schema, table: rel.name, relationOid: rel.relationOid,
      keyColumns: rel.keyColumns, columns: rel.columns.map((c) => ({ name: c.name, type: typname[c.name] ?? String(c.typeOid) })),
      sqlType, new: change.new, old: change.old, key: change.key,
    };
    received(this.project.ref, d);
    bus.publishChange(this.project.ref, d);
  }

  /** A broadcast from the database (realtime.send) to the topic's channel in every process. Private channels
   *  checked their read policy at join. */
  private message(change: WalChange): void {
    const r = change.new;
    if (change.tag !== 'insert' || !r || r.extension !== 'broadcast' || typeof r.topic !== 'string') return;
    let payload: unknown = null;
    try { payload = r.payload === null || r.payload === undefined ? null : JSON.parse(r.payload); } catch { return; }
    bus.broadcast(bus.channelKey(this.project.ref, r.private === 't', r.topic), 'broadcast',
      { type: 'broadcast', event: r.event ?? '', payload, meta: { id: r.id } });
  }
}

// --------------------------------------------------------------------------------------------- leadership

/** Tries to become the project's reader; resolves when this process reads it or another one holds the lock. */
function tryLead(ref: string): Promise<void> {
  const l = local.get(ref);
  if (!l || streams.has(ref)) return streams.get(ref)?.ready ?? Promise.resolve();
  let p = leading.get(ref);
  if (p) return p;
  p = (async () => {
    const project = await cachedRuntime(ref);
    if (!project || project.deleted || project.status !== 'ACTIVE_HEALTHY') return;
    const { rows } = await lockQuery('select platform_private.realtime_try_lead($1) as won', [ref]);
    if (!rows[0].won) return;
    const s = new Stream(project);
    streams.set(ref, s);
    try {
      await s.start();
      await controlPool().query('select platform_private.realtime_stream_started($1, $2)', [PROCESS_ID, ref]);
      l.error = undefined;
    } catch (err) {
      l.error = err instanceof Error ? err.message : String(err);
      await release(ref, true);
    }
  })().finally(() => leading.delete(ref));
  leading.set(ref, p);
  return p;
}

/** Ends this process' stream of a project when no live process has channels of it (or at once: `force`). */
async function release(ref: string, force = false): Promise<void> {
  const s = streams.get(ref);
  if (!s || s.stopped) return;
  // Forced (pause, delete, this process stopping) it goes even when the control database cannot be asked.
  const done = await controlPool().query('select platform_private.realtime_stream_release($1, $2, $3) as done', [PROCESS_ID, ref, force])
    .then((r) => r.rows[0].done as boolean, () => force);
  if (!done || streams.get(ref) !== s) return;
  streams.delete(ref);
  await s.stop();
  await lockQuery('select platform_private.realtime_unlead($1)', [ref]).catch(() => {});
  bus.publishChange(ref, INTEREST); // another process with channels takes over now rather than at its next beat
}

// Every heartbeat: take over the streams nobody reads, give up those nobody needs; a process back from the
// dead records its channels and streams again.
onTick(async (_live, reborn) => {
  if (reborn) {
    for (const ref of local.keys()) await register(ref);
    for (const ref of streams.keys()) await controlPool().query('select platform_private.realtime_stream_started($1, $2)', [PROCESS_ID, ref]);
  }
  for (const ref of local.keys()) if (!streams.has(ref)) await tryLead(ref).catch(() => {});
  for (const ref of [...streams.keys()]) if (!local.has(ref)) await release(ref).catch(() => {});
});

// A project paused or deleted: its stream ends at once (its database cannot be dropped while a slot is in use).
onProjectChanged((ref) => {
  if (!streams.has(ref)) return;
  cachedRuntime(ref).then((p) => { if (!p || p.deleted || p.status !== 'ACTIVE_HEALTHY') return release(ref, true); }).catch(() => {});
});

// The lock connection is gone, and its locks with it: another process may read these projects already.
onLockLost(() => {
  for (const [ref, s] of [...streams]) {
    streams.delete(ref);
    void s.stop();
  }
  void controlPool().query('delete from platform_private.realtime_streams where process_id = $1', [PROCESS_ID]).catch(() => {});
});

const register = (ref: string) => controlPool().query(
  'insert into platform_private.realtime_interest (process_id, project_ref) values ($1, $2) on conflict do nothing', [PROCESS_ID, ref]).then(() => {});

function want(project: ProjectRuntime): Local {
  let l = local.get(project.ref);
  if (!l) {
    l = { project, subs: new Set(), holds: 0, chain: Promise.resolve(), backlog: 0, checking: 0, waiting: [], registered: register(project.ref).catch(() => {}) };
    local.set(project.ref, l);
    const ref = project.ref;
    void l.registered.then(() => tryLead(ref)).catch(() => {});
  }
  return l;
}

function unwant(l: Local): void {
  if (l.subs.size || l.holds || local.get(l.project.ref) !== l) return;
  const ref = l.project.ref;
  local.delete(ref);
  void l.registered.then(() => controlPool().query('delete from platform_private.realtime_interest where process_id = $1 and project_ref = $2', [PROCESS_ID, ref]))
    .then(() => { if (local.has(ref)) return register(ref); if (streams.has(ref)) return release(ref); bus.publishChange(ref, INTEREST); })
    .catch(() => {});
}

/** Waits until some process reads the project's changes (this one, or another that holds the lock). */
async function running(l: Local): Promise<void> {
  await checkWalLevel(await adminAddress(l.project));
  await l.registered;
  const end = Date.now() + settings.realtimeStartTimeoutMs;
  for (;;) {
    await tryLead(l.project.ref).catch(() => {}); // the lock connection away: another process may read it
    const mine = streams.get(l.project.ref);
    if (mine?.ready) { await mine.ready; return; }
    if (l.error) throw new Error(l.error);
    const { rows } = await controlPool().query('select platform_private.realtime_stream_running($1) as up', [l.project.ref]);
    if (rows[0].up) return;
    if (Date.now() > end) throw new Error('Realtime could not start reading changes in time: a long-running transaction on the database server holds it up');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ----------------------------------------------------------------------------------------------- delivery

bus.setChangeHandler((ref, c) => {
  if (c?.interest) {
    if (streams.has(ref) && !local.has(ref)) void release(ref).catch(() => {});
    else if (local.has(ref) && !streams.has(ref)) void tryLead(ref).catch(() => {});
    return;
  }
  received(ref, c as Decoded);
});

/** Checks start at once (several changes' checks run side by side on the project's pool); deliveries keep the
 *  order of the WAL. */
function received(ref: string, d: Decoded): void {
  const l = local.get(ref);
  if (!l?.subs.size) return;
  // A bounded backlog: a project writing faster than its subscribers can be checked loses changes, not memory.
  if (l.backlog >= settings.realtimeMaxBacklog) return;
  l.backlog++;
  const checked = inTurn(l, () => check(l, d)).catch(() => () => {});
  l.chain = l.chain.then(async () => (await checked)()).catch(() => {}).finally(() => { l.backlog--; });
}

/** At most CHECKS checks of one project at a time in this process, first come first served. */
async function inTurn<T>(l: Local, fn: () => Promise<T>): Promise<T> {
  while (l.checking >= CHECKS) await new Promise<void>((r) => l.waiting.push(r));
  l.checking++;
  try { return await fn(); } finally { l.checking--; l.waiting.shift()?.(); }
}

/** Who gets the change, checked under RLS; resolves to the function that sends it to them. */
async function check(l: Local, change: Decoded): Promise<() => void> {
  const type = change.tag.toUpperCase() as 'INSERT' | 'UPDATE' | 'DELETE';
  const keyOnly = (r: Row | null | undefined) =>
    Object.fromEntries(change.keyColumns.filter((k) => r && r[k] !== undefined).map((k) => [k, r![k]]));
  const record = change.tag === 'delete' ? {} : change.new ?? {};
  // Under RLS a subscriber gets the old row's primary key only, as at Supabase.
  // An update that kept its key carries no old key: it is the new row's.
  const old = change.tag === 'insert' ? {} : keyOnly(change.old ?? change.key ?? (change.tag === 'update' ? record : undefined));
  const row = change.tag === 'delete' ? old : record;
  const typname = new Map(change.columns.map((c) => [c.name, c.type]));
  const targets: { sub: Sub; ids: number[] }[] = [];
  for (const sub of l.subs) {
    const ids = sub.bindings.filter((b) => !b.error && (b.event === '*' || b.event === type) &&
      (b.schema === '*' || b.schema === change.schema) && (!b.table || b.table === change.table) &&
      (!b.filter || matches(b.filter, row, typname))).map((b) => b.reply.id);
    if (ids.length) targets.push({ sub, ids });
  }
  if (!targets.length) return () => {};
  // One check per distinct role and claims.
  const groups = new Map<string, { subscriber: Subscriber; targets: typeof targets }>();
  for (const t of targets) {
    const k = `${t.sub.subscriber.role}\u0000${JSON.stringify(t.sub.subscriber.claims)}`;
    const g = groups.get(k);
    if (g) g.targets.push(t); else groups.set(k, { subscriber: t.sub.subscriber, targets: [t] });
  }
  const list = [...groups.values()];
  const seen = await visible(l.project, list.map((g) => g.subscriber), change, change.tag === 'delete' ? undefined : (change.key ?? keyOnly(record)));
  return () => list.forEach((g, i) => {
    const cols = seen[i];
    if (!cols) return;
    const pick = (r: Row) => Object.fromEntries(Object.entries(r).filter(([k]) => cols.has(k)));
    const data = {
      schema: change.schema, table: change.table, commit_timestamp: change.at, type,
      columns: change.columns.filter((c) => cols.has(c.name)),
      record: pick(record), old_record: pick(old), errors: null,
    };
    for (const t of g.targets) t.sub.send({ ids: t.ids, data });
  });
}

/** For each subscriber, the columns its role may read if it may see the row (`key` given: found by primary
 *  key as that role with its claims, under RLS), else undefined. One read-only transaction on a pipelined
 *  connection switches role and claims per subscriber (the login may become any of its three API roles), so a
 *  change costs about one round trip however many subscribers it has. Any error fails closed. */
async function visible(project: ProjectRuntime, subs: Subscriber[], change: Decoded, key?: Row, retry = true): Promise<(Set<string> | undefined)[]> {
  const table = `${pg.escapeIdentifier(change.schema)}.${pg.escapeIdentifier(change.table)}`;
  const keys = key ? Object.keys(key) : [];
  if (key && (!keys.length || keys.length !== change.keyColumns.length)) return subs.map(() => undefined); // no primary key: nothing can be checked
  if (keys.some((k) => !change.sqlType[k])) return subs.map(() => undefined);
  const where = keys.map((k, i) => `${pg.escapeIdentifier(k)} = $${i + 1}::${change.sqlType[k]}`).join(' and ');
  const COLS = `select array(select attname from pg_catalog.pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped
                  and pg_catalog.has_column_privilege($1, attnum, 'SELECT'))::text[] as cols`;
  try {
    return await withContext(await changesPool(project), { role: dbRole(project, subs[0].role), claims: subs[0].claims, path: '/realtime/v1' }, async (c) => {
      // Which columns each API role may read (privileges depend on the role, not the claims).
      const roles = [...new Set(subs.map((s) => s.role))];
      const colsOf = new Map<string, Set<string>>();
      const phase1 = await Promise.all(roles.flatMap((r) => [
        switchContext(c, { role: dbRole(project, r), claims: {}, path: '/realtime/v1' }), c.query(COLS, [change.relationOid]),
      ]));
      roles.forEach((r, i) => colsOf.set(r, new Set(phase1[2 * i + 1].rows[0].cols)));
      const may = subs.map((s) => { const cols = colsOf.get(s.role)!; return cols.size > 0 && keys.every((k) => cols.has(k)) ? cols : undefined; });
      if (!key) return may;
      // The row, as each subscriber that may read its key.
      const asked = subs.map((s, i) => may[i] ? [
        switchContext(c, { role: dbRole(project, s.role), claims: s.claims, path: '/realtime/v1' }),
        c.query(`select 1 from ${table} where ${where}`, keys.map((k) => key[k])),
      ] : []);
      const answers = await Promise.all(asked.map((qs) => Promise.all(qs)));
      return subs.map((_, i) => may[i] && answers[i][1]?.rowCount ? may[i] : undefined);
    }, { readOnly: true });
  } catch (err) {
    // A lost or refused connection (no SQLSTATE, or classes 08, 53, 57) is tried once more; anything else (a
    // policy that fails, a key that no longer fits its type) fails closed: nobody gets the change.
    const code = (err as { code?: unknown })?.code;
    if (retry && (typeof code !== 'string' || /^(08|53|57)/.test(code))) return visible(project, subs, change, key, false);
    return subs.map(() => undefined);
  }
}

// ------------------------------------------------------------------------------------------------ channels

/** Starts delivering the changes `bindings` ask for; rejects with the reason the client is told. */
export async function subscribe(project: ProjectRuntime, bindings: Binding[], subscriber: Subscriber, send: (payload: unknown) => void): Promise<Subscription> {
  const bad = bindings.find((b) => b.error);
  if (bad) throw new Error(bad.error);
  const l = want(project);
  const sub: Sub = { bindings, subscriber, send };
  l.subs.add(sub);
  const stop = () => { l.subs.delete(sub); unwant(l); };
  try {
    await running(l);
  } catch (err) {
    stop();
    throw err;
  }
  return { stop, setSubscriber: (next) => { sub.subscriber = next; } };
}

/** A channel of the project is open: some process reads the project's WAL until `release()`, so that
 *  realtime.send() reaches it. Nothing waits for it: broadcast and presence work without it. */
export function hold(project: ProjectRuntime): () => void {
  const l = want(project);
  l.holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    l.holds--;
    unwant(l);
  };
}

/** Ends this process' streams (it stops): the others take them over. */
export async function stopAll(): Promise<void> {
  await Promise.all([...streams.keys()].map((ref) => release(ref, true).catch(() => {})));
  local.clear();
}

/** This process' replication slots, for tests. */
export const slotNames = () => [...streams.values()].map((s) => s.slot);
