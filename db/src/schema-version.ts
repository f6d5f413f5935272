// Per-project schema versions. Every project database counts its DDL in `_loam.schema_state` (an event
// trigger bumps it); the data plane reads the number — ideally in a round trip it makes anyway — and tells this
// module, which tells every per-project schema cache (REST, GraphQL) to reload when the number moves.
import type pg from 'pg';

const seen = new Map<string, string>();
const listeners = new Set<(ref: string) => void>();

export const SCHEMA_VERSION_SQL = 'select version::text as schema_version from _loam.schema_state';

/** Records the version a request saw; returns true (and notifies listeners) when it differs from the last one. */
export function observeSchemaVersion(ref: string, version: string): boolean {
  const before = seen.get(ref);
  if (before === version) return false;
  seen.set(ref, version);
  if (before !== undefined) for (const fn of listeners) fn(ref);
  return before !== undefined;
}

export function lastSchemaVersion(ref: string): string | undefined {
  return seen.get(ref);
}

export async function readSchemaVersion(client: pg.ClientBase | pg.Pool): Promise<string> {
  return (await client.query(SCHEMA_VERSION_SQL)).rows[0].schema_version;
}

/** Subscribe to schema changes of any project (the callback gets the ref). */
export function onSchemaChange(fn: (ref: string) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** For NOTIFY pgrst 'reload schema' or other out-of-band signals. */
export function schemaChanged(ref: string): void {
  seen.delete(ref);
  for (const fn of listeners) fn(ref);
}
