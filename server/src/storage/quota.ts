// A project's storage quota (its organization's plan's `storage_size_mb`), shared by REST, S3 and TUS: bytes are
// reserved in the control database before they are stored (refused past the quota, atomically across API
// processes) and released after the blob store removed them (sql/platform/migrations/0014).
import { controlPool } from '../../../db/src/pools.ts';
import { isPgError } from '../../../db/src/pg-errors.ts';
import { errors } from './errors.ts';

function quotaError(err: unknown): never {
  if (isPgError(err) && err.code === 'LMQ50') throw errors.quotaExceeded(err.message);
  throw err;
}

/** Counts `bytes` about to be stored; throws errors.quotaExceeded() past the quota. */
export async function reserveStorage(ref: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await controlPool().query('select platform_private.reserve_storage($1, $2)', [ref, bytes]).catch(quotaError);
}

/** Takes bytes that are gone (or were never stored) off the count; a failure only over-counts, so it is logged. */
export async function releaseStorage(ref: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await controlPool().query('select platform_private.reserve_storage($1, $2)', [ref, -bytes]).catch((err) => {
    console.error(`[storage] could not release ${bytes} bytes of ${ref}'s quota:`, err);
  });
}

/** Refuses early, before any byte is read, an upload whose declared size cannot fit. */
export async function checkQuota(ref: string, declared: number | undefined): Promise<void> {
  if (declared === undefined || !Number.isFinite(declared) || declared <= 0) return;
  const { rows: [q] } = await controlPool().query<{ quota: string; used: string }>('select * from platform_private.storage_quota($1)', [ref]);
  if (q && Number(q.used) + declared > Number(q.quota)) {
    throw errors.quotaExceeded(`The project's storage quota of ${q.quota} bytes (from its plan) would be exceeded: ${q.used} bytes are stored`);
  }
}
