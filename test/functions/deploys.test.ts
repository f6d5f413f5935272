// Deploys beyond the single one: bundle-only versions made live together by the bulk `PUT …/functions` (what
// the Supabase CLI does for several functions), a deploy whose validation outlasts the request's wait, and the
// removal of old versions' unpacked folders once no invocation runs them.
process.env.LOAM_FUNCTIONS_DEPLOY_WAIT_MS = '1500';
process.env.LOAM_FUNCTIONS_PRUNE_GRACE_MS = '0';

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { config } from '../../db/src/config.ts';
import { adminClient, createProject, http, type Project } from '../helpers/platform.ts';
import { deploy, invoke } from './helpers.ts';

const text = (v: string, slowMs = 0) => `Deno.serve(async (req) => { if (new URL(req.url).pathname.endsWith('/slow')) await new Promise((r) => setTimeout(r, ${slowMs})); return new Response('${v}'); });`;

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const live = (p: Project, slug: string) => http('GET', `/v1/projects/${p.ref}/functions/${slug}`, { token: p.owner.token }).then((r) => r.body.version as number);

async function deployed(p: Project, slug: string, files: Record<string, string>, meta: Parameters<typeof deploy>[3] = {}) {
  const d = await deploy(p, slug, files, { verify_jwt: false, ...meta });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  await until(`${slug} v${d.body.version} live`, () => live(p, slug), (v) => v === d.body.version);
  return d.body;
}

test('bundle-only deploys, bulk update, slow deploys, old version folders', async () => {
  const a = await createProject();
  const b = await createProject();

  await test('bundleOnly versions validate without serving; PUT …/functions makes them live together', async () => {
    await deployed(a, 'one', { 'index.ts': text('one v1') });
    const form = async (slug: string, body: string) => {
      const f = new FormData();
      f.append('metadata', JSON.stringify({ entrypoint_path: 'index.ts', name: slug, verify_jwt: false }));
      f.append('file', new Blob([body]), 'index.ts');
      const res = await fetch(`${a.url.replace(`/project/${a.ref}`, '')}/v1/projects/${a.ref}/functions/deploy?slug=${slug}&bundleOnly=true`, {
        method: 'POST', headers: { authorization: `Bearer ${a.owner.token}` }, body: f,
      });
      return { status: res.status, body: await res.json() as any };
    };
    const one = await form('one', text('one v2'));
    const two = await form('two', text('two v1'));
    assert.equal(one.status, 201, JSON.stringify(one.body));
    assert.equal(one.body.version, 2, 'the answer names the new version');
    assert.equal(two.body.version, 1);
    // Validated, not live.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await invoke(a, 'one')).text, 'one v1');
    assert.equal((await invoke(a, 'two')).status, 404);
    assert.equal(await live(a, 'one'), 1);

    const bad = [
      [[{ slug: 'one', version: 9, id: one.body.id, name: 'one', status: 'ACTIVE' }], 404, 'function_version_not_found'],
      [[{ slug: 'nope', version: 1 }], 404, 'function_version_not_found'],
      [{ slug: 'one', version: 2 }, 400, 'invalid_body'],
      [[{ slug: 'one' }], 400, 'invalid_body'],
      [[{ slug: 'one', version: 2 }, { slug: 'one', version: 2 }], 400, 'invalid_body'],
    ] as const;
    for (const [body, status, code] of bad) {
      const r = await http('PUT', `/v1/projects/${a.ref}/functions`, { token: a.owner.token, body });
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.code, code, JSON.stringify(r.body));
    }
    assert.equal((await invoke(a, 'one')).text, 'one v1', 'a refused bulk update changes nothing');
    // Another account cannot make anything live here.
    assert.equal((await http('PUT', `/v1/projects/${a.ref}/functions`, { token: b.owner.token, body: [{ slug: 'one', version: 2 }] })).status, 404);

    // What the CLI sends: the deploy answers, as they came back.
    const put = await http('PUT', `/v1/projects/${a.ref}/functions`, { token: a.owner.token, body: [one.body, { ...two.body, name: 'Two' }] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.functions.map((f: { slug: string; version: number; name: string }) => [f.slug, f.version, f.name]), [['one', 2, 'one'], ['two', 1, 'Two']]);
    assert.equal((await invoke(a, 'one')).text, 'one v2');
    assert.equal((await invoke(a, 'two')).text, 'two v1');

    // A version that failed validation cannot be made live.
    const failed = await form('one', 'Deno.serve(() => new Response("x")');
    assert.equal(failed.status, 400);
    const notReady = await http('PUT', `/v1/projects/${a.ref}/functions`, { token: a.owner.token, body: [{ slug: 'one', version: 3 }] });
    assert.equal(notReady.status, 400);
    assert.equal(notReady.body.code, 'function_version_not_ready');
    assert.equal((await invoke(a, 'one')).text, 'one v2');
  });

  await test('a deploy that validates longer than the request waits: 201 with the new version, live once validated', async () => {
    await deployed(a, 'slowdeploy', { 'index.ts': text('old') });
    const started = Date.now();
    const d = await deploy(a, 'slowdeploy', { 'index.ts': `await new Promise((r) => setTimeout(r, 4000));\n${text('new')}` });
    const took = Date.now() - started;
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.version, 2);
    assert.ok(took < 3500, `the request was held ${took} ms`);
    assert.equal((await invoke(a, 'slowdeploy')).text, 'old', 'the live version serves meanwhile');
    await until('the slow version to go live', () => live(a, 'slowdeploy'), (v) => v === 2);
    // Its first start runs the slow top level too (it is the function's own code).
    assert.equal((await invoke(a, 'slowdeploy')).text, 'new');
  });

  await test('old versions\' folders are removed once no invocation runs them', async () => {
    const dir = path.join(config.dataDir, 'functions', a.ref);
    const admin = await adminClient();
    const versionId = async (slug: string, version: number) => String((await admin.query(`select v.id from platform.function_versions v
      join platform.functions f on f.id = v.function_id join platform.projects p on p.id = f.project_id
      where p.ref = $1 and f.slug = $2 and v.version = $3`, [a.ref, slug, version])).rows[0].id);
    try {
      await deployed(a, 'pruned', { 'index.ts': text('v1', 1500) });
      assert.equal((await invoke(a, 'pruned')).text, 'v1');
      const v1 = path.join(dir, `v${await versionId('pruned', 1)}`);
      assert.ok(fs.existsSync(v1));
      const inFlight = invoke(a, 'pruned/slow');
      await new Promise((r) => setTimeout(r, 200));
      await deployed(a, 'pruned', { 'index.ts': text('v2') });
      assert.equal((await invoke(a, 'pruned')).text, 'v2');
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(fs.existsSync(v1), 'kept while a request runs on it');
      assert.equal((await inFlight).text, 'v1');
      await until('v1\'s folder to go', async () => fs.existsSync(v1), (exists) => !exists, 5000);
      assert.ok(fs.existsSync(path.join(dir, `v${await versionId('pruned', 2)}`)), 'the live version stays');
      // A version that failed validation leaves no folder behind.
      const bad = await deploy(a, 'pruned', { 'index.ts': 'syntax error (' });
      assert.equal(bad.status, 400);
      assert.equal(fs.existsSync(path.join(dir, `v${await versionId('pruned', 3)}`)), false);
    } finally {
      await admin.end();
    }
  });
});
