// Sites end to end: the site object, zip deploys into staging, publish, rollback, file-by-file deploys with a
// SHA-256 manifest and the diff, and serving (path and host forms, SPA, 404 page, _redirects, _headers, ETag).
process.env.LOAM_SITES_DOMAIN = 'sites.test';
import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import zlib from 'node:zlib';
import { before, test } from 'node:test';
import { http, signup, type Account } from '../helpers/platform.ts';
import { byHost, makeZip, project, sha256, site, subdomain, uploadZip, waitDeploy } from './helpers.ts';

let owner: Account;
let ref: string;

before(async () => {
  ({ ref, owner } = await project());
});

const sitesPath = () => `/v1/projects/${ref}/sites`;

test('create, list, get, update and delete a site; validation, reserved names, plan limit', async () => {
  const sub = subdomain();
  const created = await http('POST', sitesPath(), { token: owner.token, body: { subdomain: sub, spa_mode: true } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.subdomain, sub);
  assert.equal(created.body.spa_mode, true);
  assert.equal(created.body.live_url, `http://${sub}.sites.test/`);
  assert.equal(created.body.staging_url, `http://${sub}--staging.sites.test/`);
  const id = created.body.id;

  assert.deepEqual((await http('GET', sitesPath(), { token: owner.token })).body.map((s: any) => s.id), [id]);
  assert.equal((await http('GET', `${sitesPath()}/${id}`, { token: owner.token })).body.subdomain, sub);

  // One site per project on the free plan.
  const second = await http('POST', sitesPath(), { token: owner.token, body: { subdomain: subdomain() } });
  assert.equal(second.status, 402);
  assert.equal(second.body.code, 'quota_exceeded');

  const { ref: other } = await project(owner);
  for (const [body, status, code] of [
    [{ subdomain: 'www' }, 400, 'reserved_subdomain'],
    [{ subdomain: 'Bad_Name' }, 400, 'invalid_subdomain'],
    [{ subdomain: 'a--staging' }, 400, 'invalid_subdomain'],
    [{ subdomain: 'ab' }, 400, 'invalid_subdomain'],
    [{ subdomain: '-abc' }, 400, 'invalid_subdomain'],
    [{ subdomain: sub }, 409, 'subdomain_taken'],
    [{}, 400, 'invalid_body'],
    [{ subdomain: subdomain(), not_found_page: '../etc/passwd' }, 400, 'invalid_path'],
    [{ subdomain: subdomain(), spa_mode: 'yes' }, 400, 'invalid_body'],
  ] as const) {
    const res = await http('POST', `/v1/projects/${other}/sites`, { token: owner.token, body });
    assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, code);
    assert.equal(typeof res.body.message, 'string');
  }

  const renamed = subdomain();
  const patched = await http('PATCH', `${sitesPath()}/${id}`, { token: owner.token, body: { subdomain: renamed, spa_mode: false, not_found_page: 'missing.html' } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.subdomain, renamed);
  assert.equal(patched.body.spa_mode, false);
  assert.equal(patched.body.not_found_page, 'missing.html');

  assert.equal((await http('GET', `${sitesPath()}/not-a-uuid`, { token: owner.token })).body.code, 'site_not_found');
  assert.equal((await http('DELETE', `${sitesPath()}/${id}`, { token: owner.token })).status, 200);
  assert.equal((await http('GET', `${sitesPath()}/${id}`, { token: owner.token })).status, 404);
  assert.deepEqual((await http('GET', sitesPath(), { token: owner.token })).body, []);
});

test('zip → staging → publish → served; rollback; SPA, 404 page, redirects, headers, ETag', async () => {
  const sub = subdomain();
  const s = (await http('POST', sitesPath(), { token: owner.token, body: { subdomain: sub } })).body;
  const dep = (p: string) => `${sitesPath()}/${s.id}/deploys${p}`;

  // Wrapped in one top folder (what "compress this folder" makes): unwrapped.
  const v1 = await uploadZip(owner.token, ref, s.id, makeZip([
    { name: 'dist/', dir: true },
    { name: 'dist/index.html', data: '<h1>one</h1>' },
    { name: 'dist/assets/app.3f2a9c1b.js', data: 'console.log(1)' },
    { name: 'dist/404.html', data: 'custom not found' },
    { name: 'dist/docs/index.html', data: 'docs' },
    { name: 'dist/_redirects', data: '/old /new.html 301\n/blog/* /posts/:splat 302\n/app/* /index.html 200\n/go/* /:splat 302\n' },
    { name: 'dist/_headers', data: '/assets/*\n  X-Frame-Options: DENY\n  Set-Cookie: stolen=1\n' },
  ]), 'v1');
  assert.equal(v1.status, 202, JSON.stringify(v1.body));
  assert.equal(v1.body.status, 'processing');
  const d1 = await waitDeploy(owner.token, ref, s.id, v1.body.id);
  assert.equal(d1.status, 'ready', JSON.stringify(d1));
  assert.equal(d1.file_count, 6);

  // Staging first: nothing live yet, the preview serves it.
  assert.equal((await site(sub)).status, 404);
  const preview = await site(`${sub}--staging`);
  assert.equal(preview.status, 200);
  assert.equal(preview.text, '<h1>one</h1>');
  assert.equal(preview.headers.get('x-robots-tag'), 'noindex');

  // Only the staging deploy can be published.
  assert.equal((await http('POST', dep(`/${crypto.randomUUID()}/publish`), { token: owner.token })).status, 404);
  const pub = await http('POST', dep(`/${d1.id}/publish`), { token: owner.token });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  assert.equal(pub.body.live_deploy_id, d1.id);

  const index = await site(sub);
  assert.equal(index.status, 200);
  assert.equal(index.text, '<h1>one</h1>');
  assert.match(index.headers.get('content-type')!, /^text\/html/);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(index.headers.get('cache-control'), 'public, max-age=0, must-revalidate');
  const etag = index.headers.get('etag')!;
  assert.equal(etag, `"${sha256('<h1>one</h1>')}"`);
  assert.equal((await site(sub, '/', { 'if-none-match': etag })).status, 304);
  assert.equal((await site(sub, '/', { range: 'bytes=4-6' })).text, 'one');

  const asset = await site(sub, '/assets/app.3f2a9c1b.js');
  assert.match(asset.headers.get('content-type')!, /javascript/);
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(asset.headers.get('x-frame-options'), 'DENY');
  assert.equal(asset.headers.get('set-cookie'), null);

  // Directories, the custom 404 page, no listing, the rules files not served.
  assert.equal((await site(sub, '/docs')).status, 301);
  assert.equal((await site(sub, '/docs/')).text, 'docs');
  for (const p of ['/nope', '/assets/', '/_redirects', '/_headers', '/%2e%2e/%2e%2e/etc/passwd']) {
    const r = await site(sub, p);
    assert.equal(r.status, 404, p);
  }
  assert.equal((await site(sub, '/nope')).text, 'custom not found');
  assert.equal((await site(sub, '/nope', {})).headers.get('x-content-type-options'), 'nosniff');

  // _redirects
  const old = await site(sub, '/old');
  assert.equal(old.status, 301);
  assert.equal(old.headers.get('location'), `/sites/${sub}/new.html`);
  assert.equal((await site(sub, '/blog/2024/x')).headers.get('location'), `/sites/${sub}/posts/2024/x`);
  const rewritten = await site(sub, '/app/settings');
  assert.equal(rewritten.status, 200);
  assert.equal(rewritten.text, '<h1>one</h1>');
  // A visitor's splat cannot make a rule redirect to another host.
  assert.equal((await site(sub, '/go//evil.example/x')).headers.get('location'), `/sites/${sub}/evil.example/x`);
  assert.equal((await http('POST', `/sites/${sub}/`)).status, 405);

  // Served by host too, without any API key.
  const host = await byHost(`${sub}.sites.test`, '/');
  assert.equal(host.status, 200);
  assert.equal(host.text, '<h1>one</h1>');
  assert.equal((await byHost(`${sub}.sites.test`, '/old')).headers.location, '/new.html');
  assert.equal((await byHost(`${sub}--staging.sites.test`, '/')).text, '<h1>one</h1>');
  assert.equal((await byHost(`nosuchsite.sites.test`, '/')).status, 404);

  // v2, SPA on: staged, the live site unchanged until published; then rollback to v1.
  await http('PATCH', `${sitesPath()}/${s.id}`, { token: owner.token, body: { spa_mode: true } });
  const v2 = await uploadZip(owner.token, ref, s.id, makeZip([
    { name: 'index.html', data: '<h1>two</h1>' },
    { name: 'assets/app.3f2a9c1b.js', data: 'console.log(1)' },
  ]), 'v2');
  const d2 = await waitDeploy(owner.token, ref, s.id, v2.body.id);
  assert.equal(d2.status, 'ready');
  assert.equal((await site(sub)).text, '<h1>one</h1>');
  assert.equal((await site(`${sub}--staging`)).text, '<h1>two</h1>');
  // v1 is no longer the staging deploy.
  const stale = await http('POST', dep(`/${d1.id}/publish`), { token: owner.token });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.code, 'not_staging_deploy');
  // Never published: no rollback to it.
  assert.equal((await http('POST', dep(`/${d2.id}/rollback`), { token: owner.token })).body.code, 'not_published_before');

  const diff = await http('GET', dep(`/${d2.id}/diff?vs=${d1.id}`), { token: owner.token });
  assert.deepEqual(diff.body.added, []);
  assert.deepEqual(diff.body.changed, ['index.html']);
  assert.deepEqual(diff.body.removed, ['404.html', '_headers', '_redirects', 'docs/index.html']);

  await http('POST', dep(`/${d2.id}/publish`), { token: owner.token });
  assert.equal((await site(sub)).text, '<h1>two</h1>');
  const spa = await site(sub, '/some/client/route');
  assert.equal(spa.status, 200);
  assert.equal(spa.text, '<h1>two</h1>');

  const rb = await http('POST', dep(`/${d1.id}/rollback`), { token: owner.token });
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  assert.equal(rb.body.live_deploy_id, d1.id);
  assert.equal((await site(sub)).text, '<h1>one</h1>');

  const list = await http('GET', dep(''), { token: owner.token });
  assert.deepEqual(list.body.map((d: any) => d.id), [d2.id, d1.id]);
  assert.deepEqual(Object.keys(list.body[0]).sort(), ['file_count', 'id', 'label', 'published_at', 'ready_at', 'site_id', 'size', 'source', 'status', 'uploaded_at', 'version']);
});

test('file-by-file deploys: a manifest uploads only what is missing; pending-only changes; empty → 422', async () => {
  const { ref: r2, owner: o2 } = await project();
  const s = (await http('POST', `/v1/projects/${r2}/sites`, { token: o2.token, body: { subdomain: subdomain() } })).body;
  const dep = (p: string) => `/v1/projects/${r2}/sites/${s.id}/deploys${p}`;
  const put = (id: string, path: string, data: string) => http('POST', dep(`/${id}/files?path=${encodeURIComponent(path)}`),
    { token: o2.token, body: data, headers: { 'content-type': 'application/octet-stream' } });

  const empty = (await http('POST', dep('/open'), { token: o2.token, body: { label: 'empty' } })).body;
  const e = await http('POST', dep(`/${empty.id}/finalize`), { token: o2.token });
  assert.equal(e.status, 422);
  assert.equal(e.body.code, 'empty_deploy');

  const first = await http('POST', dep('/open'), { token: o2.token, body: { label: 'one', manifest: { 'index.html': sha256('a'), 'style.css': sha256('b') } } });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.deepEqual(first.body.missing.sort(), [sha256('a'), sha256('b')].sort());
  const early = await http('POST', dep(`/${first.body.id}/finalize`), { token: o2.token });
  assert.equal(early.body.code, 'incomplete_deploy');
  assert.equal((await put(first.body.id, '/index.html', 'a')).status, 201);
  assert.equal((await put(first.body.id, 'style.css', 'b')).status, 201);
  assert.equal((await put(first.body.id, 'extra.txt', 'c')).status, 201);
  assert.equal((await http('DELETE', dep(`/${first.body.id}/files?path=extra.txt`), { token: o2.token })).status, 204);
  const blocked = await put(first.body.id, 'shell.php', '<?php');
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body.code, 'blocked_extension');
  for (const bad of ['../x', 'a/../../x', 'a\\b', 'a//b']) {
    assert.equal((await put(first.body.id, bad, 'x')).body.code, 'invalid_path', bad);
  }
  const ready = await http('POST', dep(`/${first.body.id}/finalize`), { token: o2.token });
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal(ready.body.file_count, 2);
  assert.equal((await put(first.body.id, 'late.txt', 'x')).body.code, 'invalid_deploy_state');
  const files = await http('GET', dep(`/${first.body.id}/files`), { token: o2.token });
  assert.deepEqual(files.body.map((f: any) => f.path), ['index.html', 'style.css']);

  // The redeploy that changes one file uploads one file.
  const second = await http('POST', dep('/open'), { token: o2.token, body: { manifest: { 'index.html': sha256('a2'), 'style.css': sha256('b') } } });
  assert.deepEqual(second.body.missing, [sha256('a2')]);
  await put(second.body.id, 'index.html', 'a2');
  assert.equal((await http('POST', dep(`/${second.body.id}/finalize`), { token: o2.token })).status, 200);
  await http('POST', dep(`/${second.body.id}/publish`), { token: o2.token });
  assert.equal((await site(s.subdomain, '/style.css')).text, 'b');
  assert.equal((await site(s.subdomain, '/')).text, 'a2');

  // Diff needs both ready.
  assert.equal((await http('GET', dep(`/${second.body.id}/diff?vs=${empty.id}`), { token: o2.token })).body.code, 'invalid_deploy_state');
});

test('one account cannot see or touch another project\'s site; a scoped token needs write to change', async () => {
  const sub = subdomain();
  const { ref: r, owner: alice } = await project();
  const s = (await http('POST', `/v1/projects/${r}/sites`, { token: alice.token, body: { subdomain: sub } })).body;
  const mallory = await signup();
  const { ref: mref } = await project(mallory);
  for (const [method, path] of [
    ['GET', `/v1/projects/${r}/sites`], ['GET', `/v1/projects/${r}/sites/${s.id}`], ['PATCH', `/v1/projects/${r}/sites/${s.id}`],
    ['DELETE', `/v1/projects/${r}/sites/${s.id}`], ['GET', `/v1/projects/${r}/sites/${s.id}/deploys`],
    ['POST', `/v1/projects/${r}/sites/${s.id}/deploys/open`],
    // Mallory's own project in the URL, Alice's site id: still not found.
    ['GET', `/v1/projects/${mref}/sites/${s.id}`], ['DELETE', `/v1/projects/${mref}/sites/${s.id}`],
    ['POST', `/v1/projects/${mref}/sites/${s.id}/deploys/open`],
  ] as const) {
    const res = await http(method, path, { token: mallory.token, body: method === 'GET' || method === 'DELETE' ? undefined : { subdomain: 'taken-over' } });
    assert.equal(res.status, 404, `${method} ${path} → ${res.status}`);
  }
  // Her subdomain is not Mallory's to take, from his own project.
  assert.equal((await http('POST', `/v1/projects/${mref}/sites`, { token: mallory.token, body: { subdomain: sub } })).body.code, 'subdomain_taken');
  assert.equal((await http('GET', `/v1/projects/${r}/sites/${s.id}`, { token: alice.token })).body.subdomain, sub);

  const readOnly = await http('POST', '/v1/auth/tokens', { token: alice.token, body: { name: 'ro', scopes: ['projects:read'] } });
  assert.equal(readOnly.status, 201, JSON.stringify(readOnly.body));
  assert.equal((await http('GET', `/v1/projects/${r}/sites`, { token: readOnly.body.token })).status, 200);
  const denied = await http('PATCH', `/v1/projects/${r}/sites/${s.id}`, { token: readOnly.body.token, body: { spa_mode: true } });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.code, 'insufficient_scope');
});

test('multipart zipfile deploys, HEAD, and a deleted project gives its subdomain back', async () => {
  const { ref: r, owner: o } = await project();
  const sub = subdomain();
  const s = (await http('POST', `/v1/projects/${r}/sites`, { token: o.token, body: { subdomain: sub } })).body;
  const { url } = await (await import('../helpers/platform.ts')).loam();
  const form = new FormData();
  form.append('label', 'from a form');
  form.append('zipfile', new Blob([new Uint8Array(makeZip([{ name: 'site/index.html', data: 'form' }, { name: 'site/a.txt', data: 'a' }]))]), 'site.zip');
  const res = await fetch(`${url}/v1/projects/${r}/sites/${s.id}/deploys`, { method: 'POST', headers: { authorization: `Bearer ${o.token}` }, body: form });
  const body = await res.json() as any;
  assert.equal(res.status, 202, JSON.stringify(body));
  const d = await waitDeploy(o.token, r, s.id, body.id);
  assert.equal(d.status, 'ready');
  assert.equal(d.label, 'from a form');
  await http('POST', `/v1/projects/${r}/sites/${s.id}/deploys/${d.id}/publish`, { token: o.token });
  const head = await fetch(`${url}/sites/${sub}/a.txt`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '1');
  assert.match(head.headers.get('content-type')!, /^text\/plain/);
  const noField = new FormData();
  noField.append('other', new Blob(['x']), 'x.zip');
  const missing = await fetch(`${url}/v1/projects/${r}/sites/${s.id}/deploys`, { method: 'POST', headers: { authorization: `Bearer ${o.token}` }, body: noField });
  assert.equal(missing.status, 400);

  assert.equal((await http('DELETE', `/v1/projects/${r}`, { token: o.token })).status, 200);
  // Within the pointer cache's second.
  const until = Date.now() + 3000;
  while ((await site(sub)).status !== 404 && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
  assert.equal((await site(sub)).status, 404);
  const { ref: r2, owner: o2 } = await project();
  const again = await http('POST', `/v1/projects/${r2}/sites`, { token: o2.token, body: { subdomain: sub } });
  assert.equal(again.status, 201, JSON.stringify(again.body));
});

test('text files are precompressed at deploy time and served brotli, gzip or plain as the client accepts', async () => {
  const { ref: r, owner: o } = await project();
  const sub = subdomain();
  const s = (await http('POST', `/v1/projects/${r}/sites`, { token: o.token, body: { subdomain: sub } })).body;
  const text = 'Loam sites serve precompressed text. '.repeat(400);
  const up = await uploadZip(o.token, r, s.id, makeZip([{ name: 'index.html', data: text }, { name: 'tiny.txt', data: 'tiny' }]));
  const d = await waitDeploy(o.token, r, s.id, up.body.id);
  await http('POST', `/v1/projects/${r}/sites/${s.id}/deploys/${d.id}/publish`, { token: o.token });
  const { url } = await (await import('../helpers/platform.ts')).loam();
  const get = (headers: Record<string, string>) => new Promise<{ headers: nodeHttp.IncomingHttpHeaders; body: Buffer; status: number }>((resolve, reject) => {
    nodeHttp.get(`${url}/sites/${sub}/`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks), status: res.statusCode! }));
    }).on('error', reject);
  });
  const br = await get({ 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  assert.ok(br.body.length < text.length / 5);
  assert.equal(zlib.brotliDecompressSync(br.body).toString(), text);
  assert.equal((await get({ 'accept-encoding': 'gzip, deflate, br', 'if-none-match': br.headers.etag! })).status, 304);
  const gz = await get({ 'accept-encoding': 'gzip, br;q=0' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString(), text);
  assert.notEqual(gz.headers.etag, br.headers.etag);
  const plainRes = await get({});
  assert.equal(plainRes.headers['content-encoding'], undefined);
  assert.equal(plainRes.body.toString(), text);
  const ranged = await get({ 'accept-encoding': 'br', range: 'bytes=0-3' });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['content-encoding'], undefined);
  assert.equal(ranged.body.toString(), 'Loam');
  const files = (await http('GET', `/v1/projects/${r}/sites/${s.id}/deploys/${d.id}/files`, { token: o.token })).body;
  assert.deepEqual(files.map((f: any) => f.path), ['index.html', 'tiny.txt']);
});
