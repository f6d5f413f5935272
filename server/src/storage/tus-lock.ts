// The lock @tus/server takes around every request of an upload, shared by all API processes: a session-level
// Postgres advisory lock on the control database, held on one connection per process. A process that dies drops
// its connection and with it its locks. A request waiting for an upload another request holds asks the holder to
// let go (TUS' "request release": the stale PATCH of a client that reconnected is ended), in this process
// directly, in another through NOTIFY on the same connection.
import crypto from 'node:crypto';
import pg from 'pg';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/server';
import { controlPool } from '../../../db/src/pools.ts';

const CHANNEL = 'loam_tus_release';
const ACQUIRE_TIMEOUT_MS = 30_000;
const RETRY_MS = 100;

/** Two int4 keys (pg_advisory_lock(int, int)) for an upload id; the first marks the lock as TUS'. */
function keys(id: string): [number, number] {
  const h = crypto.createHash('sha256').update(`tus:${id}`).digest();
  return [h.readInt32BE(0), h.readInt32BE(4)];
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
  signal.addEventListener('abort', done);
});

class PgLocker implements Locker {
  /** Uploads locked (or being locked) by this process, with how to ask their holder to let go. */
  readonly held = new Map<string, RequestRelease>();
  private session: Promise<pg.Client> | undefined;

  /** The connection the locks live on (its own, not the pool's: it outlives requests and must not hold up the
   *  pool's end at shutdown); if it is lost, so are they, and their holders are asked to stop. */
  connection(): Promise<pg.Client> {
    this.session ??= (async () => {
      const c = new pg.Client({ connectionString: controlPool().options.connectionString, application_name: 'loam tus locks' });
      const lost = () => {
        if (this.session === undefined) return;
        this.session = undefined;
        void c.end().catch(() => {});
        for (const release of this.held.values()) void release();
      };
      c.on('error', lost);
      c.on('end', lost);
      c.on('notification', (n) => {
        if (n.channel === CHANNEL && n.payload) void this.held.get(n.payload)?.();
      });
      await c.connect();
      // It must not keep the process alive on shutdown (its locks go with the process).
      (c as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
      await c.query(`listen ${CHANNEL}`);
      return c;
    })();
    this.session.catch(() => { this.session = undefined; });
    return this.session;
  }

  newLock(id: string): Lock {
    return new PgLock(id, this);
  }
}

class PgLock implements Lock {
  private readonly id: string;
  private readonly locker: PgLocker;
  constructor(id: string, locker: PgLocker) {
    this.id = id;
    this.locker = locker;
  }

  async lock(stop: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const deadline = Date.now() + ACQUIRE_TIMEOUT_MS;
    const [k1, k2] = keys(this.id);
    while (!stop.aborted && Date.now() < deadline) {
      const holder = this.locker.held.get(this.id);
      if (holder) {
        await holder();
      } else {
        // Claimed here first (synchronously), so two requests of this process never both take the session's
        // (re-entrant) advisory lock.
        this.locker.held.set(this.id, requestRelease);
        try {
          const c = await this.locker.connection();
          const { rows: [r] } = await c.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [k1, k2]);
          if (r.ok) return;
          this.locker.held.delete(this.id);
          await c.query('select pg_notify($1, $2)', [CHANNEL, this.id]);
        } catch {
          this.locker.held.delete(this.id);
        }
      }
      await sleep(RETRY_MS, stop);
    }
    throw ERRORS.ERR_LOCK_TIMEOUT;
  }

  async unlock(): Promise<void> {
    if (!this.locker.held.delete(this.id)) return;
    const [k1, k2] = keys(this.id);
    // A lost connection released it already.
    await this.locker.connection().then((c) => c.query('select pg_advisory_unlock($1, $2)', [k1, k2])).catch(() => {});
  }
}

export const tusLocker = new PgLocker();
