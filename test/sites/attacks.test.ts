// Hostile deploys: zip-slip names, absolute paths, backslashes, symlinks, too many files, bombs (by ratio and by a
// lying size header), oversized and malformed archives — each refused with a 4xx, nothing stored, nothing
// published, the live version untouched. Also: publishing under load never serves a mix, and deleting a site
// removes its files.
process.env.LOAM_SITES_MAX_FILES = '20';
process.env.LOAM_SITES_MAX_DEPLOY_BYTES = String(3 * 1024 * 1024);
process.env.LOAM_SITES_MAX_FILE_BYTES = String(3 * 1024 * 1024);
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { storageSettings } from '../../db/src/config.ts';
import { adminClient, http, type Account } from '../helpers/platform.ts';
import { makeZip, project, site, subdomain, uploadZip, waitDeploy, type ZipEntry } from './helpers.ts';

let owner: Account;
let ref: string;
let s: { id: string; subdomain: string };
const dep = (p: string) => `/v1/projects/${ref}/sites/${s.id}/deploys${p}`;
const blobsDir = () => path.join(storageSettings().fileRoot, ref, 'sites', s.id, 'blobs');
const uploadsDir = () => path.join(storageSettings().fileRoot, ref, 'sites', s.id, 'uploads');
const ls = (dir: string) => fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];

before(async () => {
  ({ ref, owner } = await project());
  s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('atk') } })).body;
  const good = await uploadZip(owner.token, ref, s.id, makeZip([{ name: 'index.html', data: 'good' }]));
  const d = await waitDeploy(owner.token, ref, s.id, good.body.id);
  assert.equal((await http('POST', dep(`/${d.id}/publish`), { token: owner.token })).status, 200);
});

const zeros = (n: number) => Buffer.alloc(n);

test('unsafe or oversized zips are refused with a 4xx before anything is stored', async () => {
  const blobsBefore = ls(blobsDir());
  const deploysBefore = (await http('GET', dep(''), { token: owner.token })).body.length;
  const cases: [string, Buffer, number, string][] = [
    ['zip-slip', makeZip([{ name: 'index.html', data: 'x' }, { name: '../../evil.html', data: 'x' }]), 400, 'unsafe_zip_entry'],
    ['nested zip-slip', makeZip([{ name: 'a/b/../../../evil.html', data: 'x' }]), 400, 'unsafe_zip_entry'],
    ['absolute path', makeZip([{ name: '/etc/cron.d/evil', data: 'x' }]), 400, 'unsafe_zip_entry'],
    ['drive letter', makeZip([{ name: 'C:/evil.html', data: 'x' }]), 400, 'unsafe_zip_entry'],
    ['backslashes', makeZip([{ name: '..\\..\\evil.html', data: 'x' }]), 400, 'unsafe_zip_entry'],
    ['symlink', makeZip([{ name: 'index.html', data: 'x' }, { name: 'passwd', data: '/etc/passwd', symlink: true }]), 400, 'unsafe_zip_entry'],
    ['NUL in a name', makeZip([{ name: 'a\0.html', data: 'x' }]), 400, 'unsafe_zip_entry'],
    ['too many files', makeZip(Array.from({ length: 21 }, (_, i): ZipEntry => ({ name: `f${i}.txt`, data: 'x' }))), 413, 'too_many_files'],
    ['zip bomb (ratio)', makeZip([{ name: 'index.html', data: zeros(2.5 * 1024 * 1024) }]), 413, 'zip_bomb'],
    ['declared sizes over the deploy limit', makeZip([{ name: 'a.bin', data: crypto.randomBytes(40_000), declaredSize: 2 * 1024 * 1024 }, { name: 'b.bin', data: crypto.randomBytes(40_000), declaredSize: 2 * 1024 * 1024 }]), 413, 'deploy_too_large'],
    ['archive over the deploy limit', crypto.randomBytes(3 * 1024 * 1024 + 10), 413, 'deploy_too_large'],
    ['not a zip', Buffer.from('hello, this is not a zip archive at all'), 400, 'invalid_zip'],
    ['blocked extension', makeZip([{ name: 'index.php', data: '<?php system($_GET[1]);' }]), 403, 'blocked_extension'],
    ['no files', makeZip([{ name: 'empty/', dir: true }]), 422, 'empty_deploy'],
  ];
  for (const [what, zip, status, code] of cases) {
    const res = await uploadZip(owner.token, ref, s.id, zip);
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, code, what);
    assert.equal(typeof res.body.message, 'string');
  }
  assert.equal((await http('GET', dep(''), { token: owner.token })).body.length, deploysBefore, 'no deploy recorded');
  assert.deepEqual(ls(blobsDir()), blobsBefore, 'no bytes stored');
  assert.deepEqual(ls(uploadsDir()), []);
  assert.equal((await site(s.subdomain)).text, 'good');
  assert.ok(!fs.existsSync(path.join(storageSettings().fileRoot, '..', 'evil.html')));
});

test('a zip whose size header lies fails while unpacking: the deploy fails, nothing is staged or published', async () => {
  const stagingBefore = (await http('GET', `/v1/projects/${ref}/sites/${s.id}`, { token: owner.token })).body.staging_deploy_id;
  const liar = makeZip([{ name: 'index.html', data: zeros(2 * 1024 * 1024), declaredSize: 100 }]);
  const res = await uploadZip(owner.token, ref, s.id, liar);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const d = await waitDeploy(owner.token, ref, s.id, res.body.id);
  assert.equal(d.status, 'failed');
  assert.match(d.error, /bytes|size/i);
  const after = (await http('GET', `/v1/projects/${ref}/sites/${s.id}`, { token: owner.token })).body;
  assert.equal(after.staging_deploy_id, stagingBefore);
  assert.equal((await site(s.subdomain)).text, 'good');
  assert.deepEqual(ls(uploadsDir()), []);
  assert.equal((await http('POST', dep(`/${d.id}/publish`), { token: owner.token })).status, 409);
});

test('requests during a publish see the old version or the new one, never a mix', async () => {
  const zip = (tag: string) => makeZip([{ name: 'index.html', data: `<p>${tag}</p>` }, { name: 'a.js', data: `var v='${tag}'` }]);
  const up = await uploadZip(owner.token, ref, s.id, zip('v2'));
  const d = await waitDeploy(owner.token, ref, s.id, up.body.id);
  const reads = Array.from({ length: 40 }, (_, i) => site(s.subdomain, i % 2 ? '/' : '/a.js'));
  const publish = http('POST', dep(`/${d.id}/publish`), { token: owner.token });
  const more = Array.from({ length: 40 }, (_, i) => site(s.subdomain, i % 2 ? '/' : '/a.js'));
  assert.equal((await publish).status, 200);
  for (const r of await Promise.all([...reads, ...more])) {
    assert.ok(r.text === 'good' || r.text === '<p>v2</p>' || r.text === "var v='v2'" || (r.status === 404 && r.text === 'Not found'), `${r.status} ${r.text}`);
  }
  assert.equal((await site(s.subdomain, '/a.js')).text, "var v='v2'");
});

test('deleting a site stops serving it and removes its files', async () => {
  assert.ok(ls(blobsDir()).length > 0);
  assert.equal((await http('DELETE', `/v1/projects/${ref}/sites/${s.id}`, { token: owner.token })).status, 200);
  assert.equal((await site(s.subdomain)).status, 404);
  const until = Date.now() + 10_000;
  while (fs.existsSync(path.join(storageSettings().fileRoot, ref, 'sites', s.id)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.ok(!fs.existsSync(path.join(storageSettings().fileRoot, ref, 'sites', s.id)), 'site files removed');
});

test('a plan\'s deploy limits apply under the operator\'s: files and bytes per deploy', async () => {
  const { ref: r, owner: o } = await project();
  const admin = await adminClient();
  try {
    await admin.query(`insert into platform.plans (id, name, max_projects, max_organizations, db_size_mb, storage_size_mb, max_site_deploy_bytes, max_site_files)
      values ('sites-tiny', 'Sites tiny', 10, 10, 10, 10, 2048, 2) on conflict (id) do nothing`);
    await admin.query(`update platform.organizations set plan = 'sites-tiny' where slug = $1`, [o.org]);
  } finally {
    await admin.end();
  }
  const t = (await http('POST', `/v1/projects/${r}/sites`, { token: o.token, body: { subdomain: subdomain('tiny') } })).body;
  const three = await uploadZip(o.token, r, t.id, makeZip([{ name: 'a.txt', data: 'a' }, { name: 'b.txt', data: 'b' }, { name: 'c.txt', data: 'c' }]));
  assert.equal(three.status, 413);
  assert.equal(three.body.code, 'too_many_files');
  const big = await uploadZip(o.token, r, t.id, makeZip([{ name: 'a.bin', data: crypto.randomBytes(3000) }]));
  assert.equal(big.status, 413, JSON.stringify(big.body));
  const open = await http('POST', `/v1/projects/${r}/sites/${t.id}/deploys/open`, { token: o.token, body: { manifest: { 'a': 'a'.repeat(64), 'b': 'b'.repeat(64), 'c': 'c'.repeat(64) } } });
  assert.equal(open.status, 413);
  assert.equal(open.body.code, 'too_many_files');
  const ok = await uploadZip(o.token, r, t.id, makeZip([{ name: 'index.html', data: 'small' }]));
  assert.equal(ok.status, 202);
  assert.equal((await waitDeploy(o.token, r, t.id, ok.body.id)).status, 'ready');
});
