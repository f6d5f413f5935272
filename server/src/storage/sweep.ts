// Stored bytes no object row refers to — left when removing them failed after their row was gone, or by a process
// that died between committing an upload's bytes and its row — are removed by the `storage__sweep` job, queued
// (from SQL, in the control database) whenever such a removal fails. They were never visible: only rows are.
import { controlPool } from '../../../db/src/pools.ts';
import { blobStore } from './backend.ts';
import { releaseStorage } from './quota.ts';
import { storageSettings } from '../../../db/src/config.ts';

/** Removes object bytes of unreferenced versions written before `olderThan`, and their rendered variants; and,
 *  when the versions S3 multipart parts refer to are given, the bytes of parts no row refers to. */
export async function sweepOrphans(ref: string, referenced: Set<string>, olderThan: Date, parts?: Set<string>): Promise<number> {
  const store = blobStore();
  const version = (key: string) => key.slice(key.lastIndexOf('/') + 1);
  const orphans = (await store.list(`${ref}/objects/`)).filter((o) => !referenced.has(version(o.key)) && o.modified < olderThan);
  if (parts) orphans.push(...(await store.list(`${ref}/parts/`)).filter((o) => !parts.has(version(o.key)) && o.modified < olderThan));
  await releaseStorage(ref, await store.remove(orphans.map((o) => o.key)));
  const renders = (await store.list(`${ref}/renders/`)).filter((r) => !referenced.has(version(r.key)));
  for (const r of renders) await store.removePrefix(`${r.key}/`);
  return orphans.length + renders.length;
}

/** Asks for a sweep of the project's stored bytes (later, so uploads in flight are long finished). */
export async function queueSweep(ref: string): Promise<void> {
  await controlPool().query('select platform_private.queue_storage_sweep($1)', [ref]).catch((err) => {
    console.error(`[storage] could not queue a sweep of ${ref}:`, err);
  });
}

/** Asks for the removal of the project's abandoned uploads once an upload started now would be abandoned
 *  (worker task storage_uploads__expire; an earlier pending one is kept). `age` (seconds) travels with the job, so
 *  the worker that runs it applies the expiry of the process that took the upload. */
export async function queueUploadExpiry(ref: string, afterSeconds?: number, age = storageSettings().uploadExpiry): Promise<void> {
  await controlPool().query('select platform_private.queue_storage_upload_expiry($1, make_interval(secs => $2), $3)', [ref, afterSeconds ?? age, age]).catch((err) => {
    console.error(`[storage] could not queue the expiry of ${ref}'s uploads:`, err);
  });
}
