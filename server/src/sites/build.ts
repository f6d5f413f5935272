// Builds from git, the part that runs processes: a shallow clone (outside the sandbox; git runs no hook of the
// repository on clone), then the install and build commands inside a sandbox, then the output folder read
// without following a symlink. Every process is its own process group with a time limit, killed with all its
// children on cancel or timeout, and its output goes to a bounded log.
//
// The sandbox (sandbox.sh) is Linux namespaces through util-linux `unshare`: a user namespace (root inside is
// the worker's user outside, with no capability left once the command runs), a mount namespace whose root is a
// fresh tmpfs holding read-only binds of /usr and a few /etc files plus the build's own folder at /work
// (pivot_root, the old root unmounted), a PID namespace (killing its first process kills every process of the
// build) and an empty network namespace (no network, so no platform service is reachable) unless the operator
// allows it (LOAM_BUILDS_NETWORK=1). Inside it, rlimits bound each process (memory, processes, file size) and a
// watch over the process tree bounds the build as a whole (sandboxed(), run()).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BuildSettings } from '../../../db/src/config.ts';
import { normalizeDeployPath } from './paths.ts';

/** Why a repository URL is refused, or undefined. https://, ssh:// and git@host:path; local ones only if allowed. */
export function repoUrlProblem(url: string, allowLocal: boolean): string | undefined {
  if (url.length > 2048 || /[\x00-\x20\x7f]/.test(url)) return 'repo_url must be a URL without spaces or control characters';
  if (url.startsWith('-')) return 'repo_url must not start with "-"';
  if (/^https:\/\/[^/]+\/.+/.test(url) || /^ssh:\/\/[^/]+\/.+/.test(url) || /^git@[A-Za-z0-9.-]+:[^/].*/.test(url)) return undefined;
  // Local repositories, and plain http to this machine (a test's git server), only where the operator allows them.
  if (allowLocal && (url.startsWith('file:///') || url.startsWith('/') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?\/.+/.test(url))) return undefined;
  return 'repo_url must be an https://, ssh:// or git@host:path URL';
}

/** The log of a build: bounded, with a note where it was cut. */
export class BuildLog {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private pending: Buffer[] = [];
  private cut = false;
  readonly max: number;
  constructor(max: number) { this.max = max; }
  append(chunk: Buffer | string): void {
    if (this.cut) return;
    let b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (this.size + b.length > this.max) {
      b = Buffer.concat([b.subarray(0, Math.max(0, this.max - this.size)), Buffer.from('\n[log truncated]\n')]);
      this.cut = true;
    }
    this.size += b.length;
    this.chunks.push(b);
    this.pending.push(b);
  }
  /** What was appended since the last call (for flushing to the database). */
  takePending(): string {
    const out = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    return out;
  }
}

export interface StepResult {
  ok: boolean; code: number | null; timedOut: boolean; cancelled: boolean;
  /** The limit the build was killed at, if any. */
  limit?: 'memory' | 'processes';
}

/** What a process tree holds: its processes' threads (each counts against RLIMIT_NPROC) and resident bytes. */
export async function treeUsage(root: number): Promise<{ tasks: number; rssBytes: number }> {
  let tasks = 0, rssBytes = 0;
  const seen = new Set<number>();
  let level = [root];
  // Breadth-first through /proc/<pid>/task/<tid>/children; a process that exits meanwhile is skipped. Bounded:
  // a pid is visited once, and the kernel caps the tree (RLIMIT_NPROC).
  while (level.length && seen.size < 100_000) {
    const next: number[] = [];
    await Promise.all(level.map(async (pid) => {
      if (seen.has(pid)) return;
      seen.add(pid);
      const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      tasks += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      rssBytes += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
      const tids = await fsp.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
      for (const tid of tids) {
        const children = await fsp.readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
        for (const c of children.split(' ')) if (c.trim()) next.push(Number(c));
      }
    }));
    level = next;
  }
  return { tasks, rssBytes };
}

interface RunOptions {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  log: BuildLog;
  deadline: number;
  signal: AbortSignal;
  /** Watched every WATCH_MS: reaching either kills the whole group with a line in the log saying why. */
  watch?: { maxTasks: number; maxRssBytes: number };
}

const WATCH_MS = 100;

/** Runs a process as the leader of its own process group; on timeout, abort or a limit the whole group is killed. */
function run(o: RunOptions): Promise<StepResult> {
  return new Promise((resolve) => {
    const child = spawn(o.args[0], o.args.slice(1), { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false, cancelled = false;
    let limit: StepResult['limit'];
    const killGroup = () => { try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(() => { timedOut = true; o.log.append('\n[time limit reached: build killed]\n'); killGroup(); }, Math.max(0, o.deadline - Date.now()));
    // The kernel enforces the rlimits per process (a fork or an allocation fails); this watch sees the build as a
    // whole, kills it when it reaches a limit and says so, instead of leaving it to fail in some obscure way.
    let sampling = false;
    const watcher = o.watch && child.pid ? setInterval(() => {
      if (sampling || limit || !child.pid) return;
      sampling = true;
      treeUsage(child.pid).then(({ tasks, rssBytes }) => {
        if (limit || child.exitCode !== null) return;
        if (tasks >= o.watch!.maxTasks) {
          limit = 'processes';
          o.log.append(`\n[process limit reached: ${tasks} processes and threads, at most ${o.watch!.maxTasks} allowed (LOAM_BUILDS_MAX_PROCESSES): build killed]\n`);
        } else if (rssBytes > o.watch!.maxRssBytes) {
          limit = 'memory';
          o.log.append(`\n[memory limit reached: ${Math.round(rssBytes / 1048576)} MB in use, at most ${Math.round(o.watch!.maxRssBytes / 1048576)} MB allowed (LOAM_BUILDS_MEMORY_MB): build killed]\n`);
        }
        if (limit) killGroup();
      }).catch(() => {}).finally(() => { sampling = false; });
    }, WATCH_MS) : undefined;
    const onAbort = () => { cancelled = true; o.log.append('\n[cancelled: build killed]\n'); killGroup(); };
    o.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (c: Buffer) => o.log.append(c));
    child.stderr.on('data', (c: Buffer) => o.log.append(c));
    child.on('error', (err) => o.log.append(`\n[could not start: ${err.message}]\n`));
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(watcher);
      o.signal.removeEventListener('abort', onAbort);
      // Whatever the leader left behind in its group goes too.
      killGroup();
      resolve({ ok: code === 0 && !timedOut && !cancelled && !limit, code, timedOut, cancelled, limit });
    });
    if (o.signal.aborted) onAbort();
  });
}

// Handed to `sh -c` as text: the build's user (below) need not be able to read Loam's own files.
const SANDBOX = fs.readFileSync(new URL('./sandbox.sh', import.meta.url), 'utf8');
const BASE_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };

export interface RepoCredentials { deployKey?: string | null; token?: string | null }

/** Shallow clone of `branch` into `<workdir>/src`, with no prompts or system/global git config. A deploy key is
 *  written next to `src` for ssh and removed when the clone ends (before any command of the site runs, and the
 *  sandbox mounts the folder); a token goes to git as an https header through its environment, never in an
 *  argument (visible to `ps`) or in the clone's config. */
export async function clone(workdir: string, url: string, branch: string, log: BuildLog, deadline: number, signal: AbortSignal, allowLocal: boolean,
  creds: RepoCredentials = {}): Promise<StepResult> {
  const source = url.startsWith('/') ? `file://${url}` : url;
  log.append(`$ git clone --depth 1 --branch ${branch} ${url}\n`);
  const keyFile = path.join(workdir, '.deploy-key');
  const ssh = ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${path.join(workdir, '.known_hosts')}`];
  if (creds.deployKey) {
    await fsp.writeFile(keyFile, creds.deployKey.endsWith('\n') ? creds.deployKey : `${creds.deployKey}\n`, { mode: 0o600 });
    ssh.push('-o', 'IdentitiesOnly=yes', '-i', keyFile);
  }
  const tokenEnv: Record<string, string> = creds.token ? {
    GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${creds.token}`).toString('base64')}`,
  } : {};
  try {
    return await runClone(workdir, source, branch, log, deadline, signal, allowLocal, ssh.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), tokenEnv);
  } finally {
    await fsp.rm(keyFile, { force: true });
    await fsp.rm(path.join(workdir, '.known_hosts'), { force: true });
  }
}

function runClone(workdir: string, source: string, branch: string, log: BuildLog, deadline: number, signal: AbortSignal, allowLocal: boolean,
  sshCommand: string, tokenEnv: Record<string, string>): Promise<StepResult> {
  return run({
    args: ['git', '-c', 'protocol.ext.allow=never', '-c', `protocol.file.allow=${allowLocal ? 'always' : 'never'}`, '-c', 'core.symlinks=true',
      'clone', '--depth', '1', '--single-branch', '--no-recurse-submodules', '--branch', branch, '--', source, path.join(workdir, 'src')],
    env: { ...BASE_ENV, ...tokenEnv, HOME: workdir, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_SSH_COMMAND: sshCommand },
    cwd: workdir, log, deadline, signal,
  });
}

export type SandboxSettings = Pick<BuildSettings, 'network' | 'memoryMb' | 'maxProcesses' | 'maxFileMb' | 'uid' | 'gid'>;

const runsAsRoot = () => process.getuid?.() === 0;

/** Gives the build's folder to the build's user (a worker running as root runs builds as LOAM_BUILDS_UID): the
 *  clone's files are root's. Symlinks are changed, never followed. Done once: the folder's owner tells. */
async function handToBuildUser(workdir: string, uid: number, gid: number): Promise<void> {
  if ((await fsp.lstat(workdir)).uid === uid) return;
  const walk = async (p: string): Promise<void> => {
    const st = await fsp.lstat(p);
    await fsp.lchown(p, uid, gid);
    if (st.isDirectory()) for (const name of await fsp.readdir(p)) await walk(path.join(p, name));
  };
  await walk(workdir);
}

/** A shell command of the site's, in the sandbox, in `/work/src`, under the build's limits: per process the
 *  kernel's (RLIMIT_AS — the memory limit plus room for address space runtimes reserve and never touch —
 *  RLIMIT_NPROC a little above the process limit, RLIMIT_FSIZE), and for the whole build the watch in run().
 *  RLIMIT_NPROC counts per user, and never root's: a worker running as root runs builds as another user. */
export async function sandboxed(workdir: string, command: string, userEnv: Record<string, string>, log: BuildLog, deadline: number,
  signal: AbortSignal, s: SandboxSettings): Promise<StepResult> {
  log.append(`$ ${command}\n`);
  const ns = ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--kill-child', ...(s.network ? [] : ['--net'])];
  const asUser = runsAsRoot() ? ['setpriv', `--reuid=${s.uid}`, `--regid=${s.gid}`, '--clear-groups'] : [];
  if (runsAsRoot()) await handToBuildUser(workdir, s.uid, s.gid);
  return run({
    args: [...asUser, 'unshare', ...ns, '/bin/sh', '-c', SANDBOX],
    env: {
      ...userEnv, ...BASE_ENV, HOME: '/work', CI: '1', LOAM_BUILD_WORKDIR: workdir, LOAM_BUILD_COMMAND: `cd /work/src && ${command}`,
      LOAM_BUILD_RLIMITS: `--as=${(s.memoryMb + 1024) * 1048576} --nproc=${s.maxProcesses + 16} --fsize=${s.maxFileMb * 1048576}`,
    },
    cwd: workdir, log, deadline, signal, watch: { maxTasks: s.maxProcesses, maxRssBytes: s.memoryMb * 1048576 },
  });
}

/** The files of `<workdir>/src/<outputDir>`: symlinks (anywhere on the way) and special files are refused. */
export async function collectOutput(workdir: string, outputDir: string, maxFiles: number): Promise<{ path: string; abs: string }[]> {
  const root = path.join(workdir, 'src');
  let dir = root;
  const rel = outputDir.replace(/^\.?\/*/, '').replace(/\/+$/, '');
  if (rel) {
    const checked = normalizeDeployPath(rel);
    if ('problem' in checked) throw new Error(`output_dir: ${checked.message}`);
    for (const seg of checked.path.split('/')) {
      dir = path.join(dir, seg);
      const st = await fsp.lstat(dir).catch(() => undefined);
      if (!st?.isDirectory()) throw new Error(`the output folder "${outputDir}" does not exist (or is not a folder) after the build`);
    }
  }
  const out: { path: string; abs: string }[] = [];
  const walk = async (abs: string, relPath: string) => {
    for (const ent of await fsp.readdir(abs, { withFileTypes: true })) {
      const p = relPath ? `${relPath}/${ent.name}` : ent.name;
      if (ent.isSymbolicLink()) throw new Error(`the output holds a symbolic link ("${p}"): refused`);
      if (ent.isDirectory()) { if (ent.name !== '.git') await walk(path.join(abs, ent.name), p); continue; }
      if (!ent.isFile()) throw new Error(`the output holds a special file ("${p}"): refused`);
      const checked = normalizeDeployPath(p);
      if ('problem' in checked) throw new Error(checked.message);
      out.push({ path: checked.path, abs: path.join(abs, ent.name) });
      if (out.length > maxFiles) throw new Error(`the output holds more than ${maxFiles} files`);
    }
  };
  await walk(dir, '');
  if (!out.length) throw new Error(`the output folder "${outputDir || '.'}" is empty`);
  return out;
}

/** Opens a collected file without following a symlink put there in a race. */
export function openOutputFile(abs: string): fs.ReadStream {
  return fs.createReadStream('', { fd: fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW) });
}
