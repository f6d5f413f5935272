// Hostile input: a few thousand malformed or injection-shaped query strings, headers and bodies. None may be
// answered with a 5xx, and none may change data (a canary table and its row count are checked afterwards).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { sql, type Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
before(async () => {
  p = await fixture();
  await sql(p, `create table canary (id int primary key, v text); insert into canary values (1, 'alive'); grant select on canary to anon;`);
});

// A small deterministic PRNG, so a failure can be replayed.
function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const NASTY = [
  "'", '"', ';', '--', '/*', '*/', '(', ')', ',', '.', ':', '::', '->', '->>', '!', '*', '...', '\\', '%', '%00', '%27',
  '%22', '%28', '%29', ' ', '+', '{', '}', '[', ']', 'not.', 'eq.', 'in.', 'is.', 'or=', 'and', 'null', 'true', 'select',
  'drop table canary', "'; drop table canary; --", '"; delete from canary; --', '1=1', 'pg_sleep(5)', '$1', '$$', 'é', '💥',
  'id', 'title', 'authors', 'books', 'count()', 'sum()', 'fts(', 'any)', 'all', '9999999999999999999999', '-1', '0x10',
];

const PARAM_KEYS = ['select', 'order', 'limit', 'offset', 'or', 'and', 'not.or', 'id', 'title', 'data->a', 'authors.name', 'on_conflict', 'columns', 'books.order', 'x'];

function junk(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += NASTY[Math.floor(r() * NASTY.length)];
  return s;
}

test('thousands of hostile requests: zero 5xx, zero writes', async () => {
  const r = rng(42);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const requests: (() => Promise<void>)[] = [];
  for (let i = 0; i < 2500; i++) {
    const parts: string[] = [];
    const nParams = 1 + Math.floor(r() * 3);
    for (let j = 0; j < nParams; j++) {
      const k = r() < 0.8 ? PARAM_KEYS[Math.floor(r() * PARAM_KEYS.length)] : junk(r, 1);
      parts.push(`${k}=${junk(r, 1 + Math.floor(r() * 5))}`.replace(/ /g, '%20').replace(/#/g, '%23'));
    }
    const methods = ['GET', 'GET', 'GET', 'POST', 'PATCH', 'DELETE', 'PUT'];
    const method = methods[Math.floor(r() * methods.length)];
    const target = r() < 0.15 ? `/rpc/${['add', 'echo', 'books_by', junk(r, 1)][Math.floor(r() * 4)]}` : r() < 0.9 ? '/canary' : `/${encodeURIComponent(junk(r, 2))}`;
    const path = `${target}?${parts.join('&')}`;
    const headers: Record<string, string> = {};
    if (r() < 0.2) headers.Prefer = junk(r, 2).replace(/[^\x20-\x7e]/g, '');
    if (r() < 0.1) headers.Range = junk(r, 2).replace(/[^\x20-\x7e]/g, '');
    if (r() < 0.1) headers.Accept = junk(r, 2).replace(/[^\x20-\x7e]/g, '');
    let body: unknown;
    if (method !== 'GET' && method !== 'DELETE') {
      const bodies: unknown[] = [junk(r, 3), { id: junk(r, 1) }, [{ v: junk(r, 2) }, { x: 1 }], { [junk(r, 1)]: junk(r, 1) }, 42, null, [], [[1]], { id: 1, v: "'); drop table canary; --" }];
      body = bodies[Math.floor(r() * bodies.length)];
      if (typeof body === 'string') headers['content-type'] = 'application/json';
    }
    requests.push(async () => {
      const res = await rest(p, method, path, { headers, body, key: p.anonKey }).catch((e) => ({ status: 599, body: String(e), headers: new Headers() }));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`${method} ${path} ${JSON.stringify(headers)} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
    });
  }
  // A handful at a time, as a client would.
  for (let i = 0; i < requests.length; i += 16) await Promise.all(requests.slice(i, i + 16).map((f) => f()));
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests got 5xx`);
  assert.ok((statuses.get(400) ?? 0) > 500, `most hostile requests are 400s: ${JSON.stringify([...statuses])}`);
  const canary = await sql(p, 'select * from canary');
  assert.deepEqual(canary, [{ id: 1, v: 'alive' }]);
  assert.equal((await sql(p, 'select count(*)::int as n from books'))[0].n, 7);
});

test('injection-shaped values are data, never SQL', async () => {
  const values = ["1; drop table canary", "1' or '1'='1", '1) or (1=1', "alive' --", '"; select pg_sleep(1); --'];
  for (const v of values) {
    const r = await rest(p, 'GET', `/canary?v=eq.${encodeURIComponent(v)}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, []);
  }
  const ident = await rest(p, 'GET', `/canary?select=${encodeURIComponent('id,"v"";drop table canary;--"')}`);
  assert.equal(ident.status, 400);
  assert.equal(ident.body.code, 'PGRST100');
  const order = await rest(p, 'GET', `/canary?order=${encodeURIComponent('id;delete from canary')}`);
  assert.equal(order.status, 400);
  assert.equal(order.body.code, 'PGRST100');
  assert.deepEqual(await sql(p, 'select * from canary'), [{ id: 1, v: 'alive' }]);
});

test('malformed query strings are PGRST100 with PostgREST messages', async () => {
  const cases: [string, string][] = [
    ['/books?id=val', '"failed to parse filter (val)" (line 1, column 1)'],
    ['/books?id=like', '"failed to parse filter (like)" (line 1, column 5)'],
    ['/books?select=id,,title', '"failed to parse select parameter (id,,title)" (line 1, column 4)'],
    ['/books?order=id.sideways', '"failed to parse order (id.sideways)" (line 1, column 3)'],
    ['/books?limit=ten', '"failed to parse limit (ten)" (line 1, column 1)'],
    ['/books?or=(id.eq.1', '"failed to parse logic tree ((id.eq.1)" (line 1, column 9)'],
    ['/books?id=in.1,2', '"failed to parse filter (in.1,2)" (line 1, column 4)'],
    ['/books?id=is.maybe', '"failed to parse filter (is.maybe)" (line 1, column 4)'],
  ];
  for (const [path, message] of cases) {
    const r = await rest(p, 'GET', path);
    assert.equal(r.status, 400, path);
    assert.equal(r.body.code, 'PGRST100', path);
    assert.equal(r.body.message, message, path);
    assert.equal(typeof r.body.details, 'string');
  }
});
