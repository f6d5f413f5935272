// What the backup and restore jobs do (worker/src/tasks/backup__create.ts, backup__restore.ts): a backup is the
// project's database dumped by pg_dump plus a copy of its stored files, both kept through the blob layer (local
// disk under LOAM_DATA_DIR, or S3) under `<ref>/backups/<id>/`; a restore builds the database beside the live
// one, copies the files back, then swaps (db/src/backups.ts). Stored objects are immutable (a key is a version
// UUID), so copying a project's `objects/` keys is a consistent picture of its files for the rows dumped.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { config } from '../../db/src/config.ts';
import { findPgTools, dumpProjectDatabase, serverVersionNum } from '../../db/src/backups.ts';
import { controlPool } from '../../db/src/pools.ts';
import type { ProjectRuntime } from '../../db/src/provisioning.ts';
import { managementAddress, serverAdminAddress } from '../../db/src/servers.ts';
import { blobStore } from '../../server/src/storage/backend.ts';

export const backupPrefix = (ref: string, backupId: string | number) => `${ref}/backups/${backupId}/`;
const dumpKey = (ref: string, backupId: string | number) => `${backupPrefix(ref, backupId)}database.dump`;

/** A scratch directory of the job's own under LOAM_DATA_DIR, removed by `cleanup`. */
export function workDir(name: string): { dir: string; cleanup(): void } {
  const dir = path.join(config.dataDir, 'backups-work', name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Copies every key directly under `from` to the same name under `to`, a few at a time, skipping those `to`
 *  already has; resolves with how many were copied and their bytes. */
async function copyKeys(from: string, to: string, onProgress: (done: number, total: number) => Promise<void>) {
  const store = blobStore();
  const existing = new Set((await store.list(to)).map((o) => o.key.slice(to.length)));
  const names = (await store.list(from)).map((o) => o.key.slice(from.length)).filter((n) => n && !n.includes('/'));
  let bytes = 0;
  let done = 0;
  let lastReport = Date.now();
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(names.slice(i, i + 8).map(async (n) => {
      if (existing.has(n)) return;
      const size = await store.copy(from + n, to + n);
      bytes += size;
    }));
    done = Math.min(i + 8, names.length);
    if (Date.now() - lastReport > 1000) { lastReport = Date.now(); await onProgress(done, names.length); }
  }
  return { count: names.length, bytes };
}

/** Dumps the project's database and copies its files; resolves with what the backup record keeps. */
export async function takeBackup(project: ProjectRuntime, backupId: string, progress: (p: string) => Promise<void>) {
  const admin = await serverAdminAddress(project.database_server_id!);
  const version = await serverVersionNum(admin);
  const tools = await findPgTools(version);
  const work = workDir(`backup-${backupId}`);
  try {
    await progress('dumping the database (pg_dump)');
    const file = path.join(work.dir, 'database.dump');
    await dumpProjectDatabase(tools, await managementAddress(project), project.db_name, file);
    const databaseBytes = fs.statSync(file).size;
    await progress('storing the database dump');
    await blobStore().commit(file, dumpKey(project.ref, backupId), 'application/octet-stream');
    await progress('copying stored files');
    const files = await copyKeys(`${project.ref}/objects/`, `${backupPrefix(project.ref, backupId)}objects/`,
      (done, total) => progress(`copying stored files ${done}/${total}`));
    return { version, databaseBytes, files };
  } finally {
    work.cleanup();
  }
}

/** The backup's dump, fetched to a local file for pg_restore. */
export async function fetchDump(ref: string, backupId: string, file: string): Promise<void> {
  await pipeline(await blobStore().read(dumpKey(ref, backupId)), fs.createWriteStream(file, { mode: 0o600 }));
}

/** The backup's files, copied into the target project's objects (only those it lacks: the live ones stay). */
export async function restoreFiles(sourceRef: string, backupId: string, targetRef: string, progress: (p: string) => Promise<void>) {
  return copyKeys(`${backupPrefix(sourceRef, backupId)}objects/`, `${targetRef}/objects/`,
    (done, total) => progress(`copying stored files ${done}/${total}`));
}

/** Removes the backups past the plan's retention: their files first, then the record. */
export async function removeExpiredBackups(projectId: string, ref: string): Promise<number> {
  const { rows } = await controlPool().query<{ id: string }>('select platform_private.expired_backups($1) as id', [projectId]);
  for (const { id } of rows) {
    await blobStore().removePrefix(backupPrefix(ref, id));
    await controlPool().query('select platform_private.backup_removed($1)', [id]);
  }
  return rows.length;
}
