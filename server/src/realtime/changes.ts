// Postgres changes: the rows written to tables of the project's `supabase_realtime` publication, read from
// the WAL by logical replication (pgoutput) and delivered to each subscriber only when its role and claims may
// select the row under RLS, with only the columns that role may read.
//
// One replication connection and one TEMPORARY slot per project per API process, opened for the first
// subscriber and closed with the last: PostgreSQL drops a temporary slot when its session ends, so a paused,
// deleted or crashed project (or process) leaves no slot holding WAL. The connection is the database server's
// administrator (the REPLICATION attribute), and runs no SQL: only CREATE_REPLICATION_SLOT and START_REPLICATION,
// whose decoding runs no function a tenant can define — SECURITY.md has the argument.
import crypto from 'node:crypto';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import pg from 'pg';
import { withContext } from '../../../db/src/context.ts';
import { cachedRuntime, forgetRuntime, type ProjectRuntime } from '../../../db/src/projects.ts';
import { projectPool } from '../../../db/src/pools.ts';
import { dbRole } from '../../../db/src/roles.ts';
import { authenticatorAddress, serverAdminAddress } from '../../../db/src/servers.ts';
import { pool, type Subscriber } from './authorize.ts';
import * as bus from './bus.ts';

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
  types?: Promise<{ typname: Map<string, string>; sqlType: Map<string, string> }>;
}

type Change = { tag: 'insert' | 'update' | 'delete'; relation: Relation; new?: Record<string, string | null>; old?: Record<string, string | null> | null; key?: Record<string, string | null> | null };

const streams = new Map<string, Stream>();
const changesPool = async (p: ProjectRuntime) => projectPool(await authenticatorAddress(p), p.db_name, { pipeline: true });
/** realtime.messages' own publication (Supabase's name): realtime.send() and broadcast_changes() write there. */
const MESSAGES_PUBLICATION = 'supabase_realtime_messages_publication';
const START_TIMEOUT_MS = Number(process.env.LOAM_REALTIME_START_TIMEOUT_MS || 10_000);
const walChecked = new Map<string, Promise<void>>();

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

class Stream {
  readonly subs = new Set<Sub>();
  /** Channels of any kind: they receive what realtime.send() writes. */
  holds = 0;
  get idle() { return !this.subs.size && !this.holds; }
  private service?: LogicalReplicationService;
  ready?: Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private commitTime = new Date();
  private stopped = false;
  readonly project: ProjectRuntime;
  readonly slot: string;

  constructor(project: ProjectRuntime) {
    this.project = project;
    this.slot = `loam_rt_${project.ref}_${crypto.randomBytes(4).toString('hex')}`;
  }

  start(): Promise<void> {
    // A failed start (a slot that took too long, a server without wal_level=logical) is tried again next time.
    this.ready ??= this.open().catch((err) => {
      this.ready = undefined;
      void this.service?.destroy().catch(() => {});
      throw err;
    });
    return this.ready;
  }

  private async open(): Promise<void> {
    const admin = await serverAdminAddress(this.project.database_server_id ?? 1);
    const address = { host: admin.host, port: admin.port, user: admin.user, password: admin.password, ssl: admin.ssl } as pg.ClientConfig;
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
        this.chain = this.chain.then(() => this.dispatch(msg as Change, at)).catch(() => {});
      }
    });
    await new Promise<void>((resolve, reject) => {
      // Making a logical slot waits for the transactions running on the whole server to end: one left open
      // (by any tenant) would hold the join up for as long. The subscriber is told; the next join tries again.
      const timer = setTimeout(() => reject(new Error('Realtime could not start reading changes in time: a long-running transaction on the database server holds it up')), START_TIMEOUT_MS);
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
      if (this.stopped || this.idle) return;
      forgetRuntime(this.project.ref);
      cachedRuntime(this.project.ref).then((p) => {
        if (!p || p.deleted || p.status !== 'ACTIVE_HEALTHY' || this.stopped) return this.stop();
        this.start().catch(() => this.lost());
      }).catch(() => this.lost());
    }, 1000).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (streams.get(this.project.ref) === this) streams.delete(this.project.ref);
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
      return { typname: new Map(rows.map((r) => [r.attname, r.typname])), sqlType: new Map(rows.map((r) => [r.attname, r.sql_type])) };
    })();
    rel.types.catch(() => { rel.types = undefined; });
    return rel.types;
  }

  private async dispatch(change: Change, at: Date): Promise<void> {
    const rel = change.relation;
    if (rel.schema === 'realtime' && rel.name === 'messages') return this.message(change);
    const type = change.tag.toUpperCase() as 'INSERT' | 'UPDATE' | 'DELETE';
    const { typname, sqlType } = await this.types(rel);
    const keyOnly = (r: Record<string, string | null> | null | undefined) =>
      Object.fromEntries(rel.keyColumns.filter((k) => r && r[k] !== undefined).map((k) => [k, r![k]]));
    const record = change.tag === 'delete' ? {} : change.new ?? {};
    // Under RLS a subscriber gets the old row's primary key only, as at Supabase.
    // An update that kept its key carries no old key: it is the new row's.
    const old = change.tag === 'insert' ? {} : keyOnly(change.old ?? change.key ?? (change.tag === 'update' ? record : undefined));
    const row = change.tag === 'delete' ? old : record;
    const targets: { sub: Sub; ids: number[] }[] = [];
    for (const sub of this.subs) {
      const ids = sub.bindings.filter((b) => !b.error && (b.event === '*' || b.event === type) &&
        (b.schema === '*' || b.schema === rel.schema) && (!b.table || b.table === rel.name) &&
        (!b.filter || matches(b.filter, row, typname))).map((b) => b.reply.id);
      if (ids.length) targets.push({ sub, ids });
    }
    if (!targets.length) return;
    // One check per distinct role and claims.
    const groups = new Map<string, { subscriber: Subscriber; targets: typeof targets }>();
    for (const t of targets) {
      const k = `${t.sub.subscriber.role}\u0000${JSON.stringify(t.sub.subscriber.claims)}`;
      const g = groups.get(k);
      if (g) g.targets.push(t); else groups.set(k, { subscriber: t.sub.subscriber, targets: [t] });
    }
    const list = [...groups.values()];
    const seen = await this.visible(list.map((g) => g.subscriber), rel, sqlType, change.tag === 'delete' ? undefined : (change.key ?? keyOnly(record)));
    list.forEach((g, i) => {
      const cols = seen[i];
      if (!cols) return;
      const pick = (r: Record<string, string | null>) => Object.fromEntries(Object.entries(r).filter(([k]) => cols.has(k)));
      const data = {
        schema: rel.schema, table: rel.name, commit_timestamp: at.toISOString(), type,
        columns: rel.columns.filter((c) => cols.has(c.name)).map((c) => ({ name: c.name, type: typname.get(c.name) ?? String(c.typeOid) })),
        record: pick(record), old_record: pick(old), errors: null,
      };
      for (const t of g.targets) t.sub.send({ ids: t.ids, data });
    });
  }

  /** A broadcast from the database (realtime.send): to this process' members of the topic only — every process
   *  with members in this project reads the same WAL. Private channels checked their read policy at join. */
  private message(change: Change): void {
    const r = change.new;
    if (change.tag !== 'insert' || !r || r.extension !== 'broadcast' || typeof r.topic !== 'string') return;
    let payload: unknown = null;
    try { payload = r.payload === null || r.payload === undefined ? null : JSON.parse(r.payload); } catch { return; }
    bus.deliverLocal(bus.channelKey(this.project.ref, r.private === 't', r.topic), 'broadcast',
      { type: 'broadcast', event: r.event ?? '', payload, meta: { id: r.id } });
  }

  /** For each subscriber, the columns its role may read if it may see the row (`key` given: found by primary
   *  key as that role with its claims, under RLS), else undefined. One read-only transaction on a pipelined
   *  connection switches role and claims per subscriber (the login may become any of its three API roles), so a
   *  change costs about one round trip however many subscribers it has. Any error fails closed. */
  private async visible(subs: Subscriber[], rel: Relation, sqlType: Map<string, string>, key?: Record<string, string | null>): Promise<(Set<string> | undefined)[]> {
    const table = `${pg.escapeIdentifier(rel.schema)}.${pg.escapeIdentifier(rel.name)}`;
    const keys = key ? Object.keys(key) : [];
    if (key && (!keys.length || keys.length !== rel.keyColumns.length)) return subs.map(() => undefined); // no primary key: nothing can be checked
    const where = keys.map((k, i) => `${pg.escapeIdentifier(k)} = $${i + 1}::${sqlType.get(k)}`).join(' and ');
    const SWITCH = `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`;
    const COLS = `select array(select attname from pg_catalog.pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped
                    and pg_catalog.has_column_privilege($1, attnum, 'SELECT'))::text[] as cols`;
    try {
      return await withContext(await changesPool(this.project), { role: dbRole(this.project, subs[0].role), claims: subs[0].claims, path: '/realtime/v1' }, async (c) => {
        // Which columns each API role may read (privileges depend on the role, not the claims).
        const roles = [...new Set(subs.map((s) => s.role))];
        const colsOf = new Map<string, Set<string>>();
        const phase1 = await Promise.all(roles.flatMap((r) => [
          c.query(SWITCH, [dbRole(this.project, r), '{}']), c.query(COLS, [rel.relationOid]),
        ]));
        roles.forEach((r, i) => colsOf.set(r, new Set(phase1[2 * i + 1].rows[0].cols)));
        const may = subs.map((s) => { const cols = colsOf.get(s.role)!; return cols.size > 0 && keys.every((k) => cols.has(k)) ? cols : undefined; });
        if (!key) return may;
        // The row, as each subscriber that may read its key.
        const asked = subs.map((s, i) => may[i] ? [
          c.query(SWITCH, [dbRole(this.project, s.role), JSON.stringify(s.claims)]),
          c.query(`select 1 from ${table} where ${where}`, keys.map((k) => key[k])),
        ] : []);
        const answers = await Promise.all(asked.map((qs) => Promise.all(qs)));
        return subs.map((_, i) => may[i] && answers[i][1]?.rowCount ? may[i] : undefined);
      }, { readOnly: true });
    } catch {
      return subs.map(() => undefined); // a policy that fails, a key that no longer fits its type: nobody gets it
    }
  }
}

/** Starts delivering the changes `bindings` ask for; rejects with the reason the client is told. */
export async function subscribe(project: ProjectRuntime, bindings: Binding[], subscriber: Subscriber, send: (payload: unknown) => void): Promise<Subscription> {
  const bad = bindings.find((b) => b.error);
  if (bad) throw new Error(bad.error);
  let stream = streams.get(project.ref);
  if (!stream) streams.set(project.ref, (stream = new Stream(project)));
  const sub: Sub = { bindings, subscriber, send };
  stream.subs.add(sub);
  const s = stream;
  const stop = () => {
    s.subs.delete(sub);
    if (s.idle) void s.stop();
  };
  try {
    await s.start();
  } catch (err) {
    stop();
    throw err;
  }
  return { stop, setSubscriber: (next) => { sub.subscriber = next; } };
}

/** A channel of the project is open: the stream runs (started in the background) until `release()`, so that
 *  realtime.send() reaches it. Nothing waits for it: broadcast and presence work without it. */
export function hold(project: ProjectRuntime): () => void {
  let stream = streams.get(project.ref);
  if (!stream) streams.set(project.ref, (stream = new Stream(project)));
  const s = stream;
  s.holds++;
  s.start().catch(() => { if (s.idle) void s.stop(); });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    s.holds--;
    if (s.idle) void s.stop();
  };
}

/** Closes every replication connection of a project (pause, delete) or of the process. */
export async function stopProject(ref: string): Promise<void> {
  await streams.get(ref)?.stop();
}

export async function stopAll(): Promise<void> {
  await Promise.all([...streams.values()].map((s) => s.stop()));
}

/** This process' replication slots, for tests. */
export const slotNames = () => [...streams.values()].map((s) => s.slot);
