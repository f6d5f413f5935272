// Builds from git end to end, against a bare repository made here (no network): install → build → a deploy in
// staging (or live with auto_publish), the log (and ?follow=1), a failing build leaving the live site as it was,
// cancel and the time limit killing the build, the webhook's signature and branch, and another account's PAT.
process.env.LOAM_BUILDS_ENABLED = '1';
process.env.LOAM_BUILDS_ALLOW_LOCAL_REPOS = '1';
process.env.LOAM_BUILDS_TIMEOUT_MS = '5000';
process.env.LOAM_BUILDS_MAX_PROCESSES = '64';
process.env.LOAM_BUILDS_MEMORY_MB = '192';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { http, loam, signup, type Account } from '../helpers/platform.ts';
import { project, site, subdomain } from './helpers.ts';

let tmp: string;
let bare: string;
let owner: Account;
let ref: string;
let s: any;
const sitePath = () => `/v1/projects/${ref}/sites/${s.id}`;

function git(cwd: string, ...args: string[]) {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-builds-'));
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'build.sh'), 'echo building; test -f .installed && mkdir -p dist && echo "<h1>built $GREETING</h1>" > dist/index.html\n');
  git(src, 'init');
  git(src, 'add', '.');
  git(src, 'commit', '-m', 'first');
  bare = path.join(tmp, 'repo.git');
  git(tmp, 'clone', '--bare', src, bare);
  ({ ref, owner } = await project());
  s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('bld') } })).body;
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function build(): Promise<any> {
  const started = await http('POST', `${sitePath()}/builds`, { token: owner.token });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return started.body;
}

async function finished(id: string): Promise<any> {
  const until = Date.now() + 40_000;
  for (;;) {
    const b = (await http('GET', `${sitePath()}/builds/${id}`, { token: owner.token })).body;
    if (!['queued', 'running'].includes(b.status)) return { ...b, log: await logOf(id) };
    if (Date.now() > until) throw new Error(`build ${id} still ${b.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const logOf = async (id: string) => (await http('GET', `${sitePath()}/builds/${id}/logs`, { token: owner.token })).body as string;

test('settings: repository URLs are checked, env values are never returned, no repository → 409', async () => {
  const none = await http('POST', `${sitePath()}/builds`, { token: owner.token });
  assert.equal(none.status, 409);
  assert.equal(none.body.code, 'no_repository');
  for (const repo_url of ['http://example.com/a.git', '--upload-pack=touch /tmp/x', 'ext::sh -c id']) {
    const res = await http('PATCH', sitePath(), { token: owner.token, body: { repo_url } });
    assert.equal(res.status, 400, repo_url);
    assert.equal(res.body.code, 'invalid_build_settings');
  }
  assert.equal((await http('PATCH', sitePath(), { token: owner.token, body: { production_branch: '../x' } })).body.code, 'invalid_build_settings');
  const bad = await http('PATCH', sitePath(), { token: owner.token, body: { spa_mode: true, build_env: { 'BAD NAME': 'x' } } });
  assert.equal(bad.body.code, 'invalid_build_settings');
  assert.equal((await http('GET', sitePath(), { token: owner.token })).body.spa_mode, false, 'a refused PATCH changes nothing');
  const set = await http('PATCH', sitePath(), {
    token: owner.token, body: { repo_url: bare, install_command: 'echo installing; touch .installed', build_command: 'sh build.sh', output_dir: 'dist', build_env: { GREETING: 'hello-secret' } },
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body.build_env, { GREETING: '********' });
  assert.ok(!JSON.stringify(set.body).includes('hello-secret'));
  assert.equal(set.body.production_branch, 'main');

  // The operator's switch (read on every request).
  process.env.LOAM_BUILDS_ENABLED = '0';
  try {
    const off = await http('POST', `${sitePath()}/builds`, { token: owner.token });
    assert.equal(off.status, 403);
    assert.equal(off.body.code, 'builds_disabled');
  } finally {
    process.env.LOAM_BUILDS_ENABLED = '1';
  }
});

test('a build clones, builds and stages; with auto_publish it goes live; the log streams', async () => {
  const b = await build();
  const { url } = await loam();
  const follow = await fetch(`${url}${sitePath()}/builds/${b.id}/logs?follow=1`, { headers: { authorization: `Bearer ${owner.token}` } });
  const streamed = await follow.text();
  const done = await finished(b.id);
  assert.equal(done.status, 'succeeded', done.log);
  assert.match(streamed, /\$ git clone[\s\S]*\$ echo installing[\s\S]*installing[\s\S]*\$ sh build\.sh[\s\S]*building[\s\S]*staged/);
  assert.equal((await site(`${s.subdomain}--staging`)).text, '<h1>built hello-secret</h1>\n');
  assert.equal((await site(s.subdomain)).status, 404, 'staged, not live');
  const deploy = (await http('GET', `${sitePath()}/deploys/${done.deploy_id}`, { token: owner.token })).body;
  assert.equal(deploy.source, 'build');

  await http('PATCH', sitePath(), { token: owner.token, body: { auto_publish: true } });
  const again = await finished((await build()).id);
  assert.equal(again.status, 'succeeded', again.log);
  assert.equal((await site(s.subdomain)).text, '<h1>built hello-secret</h1>\n');
});

test('a failing build, a cancelled one and one past its time limit change nothing live', async () => {
  const live = (await http('GET', sitePath(), { token: owner.token })).body.live_deploy_id;
  await http('PATCH', sitePath(), { token: owner.token, body: { build_command: 'echo about to fail; exit 3' } });
  const failed = await finished((await build()).id);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error, /build failed \(exit code 3\)/);
  assert.match(await logOf(failed.id), /about to fail/);

  await http('PATCH', sitePath(), { token: owner.token, body: { build_command: '(sleep 41.4142 &); sleep 41.4142' } });
  const c = await build();
  const until = Date.now() + 10_000;
  while ((await http('GET', `${sitePath()}/builds/${c.id}`, { token: owner.token })).body.status !== 'running' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await http('POST', `${sitePath()}/builds/${c.id}/cancel`, { token: owner.token })).status, 200);
  const cancelled = await finished(c.id);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal((await http('POST', `${sitePath()}/builds/${c.id}/cancel`, { token: owner.token })).body.code, 'build_finished');

  await http('PATCH', sitePath(), { token: owner.token, body: { build_command: 'sleep 43.3333' } });
  const timed = await finished((await build()).id);
  assert.equal(timed.status, 'failed');
  assert.match(timed.error, /time limit/);
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  assert.ok(!ps.includes('sleep 41.4142') && !ps.includes('sleep 43.3333'), 'no process of a killed build survives');

  assert.equal((await http('GET', sitePath(), { token: owner.token })).body.live_deploy_id, live);
  assert.equal((await site(s.subdomain)).text, '<h1>built hello-secret</h1>\n');
  const list = (await http('GET', `${sitePath()}/builds`, { token: owner.token })).body;
  assert.deepEqual(list.slice(0, 3).map((x: any) => x.status), ['failed', 'cancelled', 'failed']);
});

test('a build that forks too much and one that allocates too much are killed, saying so; the live site is unchanged', async () => {
  const live = (await http('GET', sitePath(), { token: owner.token })).body.live_deploy_id;
  assert.ok(live);
  // Room to reach the limits on a busy machine (the time limit is not what this test is about).
  process.env.LOAM_BUILDS_TIMEOUT_MS = '30000';
  try {
    await http('PATCH', sitePath(), {
      token: owner.token,
      body: { build_command: `node -e "const { spawn } = require('child_process'); setInterval(() => { for (let i = 0; i < 8; i++) spawn('sleep', ['30']).on('error', () => {}); }, 5)"` },
    });
    const forks = await finished((await build()).id);
    assert.equal(forks.status, 'failed');
    assert.match(forks.error ?? '', /process limit/, forks.log.slice(-800));
    assert.equal(forks.error, 'build started more than the build\'s process limit (64 processes and threads)');
    assert.match(forks.log, /\[process limit reached: \d+ processes and threads, at most 64 allowed \(LOAM_BUILDS_MAX_PROCESSES\): build killed\]/);

    await http('PATCH', sitePath(), { token: owner.token, body: { build_command: 'node -e "const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 50)"' } });
    const hog = await finished((await build()).id);
    assert.equal(hog.status, 'failed');
    assert.match(hog.error ?? '', /memory limit/, hog.log.slice(-800));
    assert.equal(hog.error, 'build used more than the build\'s memory limit (192 MB)');
    assert.match(hog.log, /\[memory limit reached: \d+ MB in use, at most 192 MB allowed \(LOAM_BUILDS_MEMORY_MB\): build killed\]/);
  } finally {
    process.env.LOAM_BUILDS_TIMEOUT_MS = '5000';
  }
  assert.equal((await http('GET', sitePath(), { token: owner.token })).body.live_deploy_id, live);
  assert.equal((await site(s.subdomain)).text, '<h1>built hello-secret</h1>\n');
});

test('the webhook: a bad signature is refused, other branches are ignored, a signed push builds', async () => {
  await http('PATCH', sitePath(), { token: owner.token, body: { build_command: 'sh build.sh' } });
  const secret = (await http('GET', sitePath(), { token: owner.token })).body.webhook_secret;
  const { url } = await loam();
  const send = (payload: unknown, key: string) => {
    const raw = JSON.stringify(payload);
    return fetch(`${url}${sitePath()}/builds/webhook`, {
      method: 'POST', body: raw,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${crypto.createHmac('sha256', key).update(raw).digest('hex')}` },
    });
  };
  const bad = await send({ ref: 'refs/heads/main' }, 'not the secret');
  assert.equal(bad.status, 401);
  assert.equal(((await bad.json()) as any).code, 'invalid_signature');
  const unsigned = await fetch(`${url}${sitePath()}/builds/webhook`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(unsigned.status, 401);
  const other = await send({ ref: 'refs/heads/feature' }, secret);
  assert.equal(other.status, 202);
  assert.match(((await other.json()) as any).message, /ignored/);
  const ok = await send({ ref: 'refs/heads/main' }, secret);
  assert.equal(ok.status, 202);
  const b = (await ok.json()) as any;
  assert.equal(b.trigger, 'webhook');
  const hooked = await finished(b.id);
  assert.equal(hooked.status, 'succeeded', hooked.log);
});

test('another account cannot build, read logs of or cancel builds of a site that is not theirs', async () => {
  const mallory = await signup();
  const builds = (await http('GET', `${sitePath()}/builds`, { token: owner.token })).body;
  for (const [method, p] of [['POST', `${sitePath()}/builds`], ['GET', `${sitePath()}/builds`], ['GET', `${sitePath()}/builds/${builds[0].id}/logs`],
    ['POST', `${sitePath()}/builds/${builds[0].id}/cancel`], ['PATCH', sitePath()]] as const) {
    const res = await http(method, p, { token: mallory.token, body: method === 'PATCH' ? { repo_url: 'https://evil.example/x.git' } : undefined });
    assert.equal(res.status, 404, `${method} ${p}`);
  }
});

test('private repositories: a generated deploy key and a token are never returned, nor seen by the build', async () => {
  const key = await http('POST', `${sitePath()}/deploy-key`, { token: owner.token });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  assert.match(key.body.public_key, /^ssh-ed25519 [A-Za-z0-9+/=]+ loam-site-/);
  const tokenValue = `tok-${crypto.randomBytes(8).toString('hex')}`;
  const patched = await http('PATCH', sitePath(), { token: owner.token, body: { repo_token: tokenValue, build_command: 'ls -a /work; env; sh build.sh' } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.has_repo_token, true);
  assert.equal(patched.body.deploy_key_public, key.body.public_key);
  const bodies = [patched.body, (await http('GET', sitePath(), { token: owner.token })).body, (await http('GET', `/v1/projects/${ref}/sites`, { token: owner.token })).body];
  for (const b of bodies) {
    const text = JSON.stringify(b);
    assert.ok(!text.includes(tokenValue) && !text.includes('PRIVATE KEY'), text.slice(0, 300));
  }
  const b = await finished((await build()).id);
  assert.equal(b.status, 'succeeded', b.log);
  assert.ok(!b.log.includes('.deploy-key') && !b.log.includes(tokenValue) && !b.log.includes(Buffer.from(`x-access-token:${tokenValue}`).toString('base64')), b.log);
  assert.ok(!b.log.includes('LOAM_') && !b.log.includes('DATABASE_URL'), 'the worker\'s environment is not the build\'s');
  assert.equal((await http('PATCH', sitePath(), { token: owner.token, body: { repo_token: '' } })).body.has_repo_token, false);
});
