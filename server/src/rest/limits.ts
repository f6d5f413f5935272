// The per-project data-plane rate limit (requests per minute), shared by every API process: each process counts
// locally and, about once a second, adds its counts to the control database and reads back the minute's totals.
// A request is refused when the last known total plus this process's unflushed count reaches the limit — the
// hot path never waits for the control database.
import { controlPool } from '../../../db/src/pools.ts';

const pending = new Map<string, number>();
const known = new Map<string, { minute: number; total: number }>();
let timer: NodeJS.Timeout | undefined;

const minuteNow = () => Math.floor(Date.now() / 60_000);

async function flush(): Promise<void> {
  if (!pending.size) return;
  const refs = [...pending.keys()];
  const counts = refs.map((r) => pending.get(r)!);
  pending.clear();
  try {
    const { rows } = await controlPool().query('select * from platform_private.count_rest_requests($1, $2)', [refs, counts]);
    const minute = minuteNow();
    for (const r of rows) known.set(r.project_ref, { minute, total: Number(r.requests) });
  } catch {
    // The counts of this second are lost rather than the request path slowed; the limit is approximate anyway.
  }
}

/** Counts a request; returns the seconds to wait when the project is over its limit, else 0. */
export function overLimit(ref: string, limit: number): number {
  timer ??= setInterval(() => { void flush(); }, 1000).unref();
  const minute = minuteNow();
  const k = known.get(ref);
  const base = k && k.minute === minute ? k.total : 0;
  const mine = pending.get(ref) ?? 0;
  if (base + mine >= limit) return Math.max(1, 60 - Math.floor((Date.now() / 1000) % 60));
  pending.set(ref, mine + 1);
  return 0;
}
