// REST is served on plain Node (rest/raw.ts) for plain requests and by Express for the rest (chunked or
// compressed bodies, a key in the query): both ways must answer alike, and neither may be stalled or crashed by
// a client that goes away mid-body.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { before, test } from 'node:test';
import { createProject, loam, sql, type Project } from '../helpers/platform.ts';
import { rest } from './fixture.ts';

let p: Project;
before(async () => {
  p = await createProject();
  await sql(p, `
    create table notes (id int primary key, body text not null);
    grant select, insert, delete on notes to anon;
    create function echo(payload text) returns text language sql immutable as $$ select payload $$;
  `);
});

/** A request sent with node:http, so the body's framing and encoding are ours to choose. */
async function send(method: string, path: string, body: Buffer | undefined, headers: Record<string, string>, chunked = false): Promise<{ status: number; body: any }> {
  const { url } = await loam();
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/project/${p.ref}/rest/v1${path}`, {
      method, headers: { apikey: p.anonKey, 'content-type': 'application/json', ...headers, ...(body && !chunked ? { 'content-length': String(body.length) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    if (body && chunked) { req.write(body.subarray(0, 3)); req.write(body.subarray(3)); } else if (body) req.write(body);
    req.end();
  });
}

test('a body with a declared length, a chunked one and a gzipped one are one and the same insert', async () => {
  const row = (id: number) => Buffer.from(JSON.stringify({ id, body: `note ${id}` }));
  const headers = { prefer: 'return=representation' };
  const declared = await send('POST', '/notes', row(1), headers);
  const chunked = await send('POST', '/notes', row(2), headers, true);
  const gzipped = await send('POST', '/notes', zlib.gzipSync(row(3)), { ...headers, 'content-encoding': 'gzip' });
  assert.deepEqual([declared.status, chunked.status, gzipped.status], [201, 201, 201]);
  assert.deepEqual([declared.body, chunked.body, gzipped.body], [1, 2, 3].map((id) => [{ id, body: `note ${id}` }]));
  const rpc = await send('POST', '/rpc/echo', Buffer.from('{"payload":"hé"}'), {});
  assert.deepEqual(rpc, { status: 200, body: 'hé' });
  const del = await send('DELETE', '/notes?id=eq.3', undefined, {});
  assert.equal(del.status, 204);
});

test('bad bodies are the same error both ways: invalid JSON 400 PGRST102, over the limit 413', async () => {
  const invalid = Buffer.from('{"id":');
  for (const chunked of [false, true]) {
    const bad = await send('POST', '/notes', invalid, {}, chunked);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { code: 'PGRST102', details: null, hint: null, message: 'Empty or invalid json' });
  }
  const big = Buffer.from(JSON.stringify({ id: 9, body: 'x'.repeat(11 * 1024 * 1024) }));
  for (const chunked of [false, true]) {
    const r = await send('POST', '/notes', big, {}, chunked);
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'PGRST102');
  }
  assert.deepEqual(await sql(p, 'select count(*)::int as n from notes where id = 9'), [{ n: 0 }]);
});

test('no key, a key in the query and a foreign key answer as the gateway does on both ways', async () => {
  const { url } = await loam();
  const none = await fetch(`${url}/project/${p.ref}/rest/v1/notes`);
  assert.equal(none.status, 401);
  const inQuery = await fetch(`${url}/project/${p.ref}/rest/v1/notes?select=id&apikey=${p.anonKey}`);
  assert.equal(inQuery.status, 200, await inQuery.clone().text());
  // Another project's key: in a header (plain Node's way) or in the query (Express'), the same refusal.
  const other = await createProject();
  const foreign = await rest(p, 'GET', '/notes', { key: other.anonKey });
  const foreignInQuery = await fetch(`${url}/project/${p.ref}/rest/v1/notes?apikey=${other.anonKey}`);
  assert.equal(foreign.status, 401);
  assert.deepEqual({ status: foreignInQuery.status, body: await foreignInQuery.json() }, { status: foreign.status, body: foreign.body });
});

test('a client that declares a body and goes away before sending it stalls nothing', async () => {
  const { url } = await loam();
  const { port } = new URL(url);
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1', () => {
        s.write(`POST /project/${p.ref}/rest/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\napikey: ${p.anonKey}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"id":`);
        setTimeout(() => { s.destroy(); resolve(); }, 50);
      });
      s.on('error', () => resolve());
    });
  }
  const after = await rest(p, 'GET', '/notes?select=id&order=id');
  assert.equal(after.status, 200);
  assert.deepEqual(after.body, [{ id: 1 }, { id: 2 }]);
});
