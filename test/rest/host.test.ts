// Host addressing: `<ref>.<LOAM_PROJECT_DOMAIN>/rest/v1/...` goes through the data-plane router rather than the
// path fast path, with the same behaviour. (Imports are dynamic so the domain is set before config loads.)
import assert from 'node:assert/strict';
import { test } from 'node:test';

process.env.LOAM_PROJECT_DOMAIN = 'loam.test';
const { createProject, loam, sql } = await import('../helpers/platform.ts');

test('a project addressed by host', async () => {
  const p = await createProject();
  await sql(p, 'create table hosted (id int primary key); insert into hosted values (1), (2); grant select on hosted to anon;');
  const port = new URL((await loam()).url).port;
  // fetch cannot set Host; node:http can.
  const http = await import('node:http');
  const get = (path: string, host: string) => new Promise<{ status: number; body: any; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host, apikey: p.anonKey } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
  const r = await get('/rest/v1/hosted?select=id&order=id.desc', `${p.ref}.loam.test`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, [{ id: 2 }, { id: 1 }]);
  assert.equal(r.headers['content-range'], '0-1/*');
  const missing = await get('/rest/v1/nope', `${p.ref}.loam.test`);
  assert.equal(missing.body.code, 'PGRST205');
  const unknown = await get('/rest/v1/hosted', 'zzzzzzzzzzzzzzzzzzzz.loam.test');
  assert.equal(unknown.status, 404);
});
