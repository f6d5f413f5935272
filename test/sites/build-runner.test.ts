// The build runner on its own (no platform): a shallow clone of a local bare repository, commands in the
// sandbox (its own root, no network, no capabilities), the time limit and cancel killing the whole process tree,
// and an output folder with a symlink refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BuildLog, clone, collectOutput, repoUrlProblem, sandboxed, type SandboxSettings } from '../../server/src/sites/build.ts';
import { buildSettings } from '../../db/src/config.ts';

let tmp: string;
let bare: string;

function git(cwd: string, ...args: string[]) {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-build-test-'));
  // The build's user (a worker running as root runs builds as LOAM_BUILDS_UID) must be able to reach its folder.
  fs.chmodSync(tmp, 0o755);
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'build.sh'), 'mkdir -p dist/assets && echo "<h1>built</h1>" > dist/index.html && echo x > dist/assets/a.js\n');
  git(src, 'init');
  git(src, 'add', '.');
  git(src, 'commit', '-m', 'first');
  bare = path.join(tmp, 'repo.git');
  git(tmp, 'clone', '--bare', src, bare);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const workdir = () => fs.mkdtempSync(path.join(tmp, 'w-'));
/** The operator's sandbox settings (defaults), no network, with some changed. */
const box = (changes: Partial<SandboxSettings> = {}): SandboxSettings => ({ ...buildSettings(), network: false, ...changes });
const never = new AbortController().signal;

test('repository URLs: https, ssh and git@ only; local ones when allowed', () => {
  for (const ok of ['https://github.com/a/b.git', 'ssh://git@host/a/b', 'git@github.com:a/b.git']) assert.equal(repoUrlProblem(ok, false), undefined, ok);
  for (const bad of ['file:///etc', '/srv/repo', 'http://x/y', '--upload-pack=touch /tmp/x', 'ext::sh -c touch% /tmp/pwned', 'https://x/a b']) {
    assert.ok(repoUrlProblem(bad, false), bad);
  }
  assert.equal(repoUrlProblem('/srv/repo.git', true), undefined);
});

test('clone → build in the sandbox → the output folder', async () => {
  const w = workdir();
  const log = new BuildLog(64 * 1024);
  const deadline = Date.now() + 30_000;
  assert.equal((await clone(w, bare, 'main', log, deadline, never, true)).ok, true, log.takePending());
  const built = await sandboxed(w, 'sh build.sh && echo built-ok', {}, log, deadline, never, box());
  const text = log.takePending();
  assert.equal(built.ok, true, text);
  assert.match(text, /built-ok/);
  const files = await collectOutput(w, 'dist', 100);
  assert.deepEqual(files.map((f) => f.path).sort(), ['assets/a.js', 'index.html']);
  // Another branch does not exist: the clone fails.
  assert.equal((await clone(workdir(), bare, 'nope', log, deadline, never, true)).ok, false);
});

test('the sandbox sees none of the machine: no platform files, no network, no capabilities', async () => {
  const w = workdir();
  fs.mkdirSync(path.join(w, 'src'));
  const log = new BuildLog(64 * 1024);
  const probe = [
    `test ! -e ${JSON.stringify(process.cwd())} && echo no-checkout`,
    `test ! -e ${JSON.stringify(tmp)} && echo no-host-tmp`,
    'test ! -e /root && test ! -e /var && echo no-root-var',
    '(touch /usr/pwned 2>/dev/null && echo usr-writable) || echo usr-readonly',
    '(mount -t tmpfs x /tmp 2>/dev/null && echo can-mount) || echo no-mount',
    `node -e "require('net').connect(${process.env.PGPORT ?? 5432},'127.0.0.1').on('connect',()=>{console.log('net-open');process.exit(0)}).on('error',()=>{console.log('no-net');process.exit(0)})"`,
  ].join('; ');
  const r = await sandboxed(w, probe, {}, log, Date.now() + 20_000, never, box());
  const text = log.takePending();
  assert.equal(r.ok, true, text);
  for (const want of ['no-checkout', 'no-host-tmp', 'no-root-var', 'usr-readonly', 'no-mount', 'no-net']) assert.match(text, new RegExp(want), text);
  assert.ok(!fs.existsSync('/usr/pwned'));
});

function alive(marker: string): boolean {
  try {
    return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.includes(marker));
  } catch {
    return false;
  }
}

test('the time limit and cancel kill the whole process tree', async () => {
  const w = workdir();
  fs.mkdirSync(path.join(w, 'src'));
  const log = new BuildLog(64 * 1024);
  const t0 = Date.now();
  const timed = await sandboxed(w, '(sleep 31.4159 &) ; sh -c "sleep 31.4159" & sleep 31.4159', {}, log, Date.now() + 700, never, box());
  assert.equal(timed.timedOut, true);
  assert.ok(Date.now() - t0 < 5000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(alive('sleep 31.4159'), false, 'no process of the build survives the time limit');

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 500);
  const cancelled = await sandboxed(w, '(sleep 27.1828 &) ; sleep 27.1828', {}, log, Date.now() + 20_000, ac.signal, box());
  assert.equal(cancelled.cancelled, true);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(alive('sleep 27.1828'), false, 'no process of the build survives cancel');
  assert.match(log.takePending(), /time limit reached[\s\S]*cancelled/);
});

test('an output with a symlink is refused; the log is bounded', async () => {
  const w = workdir();
  fs.mkdirSync(path.join(w, 'src', 'dist'), { recursive: true });
  fs.writeFileSync(path.join(w, 'src', 'dist', 'index.html'), 'x');
  fs.symlinkSync('/etc/passwd', path.join(w, 'src', 'dist', 'passwd'));
  await assert.rejects(collectOutput(w, 'dist', 100), /symbolic link/);
  fs.rmSync(path.join(w, 'src', 'dist', 'passwd'));
  fs.symlinkSync('/etc', path.join(w, 'src', 'out'));
  await assert.rejects(collectOutput(w, 'out', 100), /does not exist/);
  await assert.rejects(collectOutput(w, '../..', 100), /output_dir/);

  const log = new BuildLog(2048);
  await sandboxed(w, 'yes loam | head -c 100000', {}, log, Date.now() + 10_000, never, box());
  const text = log.takePending();
  assert.ok(Buffer.byteLength(text) < 2100, `${Buffer.byteLength(text)} bytes`);
  assert.match(text, /\[log truncated\]/);
});

test('a build that forks too much and one that allocates too much are killed, saying why; files are capped', async () => {
  const w = workdir();
  fs.mkdirSync(path.join(w, 'src'));
  const log = new BuildLog(256 * 1024);
  const t0 = Date.now();
  // A build tool that starts ever more workers (each one waiting): it reaches the limit and stays there.
  const bomb = await sandboxed(w, `: fork-bomb-5150; node -e "const { spawn } = require('child_process'); setInterval(() => { for (let i = 0; i < 8; i++) spawn('sleep', ['30']).on('error', () => {}); }, 5)"`,
    {}, log, Date.now() + 20_000, never, box({ maxProcesses: 64 }));
  let text = log.takePending();
  assert.equal(bomb.ok, false);
  assert.equal(bomb.limit, 'processes', text.slice(-500));
  assert.match(text, /\[process limit reached: \d+ processes and threads, at most 64 allowed \(LOAM_BUILDS_MAX_PROCESSES\): build killed\]/);
  assert.ok(Date.now() - t0 < 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(alive('fork-bomb-5150'), false, 'no process of the fork bomb survives');

  const hog = await sandboxed(w, ': memory-hog-6060; node -e "const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 50)"', {}, log,
    Date.now() + 20_000, never, box({ memoryMb: 128 }));
  text = log.takePending();
  assert.equal(hog.ok, false);
  assert.equal(hog.limit, 'memory', text.slice(-500));
  assert.match(text, /\[memory limit reached: \d+ MB in use, at most 128 MB allowed \(LOAM_BUILDS_MEMORY_MB\): build killed\]/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(alive('memory-hog-6060'), false);

  // One process alone cannot take much more than the limit before the kernel refuses (RLIMIT_AS): an allocation
  // far past it fails at once, before any watch could see it.
  const big = await sandboxed(w, 'node -e "Buffer.alloc(3 * 1024 ** 3, 1); console.log(\'allocated\')"', {}, log, Date.now() + 20_000, never, box({ memoryMb: 256 }));
  text = log.takePending();
  assert.equal(big.ok, false);
  assert.doesNotMatch(text, /^allocated/m);

  // A file past LOAM_BUILDS_MAX_FILE_MB: the write fails (SIGXFSZ), the step fails.
  const file = await sandboxed(w, 'head -c 3000000 /dev/zero > big.bin; echo "exit $?"', {}, log, Date.now() + 20_000, never, box({ maxFileMb: 1 }));
  text = log.takePending();
  assert.match(text, /exit (1|153)/, text);
  assert.ok(fs.statSync(path.join(w, 'src', 'big.bin')).size <= 1024 * 1024);
  assert.equal(file.ok, true, 'the command itself went on');

  // Within the limits all is well, and the build does not run as root outside its sandbox.
  const fine = await sandboxed(w, 'echo fine; cat /proc/self/uid_map', {}, log, Date.now() + 20_000, never, box({ maxProcesses: 64, memoryMb: 128 }));
  text = log.takePending();
  assert.equal(fine.ok, true, text);
  if (process.getuid?.() === 0) assert.match(text, new RegExp(`^\\s*0\\s+${buildSettings().uid}\\s+1`, 'm'), text);
});
