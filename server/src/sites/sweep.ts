// The sweep of a site's stored files (worker task site__sweep, queued from SQL whenever the site's deploys change):
// deploys past the retention count go, then every content-addressed file no remaining deploy refers to.
// Safe against a deploy about to refer to the same bytes: a deploy that refers to bytes already stored (a
// manifest naming known hashes) does so under a lock the sweep holds while it checks and deletes
// (platform_private.lock_site_blobs); bytes just uploaded, whose row is not recorded yet, are younger than the
// grace period, which the sweep never touches (an upload rewrites the file, so its age restarts).
import { controlPool } from '../../../db/src/pools.ts';
import { blobStore, sitePrefix } from '../storage/backend.ts';
import { sitesSettings } from '../../../db/src/config.ts';

const BATCH = 500;
const BLOB_NAME = /\/blobs\/([0-9a-f]{64})(\.br|\.gz)?$/;

export async function sweepSite(siteId: string): Promise<{ deploys: number; files: number }> {
  const { keepDeploys, blobGraceMs } = sitesSettings();
  const pool = controlPool();
  const { rows: [pruned] } = await pool.query<{ ref: string | null; removed: number | null }>(
    'select * from platform_private.prune_site_deploys($1, $2)', [siteId, keepDeploys]);
  // A deleted site: site__purge removes all of its files.
  if (!pruned?.ref) return { deploys: 0, files: 0 };
  const prefix = `${sitePrefix(pruned.ref, siteId)}blobs/`;
  // A hash's keys (the bytes and their encodings) go together, and only if every one of them is old enough.
  const byHash = new Map<string, { keys: string[]; young: boolean }>();
  const cutoff = Date.now() - blobGraceMs;
  for (const { key, modified } of await blobStore().list(prefix)) {
    const m = BLOB_NAME.exec(key);
    if (!m) continue;
    const e = byHash.get(m[1]) ?? { keys: [], young: false };
    e.keys.push(key);
    if (modified.getTime() > cutoff) e.young = true;
    byHash.set(m[1], e);
  }
  const candidates = [...byHash].filter(([, e]) => !e.young).map(([hash]) => hash);
  let files = 0;
  for (let i = 0; i < candidates.length; i += BATCH) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const { rows: [r] } = await client.query<{ hashes: string[] }>(
        'select platform_private.unreferenced_site_blobs($1, $2) as hashes', [siteId, candidates.slice(i, i + BATCH)]);
      const keys = r.hashes.flatMap((h) => byHash.get(h)!.keys);
      // Deleted while the lock is held; then the transaction ends and deploys may refer to those hashes again
      // (they will find them unknown and upload them).
      await blobStore().remove(keys);
      await client.query('commit');
      files += keys.length;
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
  return { deploys: pruned.removed ?? 0, files };
}
