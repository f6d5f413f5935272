// The build runner on its own (no platform): a shallow clone of a local bare repository, commands in the
// sandbox (its own root, no network, no capabilities), the time limit and cancel killing the whole process tree,
// and an output folder with a symlink refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BuildLog, clone, collectOutput, repoUrlProblem, sandboxed } from '../../server/src/sites/build.ts';

let tmp: string;
let bare: string;

function git(cwd: string, ...args: string[]) {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-build-test-'));
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
  const built = await sandboxed(w, 'sh build.sh && echo built-ok', {}, log, deadline, never, false);
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
  const r = await sandboxed(w, probe, {}, log, Date.now() + 20_000, never, false);
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
  const timed = await sandboxed(w, '(sleep 31.4159 &) ; sh -c "sleep 31.4159" & sleep 31.4159', {}, log, Date.now() + 700, never, false);
  assert.equal(timed.timedOut, true);
  assert.ok(Date.now() - t0 < 5000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(alive('sleep 31.4159'), false, 'no process of the build survives the time limit');

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 500);
  const cancelled = await sandboxed(w, '(sleep 27.1828 &) ; sleep 27.1828', {}, log, Date.now() + 20_000, ac.signal, false);
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
  await sandboxed(w, 'yes loam | head -c 100000', {}, log, Date.now() + 10_000, never, false);
  const text = log.takePending();
  assert.ok(Buffer.byteLength(text) < 2100, `${Buffer.byteLength(text)} bytes`);
  assert.match(text, /\[log truncated\]/);
});
