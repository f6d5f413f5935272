// A PostgreSQL 15 cluster of the test's own whose WAL is archived (archive_mode = on, archive_command copying into
// a directory), registered as a database server of its own region with point-in-time restore configured, for the
// PITR tests (test/management/pitr.test.ts, test/resilience/pitr-crash.test.ts). It runs with Debian's PostgreSQL 15
// binaries, whose pg_basebackup/pg_dump/pg_restore match it; tests skip where they are absent.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { clusterOwner } from '../../db/src/pitr.ts';
import { freePort } from './postgres.ts';

export const PG15_BIN = '/usr/lib/postgresql/15/bin';
const needed = ['postgres', 'initdb', 'pg_ctl', 'pg_basebackup', 'pg_dump', 'pg_restore'];
export const pg15Missing = needed.filter((t) => !fs.existsSync(path.join(PG15_BIN, t)));
export const withPg15 = {
  skip: pg15Missing.length ? `PostgreSQL 15 binaries missing in ${PG15_BIN} (${pg15Missing.join(', ')}): point-in-time restore cannot be tested here` : false,
};


function asPostgres(bin: string, args: string[]) {
  const o = clusterOwner();
  const r = spawnSync(path.join(PG15_BIN, bin), args, { ...(o ?? {}), encoding: 'utf8', timeout: 120_000, env: { PATH: '/usr/bin:/bin', LANG: 'C' } });
  if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr || r.stdout || r.error}`);
  return r.stdout;
}

export interface ArchivingPg15 {
  url: string; port: number; password: string; root: string; walDir: string; baseDir: string;
  stop(): Promise<void>; pgCtl(...args: string[]): string;
}

export async function startArchivingPg15(): Promise<ArchivingPg15> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-pitr-'));
  fs.chmodSync(root, 0o755);
  const data = path.join(root, 'data');
  const walDir = path.join(root, 'wal');
  const baseDir = path.join(root, 'base');
  const sock = path.join(root, 'sock');
  for (const d of [data, walDir, sock]) fs.mkdirSync(d, { mode: 0o700 });
  fs.mkdirSync(baseDir, { mode: 0o755 });
  const o = clusterOwner();
  if (o) for (const d of [data, walDir, sock]) fs.chownSync(d, o.uid, o.gid);
  const password = crypto.randomBytes(12).toString('hex');
  const pwfile = path.join(root, 'pw');
  fs.writeFileSync(pwfile, password, { mode: 0o600 });
  if (o) fs.chownSync(pwfile, o.uid, o.gid);
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync']);
  fs.rmSync(pwfile);
  const port = await freePort();
  fs.appendFileSync(path.join(data, 'postgresql.conf'), [
    '', `port = ${port}`, `listen_addresses = 'localhost'`, `unix_socket_directories = '${sock}'`,
    'wal_level = replica', 'archive_mode = on', `archive_command = 'test ! -f ${walDir}/%f && cp %p ${walDir}/%f'`,
    'max_wal_senders = 4', 'fsync = off', 'max_connections = 200', '',
  ].join('\n'));
  const pgCtl = (...args: string[]) => asPostgres('pg_ctl', ['-D', data, ...args]);
  pgCtl('-l', path.join(sock, 'server.log'), '-w', 'start');
  const url = `postgres://postgres:${password}@localhost:${port}/postgres`;
  return {
    url, port, password, root, walDir, baseDir, pgCtl,
    async stop() {
      try { pgCtl('-m', 'immediate', '-w', 'stop'); } catch { /* already stopped */ }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Waits for a base backup of the server to complete (queued by the schedule or on demand); resolves with its row. */
export async function waitForBaseBackup(control: pg.Pool | pg.Client, serverId: number, timeoutMs = 120_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows: [b] } = await control.query(`select * from platform.base_backups where server_id = $1 order by id desc limit 1`, [serverId]);
    if (b?.status === 'COMPLETED') return b;
    if (b?.status === 'FAILED') throw new Error(`base backup failed: ${b.error}`);
    if (Date.now() > until) throw new Error(`no base backup completed: ${JSON.stringify(b)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
