// Abandoned uploads — S3 multipart uploads never completed or aborted, TUS uploads never finished — are removed
// once older than LOAM_STORAGE_UPLOAD_EXPIRY, by the `storage_uploads__expire` job that starting an upload queues
// (from SQL, sql/platform/migrations/0014); the job queues itself again while younger uploads remain.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { FileStore } from '@tus/file-store';
import { removeParts } from './s3/multipart.ts';
import { storageSettings } from '../../../db/src/config.ts';

export const tusDirectory = (ref: string) => path.join(storageSettings().fileRoot, ref, 'tus');

/** Removes the project's abandoned uploads; `c` runs as the project's service role. Resolves with how many went
 *  and, if uploads remain, in how many seconds the oldest of them is abandoned. */
export async function expireUploads(ref: string, c: pg.ClientBase, age = storageSettings().uploadExpiry): Promise<{ removed: number; nextInSeconds?: number }> {
  const { rows: parts } = await c.query<{ version: string }>(
    `delete from storage.s3_multipart_uploads_parts where upload_id in
       (select id from storage.s3_multipart_uploads where created_at < now() - make_interval(secs => $1)) returning version`, [age]);
  const { rowCount: uploads } = await c.query(
    'delete from storage.s3_multipart_uploads where created_at < now() - make_interval(secs => $1)', [age]);
  await removeParts(ref, parts.map((p) => p.version));
  const { rows: [oldest] } = await c.query<{ created_at: Date | null }>('select min(created_at) as created_at from storage.s3_multipart_uploads');

  // TUS: @tus/file-store's own rule (creation date + expiry, unfinished only), then the oldest that is left.
  const dir = tusDirectory(ref);
  const tus = await new FileStore({ directory: dir, expirationPeriodInMilliseconds: age * 1000 }).deleteExpired().catch(() => 0);
  let next = oldest.created_at ? new Date(oldest.created_at).getTime() : Infinity;
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const info = JSON.parse(await fsp.readFile(path.join(dir, name), 'utf8').catch(() => '{}')) as { creation_date?: string };
    const created = Date.parse(info.creation_date ?? '');
    if (Number.isFinite(created)) next = Math.min(next, created);
  }
  return {
    removed: (uploads ?? 0) + tus,
    nextInSeconds: Number.isFinite(next) ? Math.max(Math.ceil((next + age * 1000 - Date.now()) / 1000), 1) : undefined,
  };
}
