// What a function may not do: read files outside its own code (/etc/passwd, Loam's data directory, another
// project's code), see Loam's or another project's environment, spawn processes, load native code, write
// files, reach another project's worker; and the limits: an infinite loop and a memory hog are stopped while
// another function keeps answering.
process.env.LOAM_FUNCTIONS_WALL_CLOCK_MS = '2500';
process.env.LOAM_FUNCTIONS_MEMORY_MB = '64';
process.env.LOAM_FUNCTIONS_MAX_BODY_BYTES = String(1024 * 1024);

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { config } from '../../db/src/config.ts';
import { createProject, http } from '../helpers/platform.ts';
import { workerPool } from '../../server/src/functions/invoke.ts';
import { deploy, invoke } from './helpers.ts';

const PROBE = `
const attempt = async (fn) => { try { return { ok: true, value: String(await fn()).slice(0, 200) }; } catch (e) { return { ok: false, error: String(e).slice(0, 200) }; } };
Deno.serve(async (req) => {
  const u = new URL(req.url);
  const p = u.searchParams.get('p') ?? '';
  switch (u.pathname.split('/').pop()) {
    case 'read': return Response.json(await attempt(() => Deno.readTextFile(p)));
    case 'readdir': return Response.json(await attempt(async () => { const n = []; for await (const e of Deno.readDir(p)) n.push(e.name); return n.join(','); }));
    case 'env': return Response.json(await attempt(() => Object.keys(Deno.env.toObject()).sort().join(',')));
    case 'getenv': return Response.json(await attempt(() => Deno.env.get(p) ?? 'unset'));
    case 'run': return Response.json(await attempt(async () => (await new Deno.Command('id').output()).code));
    case 'write': return Response.json(await attempt(() => Deno.writeTextFile(p, 'x')));
    case 'ffi': return Response.json(await attempt(() => Deno.dlopen('libc.so.6', {})));
    case 'sys': return Response.json(await attempt(() => Deno.hostname()));
    case 'socket': return Response.json(await attempt(async () => { const c = await Deno.connect({ transport: 'unix', path: p }); c.close(); return 'connected'; }));
    case 'echo': return new Response((await req.arrayBuffer()).byteLength + ' bytes');
    case 'own': return Response.json(await attempt(() => Deno.readTextFile(new URL('./index.ts', import.meta.url))));
    case 'loop': for (;;) {}
    case 'hog': { const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random())); }
    default: return new Response('alive');
  }
});`;

test('the sandbox and the limits', async () => {
  const a = await createProject();
  const b = await createProject();
  assert.equal((await deploy(a, 'probe', { 'index.ts': PROBE }, { verify_jwt: false })).status, 201);
  assert.equal((await deploy(a, 'other', { 'index.ts': PROBE }, { verify_jwt: false })).status, 201);
  assert.equal((await deploy(b, 'probe', { 'index.ts': PROBE }, { verify_jwt: false })).status, 201);
  await http('POST', `/v1/projects/${b.ref}/secrets`, { token: b.owner.token, body: [{ name: 'B_SECRET', value: 'b-only' }] });
  assert.equal((await invoke(b, 'probe/getenv?p=B_SECRET')).json.value, 'b-only');
  const bWorker = workerPool().all().find((w) => w.ref === b.ref)!;

  const refused = async (what: string, url: string) => {
    const r = await invoke(a, `probe/${url}`);
    assert.equal(r.status, 200, `${what}: ${r.text}`);
    assert.equal(r.json.ok, false, `${what} was allowed: ${r.text}`);
    assert.match(r.json.error, /NotCapable|PermissionDenied|Requires/, what);
  };

  await test('files outside its own code', async () => {
    assert.equal((await invoke(a, 'probe/own')).json.ok, true, 'its own code is readable');
    await refused('/etc/passwd', 'read?p=/etc/passwd');
    await refused('the data directory', `readdir?p=${encodeURIComponent(config.dataDir)}`);
    await refused('the secrets key', `read?p=${encodeURIComponent(path.join(config.dataDir, 'secrets.key'))}`);
    await refused('another project\'s code', `read?p=${encodeURIComponent(path.join(config.dataDir, 'functions', b.ref))}`);
    await refused('a write', 'write?p=/tmp/loam-fn-write-probe');
  });

  await test('imports of files outside its code: refused at deploy, without their content', async () => {
    const key = path.join(config.dataDir, 'secrets.key');
    for (const [what, source] of [
      ['static import of /etc/passwd', `import '/etc/passwd'; Deno.serve(() => new Response('x'));`],
      ['JSON import of the secrets key', `import k from ${JSON.stringify(key)} with { type: 'json' }; Deno.serve(() => new Response(String(k)));`],
      ['literal dynamic import', `await import('/etc/passwd').catch((e) => { throw e; }); Deno.serve(() => new Response('x'));`],
      ['another project\'s code', `import ${JSON.stringify(path.join(config.dataDir, 'functions', b.ref))}; Deno.serve(() => new Response('x'));`],
    ]) {
      const d = await deploy(a, 'leak', { 'index.ts': source });
      assert.equal(d.status, 400, `${what}: ${JSON.stringify(d.body)}`);
      assert.match(d.body.message, /Requires read access|NotCapable|not found|Is a directory/i, what);
      assert.doesNotMatch(d.body.message, /root:x:0/, what);
    }
    assert.equal((await invoke(a, 'leak')).status, 404, 'nothing of it serves');
  });

  await test('a module that throws at start-up: BOOT_ERROR with its message, and Deno is not restarted per request', async () => {
    // Loads at deploy (the secret is unset then: undefined is fine), throws at run time once the secret is set.
    assert.equal((await deploy(a, 'boot', { 'index.ts': `if (Deno.env.get('BOOM')) throw new Error('boom at start'); Deno.serve(() => new Response('fine'));` }, { verify_jwt: false })).status, 201);
    assert.equal((await invoke(a, 'boot')).text, 'fine');
    await http('POST', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: [{ name: 'BOOM', value: '1' }] });
    const r = await invoke(a, 'boot');
    assert.equal(r.status, 503);
    assert.equal(r.json.code, 'BOOT_ERROR');
    assert.match(r.json.message, /boom at start/);
    assert.doesNotMatch(r.json.message, /functions\/[a-z]{20}\/v\d/, 'no server path in the message');
    const t = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await invoke(a, 'boot')).json.code, 'BOOT_ERROR');
    assert.ok(Date.now() - t < 500, 'answered from the remembered failure');
    await http('DELETE', `/v1/projects/${a.ref}/secrets`, { token: a.owner.token, body: ['BOOM'] });
    assert.equal((await invoke(a, 'boot')).text, 'fine', 'a changed environment boots again');
    await http('DELETE', `/v1/projects/${a.ref}/functions/boot`, { token: a.owner.token });
  });

  await test('environment: its own only', async () => {
    assert.equal((await invoke(a, 'probe/env')).json.value, 'SUPABASE_ANON_KEY,SUPABASE_DB_URL,SUPABASE_SERVICE_ROLE_KEY,SUPABASE_URL');
    assert.equal((await invoke(a, 'probe/getenv?p=B_SECRET')).json.value, 'unset');
    assert.equal((await invoke(a, 'probe/getenv?p=DATABASE_URL')).json.value, 'unset');
    await refused('Deno\'s own variables', 'getenv?p=DENO_DIR');
  });

  await test('processes, native code, system information, another worker\'s socket', async () => {
    await refused('spawn', 'run');
    await refused('ffi', 'ffi');
    await refused('sys', 'sys');
    await refused('another project\'s worker', `socket?p=${encodeURIComponent(bWorker.socket)}`);
  });

  await test('an infinite loop is stopped at the wall clock; other functions keep answering', async () => {
    assert.equal((await invoke(a, 'other')).text, 'alive');
    const started = Date.now();
    const loop = invoke(a, 'probe/loop');
    await new Promise((r) => setTimeout(r, 300));
    const meanwhile = await invoke(a, 'other');
    assert.equal(meanwhile.text, 'alive');
    const r = await loop;
    assert.equal(r.status, 546, r.text);
    assert.equal(r.json.code, 'WORKER_LIMIT');
    assert.ok(Date.now() - started < 6000);
    assert.equal((await invoke(a, 'probe')).text, 'alive', 'a new worker takes over');
  });

  await test('a memory hog is stopped; other functions keep answering', async () => {
    const r = await invoke(a, 'probe/hog');
    assert.ok(r.status === 546 || r.status === 502, `${r.status} ${r.text}`);
    assert.equal((await invoke(a, 'other')).text, 'alive');
    assert.equal((await invoke(a, 'probe')).text, 'alive');
  });

  await test('a body above the limit is refused', async () => {
    assert.equal((await invoke(a, 'probe/echo', { method: 'POST', body: 'x'.repeat(1024 * 1024) })).text, `${1024 * 1024} bytes`);
    // A function that answers without reading the body: the answer arrives, nothing hangs.
    let n = 0;
    const ignored = new ReadableStream({ pull(c) { if (n++ === 12) c.close(); else c.enqueue(new Uint8Array(64 * 1024)); } });
    const quick = await invoke(a, 'probe', { method: 'POST', body: ignored, duplex: 'half' } as RequestInit).catch((e) => ({ status: 0, text: String(e) }));
    assert.equal(quick.text, 'alive');
    assert.equal((await invoke(a, 'probe', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) })).status, 413);
    // Chunked, without a length: counted as it streams.
    const chunk = new Uint8Array(256 * 1024);
    let sent = 0;
    const body = new ReadableStream({ pull(c) { if (sent++ === 8) c.close(); else c.enqueue(chunk); } });
    // The server answers 413 and closes the connection mid-upload: a client sees the answer or a reset, soon.
    const started = Date.now();
    const r = await invoke(a, 'probe/echo', { method: 'POST', body, duplex: 'half' } as RequestInit).catch(() => ({ status: 413 }));
    assert.equal(r.status, 413);
    assert.ok(Date.now() - started < 5000);
    assert.equal((await invoke(a, 'other')).text, 'alive');
  });
});
