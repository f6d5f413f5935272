// Keys, JWTs and row-level security: the RLS matrix (anon / two users / service_role × select / insert /
// update / delete) written as data, PostgREST's JWT errors, 42501 as 401/403, and keys of one project on another.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, createProject, type Project } from '../helpers/platform.ts';
import { fixture, rest } from './fixture.ts';

let p: Project;
let other: Project;
let secret: string;
const u1 = crypto.randomUUID();
const u2 = crypto.randomUUID();
let t1: string;
let t2: string;

async function jwtSecret(ref: string): Promise<string> {
  const c = await adminClient();
  try {
    const { rows } = await c.query('select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1', [ref]);
    return rows[0].jwt_secret;
  } finally { await c.end(); }
}

before(async () => {
  [p, other] = await Promise.all([fixture(), createProject()]);
  secret = await jwtSecret(p.ref);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  t1 = signJwt({ sub: u1, role: 'authenticated', exp, email: 'one@example.com' }, secret);
  t2 = signJwt({ sub: u2, role: 'authenticated', exp }, secret);
});

const who = () => ({
  anon: { key: p.anonKey },
  user1: { token: t1 },
  user2: { token: t2 },
  service: { key: p.serviceKey, token: p.serviceKey },
});

test('RLS matrix on a table with auth.uid() = user_id policies', async () => {
  // Seed: one note per user, written by each user.
  const seeded: Record<string, number> = {};
  for (const [name, token] of [['user1', t1], ['user2', t2]] as const) {
    const r = await rest(p, 'POST', '/notes', { token, body: { body: `note of ${name}` }, headers: { Prefer: 'return=representation' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body[0].user_id, name === 'user1' ? u1 : u2);
    seeded[name] = r.body[0].id;
  }
  type Row = [keyof ReturnType<typeof who>, string, (ids: Record<string, number>) => [string, string, unknown?], number, ((body: any) => void)?];
  const matrix: Row[] = [
    // role,   operation, request,                                                   status, check
    ['anon', 'select', () => ['GET', '/notes'], 200, (b) => assert.deepEqual(b, [])],
    ['anon', 'insert', () => ['POST', '/notes', { body: 'x', user_id: u1 }], 401],
    ['anon', 'update', () => ['PATCH', '/notes', { body: 'x' }], 200, (b) => assert.deepEqual(b, [])],
    ['anon', 'delete', () => ['DELETE', '/notes'], 200, (b) => assert.deepEqual(b, [])],
    ['user1', 'select', () => ['GET', '/notes?select=body'], 200, (b) => assert.deepEqual(b, [{ body: 'note of user1' }])],
    ['user2', 'select', () => ['GET', '/notes?select=body'], 200, (b) => assert.deepEqual(b, [{ body: 'note of user2' }])],
    ['user1', 'insert as self', () => ['POST', '/notes', { body: 'mine' }], 201],
    ['user1', 'insert as other', () => ['POST', '/notes', { body: 'forged', user_id: u2 }], 403],
    ['user1', 'update other', (ids) => ['PATCH', `/notes?id=eq.${ids.user2}&select=id`, { body: 'hacked' }], 200, (b) => assert.deepEqual(b, [])],
    ['user2', 'update own', (ids) => ['PATCH', `/notes?id=eq.${ids.user2}&select=body`, { body: 'edited' }], 200, (b) => assert.deepEqual(b, [{ body: 'edited' }])],
    ['user1', 'delete other', (ids) => ['DELETE', `/notes?id=eq.${ids.user2}&select=id`], 200, (b) => assert.deepEqual(b, [])],
    ['service', 'select', () => ['GET', '/notes?select=body&order=id'], 200, (b) => assert.equal(b.length, 3)],
    ['service', 'update', (ids) => ['PATCH', `/notes?id=eq.${ids.user1}&select=body`, { body: 'by service' }], 200, (b) => assert.deepEqual(b, [{ body: 'by service' }])],
    ['user1', 'delete own', (ids) => ['DELETE', `/notes?id=eq.${ids.user1}&select=id`], 200, (b) => assert.equal(b.length, 1)],
    ['service', 'delete', () => ['DELETE', '/notes?select=id'], 200, (b) => assert.equal(b.length, 2)],
  ];
  for (const [role, op, build, status, check] of matrix) {
    const [method, path, body] = build(seeded);
    const r = await rest(p, method, path, { ...who()[role], body, headers: { Prefer: 'return=representation' } });
    assert.equal(r.status, status, `${role} ${op}: ${JSON.stringify(r.body)}`);
    if (status === 401) assert.equal(r.body.code, '42501', `${role} ${op}`);
    check?.(r.body);
  }
});

test('privilege errors: 401 for anon, 403 for a user (42501)', async () => {
  const a = await rest(p, 'GET', '/secrets');
  assert.equal(a.status, 401);
  assert.deepEqual(a.body, { code: '42501', details: null, hint: null, message: 'permission denied for table secrets' });
  const u = await rest(p, 'GET', '/secrets', { token: t1 });
  assert.equal(u.status, 403);
  const s = await rest(p, 'GET', '/secrets', { token: p.serviceKey });
  assert.equal(s.status, 200, 'service_role keeps its grant');
});

test('request context: auth.uid(), auth.jwt() and request.headers reach SQL', async () => {
  const c = await adminClient(p.ref);
  await c.query(`create or replace function public.whoami() returns json language sql stable as $$
    select json_build_object('uid', auth.uid(), 'email', auth.jwt()->>'email', 'role', current_user,
      'method', current_setting('request.method', true), 'path', current_setting('request.path', true),
      'ua', current_setting('request.headers', true)::json->>'x-test') $$;
    grant execute on function public.whoami() to anon, authenticated`);
  await c.end();
  const r = await rest(p, 'GET', '/rpc/whoami', { token: t1, headers: { 'x-test': 'hello' } });
  // the project's own API role, which inherits the cluster-wide `authenticated` (SECURITY.md)
  assert.deepEqual(r.body, { uid: u1, email: 'one@example.com', role: `${p.ref}_authenticated`, method: 'GET', path: '/rpc/whoami', ua: 'hello' });
});

test('JWT errors are 401 with PostgREST codes and WWW-Authenticate', async () => {
  const exp = Math.floor(Date.now() / 1000) - 3600;
  const cases: [string, string, string, string][] = [
    ['expired', signJwt({ role: 'authenticated', exp }, secret), 'PGRST303', 'JWT expired'],
    ['bad signature', signJwt({ role: 'service_role' }, 'not-the-secret-not-the-secret-000'), 'PGRST301', 'No suitable key or wrong key type'],
    ['alg none', `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"role":"service_role"}').toString('base64url')}.`, 'PGRST301', 'Wrong or unsupported encoding algorithm'],
    ['two parts', 'abc.def', 'PGRST301', 'Expected 3 parts in JWT; got 2'],
  ];
  for (const [name, token, code, message] of cases) {
    const r = await rest(p, 'GET', '/books', { token });
    assert.equal(r.status, 401, name);
    assert.equal(r.body.code, code, name);
    assert.equal(r.body.message, message, name);
    assert.match(r.headers.get('www-authenticate')!, /^Bearer error="invalid_token"/);
  }
});

test("another project's keys and user tokens get 401 here, and nothing leaks", async () => {
  const otherSecret = await jwtSecret(other.ref);
  const foreignUser = signJwt({ sub: u1, role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 }, otherSecret);
  for (const [name, opts] of [['anon key', { key: other.anonKey }], ['service key', { key: other.serviceKey, token: other.serviceKey }], ['user token', { token: foreignUser }]] as const) {
    for (const [method, path] of [['GET', '/books'], ['POST', '/rpc/add'], ['DELETE', '/books?id=eq.1']]) {
      const r = await rest(p, method, path, { ...opts, body: method === 'POST' ? { a: 1, b: 1 } : undefined });
      assert.equal(r.status, 401, `${name} ${method} ${path}`);
      assert.equal(r.body.code, 'PGRST301');
    }
  }
  // The other project has no `books`: its own key sees its own (empty) schema.
  const own = await rest(other, 'GET', '/books');
  assert.equal(own.status, 404);
  assert.equal((await rest(p, 'GET', '/books?select=id&id=eq.1')).body.length, 1);
  const db = createClient(p.url, other.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.from('books').select('*');
  assert.equal(data, null);
  assert.equal(error!.code, 'PGRST301');
});
