// `NOTIFY pgrst, 'reload schema'` support. A LISTEN needs a connection of its own, so only projects that served
// a REST request in the last minute have one; an idle project's listener is closed and holds nothing.
import pg from 'pg';
import type { ServerAddress } from '../../../db/src/pools.ts';
import { schemaChanged } from '../../../db/src/schema-version.ts';
import { forgetSchema } from './schema-cache.ts';
import { settings } from '../../../db/src/config.ts';

const listeners = new Map<string, { client: pg.Client; lastUsed: number }>();
let sweeper: NodeJS.Timeout | undefined;

export function watchReloads(ref: string, address: ServerAddress, database: string): void {
  const hit = listeners.get(ref);
  if (hit) { hit.lastUsed = Date.now(); return; }
  const client = new pg.Client({ ...address, database });
  const entry = { client, lastUsed: Date.now() };
  listeners.set(ref, entry);
  const drop = () => {
    if (listeners.get(ref) === entry) listeners.delete(ref);
    void client.end().catch(() => {});
  };
  client.on('error', drop);
  client.on('end', () => { if (listeners.get(ref) === entry) listeners.delete(ref); });
  client.on('notification', (msg) => {
    const payload = (msg.payload ?? '').trim();
    // 'reload config' re-reads the owner's pgrst.* settings, which are read with the schema.
    if (payload === '' || payload === 'reload schema' || payload === 'reload config') {
      forgetSchema(ref);
      schemaChanged(ref);
    }
  });
  client.connect().then(async () => {
    // The listener must not keep the process alive on shutdown.
    (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    await client.query('listen pgrst');
  }).catch(drop);
  sweeper ??= setInterval(sweep, Math.min(settings.restListenIdleMs, 10_000)).unref();
}

function sweep() {
  const now = Date.now();
  for (const [ref, l] of listeners) {
    if (now - l.lastUsed > settings.restListenIdleMs) {
      listeners.delete(ref);
      void l.client.end().catch(() => {});
    }
  }
}
