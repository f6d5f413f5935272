// How invocations reach a function, now that `/functions/v1` is served on plain Node before Express: the path
// form and the host form (`<ref>.<LOAM_PROJECT_DOMAIN>`), the proxied form Express keeps (X-Forwarded-Host),
// the gateway's key check (header or `?apikey=`, which the function does not see), unknown projects, and
// headers passed both ways as the function sent them.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

process.env.LOAM_PROJECT_DOMAIN = 'fn-routing.test'; // before Loam reads its configuration (dynamic imports below)
const { createProject, loam } = await import('../helpers/platform.ts');
const { deploy } = await import('./helpers.ts');

const ECHO = `Deno.serve(async (req) => {
  const u = new URL(req.url);
  const headers = new Headers({ 'content-type': 'application/json', 'x-echo': 'yes' });
  headers.append('set-cookie', 'a=1');
  headers.append('set-cookie', 'b=2');
  return new Response(JSON.stringify({ path: u.pathname, query: u.search, method: req.method, body: await req.text(),
    custom: req.headers.get('x-custom'), apikey: req.headers.get('apikey') }), { status: 201, headers });
});`;

function request(path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: string[]; json: any }> {
  return loam().then((l) => new Promise((resolve, reject) => {
    const u = new URL(l.url);
    const req = http.request({ host: '127.0.0.1', port: u.port, path, method, headers }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => { let json; try { json = JSON.parse(text); } catch { json = text; } resolve({ status: res.statusCode!, headers: res.headers, raw: res.rawHeaders, json }); });
    });
    req.on('error', reject);
    req.end(body);
  }));
}

test('function routes on the fast path and through Express', async () => {
  const a = await createProject();
  assert.equal((await deploy(a, 'echo', { 'index.ts': ECHO }, { verify_jwt: false })).status, 201);
  const key = { apikey: a.anonKey };

  await test('the path form', async () => {
    const r = await request(`/project/${a.ref}/functions/v1/echo/sub?x=1`, { ...key, 'x-custom': 'c' }, 'POST', 'hi');
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { path: '/echo/sub', query: '?x=1', method: 'POST', body: 'hi', custom: 'c', apikey: a.anonKey });
    assert.equal(r.headers['x-echo'], 'yes');
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  });

  await test('the host form, and a proxied host (served by Express) behave the same', async () => {
    const host = await request('/functions/v1/echo/h?y=2', { ...key, host: `${a.ref}.fn-routing.test` });
    assert.equal(host.status, 201, JSON.stringify(host.json));
    assert.equal(host.json.path, '/echo/h');
    assert.equal(host.json.query, '?y=2');
    const proxied = await request('/functions/v1/echo/p', { ...key, host: 'localhost', 'x-forwarded-host': `${a.ref}.fn-routing.test` });
    assert.equal(proxied.status, 201, JSON.stringify(proxied.json));
    assert.equal(proxied.json.path, '/echo/p');
  });

  await test('the key check: none is 401 as at Supabase\'s gateway; ?apikey= works and is not passed on', async () => {
    const none = await request(`/project/${a.ref}/functions/v1/echo`, {});
    assert.equal(none.status, 401);
    assert.equal(none.json.message, 'No API key found in request');
    assert.equal(none.headers['access-control-allow-origin'], '*');
    const q = await request(`/project/${a.ref}/functions/v1/echo?apikey=${a.anonKey}&z=3`, {});
    assert.equal(q.status, 201, JSON.stringify(q.json));
    assert.equal(q.json.query, '?z=3');
    assert.equal(q.json.apikey, a.anonKey, 'as a header, as the gateway passes it');
    const wrong = await request(`/project/${a.ref}/functions/v1/echo`, { apikey: 'nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.code, 'UNAUTHORIZED_INVALID_API_KEY');
  });

  await test('answers of every framing pass through whole: HEAD, 204, large with a length, long chunked streams, close-delimited', async () => {
    const SHAPES = `Deno.serve((req) => {
      const p = new URL(req.url).pathname;
      if (p.endsWith('/empty')) return new Response(null, { status: 204, headers: { 'x-empty': '1' } });
      if (p.endsWith('/big')) return new Response(new Uint8Array(3 * 1024 * 1024).fill(97));
      if (p.endsWith('/chunks')) {
        let i = 0;
        return new Response(new ReadableStream({ pull(c) { if (i === 500) return c.close(); c.enqueue(new TextEncoder().encode('chunk ' + i++ + '\\n')); } }));
      }
      if (p.endsWith('/close')) return new Response('closing', { headers: { connection: 'close' } });
      return new Response('hello', { headers: { 'x-head': 'yes' } });
    });`;
    assert.equal((await deploy(a, 'shapes', { 'index.ts': SHAPES }, { verify_jwt: false })).status, 201);
    const base = `/project/${a.ref}/functions/v1/shapes`;
    const head = await request(base, key, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['x-head'], 'yes');
    assert.equal(head.json, '');
    const empty = await request(`${base}/empty`, key);
    assert.equal(empty.status, 204);
    assert.equal(empty.headers['x-empty'], '1');
    const big = await request(`${base}/big`, key);
    assert.equal(big.status, 200);
    assert.equal(big.json.length, 3 * 1024 * 1024);
    assert.ok(/^a+$/.test(big.json));
    const chunks = await request(`${base}/chunks`, key);
    assert.equal(chunks.json, Array.from({ length: 500 }, (_, i) => `chunk ${i}\n`).join(''));
    for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/close`, key)).json, 'closing', 'a closed connection is not reused');
    // Many at once over the pooled connections, each answer its own.
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => request(`${base}/${i % 2 ? 'chunks' : 'x'}`, key)));
    for (const [i, r] of many.entries()) assert.equal(r.json, i % 2 ? chunks.json : 'hello');
  });

  await test('unknown projects and paths', async () => {
    const unknown = await request('/project/aaaaaaaaaaaaaaaaaaaa/functions/v1/echo', key);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'project_not_found');
    const bad = await request('/project/NOT-A-REF/functions/v1/echo', key);
    assert.equal(bad.status, 404);
    const noFn = await request(`/project/${a.ref}/functions/v1/`, key);
    assert.equal(noFn.status, 404);
    assert.equal(noFn.json.code, 'NOT_FOUND');
    // Not a function route at all: Express answers as before.
    const other = await request(`/project/${a.ref}/functionsx/v1/echo`, key);
    assert.equal(other.status, 404);
  });
});
