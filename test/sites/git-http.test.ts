// Builds from a real git host: bare repositories made here, served over git's smart HTTP protocol by
// `git http-backend` (CGI) behind a small Node server on an ephemeral port. A public repository builds from its
// http://127.0.0.1:… URL (allowed only under LOAM_BUILDS_ALLOW_LOCAL_REPOS); a private one needs the site's
// token, which reaches the git host and nowhere else (never in a read, never in the log).
process.env.LOAM_BUILDS_ENABLED = '1';
process.env.LOAM_BUILDS_ALLOW_LOCAL_REPOS = '1';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { repoUrlProblem } from '../../server/src/sites/build.ts';
import { http } from '../helpers/platform.ts';
import { project, site, subdomain } from './helpers.ts';

const TOKEN = `ghs_${crypto.randomBytes(12).toString('hex')}`;
let tmp: string;
let gitHost: nodeHttp.Server;
let base: string;
/** Authorization headers the git host saw, per repository. */
const seen: Record<string, (string | undefined)[]> = { 'public.git': [], 'private.git': [] };

function git(cwd: string, ...args: string[]) {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
}

function makeRepo(name: string, html: string) {
  const src = path.join(tmp, `${name}-src`);
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'build.sh'), `mkdir -p out && echo '${html}' > out/index.html\n`);
  git(src, 'init');
  git(src, 'add', '.');
  git(src, 'commit', '-m', 'first');
  git(tmp, 'clone', '--bare', src, path.join(tmp, 'repos', name));
}

/** `git http-backend` as CGI: the request's method, path and query in its environment, the body on its stdin,
 *  its output a header block then the body. The private repository answers 401 without the right token. */
function serveGit(req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  const repo = url.pathname.split('/')[1];
  if (!(repo in seen)) { res.writeHead(404).end(); return; }
  seen[repo].push(req.headers.authorization);
  const expected = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;
  if (repo === 'private.git' && req.headers.authorization !== expected) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('authentication required');
    return;
  }
  const cgi = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH, GIT_PROJECT_ROOT: path.join(tmp, 'repos'), GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method, PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '', HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''), REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const timer = setTimeout(() => cgi.kill('SIGKILL'), 20_000);
  req.pipe(cgi.stdin);
  cgi.stdin.on('error', () => {});
  const out: Buffer[] = [];
  cgi.stdout.on('data', (c) => out.push(c));
  cgi.on('close', () => {
    clearTimeout(timer);
    const all = Buffer.concat(out);
    const split = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
    if (split < 0) { res.writeHead(502).end(); return; }
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of all.subarray(0, split).toString().split(/\r?\n/)) {
      const i = line.indexOf(':');
      const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
      if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
      else if (k) headers[k] = v;
    }
    res.writeHead(status, headers).end(all.subarray(split + (all[split] === 13 ? 4 : 2)));
  });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-git-http-'));
  fs.mkdirSync(path.join(tmp, 'repos'));
  makeRepo('public.git', '<h1>from the public repo</h1>');
  makeRepo('private.git', '<h1>from the private repo</h1>');
  gitHost = nodeHttp.createServer(serveGit);
  await new Promise<void>((r) => gitHost.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(gitHost.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => gitHost.close(r));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function buildSite(token: string, sitePath: string): Promise<any> {
  const started = await http('POST', `${sitePath}/builds`, { token });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const until = Date.now() + 30_000;
  for (;;) {
    const b = (await http('GET', `${sitePath}/builds/${started.body.id}`, { token })).body;
    if (!['queued', 'running'].includes(b.status)) return { ...b, log: (await http('GET', `${sitePath}/builds/${b.id}/logs`, { token })).body };
    if (Date.now() > until) throw new Error(`build still ${b.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('http:// repositories only on this machine and only when the operator allows local repositories', () => {
  assert.equal(repoUrlProblem('http://127.0.0.1:8080/a.git', true), undefined);
  assert.ok(repoUrlProblem('http://127.0.0.1:8080/a.git', false));
  assert.ok(repoUrlProblem('http://git.example.com/a.git', true));
  assert.ok(repoUrlProblem('http://169.254.169.254/latest', true));
});

test('a build from a public repository served over git smart HTTP', async () => {
  const { ref, owner } = await project();
  const s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('gh') } })).body;
  const sitePath = `/v1/projects/${ref}/sites/${s.id}`;
  const set = await http('PATCH', sitePath, { token: owner.token, body: { repo_url: `${base}/public.git`, build_command: 'sh build.sh', output_dir: 'out', auto_publish: true } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  const b = await buildSite(owner.token, sitePath);
  assert.equal(b.status, 'succeeded', b.log);
  assert.match(b.log, new RegExp(`\\$ git clone --depth 1 --branch main ${base}/public\\.git`));
  assert.equal((await site(s.subdomain)).text, '<h1>from the public repo</h1>\n');
  assert.ok(seen['public.git'].length >= 2, 'git spoke smart HTTP to the host (refs, then the pack)');
});

test('a private repository: no token → the clone fails; the site\'s token is sent to the git host only', async () => {
  const { ref, owner } = await project();
  const s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('ghp') } })).body;
  const sitePath = `/v1/projects/${ref}/sites/${s.id}`;
  await http('PATCH', sitePath, { token: owner.token, body: { repo_url: `${base}/private.git`, build_command: 'sh build.sh', output_dir: 'out', auto_publish: true } });

  const denied = await buildSite(owner.token, sitePath);
  assert.equal(denied.status, 'failed');
  assert.match(denied.error, /clone failed/);
  assert.equal((await site(s.subdomain)).status, 404, 'nothing deployed');

  await http('PATCH', sitePath, { token: owner.token, body: { repo_token: 'not-the-token' } });
  assert.equal((await buildSite(owner.token, sitePath)).status, 'failed');

  seen['private.git'].length = 0;
  const patched = await http('PATCH', sitePath, { token: owner.token, body: { repo_token: TOKEN } });
  assert.equal(patched.body.has_repo_token, true);
  const b = await buildSite(owner.token, sitePath);
  assert.equal(b.status, 'succeeded', b.log);
  assert.equal((await site(s.subdomain)).text, '<h1>from the private repo</h1>\n');
  assert.ok(seen['private.git'].includes(`Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`), 'the git host got the token');

  // Never returned, never logged.
  const encoded = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
  const reads = [patched.body, (await http('GET', sitePath, { token: owner.token })).body, (await http('GET', `/v1/projects/${ref}/sites`, { token: owner.token })).body,
    (await http('GET', `${sitePath}/builds`, { token: owner.token })).body, (await http('GET', `${sitePath}/builds/${b.id}`, { token: owner.token })).body];
  for (const r of reads) assert.ok(!JSON.stringify(r).includes(TOKEN) && !JSON.stringify(r).includes(encoded));
  for (const log of [b.log, denied.log]) assert.ok(!log.includes(TOKEN) && !log.includes(encoded), log);
});
