// The sweep of stored site files: deploys past the retention count go, then the content-addressed files no
// deploy refers to — by the graphile-worker job queued from SQL when deploys change — while files still referred
// to, files just uploaded (the grace period) and files a concurrent deploy is about to refer to stay. Deleting a
// site removes all of its files.
process.env.LOAM_SITES_KEEP_DEPLOYS = '2';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { before, test } from 'node:test';
import { controlPool } from '../../db/src/pools.ts';
import { storeSiteFile } from '../../server/src/sites/deploys.ts';
import { sweepSite } from '../../server/src/sites/sweep.ts';
import { blobStore, siteBlobKey, sitePrefix } from '../../server/src/storage/backend.ts';
import { storageSettings } from '../../db/src/config.ts';
import { http, type Account } from '../helpers/platform.ts';
import { project, sha256, site, subdomain } from './helpers.ts';

let owner: Account;
let ref: string;
let s: any;
const sitePath = () => `/v1/projects/${ref}/sites/${s.id}`;

before(async () => {
  ({ ref, owner } = await project());
  s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('gc') } })).body;
});

/** A file-by-file deploy with a manifest: uploads what the server says is missing, then finalizes (staging). */
async function deploy(files: Record<string, string>): Promise<{ id: string; missing: string[] }> {
  const manifest = Object.fromEntries(Object.entries(files).map(([p, c]) => [p, sha256(c)]));
  const opened = await http('POST', `${sitePath()}/deploys/open`, { token: owner.token, body: { manifest } });
  assert.equal(opened.status, 201, JSON.stringify(opened.body));
  for (const [p, c] of Object.entries(files)) {
    if (!opened.body.missing.includes(sha256(c))) continue;
    const up = await http('POST', `${sitePath()}/deploys/${opened.body.id}/files?path=${encodeURIComponent(p)}`, {
      token: owner.token, body: c, headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
  }
  const fin = await http('POST', `${sitePath()}/deploys/${opened.body.id}/finalize`, { token: owner.token });
  assert.equal(fin.status, 200, JSON.stringify(fin.body));
  return { id: opened.body.id, missing: opened.body.missing };
}

const publish = async (id: string) =>
  assert.equal((await http('POST', `${sitePath()}/deploys/${id}/publish`, { token: owner.token })).status, 200);

const blobFile = (hash: string, variant?: 'br' | 'gz') => path.join(storageSettings().fileRoot, siteBlobKey(ref, s.id, hash, variant));
const stored = (content: string) => fs.existsSync(blobFile(sha256(content)));
/** Makes a stored file look older than the grace period (one hour by default). */
function age(content: string) {
  const old = new Date(Date.now() - 2 * 3600_000);
  for (const v of [undefined, 'br', 'gz'] as const) if (fs.existsSync(blobFile(sha256(content), v))) fs.utimesSync(blobFile(sha256(content), v), old, old);
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the job queued from SQL removes old deploys and the files only they referred to', async () => {
  const shared = 'body { color: green }\n'.repeat(100); // compressible: stored with .br and .gz encodings too
  const onlyFirst = '<h1>only in the first deploy</h1>'.repeat(50);
  const ids: string[] = [];
  for (const [i, extra] of ['one', 'two', 'three', 'four'].entries()) {
    const files: Record<string, string> = { 'index.html': `<h1>${extra}</h1>`, 'common.css': shared };
    if (i === 0) files['first.html'] = onlyFirst;
    const d = await deploy(files);
    await publish(d.id);
    ids.push(d.id);
  }
  assert.ok(stored(onlyFirst) && fs.existsSync(blobFile(sha256(onlyFirst), 'gz')));
  // The sweeps that already ran (queued by each staging and publish) removed the old deploys but no file yet:
  // every file is younger than the grace period.
  await until('old deploys pruned', async () => (await http('GET', `${sitePath()}/deploys`, { token: owner.token })).body.length === 2);
  assert.deepEqual((await http('GET', `${sitePath()}/deploys`, { token: owner.token })).body.map((d: any) => d.id), [ids[3], ids[2]]);
  assert.ok(stored(onlyFirst), 'young files stay');

  for (const c of [shared, onlyFirst, '<h1>one</h1>', '<h1>two</h1>', '<h1>three</h1>', '<h1>four</h1>']) age(c);
  // A rollback queues the sweep again (from SQL, in the rollback's transaction).
  assert.equal((await http('POST', `${sitePath()}/deploys/${ids[2]}/rollback`, { token: owner.token })).status, 200);
  await until('unreferenced files removed', () => !stored(onlyFirst) && !stored('<h1>one</h1>') && !stored('<h1>two</h1>'));
  assert.ok(!fs.existsSync(blobFile(sha256(onlyFirst), 'gz')) && !fs.existsSync(blobFile(sha256(onlyFirst), 'br')), 'encodings go with their file');
  for (const kept of [shared, '<h1>three</h1>', '<h1>four</h1>']) assert.ok(stored(kept), `still referred to: ${kept.slice(0, 20)}`);
  assert.ok(fs.existsSync(blobFile(sha256(shared), 'br')));
  assert.equal((await site(s.subdomain)).text, '<h1>three</h1>');
  assert.equal((await site(s.subdomain, '/common.css')).text, shared);
  assert.equal((await http('POST', `${sitePath()}/deploys/${ids[3]}/rollback`, { token: owner.token })).status, 200);
  assert.equal((await site(s.subdomain)).text, '<h1>four</h1>');
});

test('a file just uploaded, not yet recorded in a deploy, is kept until it is older than the grace period', async () => {
  const content = `uploaded, row not yet written ${Date.now()}`;
  await storeSiteFile(ref, s.id, Readable.from([Buffer.from(content)]), 1024);
  assert.ok(stored(content));
  await sweepSite(s.id);
  assert.ok(stored(content), 'young: kept');
  age(content);
  const { files } = await sweepSite(s.id);
  assert.ok(files >= 1);
  assert.ok(!stored(content), 'old and unreferenced: removed');
});

test('a deploy referring to known bytes while the sweep deletes them never ends up with missing files', async () => {
  for (let i = 0; i < 10; i++) {
    const content = `<p>iteration ${i} ${Date.now()}</p>`;
    await deploy({ 'x.html': content, 'index.html': `<h1>x${i}</h1>` });
    // Two more deploys push the first past the retention count; its x.html is then referred to by nothing.
    await deploy({ 'index.html': `<h1>y${i}</h1>` });
    await deploy({ 'index.html': `<h1>z${i}</h1>` });
    age(content);
    // Race: the sweep against a deploy naming the same bytes in its manifest.
    // The sweep starts from a little before to well after the deploy, so each side wins some of the races.
    const [, g] = await Promise.all([
      new Promise((r) => setTimeout(r, (i % 6) * 8)).then(() => sweepSite(s.id)),
      deploy({ 'x.html': content, 'index.html': `<h1>g${i}</h1>` }),
    ]);
    const served = await site(`${s.subdomain}--staging`, '/x.html');
    assert.equal(served.status, 200, `iteration ${i}: the staged deploy's file is stored (missing was ${JSON.stringify(g.missing)})`);
    assert.equal(served.text, content);
  }
});

test('the sweep waits for a deploy that is referring to known bytes, then keeps them', async () => {
  const content = `<p>held by an open transaction ${Date.now()}</p>`;
  const old = await deploy({ 'x.html': content, 'index.html': '<h1>held</h1>' });
  // The sweeps queued so far have run: only this test's sweep is left.
  await until('queued sweeps done', async () => !(await controlPool().query('select 1 from graphile_worker.jobs where key = $1', [`site__sweep:${s.id}`])).rowCount);
  age(content);
  // platform.open_site_deploy as the API calls it (role loam_api, the caller's account), left uncommitted: the
  // old deploy still refers to the bytes, so they are known.
  const client = await controlPool().connect();
  try {
    await client.query('begin');
    await client.query(`set local role loam_api`);
    await client.query(`select set_config('loam.account_id', $1, true)`, [owner.user.id]);
    const { rows: [opened] } = await client.query('select (r.deploy).id, r.missing from platform.open_site_deploy($1, $2, $3, $4, $5) r',
      [ref, s.id, 'held', JSON.stringify({ 'x.html': sha256(content) }), 100]);
    assert.deepEqual(opened.missing, [], 'the bytes are known');
    // Meanwhile the old deploy goes (what the retention does), so only the uncommitted deploy refers to them.
    await controlPool().query('delete from platform.site_deploys where id = $1', [old.id]);
    let done = false;
    const sweeping = sweepSite(s.id).then((r) => { done = true; return r; });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(done, false, 'the sweep waits for the deploy\'s transaction');
    assert.ok(stored(content));
    await client.query('commit');
    await sweeping;
    assert.ok(stored(content), 'referred to by the new deploy: kept');
    assert.equal((await http('POST', `${sitePath()}/deploys/${opened.id}/finalize`, { token: owner.token })).status, 200);
    assert.equal((await site(`${s.subdomain}--staging`, '/x.html')).text, content);
  } finally {
    await client.query('rollback').catch(() => {});
    client.release();
  }
});

test('deleting a site removes every stored file of it', async () => {
  const prefix = path.join(storageSettings().fileRoot, sitePrefix(ref, s.id));
  assert.ok(fs.existsSync(prefix));
  assert.equal((await http('DELETE', sitePath(), { token: owner.token })).status, 200);
  await until('site files purged', () => !fs.existsSync(prefix));
  assert.deepEqual(await blobStore().list(`${sitePrefix(ref, s.id)}blobs/`), []);
});
