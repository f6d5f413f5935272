// Hostile input to the REST API: JSON nested past the limit, embeds and logic trees nested thousands deep in
// the URL, NUL bytes and out-of-range integers in filters and bodies, an empty PATCH with filters. Each is a
// 4xx in PostgREST's `{code, message, details, hint}`, never a 500, and nothing is written.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';

let p: Project;
let svc: Record<string, string>;
before(async () => {
  p = await createProject();
  svc = { apikey: p.serviceKey };
  await sql(p, `
    create table items (id int primary key, v text, j jsonb);
    insert into items values (1, 'one', '{}');
    grant select, insert, update, delete on items to anon, service_role;
    create function echo(payload jsonb) returns jsonb language sql immutable as $$ select payload $$;
    create function dive(n int) returns int language plpgsql as $$ begin return dive(n + 1); end $$;`);
});

const rest = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  http(method, `/project/${p.ref}/rest/v1${path}`, { body, headers: { ...svc, ...headers } });
const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const TOO_DEEP = { code: 'PGRST102', details: null, hint: null, message: 'JSON nesting is too deep: the maximum is 512 levels' };

test('a body nested deeper than 512 levels is PGRST102, on tables and functions', async () => {
  for (const [path, body] of [['/items', `{"id":2,"j":${deepArray(5000)}}`], ['/items', deepArray(5000)], ['/rpc/echo', `{"payload":${deepArray(600)}}`]]) {
    const res = await rest('POST', path, body, { 'content-type': 'application/json' });
    assert.deepEqual([res.status, res.body], [400, TOO_DEEP], path);
  }
  // Within the limit a deep value goes through.
  const ok = await rest('POST', '/rpc/echo', `{"payload":${deepArray(500)}}`, { 'content-type': 'application/json' });
  assert.equal(ok.status, 200);
  assert.deepEqual((await sql(p, 'select count(*)::int as n from items'))[0].n, 1);
});

test('embeds and logic trees nested past 64 levels are PGRST100, not a stack overflow', async () => {
  const select = 'a('.repeat(3000) + 'id' + ')'.repeat(3000);
  const sel = await rest('GET', `/items?select=${select}`);
  assert.equal(sel.status, 400);
  assert.equal(sel.body.code, 'PGRST100');
  assert.equal(sel.body.details, 'nesting deeper than 64 levels');
  assert.match(sel.body.message, /^"failed to parse select parameter \(a\(a\(/);
  const tree = '(' + 'or('.repeat(2500) + 'id.eq.1' + ')'.repeat(2501);
  const or = await rest('GET', `/items?or=${tree}`);
  assert.equal(or.status, 400);
  assert.deepEqual([or.body.code, or.body.details], ['PGRST100', 'nesting deeper than 64 levels']);
  assert.match(or.body.message, /^"failed to parse logic tree \(\(or\(or\(/);
  // A few levels are fine.
  assert.equal((await rest('GET', `/items?or=(id.eq.1,and(id.eq.2,or(id.eq.3,v.eq.x)))`)).status, 200);
});

test('NUL bytes and out-of-range integers are 400 with Postgres\' code and message', async () => {
  const cases: [string, string, unknown, string, string][] = [
    ['GET', '/items?v=eq.a%00b', undefined, '22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['POST', '/items', { id: 3, v: 'a\u0000b' }, '22P05', 'unsupported Unicode escape sequence'],
    ['POST', '/items', { id: 3, j: { k: '\u0000' } }, '22P05', 'unsupported Unicode escape sequence'],
    ['GET', '/items?id=eq.99999999999999999999', undefined, '22003', 'value "99999999999999999999" is out of range for type integer'],
    ['POST', '/items', { id: 1e12 }, '22003', 'value "1000000000000" is out of range for type integer'],
    ['GET', '/items?offset=99999999999999999999', undefined, 'PGRST100', '"failed to parse offset (99999999999999999999)" (line 1, column 1)'],
    ['GET', '/items?limit=99999999999999999999', undefined, 'PGRST100', '"failed to parse limit (99999999999999999999)" (line 1, column 1)'],
  ];
  for (const [method, path, body, code, message] of cases) {
    const res = await rest(method, path, body);
    assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, code, path);
    assert.equal(res.body.message, message, path);
  }
  assert.deepEqual((await sql(p, 'select count(*)::int as n from items'))[0].n, 1);
});

test('a stack depth error (54001) is 400', async () => {
  const res = await rest('POST', '/rpc/dive', { n: 0 });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, '54001');
  assert.equal(res.body.message, 'stack depth limit exceeded');
});

test('PATCH with an empty body and filters changes nothing and answers as PostgREST does', async () => {
  for (const body of [[], {}]) {
    const res = await rest('PATCH', '/items?id=eq.1', body, { prefer: 'return=representation' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, []);
  }
  assert.deepEqual(await sql(p, 'select id, v from items'), [{ id: 1, v: 'one' }]);
});
