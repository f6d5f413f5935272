// Shortcuts for the backup tests (test/management/backups*.test.ts): whether this run's server has the dump tools
// of its major version, and waiting on backup and restore jobs through the Management API.
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import { findPgTools } from '../../db/src/backups.ts';
import { adminClient, http, type Project } from './platform.ts';

async function serverMajorHasTools(): Promise<boolean> {
  const admin = await adminClient();
  try {
    const v = Number((await admin.query('show server_version_num')).rows[0].server_version_num);
    return await findPgTools(v).then(() => true, () => false);
  } finally {
    await admin.end();
  }
}
export const toolsHere = await (async () => { try { return await serverMajorHasTools(); } catch { return false; } })();
export const withTools = { skip: toolsHere ? false : 'no pg_dump/pg_restore of this server\'s major version on this machine (the refusal is tested instead)' };
export const withoutTools = { skip: toolsHere ? 'this server has its tools: the refusal cannot happen here' : false };

export async function waitForBackup(p: Project, id: number, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await http('GET', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
    const b = res.body.backups.find((x: { id: number }) => x.id === id);
    if (b && b.status !== 'PENDING') return b;
    if (Date.now() > until) throw new Error(`backup ${id} did not finish: ${JSON.stringify(b)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function waitForRestore(p: Project, id: number, timeoutMs = 90_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await http('GET', `/v1/projects/${p.ref}/database/backups/restores`, { token: p.owner.token });
    const r = res.body.find((x: { id: number }) => x.id === id);
    if (r && (r.status === 'COMPLETED' || r.status === 'FAILED')) return r;
    if (Date.now() > until) throw new Error(`restore ${id} did not finish: ${JSON.stringify(r)}`);
    await new Promise((r2) => setTimeout(r2, 200));
  }
}

export async function backup(p: Project) {
  const res = await http('POST', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const done = await waitForBackup(p, res.body.id);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
  return done;
}

export const storage = (p: Project) => createClient(p.url, p.serviceKey, { auth: { persistSession: false } }).storage;

export async function readFile(p: Project, bucket: string, name: string): Promise<string | null> {
  const { data, error } = await storage(p).from(bucket).download(name);
  if (error) return null;
  return data.text();
}

