// Logical backups and restores of one project's database with PostgreSQL's own tools (pg_dump/pg_restore of the
// server's major version), run as child processes with a time limit, a capped log and no password on the
// command line. Tenant content is read and written only as the project's own roles: pg_dump runs as the
// project's management login (acting as the owner) and pg_restore replays the dump as the owner
// (`--no-owner --role=<owner>`), so nothing in a dump can run with more rights than the tenant who wrote it.
// The design, and what is not supported where, is in db/README.md ("Backups and point-in-time restore").
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { config } from './config.ts';
import { closeProjectPools, withClient, type ServerAddress } from './pools.ts';
import { ensureProjectRoles, secureProjectDatabase, type ProjectRuntime } from './provisioning.ts';
import { projectRoles } from './roles.ts';
import { templateDatabaseName } from './migrate.ts';

/** A domain error in the registry's form (sql/ERRORS.md), so the one Postgres-error mapping renders it. */
export class BackupError extends Error {
  readonly code: string;
  readonly severity = 'ERROR';
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface PgTools { major: number; dir: string; pgDump: string; pgRestore: string }

export const majorOf = (serverVersionNum: number) => Math.floor(serverVersionNum / 10000);

/** Where the client tools of a major version are looked for: LOAM_PG_BIN_DIR first, then Debian's layout. */
export function toolDirs(major: number): string[] {
  return [...(config.pgBinDir ? [config.pgBinDir] : []), `/usr/lib/postgresql/${major}/bin`];
}

const versionCache = new Map<string, number | undefined>();
/** The major version a pg_dump binary reports (`pg_dump (PostgreSQL) 15.14`), or undefined when it cannot run. */
export async function toolMajor(bin: string): Promise<number | undefined> {
  if (versionCache.has(bin)) return versionCache.get(bin);
  let major: number | undefined;
  if (fs.existsSync(bin)) {
    const r = await run(bin, ['--version'], {}, 10_000).catch(() => undefined);
    const m = r && /\(PostgreSQL\)\s+(\d+)/.exec(r.stdout);
    major = m ? Number(m[1]) : undefined;
  }
  versionCache.set(bin, major);
  return major;
}

/** pg_dump and pg_restore of the server's major version, or a BackupError (LMK01) naming the tool, the version
 *  and where Loam looked. A newer major than the server's would also read it, but pg_restore must then load
 *  into the same server, so the versions are kept equal: what was tested is what runs. */
export async function findPgTools(serverVersionNum: number): Promise<PgTools> {
  const major = majorOf(serverVersionNum);
  const dirs = toolDirs(major);
  for (const dir of dirs) {
    const pgDump = path.join(dir, 'pg_dump');
    const pgRestore = path.join(dir, 'pg_restore');
    if ((await toolMajor(pgDump)) === major && (await toolMajor(pgRestore)) === major) return { major, dir, pgDump, pgRestore };
  }
  throw new BackupError('LMK01', `pg_dump and pg_restore for PostgreSQL ${major} were not found (looked in ${dirs.join(', ')}): `
    + `backups and restores of projects on this PostgreSQL ${major} server are not possible until they are installed `
    + '(set LOAM_PG_BIN_DIR to their directory)');
}

export async function serverVersionNum(address: ServerAddress): Promise<number> {
  return withClient(address, 'postgres', async (c) => Number((await c.query('show server_version_num')).rows[0].server_version_num));
}

interface RunResult { code: number; stdout: string; stderr: string }
const LOG_CAP = 64 * 1024;

/** Runs a tool in its own process group, killed (group and all) when it outlives `timeoutMs`; stdout and stderr
 *  are kept up to a cap. Passwords travel in the environment (PGPASSWORD), never in the arguments. */
export function run(bin: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < LOG_CAP) stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < LOG_CAP) stderr += d.toString('utf8'); });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      stderr += `\n${path.basename(bin)} was stopped after ${timeoutMs} ms (LOAM_BACKUP_TIMEOUT_MS)`;
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }); });
  });
}

/** libpq's connection settings for an address, as environment variables. */
export function libpqEnv(address: ServerAddress, database: string): Record<string, string> {
  return {
    PGHOST: address.host, PGPORT: String(address.port), PGUSER: address.user, PGDATABASE: database,
    PGPASSWORD: address.password ?? '', PGSSLMODE: address.ssl ? 'require' : 'prefer', PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'loam-backup',
  };
}

export async function runOrFail(bin: string, args: string[], env: Record<string, string>, what: string): Promise<RunResult> {
  const r = await run(bin, args, env, config.backupTimeoutMs);
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stderr.trim().split('\n').slice(-8).join(' | ') || `exit code ${r.code}`}`);
  return r;
}

/** Dumps the project's database (custom format) to `file` as the project's management login, i.e. as the
 *  owner: Loam's bookkeeping schema `_loam` is left out (a restore takes it from the current template). */
export async function dumpProjectDatabase(tools: PgTools, mgmt: ServerAddress, database: string, file: string): Promise<void> {
  await runOrFail(tools.pgDump, ['--format=custom', '--exclude-schema=_loam', '--lock-wait-timeout=60000', '--no-password',
    '--file', file], libpqEnv(mgmt, database), 'pg_dump');
}

/** The template database, dumped as administrator: Loam's own objects, never a tenant's. */
async function dumpTemplate(tools: PgTools, admin: ServerAddress, file: string): Promise<void> {
  await runOrFail(tools.pgDump, ['--format=custom', '--no-password', '--file', file], libpqEnv(admin, templateDatabaseName()), 'pg_dump of the template');
}

/** The archive's table of contents (`pg_restore -l`), one entry a line, comments dropped. */
async function tocOf(tools: PgTools, file: string): Promise<string[]> {
  const r = await runOrFail(tools.pgRestore, ['--list', file], {}, 'pg_restore --list');
  // A table of contents can be long: read it from a file rather than the capped stdout.
  if (r.stdout.length >= LOG_CAP) {
    const listFile = `${file}.toc`;
    await runOrFail(tools.pgRestore, ['--list', '--file', listFile, file], {}, 'pg_restore --list');
    const lines = fs.readFileSync(listFile, 'utf8').split('\n');
    fs.rmSync(listFile, { force: true });
    return lines.filter((l) => l && !l.startsWith(';'));
  }
  return r.stdout.split('\n').filter((l) => l && !l.startsWith(';'));
}

// A TOC entry: `<dump id>; <catalog oid> <object oid> <type…> <schema> <name> <owner>`.
const isEventTrigger = (line: string) => /^\d+; \d+ \d+ EVENT TRIGGER /.test(line);
// Loam's own schema in the template's TOC: the schema itself (`SCHEMA - _loam`), its comment and ACL
// (`COMMENT - SCHEMA _loam`, `ACL - SCHEMA _loam`), and every object in it (schema field `_loam`).
const isLoamOwn = (line: string) => /^\d+; \d+ \d+ (?:[A-Z]+ )+(?:_loam |- (?:SCHEMA )?_loam )/.test(line);

export type Progress = (step: string | null, progress: string) => Promise<void>;

const restoringName = (ref: string) => `${ref}_restoring`;
const previousName = (ref: string) => `${ref}_before_restore`;

async function databaseExists(c: pg.ClientBase, name: string): Promise<boolean> {
  return Boolean((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount);
}

async function closeDatabase(c: pg.ClientBase, name: string) {
  await c.query(`alter database ${c.escapeIdentifier(name)} with allow_connections false`);
  await c.query('select pg_terminate_backend(active_pid, 5000) from pg_replication_slots where database = $1 and active_pid is not null', [name]);
  await c.query('select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
  await closeProjectPools(name);
}

/** Builds the restored database beside the live one, complete, secured and closed: `<ref>_restoring`.
 *  1. an empty database (template0) whose `public` schema the owner owns; CONNECT for the management login only;
 *  2. the dump, replayed by pg_restore as the owner (`--no-owner --role=<owner>`, stopping at the first error),
 *     without the template's event triggers (only a superuser may create them; the template's come in step 3);
 *     then its grants, as the owner too, skipping those that name roles the project does not have;
 *  3. Loam's bookkeeping schema and event triggers from the current template, as administrator — only CREATE
 *     statements and rows into tables just created, so nothing the tenant defined runs;
 *  4. the usual hand-over and CONNECT grants (provisioning.ts), then closed until the swap. */
export async function buildRestoredDatabase(opts: {
  tools: PgTools; admin: ServerAddress; target: ProjectRuntime; dumpFile: string; workDir: string; progress: Progress;
}): Promise<void> {
  const { tools, admin, target } = opts;
  const r = projectRoles(target.ref);
  const tmp = restoringName(target.ref);
  await opts.progress(null, 'creating the database to restore into');
  await withClient(admin, 'postgres', async (c) => {
    if (await databaseExists(c, tmp)) {
      await closeDatabase(c, tmp);
      await c.query(`drop database ${c.escapeIdentifier(tmp)} with (force)`);
    }
    await ensureProjectRoles(c, target);
    await c.query(`create database ${c.escapeIdentifier(tmp)} template template0 encoding 'UTF8'`);
    await c.query(`revoke all on database ${c.escapeIdentifier(tmp)} from public`);
    await c.query(`grant connect on database ${c.escapeIdentifier(tmp)} to ${c.escapeIdentifier(r.mgmt)}`);
    await c.query(`grant create, temporary on database ${c.escapeIdentifier(tmp)} to ${c.escapeIdentifier(r.owner)}`);
  });
  await withClient(admin, tmp, (c) => c.query(`alter schema public owner to ${c.escapeIdentifier(r.owner)}`));

  await opts.progress(null, 'restoring the database (pg_restore as the project owner)');
  const toc = await tocOf(tools, opts.dumpFile);
  // Grants last and on their own: in a new project they name the old project's roles (which do not exist, or
  // belong to someone else), so each grant that fails is skipped and counted instead of failing the restore.
  const isAcl = (l: string) => /^\d+; \d+ \d+ (DEFAULT ACL|ACL) /.test(l);
  const list = path.join(opts.workDir, 'restore.list');
  fs.writeFileSync(list, toc.filter((l) => !isEventTrigger(l) && !isAcl(l)).join('\n') + '\n');
  const mgmt: ServerAddress = { host: admin.host, port: admin.port, ssl: admin.ssl, user: target.mgmt_role, password: target.mgmt_password };
  const asOwner = ['--no-owner', `--role=${r.owner}`, '--no-password', '--dbname', tmp];
  await runOrFail(tools.pgRestore, ['--use-list', list, '--exit-on-error', ...asOwner, opts.dumpFile], libpqEnv(mgmt, tmp), 'pg_restore');
  const aclList = path.join(opts.workDir, 'restore-acl.list');
  fs.writeFileSync(aclList, toc.filter(isAcl).join('\n') + '\n');
  const acl = await run(tools.pgRestore, ['--use-list', aclList, ...asOwner, opts.dumpFile], libpqEnv(mgmt, tmp), config.backupTimeoutMs);
  const skipped = /errors ignored on restore: (\d+)/.exec(acl.stderr);
  if (acl.code !== 0 && !skipped) throw new Error(`pg_restore of the grants failed: ${acl.stderr.trim().split('\n').slice(-4).join(' | ')}`);
  if (skipped) await opts.progress(null, `${skipped[1]} grant(s) naming roles this project does not have were skipped`);

  await opts.progress(null, 'adding Loam\'s bookkeeping from the current template');
  const templateFile = path.join(opts.workDir, 'template.dump');
  await dumpTemplate(tools, admin, templateFile);
  const own = (await tocOf(tools, templateFile)).filter((l) => isLoamOwn(l) || isEventTrigger(l));
  const ownList = path.join(opts.workDir, 'template.list');
  fs.writeFileSync(ownList, own.join('\n') + '\n');
  await runOrFail(tools.pgRestore, ['--use-list', ownList, '--exit-on-error', '--no-password', '--dbname', tmp, templateFile],
    libpqEnv(admin, tmp), 'pg_restore of the template\'s bookkeeping');
  // A number no API process has seen for this project: their schema caches (REST, GraphQL) reload after the swap.
  // The table was created a moment ago by the template's CREATE; the tenant cannot hang anything on it.
  await withClient(admin, tmp, (c) => c.query(`update _loam.schema_state set version = (extract(epoch from clock_timestamp()) * 1000)::bigint`));

  await opts.progress(null, 'securing the restored database');
  await secureProjectDatabase(admin, { ...target, db_name: tmp });
  await withClient(admin, 'postgres', (c) => closeDatabase(c, tmp));
}

/** Puts the restored database in the live one's place: the live one is closed and renamed aside, the restored
 *  one takes its name and opens, the old one is dropped. Each step checks what is already done, so a job that
 *  died half-way through (kill -9) finishes the swap when it runs again. */
export async function swapInRestoredDatabase(admin: ServerAddress, target: ProjectRuntime): Promise<void> {
  const live = target.db_name;
  const tmp = restoringName(target.ref);
  const before = previousName(target.ref);
  await withClient(admin, 'postgres', async (c) => {
    const id = (n: string) => c.escapeIdentifier(n);
    if (await databaseExists(c, tmp)) {
      if (await databaseExists(c, live)) {
        if (await databaseExists(c, before)) await c.query(`drop database ${id(before)} with (force)`);
        await closeDatabase(c, live);
        await c.query(`alter database ${id(live)} rename to ${id(before)}`);
      }
      await closeDatabase(c, tmp);
      await c.query(`alter database ${id(tmp)} rename to ${id(live)}`);
    }
    if (!(await databaseExists(c, live))) throw new Error(`neither ${live} nor ${tmp} exists: nothing to put in place`);
    await c.query(`alter database ${id(live)} with allow_connections true`);
    if (await databaseExists(c, before)) {
      await c.query('select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1', [before]);
      await c.query(`drop database ${id(before)} with (force)`);
    }
  });
}

/** Before the swap begins: the project's live database closed (the project is out of service meanwhile). */
export async function closeLiveDatabase(admin: ServerAddress, target: ProjectRuntime): Promise<void> {
  await withClient(admin, 'postgres', async (c) => {
    if (await databaseExists(c, target.db_name)) await closeDatabase(c, target.db_name);
  });
}

/** A restore given up before its swap: the half-built database goes, the live one (untouched) opens again. */
export async function abandonRestore(admin: ServerAddress, target: ProjectRuntime, reopenLive: boolean): Promise<void> {
  const tmp = restoringName(target.ref);
  await withClient(admin, 'postgres', async (c) => {
    if (await databaseExists(c, tmp)) {
      await closeDatabase(c, tmp);
      await c.query(`drop database ${c.escapeIdentifier(tmp)} with (force)`);
    }
    if (reopenLive && await databaseExists(c, target.db_name)) {
      await c.query(`alter database ${c.escapeIdentifier(target.db_name)} with allow_connections true`);
    }
  });
}

/** The project-template version new and restored databases get (the template database's own record). */
export async function currentTemplateVersion(admin: ServerAddress): Promise<number> {
  return withClient(admin, templateDatabaseName(), async (c) =>
    Number((await c.query('select coalesce(max(version), 0) as v from _loam.migrations')).rows[0].v));
}

/** At start-up: whether the control server's projects can be backed up here, said once in the log. */
export async function reportBackupTools(admin: ServerAddress, log: (line: string) => void): Promise<void> {
  try {
    const v = await serverVersionNum(admin);
    const tools = await findPgTools(v);
    log(`backups: pg_dump/pg_restore ${tools.major} from ${tools.dir}`);
  } catch (err) {
    log(`backups: ${err instanceof Error ? err.message : String(err)}`);
  }
}
