// The proxy to a function's worker (server/src/functions/proxy.ts, undici over the worker's socket): bodies stream
// both ways at once, a client that reads slowly holds the function back (backpressure), a client that goes away
// cancels the function's answer and frees the worker, hop-by-hop headers stop at the proxy.
process.env.LOAM_FUNCTIONS_MAX_BODY_BYTES = String(1024 * 1024);

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { createProject } from '../helpers/platform.ts';
import { workerPool } from '../../server/src/functions/invoke.ts';
import { deploy, invoke } from './helpers.ts';

const FN = `
let pulled = 0;
let cancelled = 0;
Deno.serve((req) => {
  const p = new URL(req.url).pathname;
  if (p.endsWith('/echo')) return new Response(req.body);
  if (p.endsWith('/count')) return req.arrayBuffer().then((b) => new Response(String(b.byteLength)));
  if (p.endsWith('/headers')) return Response.json(Object.fromEntries(req.headers));
  if (p.endsWith('/flood')) {
    const chunk = new Uint8Array(64 * 1024).fill(120);
    let n = 0;
    return new Response(new ReadableStream({ pull(c) { pulled++; if (n++ === 1000) c.close(); else c.enqueue(chunk); } }, { highWaterMark: 0 }));
  }
  if (p.endsWith('/forever')) {
    return new Response(new ReadableStream({
      async pull(c) { c.enqueue(new TextEncoder().encode('tick\\n')); await new Promise((r) => setTimeout(r, 50)); },
      cancel() { cancelled++; },
    }));
  }
  return Response.json({ pulled, cancelled });
});`;

test('the proxy to a worker', async () => {
  const a = await createProject();
  assert.equal((await deploy(a, 'px', { 'index.ts': FN }, { verify_jwt: false })).status, 201);
  const url = new URL(`${a.url}/functions/v1/px`);
  const open = (path: string, method = 'GET', headers: Record<string, string> = {}) =>
    http.request({ host: url.hostname, port: url.port, path: `${url.pathname}${path}`, method, headers: { apikey: a.anonKey, ...headers } });
  const stats = async () => (await invoke(a, 'px/stats')).json as { pulled: number; cancelled: number };

  await test('the request body and the answer stream at the same time', async () => {
    const req = open('/echo', 'POST', { 'transfer-encoding': 'chunked' });
    const res: http.IncomingMessage = await new Promise((resolve, reject) => { req.on('response', resolve); req.on('error', reject); req.write('part 0;'); });
    assert.equal(res.statusCode, 200);
    let text = '';
    const got = (want: string) => new Promise<void>((resolve) => {
      const check = () => { if (text.endsWith(want)) { res.off('data', onData); resolve(); } };
      const onData = (c: Buffer) => { text += c; check(); };
      res.on('data', onData);
      check();
    });
    // Each part comes back before the next is sent: neither side waits for the whole body.
    await got('part 0;');
    for (let i = 1; i < 5; i++) { req.write(`part ${i};`); await got(`part ${i};`); }
    req.end();
    await new Promise((r) => res.on('end', r));
    assert.equal(text, 'part 0;part 1;part 2;part 3;part 4;');
  });

  await test('a client that reads slowly holds the function back', async () => {
    const req = open('/flood');
    const res: http.IncomingMessage = await new Promise((resolve, reject) => { req.on('response', resolve); req.on('error', reject); req.end(); });
    res.pause();
    await new Promise((r) => setTimeout(r, 700));
    const { pulled } = await stats();
    assert.ok(pulled < 400, `the function produced ${pulled} of 1000 chunks for a client reading nothing`);
    let bytes = 0;
    res.on('data', (c: Buffer) => { bytes += c.length; });
    res.resume();
    await new Promise((r) => res.on('end', r));
    assert.equal(bytes, 1000 * 64 * 1024, 'and everything arrives once it reads');
  });

  await test('a client that goes away cancels the answer and frees the worker', async () => {
    const before = (await stats()).cancelled;
    const req = open('/forever');
    const res: http.IncomingMessage = await new Promise((resolve, reject) => { req.on('response', resolve); req.on('error', reject); req.end(); });
    await new Promise((r) => res.once('data', r));
    res.destroy();
    let s = await stats();
    for (let i = 0; i < 40 && s.cancelled === before; i++) { await new Promise((r) => setTimeout(r, 50)); s = await stats(); }
    assert.equal(s.cancelled, before + 1);
    const worker = workerPool().all().find((w) => w.ref === a.ref && w.slug === 'px')!;
    for (let i = 0; i < 40 && worker.inflight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(worker.inflight, 0);
    assert.equal(worker.dead, false, 'the worker itself is fine');
  });

  await test('hop-by-hop headers stop at the proxy; the function sees where the request came from', async () => {
    // (fetch refuses to send these headers: Node's http client does.)
    const req = open('/headers', 'GET', { connection: 'keep-alive, x-hop', 'x-hop': 'secret', te: 'trailers', 'x-kept': 'yes', 'x-forwarded-for': '203.0.113.9' });
    const res = await new Promise<{ status: number; json: any }>((resolve, reject) => {
      req.on('response', (r) => { let t = ''; r.on('data', (c) => { t += c; }); r.on('end', () => resolve({ status: r.statusCode!, json: JSON.parse(t) })); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(res.json['x-kept'], 'yes');
    assert.equal(res.json['x-hop'], undefined);
    assert.equal(res.json.te, undefined);
    assert.doesNotMatch(res.json.connection ?? '', /x-hop/, 'the client\'s Connection header is its own hop\'s (undici sets the next one\'s)');
    assert.match(res.json['x-forwarded-for'], /^203\.0\.113\.9, (::ffff:)?127\.0\.0\.1$/);
    assert.equal(res.json['x-forwarded-proto'], 'http');
  });

  await test('a body above the limit, sent without a length, is refused', async () => {
    const req = open('/count', 'POST', { 'transfer-encoding': 'chunked' });
    const answer = new Promise<number>((resolve) => { req.on('response', (r) => resolve(r.statusCode!)); req.on('error', () => resolve(0)); });
    const chunk = Buffer.alloc(64 * 1024, 97);
    for (let i = 0; i < 20 && !req.destroyed; i++) { req.write(chunk); await new Promise((r) => setTimeout(r, 5)); }
    const status = await answer;
    assert.ok(status === 413 || status === 0, `status ${status}`); // the answer, or a reset once Loam closes the connection
    assert.equal((await invoke(a, 'px/stats')).status, 200, 'the worker still answers');
  });
});
