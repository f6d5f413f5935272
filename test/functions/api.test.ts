// Edge functions end to end: deploy through the Management API, invoke with supabase-js and fetch, redeploy
// under a request in flight, a failing deploy, verify_jwt, keys of another project, secrets, logs, deletion.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import fs from 'node:fs';
import path from 'node:path';
import { config } from '../../db/src/config.ts';
import { adminClient, createProject, http } from '../helpers/platform.ts';
import { workerPool } from '../../server/src/functions/invoke.ts';
import { deploy, invoke } from './helpers.ts';

const HELLO = `
Deno.serve(async (req) => {
  const url = new URL(req.url);
  if (req.method === 'OPTIONS') return new Response('ok', { headers: { 'access-control-allow-origin': '*', 'x-preflight': 'function' } });
  if (url.pathname.endsWith('/stream')) {
    const enc = new TextEncoder();
    let i = 0;
    return new Response(new ReadableStream({ async pull(c) { if (i === 3) return c.close(); c.enqueue(enc.encode('data: ' + i++ + '\\n\\n')); await new Promise((r) => setTimeout(r, 20)); } }),
      { headers: { 'content-type': 'text/event-stream' } });
  }
  if (url.pathname.endsWith('/env')) {
    const names = ['FOO', 'SUPABASE_URL', 'SUPABASE_ANON_KEY', 'SUPABASE_SERVICE_ROLE_KEY', 'SUPABASE_DB_URL'];
    return Response.json(Object.fromEntries(names.map((n) => [n, Deno.env.get(n) ?? null])));
  }
  const body = req.headers.get('content-type')?.includes('json') ? await req.json() : await req.text();
  return Response.json({ method: req.method, path: url.pathname, query: url.search, body, auth: req.headers.get('authorization') });
});`;

test('deploy, invoke, redeploy, verify_jwt, secrets, logs, delete', async () => {
  const a = await createProject();
  const b = await createProject();

  await test('deploy answers with the function, and it is listed', async () => {
    const d = await deploy(a, 'hello', { 'index.ts': HELLO }, { verify_jwt: false, name: 'Hello' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.slug, 'hello');
    assert.equal(d.body.name, 'Hello');
    assert.equal(d.body.version, 1);
    assert.equal(d.body.status, 'ACTIVE');
    assert.equal(d.body.verify_jwt, false);
    const list = await http('GET', `/v1/projects/${a.ref}/functions`, { token: a.owner.token });
    assert.deepEqual(list.body.map((f: { slug: string }) => f.slug), ['hello']);
    const one = await http('GET', `/v1/projects/${a.ref}/functions/hello`, { token: a.owner.token });
    assert.equal(one.body.id, d.body.id);
    const body = await http('GET', `/v1/projects/${a.ref}/functions/hello/body`, { token: a.owner.token });
    assert.equal(body.body, HELLO);
    // Another account sees none of it.
    assert.equal((await http('GET', `/v1/projects/${a.ref}/functions/hello`, { token: b.owner.token })).status, 404);
    assert.equal((await http('GET', `/v1/projects/${a.ref}/functions`, { token: b.owner.token })).status, 404);
  });

  await test('supabase-js functions.invoke, sub-paths, methods, streaming, preflight', async () => {
    const client = createClient(a.url, a.anonKey);
    const { data, error } = await client.functions.invoke('hello', { body: { name: 'loam' } });
    assert.equal(error, null);
    assert.equal(data.method, 'POST');
    assert.equal(data.path, '/hello');
    assert.deepEqual(data.body, { name: 'loam' });
    assert.equal(data.auth, `Bearer ${a.anonKey}`);
    const put = await invoke(a, 'hello/a/b?x=1', { method: 'PUT', body: 'raw' });
    assert.equal(put.status, 200);
    assert.deepEqual([put.json.method, put.json.path, put.json.query, put.json.body], ['PUT', '/hello/a/b', '?x=1', 'raw']);
    const stream = await invoke(a, 'hello/stream');
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    assert.equal(stream.text, 'data: 0\n\ndata: 1\n\ndata: 2\n\n');
    const pre = await invoke(a, 'hello', { method: 'OPTIONS', key: null });
    assert.equal(pre.headers.get('x-preflight'), 'function');
    assert.equal((await invoke(a, 'nope')).status, 404);
    assert.equal((await invoke(a, 'hello', { key: null })).status, 401);
  });

  await test('a key of another project is refused', async () => {
    const r = await invoke(a, 'hello', { key: b.anonKey });
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 'UNAUTHORIZED_INVALID_API_KEY');
    assert.equal((await invoke(b, 'hello')).status, 404);
  });

  await test('verify_jwt: a valid project JWT is required when on', async () => {
    const d = await deploy(a, 'secure', { 'main.ts': HELLO }, { entrypoint_path: 'main.ts' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.verify_jwt, true);
    assert.equal((await invoke(a, 'secure')).json.code, 'UNAUTHORIZED_NO_AUTH_HEADER');
    assert.equal((await invoke(a, 'secure', { bearer: 'not.a.jwt' })).status, 401);
    assert.equal((await invoke(a, 'secure', { bearer: b.anonKey })).json.code, 'UNAUTHORIZED_INVALID_JWT');
    const ok = await invoke(a, 'secure', { bearer: a.anonKey });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.auth, `Bearer ${a.anonKey}`);
    const patched = await http('PATCH', `/v1/projects/${a.ref}/functions/secure`, { token: a.owner.token, body: { verify_jwt: false } });
    assert.equal(patched.body.verify_jwt, false);
    assert.equal((await invoke(a, 'secure')).status, 200);
  });

  await test('a redeploy switches new requests; the request in flight finishes on the old version', async () => {
    const slow = (v: string) => `Deno.serve(async (req) => { if (new URL(req.url).pathname.endsWith('/slow')) await new Promise((r) => setTimeout(r, 1500)); return new Response('${v}'); });`;
    assert.equal((await deploy(a, 'ver', { 'index.ts': slow('v1') }, { verify_jwt: false })).status, 201);
    assert.equal((await invoke(a, 'ver')).text, 'v1');
    const inFlight = invoke(a, 'ver/slow');
    await new Promise((r) => setTimeout(r, 200));
    const d = await deploy(a, 'ver', { 'index.ts': slow('v2') });
    assert.equal(d.body.version, 2);
    assert.equal((await invoke(a, 'ver')).text, 'v2');
    const old = await inFlight;
    assert.equal(old.status, 200);
    assert.equal(old.text, 'v1');

    const bad = await deploy(a, 'ver', { 'index.ts': 'Deno.serve(() => new Response("v3")' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'function_deploy_failed');
    assert.match(bad.body.message, /index\.ts/);
    assert.doesNotMatch(bad.body.message, /functions\/[a-z]{20}\/v\d/, 'no server path in the message');
    assert.equal((await invoke(a, 'ver')).text, 'v2');
    assert.equal((await http('GET', `/v1/projects/${a.ref}/functions/ver`, { token: a.owner.token })).body.version, 2);
  });

  await test('secrets reach new invocations without a redeploy; the list shows digests only', async () => {
    const set = await http('POST', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: [{ name: 'FOO', value: 'bar' }] });
    assert.equal(set.status, 201);
    const list = await http('GET', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token });
    assert.deepEqual(list.body.map((s: { name: string; value: string }) => [s.name, s.value]),
      [['FOO', crypto.createHash('sha256').update('bar').digest('hex')]]);
    let env = (await invoke(a, 'hello/env')).json;
    assert.equal(env.FOO, 'bar');
    assert.equal(env.SUPABASE_URL, a.url);
    assert.equal(env.SUPABASE_ANON_KEY, a.anonKey);
    assert.equal(env.SUPABASE_SERVICE_ROLE_KEY, a.serviceKey);
    assert.match(env.SUPABASE_DB_URL, new RegExp(`^postgresql://${a.ref}_functions:[^@]+@[^/]+/${a.ref}$`));
    await http('POST', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: [{ name: 'FOO', value: 'baz' }] });
    assert.equal((await invoke(a, 'hello/env')).json.FOO, 'baz');
    await http('DELETE', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: ['FOO'] });
    const unset = await invoke(a, 'hello/env');
    assert.equal(unset.status, 200, unset.text);
    assert.equal(unset.json.FOO, null);
    for (const name of ['SUPABASE_URL', 'LD_PRELOAD', 'DENO_DIR', 'PATH', 'NPM_CONFIG_REGISTRY', 'bad-name']) {
      const r = await http('POST', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: [{ name, value: '/x' }] });
      assert.equal(r.status, 400, name);
    }
    assert.equal((await http('GET', `/v1/projects/${a.ref}/secrets`, { token: b.owner.token })).status, 404);
    // At rest: ciphertext only.
    const admin = await (await import('../helpers/platform.ts')).adminClient();
    await http('POST', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: [{ name: 'AT_REST', value: 'plain-value-123' }] });
    const { rows } = await admin.query(`select value_enc from platform_private.function_secrets where name = 'AT_REST'`);
    await admin.end();
    assert.ok(!Buffer.from(rows[0].value_enc).toString('latin1').includes('plain-value-123'));
  });

  await test('npm: specifiers, relative imports and an import map', async () => {
    // The first deploy downloads is-odd into the project's Deno cache (the deploy waits up to 60 s for that).
    const d = await deploy(a, 'npm', {
      'index.ts': `import isOdd from 'odd'; import { twice } from './lib/twice.ts'; Deno.serve(() => Response.json({ odd: isOdd(twice(3) + 1) }));`,
      'lib/twice.ts': 'export const twice = (n: number) => n * 2;',
      'import_map.json': JSON.stringify({ imports: { odd: 'npm:is-odd@3' } }),
    }, { verify_jwt: false, import_map_path: 'import_map.json' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.import_map, true);
    const r = await invoke(a, 'npm');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { odd: true });
  });

  await test('invocations are logged', async () => {
    await invoke(a, 'hello/logged');
    let logs: any;
    for (let i = 0; i < 50; i++) {
      logs = await http('GET', `/v1/projects/${a.ref}/functions/hello/logs`, { token: a.owner.token });
      if (logs.body.result.some((l: { path: string }) => l.path.endsWith('/hello/logged'))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const entry = logs.body.result.find((l: { path: string }) => l.path.endsWith('/hello/logged'));
    assert.equal(entry.status, 200);
    assert.equal(entry.method, 'GET');
  });

  await test('deleting a function, then the project, stops and removes them', async () => {
    const del = await http('DELETE', `/v1/projects/${a.ref}/functions/secure`, { token: a.owner.token });
    assert.equal(del.status, 200);
    assert.equal((await invoke(a, 'secure')).status, 404);
    assert.ok(workerPool().all().some((w) => w.ref === a.ref));
    assert.equal((await http('DELETE', `/v1/projects/${a.ref}`, { token: a.owner.token })).status, 200);
    for (let i = 0; i < 100 && workerPool().all().some((w) => w.ref === a.ref); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(workerPool().all().filter((w) => w.ref === a.ref), []);
    assert.equal((await invoke(a, 'hello')).status, 404);
    // The delete job removes its functions, sources, secrets and unpacked code.
    const admin = await adminClient();
    const left = async () => Number((await admin.query(`select (select count(*) from platform.functions f join platform.projects p on p.id = f.project_id where p.ref = $1)
      + (select count(*) from platform_private.function_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1)
      + (select count(*) from platform_private.function_blobs b join platform.projects p on p.id = b.project_id where p.ref = $1) as n`, [a.ref])).rows[0].n);
    // The delete job drops the database first: on a busy machine that can take a while.
    for (const until = Date.now() + 60_000; Date.now() < until && (await left() > 0 || fs.existsSync(path.join(config.dataDir, 'functions', a.ref)));) await new Promise((r) => setTimeout(r, 100));
    const remaining = await left();
    await admin.end();
    assert.equal(remaining, 0);
    assert.equal(fs.existsSync(path.join(config.dataDir, 'functions', a.ref)), false);
  });
});
