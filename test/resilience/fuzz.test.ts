// Bounded fuzz of every API: each Management API operation in /v1/openapi.json with hostile path parameters
// and bodies, then the data plane (REST, GraphQL, auth, storage) with hostile values in paths, query strings,
// headers and bodies. Deterministic (seeded), a few thousand requests, bounded in time. Fails on any 5xx, on a
// request the server does not answer, or if the platform stops serving afterwards. (test/rest/fuzz.test.ts
// fuzzes the REST query-string grammar; this file fuzzes the values every API hands on to Postgres.)
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { createProject, http, loam, sql, type Project } from '../helpers/platform.ts';
import { projectSecret } from '../storage/helpers.ts';

// Fixed, so a failure replays; LOAM_FUZZ_SEED explores other runs (and replays theirs).
const SEED = Number(process.env.LOAM_FUZZ_SEED) || 20261129;
const CONCURRENCY = 12;
// A normal run takes 20–45 s on two cores (more on a loaded machine); past the budget the run stops and fails, so a hung server costs at most
// the budget plus one request timeout.
const TIME_BUDGET_MS = 180_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** mulberry32: small, deterministic, good enough to pick from lists. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const r = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** JSON text spliced into a body as is: nesting no JSON.stringify would survive, invalid JSON. */
class Raw {
  readonly text: string;
  constructor(text: string) { this.text = text; }
}
const deepArray = (n: number) => new Raw('['.repeat(n) + ']'.repeat(n));
const deepObject = (n: number) => new Raw('{"a":'.repeat(n) + '1' + '}'.repeat(n));

function ser(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(ser).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${ser(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const STRINGS = [
  '\u0000', 'a\u0000b', "'; drop table items; --", "' or '1'='1", '"', '\\', '%00', '../../../../etc/passwd', '..%2f..%2f',
  'x'.repeat(70_000), '💥'.repeat(2000), '\ud800', 'ü', '', ' ', '1e308', '-1', 'null', 'true', '{"a":1}',
  '<script>alert(1)</script>', '\r\n\r\n', 'NaN', '9'.repeat(400), '$1', '%s%n', '\u202e', 'a'.repeat(300),
];
const NUMBERS = [1e308, -1e308, -1, 0, 2 ** 31, 2 ** 53 + 2, 2 ** 63, 1.5, -0.0001, 5e-324, 123456789012345678901234567890];
const OTHERS: unknown[] = [null, true, false, [], {}, [1, 2], { a: { b: { c: 1 } } }, ['\u0000'], { '\u0000': 1 },
  deepArray(600), deepObject(5000), new Raw('1e999'), new Raw('-1e999'), new Raw('123456789012345678901234567890123456789')];

function hostile(): unknown {
  const x = r();
  return x < 0.5 ? pick(STRINGS) : x < 0.75 ? pick(NUMBERS) : pick(OTHERS);
}

/** Whole bodies that are not what any endpoint wants. */
function hostileBody(): string {
  return pick([
    () => ser(hostile()), () => '{', () => '{"a":', () => '\u0000', () => 'null', () => '[]', () => '"x"', () => '1e309',
    () => deepObject(5000).text, () => deepArray(600).text, () => deepArray(100_000).text,
    () => ser(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]))),
    () => '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
  ])();
}

/** Path segments (already URL-encoded where that matters). */
const PATH_VALUES = [
  '%00', 'a%00b', '..%2f..%2fetc%2fpasswd', '%2e%2e', 'x'.repeat(5000), encodeURIComponent('ü💥'), '1e308', '-1', '0',
  encodeURIComponent("' or 1=1 --"), '%25', '%ZZ', 'null', encodeURIComponent('{"a":1}'), '9'.repeat(40),
  '00000000-0000-0000-0000-000000000000', encodeURIComponent('\\'), '%C0%AF', '%FF%FE',
];

/** A query-string value (URL-encoded). Long strings are cut to stay inside Node's header size. */
function queryValue(): string {
  const v = hostile();
  const s = v instanceof Raw ? v.text : typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
  return encodeURIComponent(s.slice(0, 2000).replace(/\p{Cs}/gu, '\ufffd')); // a lone surrogate cannot be encoded
}

interface Req {
  method: string; path: string; headers?: Record<string, string>; body?: string;
  /** The request is for the project the fuzz pauses and restores: "project is paused" (503) is its due. */
  pausesProject?: boolean;
}

let p: Project;
/** The project whose settings the Management API fuzz changes (rate limits, exposed schemas, auth settings):
 *  another one than `p`, whose data plane is fuzzed with the settings it was made with. */
let target: Project;
let userToken: string;
let userId: string;
let authConfigKeys: string[] = [];
let spec: any;
let secret: string;

before(async () => {
  p = await createProject(undefined, 'fuzz project');
  target = await createProject(p.owner, 'fuzz target');
  await sql(p, `
    create table items (id int primary key, name text, n int, big bigint, price numeric(10,2), j jsonb, tags text[],
      at timestamptz, flag boolean, u uuid);
    insert into items values (1, 'one', 1, 1, 1.5, '{"a":1}', '{a,b}', now(), true, gen_random_uuid());
    grant select, insert, update, delete on items to anon, authenticated, service_role;
    create table canary (id int primary key, v text); insert into canary values (1, 'alive');
    grant select on canary to anon;
    create function fuzz_echo(a int, b text) returns text language sql immutable as $$ select b || a $$;
    insert into storage.buckets (id, name, public) values ('fuzz', 'fuzz', true);
    create policy fuzz_all on storage.objects for all to anon, authenticated using (bucket_id = 'fuzz') with check (bucket_id = 'fuzz');`);
  const svc = { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` };
  const email = 'fuzz-user@example.com';
  const created = await http('POST', `/project/${p.ref}/auth/v1/admin/users`, { headers: svc, body: { email, password: 'a fine password 1', email_confirm: true } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  userId = created.body.id;
  const session = await http('POST', `/project/${p.ref}/auth/v1/token?grant_type=password`, { headers: { apikey: p.anonKey }, body: { email, password: 'a fine password 1' } });
  assert.equal(session.status, 200, JSON.stringify(session.body));
  userToken = session.body.access_token;
  const up = await http('POST', `/project/${p.ref}/storage/v1/object/fuzz/dir/file.txt`, { headers: { ...svc, 'content-type': 'text/plain' }, body: 'hello' });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  authConfigKeys = Object.keys((await http('GET', `/v1/projects/${target.ref}/config/auth`, { token: p.owner.token })).body);
  spec = (await http('GET', '/v1/openapi.json')).body;
  secret = await projectSecret(p);
});

// ---------------------------------------------------------------- Management API, from its OpenAPI document

function resolve(schema: any): any {
  if (!schema) return undefined;
  if (schema.$ref) return resolve(spec.components.schemas[schema.$ref.split('/').pop()]);
  if (schema.allOf) return { type: 'object', properties: Object.assign({}, ...schema.allOf.map((s: any) => resolve(s).properties)) };
  return schema;
}

// Values that make a body otherwise valid, so the hostile one is what the endpoint has to judge. Chosen so that
// no fuzzed request can succeed at something that would end the run's own access: the organization does not
// exist (no project is created), the current password is wrong (the password stays).
function baseValue(name: string, schema: any): unknown {
  const known: Record<string, unknown> = {
    email: `fuzz-${Math.floor(r() * 1e9)}@example.com`, password: 'correct horse battery', new_password: 'another horse battery',
    current_password: 'not the password', name: 'fuzz name', organization_slug: 'no-such-organization',
    organization_id: 'no-such-organization', db_pass: 'pw-fuzz-123456', query: 'select 1', token: 'not-a-token',
  };
  if (name in known) return known[name];
  switch (schema?.type) {
    case 'integer': return 10;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': return {};
    default: return 'x';
  }
}

function managementBody(schema: any, path: string): string {
  const s = resolve(schema);
  const mode = r();
  if (mode < 0.25) return hostileBody();
  let props: Record<string, any> = s?.properties ?? {};
  if (path.endsWith('/config/auth')) props = Object.fromEntries(authConfigKeys.map((k) => [k, {}]));
  const keys = Object.keys(props);
  const body: Record<string, unknown> = {};
  for (const k of keys) if (mode < 0.6 || (s.required ?? []).includes(k)) body[k] = baseValue(k, props[k]);
  if (!keys.length) return ser({ [pick(STRINGS).slice(0, 100)]: hostile() });
  // One, or (a third of the time) every property hostile.
  if (r() < 0.33) for (const k of keys) body[k] = hostile();
  else body[pick(keys)] = hostile();
  return ser(body);
}

// Deleting the target would leave the rest of its operations nothing to judge but 404: fuzzed with hostile refs
// only. Pause, restore and key rotation do run on the target, so its operations may meet it paused (503).
const DESTRUCTIVE = /^delete \/v1\/projects\/\{ref\}$/;

function managementRequests(): Req[] {
  const out: Req[] = [];
  for (const [template, ops] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const params = (op.parameters ?? []).filter((x: any) => x.in === 'path').map((x: any) => x.name as string);
      const body = op.requestBody?.content?.['application/json']?.schema;
      const real: Record<string, string> = { ref: target.ref, slug: p.owner.org, id: '00000000-0000-4000-8000-000000000000' };
      const fill = (values: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, n) => values[n]);
      const withBody = (path: string): Req => ({
        method: method.toUpperCase(), path,
        ...(body || method !== 'get' ? { body: body ? managementBody(body, template) : r() < 0.5 ? hostileBody() : undefined } : {}),
      });
      // Hostile path parameters.
      for (const name of params) {
        for (const v of PATH_VALUES) {
          const path = fill({ ...real, [name]: v });
          // `%2e%2e` is `..` to a URL parser: DELETE …/sites/%2e%2e reaches DELETE /v1/projects/{ref} itself.
          const resolved = new URL(path, 'http://x').pathname.replace(/\/$/, '').replace(target.ref, '{ref}');
          if (DESTRUCTIVE.test(`${method} ${resolved}`)) continue;
          out.push(withBody(path));
        }
      }
      // The real path with hostile bodies and query strings.
      if (DESTRUCTIVE.test(`${method} ${template}`)) continue;
      const n = body ? 40 : 6;
      for (let i = 0; i < n; i++) {
        const req = withBody(fill(real));
        if (!body) req.path += `?${pick(['services', 'limit', 'offset', 'page', 'x'])}=${queryValue()}`;
        out.push(req);
      }
    }
  }
  return out.map((q) => ({
    ...q, pausesProject: q.path.includes(target.ref),
    headers: { authorization: `Bearer ${p.owner.token}`, 'content-type': 'application/json', ...q.headers },
  }));
}

// ---------------------------------------------------------------- REST

const COLUMNS = ['id', 'name', 'n', 'big', 'price', 'j', 'tags', 'at', 'flag', 'u'];
const OPS = ['eq', 'neq', 'gt', 'lt', 'like', 'ilike', 'in', 'is', 'cs', 'cd', 'fts', 'match'];

function keyHeaders(): Record<string, string> {
  const who = pick(['anon', 'service', 'user']);
  const key = who === 'service' ? p.serviceKey : p.anonKey;
  return { apikey: key, authorization: `Bearer ${who === 'user' ? userToken : key}` };
}

function restRequests(n: number): Req[] {
  const base = `/project/${p.ref}/rest/v1`;
  const out: Req[] = [];
  for (let i = 0; i < n; i++) {
    const headers: Record<string, string> = { ...keyHeaders(), 'content-type': 'application/json' };
    const kind = r();
    if (kind < 0.35) {
      const q = [`${pick(COLUMNS)}=${pick(OPS)}.${queryValue()}`];
      if (r() < 0.3) q.push(`${pick(['limit', 'offset'])}=${queryValue()}`);
      if (r() < 0.2) q.push(`order=${pick(COLUMNS)}.${pick(['asc', 'desc', queryValue()])}`);
      if (r() < 0.2) q.push(`select=${pick(['*', 'id,name', 'j->a', 'j->>' + queryValue(), 'id::' + queryValue(), 'count()'])}`);
      if (r() < 0.15) headers.range = pick(['0-99999999999999999999', '-1-5', '1e308-', '5-1']);
      out.push({ method: pick(['GET', 'HEAD', 'DELETE']), path: `${base}/items?${q.join('&')}`, headers });
    } else if (kind < 0.75) {
      const row = () => {
        const o: Record<string, unknown> = { id: 1000 + Math.floor(r() * 1e6) };
        for (const c of COLUMNS) if (r() < 0.3) o[c] = hostile();
        if (Object.keys(o).length === 1) o[pick(COLUMNS)] = hostile();
        return o;
      };
      let body = r() < 0.15 ? hostileBody() : ser(r() < 0.3 ? [row(), row()] : row());
      if (r() < 0.12) {
        // CSV, PostgREST's other body format: a header of (maybe unknown) columns, rows of hostile cells.
        headers['content-type'] = 'text/csv';
        const cols = [pick(COLUMNS), pick([...COLUMNS, 'nope', '"', ''])];
        const cell = () => { const v = hostile(); return v instanceof Raw ? v.text.slice(0, 1000) : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(JSON.stringify(v)); };
        body = `${cols.join(',')}\n${cell()},${cell()}\n${r() < 0.5 ? `${cell()}\n` : ''}`;
      }
      const method = pick(['POST', 'POST', 'PATCH', 'PUT']);
      const path = method === 'POST' ? `${base}/items${r() < 0.3 ? `?on_conflict=${pick(['id', queryValue()])}&columns=${pick(['id,name', queryValue()])}` : ''}`
        : `${base}/items?id=eq.${pick(['1', queryValue()])}`;
      headers.prefer = pick(['return=representation', 'return=minimal', 'resolution=merge-duplicates', 'count=exact', 'missing=default', 'tx=rollback']);
      out.push({ method, path, headers, body });
    } else {
      if (r() < 0.5) {
        out.push({ method: 'POST', path: `${base}/rpc/fuzz_echo`, headers, body: r() < 0.2 ? hostileBody() : ser({ a: hostile(), b: hostile() }) });
      } else {
        out.push({ method: 'GET', path: `${base}/rpc/${pick(['fuzz_echo', PATH_VALUES[Math.floor(r() * PATH_VALUES.length)]])}?a=${queryValue()}&b=${queryValue()}`, headers });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- GraphQL

const GQL = [
  'query($v: Int) { allItems(first: $v) { nodes { rowId name } } }',
  'query($v: Int) { allItems(offset: $v) { totalCount } }',
  'query($v: String) { allItems(condition: { name: $v }) { nodes { rowId } } }',
  'query($v: BigInt) { allItems(condition: { big: $v }) { nodes { rowId } } }',
  'query($v: BigFloat) { allItems(condition: { price: $v }) { nodes { rowId } } }',
  'query($v: Datetime) { allItems(condition: { at: $v }) { nodes { rowId } } }',
  'query($v: UUID) { allItems(condition: { u: $v }) { nodes { rowId } } }',
  'query($v: Cursor) { allItems(after: $v) { nodes { rowId } } }',
  'query($v: ID!) { node(id: $v) { id } }',
  'mutation($v: JSON) { createItem(input: { item: { rowId: 77, j: $v } }) { item { rowId } } }',
  'mutation($v: [String]) { createItem(input: { item: { rowId: 78, tags: $v } }) { item { rowId } } }',
  'mutation($v: String) { fuzzEcho(input: { a: 1, b: $v }) { string } }',
  'mutation($v: Int) { fuzzEcho(input: { a: $v, b: "x" }) { string } }',
];

function graphqlRequests(n: number): Req[] {
  const path = `/project/${p.ref}/graphql/v1`;
  const out: Req[] = [];
  for (let i = 0; i < n; i++) {
    const headers = { ...keyHeaders(), 'content-type': 'application/json' };
    const kind = r();
    if (kind < 0.7) {
      out.push({ method: 'POST', path, headers, body: ser({ query: pick(GQL), variables: { v: hostile() } }) });
    } else if (kind < 0.9) {
      const depth = pick([100, 2000, 10_000]);
      const query = pick([
        () => '{' + 'allItems { nodes { '.repeat(1) + 'a { '.repeat(depth) + '}'.repeat(depth + 2) + ' }',
        () => `{ __typename(x: ${'['.repeat(depth)}${']'.repeat(depth)}) }`,
        () => `query${'($a: [' .repeat(1)}${'['.repeat(depth)}Int${']'.repeat(depth)}]) { __typename }`,
        () => `{ ${'__typename '.repeat(depth)} }`,
        () => pick(STRINGS),
        () => `{ allItems(first: ${pick(['1e308', '99999999999999999999', '-1', '"x"'])}) { nodes { rowId } } }`,
      ])();
      out.push({ method: 'POST', path, headers, body: ser({ query, variables: r() < 0.3 ? hostile() : {} }) });
    } else if (kind < 0.95) {
      out.push({ method: 'POST', path, headers, body: hostileBody() });
    } else {
      out.push({ method: 'GET', path: `${path}?query=${queryValue()}&variables=${queryValue()}`, headers: { ...headers, accept: 'application/json' } });
    }
  }
  return out;
}

// ---------------------------------------------------------------- Auth

interface AuthOp { method: string; path: string; fields: string[]; as: 'anon' | 'user' | 'service' }
const AUTH_OPS: AuthOp[] = [
  { method: 'POST', path: '/signup', fields: ['email', 'password', 'data', 'code_challenge', 'code_challenge_method'], as: 'anon' },
  { method: 'POST', path: '/token?grant_type=password', fields: ['email', 'password'], as: 'anon' },
  { method: 'POST', path: '/token?grant_type=refresh_token', fields: ['refresh_token'], as: 'anon' },
  { method: 'POST', path: '/token?grant_type=pkce', fields: ['auth_code', 'code_verifier'], as: 'anon' },
  { method: 'POST', path: '/otp', fields: ['email', 'create_user', 'data'], as: 'anon' },
  { method: 'POST', path: '/recover', fields: ['email'], as: 'anon' },
  { method: 'POST', path: '/resend', fields: ['type', 'email'], as: 'anon' },
  { method: 'POST', path: '/verify', fields: ['type', 'token', 'email', 'token_hash'], as: 'anon' },
  { method: 'PUT', path: '/user', fields: ['data', 'nonce', 'email'], as: 'user' },
  { method: 'POST', path: '/factors', fields: ['factor_type', 'friendly_name', 'issuer'], as: 'user' },
  { method: 'POST', path: '/factors/{id}/challenge', fields: ['channel'], as: 'user' },
  { method: 'POST', path: '/factors/{id}/verify', fields: ['challenge_id', 'code'], as: 'user' },
  { method: 'DELETE', path: '/factors/{id}', fields: [], as: 'user' },
  { method: 'POST', path: '/admin/users', fields: ['email', 'password', 'email_confirm', 'user_metadata', 'app_metadata', 'role', 'ban_duration', 'id'], as: 'service' },
  { method: 'GET', path: '/admin/users/{id}', fields: [], as: 'service' },
  { method: 'PUT', path: '/admin/users/{id}', fields: ['email', 'user_metadata', 'app_metadata', 'role', 'ban_duration'], as: 'service' },
  { method: 'DELETE', path: '/admin/users/{id}', fields: ['should_soft_delete'], as: 'service' },
  { method: 'GET', path: '/admin/users/{id}/factors', fields: [], as: 'service' },
  { method: 'POST', path: '/admin/generate_link', fields: ['type', 'email', 'password', 'data', 'redirect_to'], as: 'service' },
  { method: 'POST', path: '/invite', fields: ['email', 'data'], as: 'service' },
];

function authRequests(n: number): Req[] {
  const base = `/project/${p.ref}/auth/v1`;
  const out: Req[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (kind < 0.8) {
      const op = pick(AUTH_OPS);
      const key = op.as === 'service' ? p.serviceKey : p.anonKey;
      const headers: Record<string, string> = { apikey: key, authorization: `Bearer ${op.as === 'user' ? userToken : key}`, 'content-type': 'application/json' };
      // The real user's id only where it cannot lock the run's user out (reads).
      const id = op.method === 'GET' && r() < 0.3 ? userId : pick(PATH_VALUES);
      const path = op.path.replace('{id}', id);
      let body: string | undefined;
      if (op.method !== 'GET' && op.method !== 'DELETE' || op.fields.length) {
        const o: Record<string, unknown> = {};
        for (const f of op.fields) o[f] = r() < 0.5 ? hostile() : f === 'email' ? `fuzz${Math.floor(r() * 1e9)}@example.com` : 'x';
        body = r() < 0.15 ? hostileBody() : ser(o);
        // GoTrue takes forms too: the same fields, urlencoded (nested values become strings).
        if (r() < 0.15) {
          headers['content-type'] = 'application/x-www-form-urlencoded';
          body = op.fields.map((f) => `${f}=${queryValue()}`).join('&') + (r() < 0.3 ? `&${queryValue()}[${queryValue()}]=1` : '');
        }
      }
      out.push({ method: op.method, path: base + path, headers, body });
    } else {
      const path = pick([
        () => `/verify?token=${queryValue()}&type=${pick(['signup', 'recovery', 'magiclink', 'invite', queryValue()])}&redirect_to=${queryValue()}`,
        () => `/admin/users?page=${queryValue()}&per_page=${queryValue()}`,
        () => `/admin/users?page=${pick(['99999999999999999999', '4294967296', '2147483648', '0'])}&per_page=${pick(['1', '99999999999999999999'])}`,
        () => `/admin/outbox?email=${queryValue()}`,
        () => `/token?grant_type=${queryValue()}`,
        () => `/${PATH_VALUES[Math.floor(r() * PATH_VALUES.length)]}`,
        () => '/reauthenticate',
      ])();
      const method = path.startsWith('/token') ? 'POST' : 'GET';
      out.push({ method, path: base + path, headers: { ...keyHeaders(), ...(path.startsWith('/admin') ? { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` } : {}), 'content-type': 'application/json' }, body: method === 'POST' ? hostileBody() : undefined });
    }
  }
  return out;
}

// ---------------------------------------------------------------- Storage

function storageRequests(n: number): Req[] {
  const base = `/project/${p.ref}/storage/v1`;
  const out: Req[] = [];
  const seg = () => pick(PATH_VALUES);
  const key = () => pick(['dir/file.txt', `dir/${seg()}`, seg(), `${seg()}/${seg()}`]);
  const bucket = () => (r() < 0.6 ? 'fuzz' : seg());
  for (let i = 0; i < n; i++) {
    const headers: Record<string, string> = { ...keyHeaders(), 'content-type': 'application/json' };
    const obj = (fields: string[]) => (r() < 0.15 ? hostileBody() : ser(Object.fromEntries(fields.map((f) => [f, r() < 0.5 ? hostile() : f === 'prefix' ? '' : 'x']))));
    const x = pick([
      (): Req => ({ method: 'GET', path: `${base}/bucket?limit=${queryValue()}&offset=${queryValue()}&search=${queryValue()}&sortColumn=${queryValue()}&sortOrder=${queryValue()}` }),
      (): Req => ({ method: 'POST', path: `${base}/bucket`, body: obj(['name', 'id', 'public', 'file_size_limit', 'allowed_mime_types']) }),
      (): Req => ({ method: pick(['GET', 'PUT', 'DELETE']), path: `${base}/bucket/${seg()}`, body: obj(['public', 'file_size_limit', 'allowed_mime_types']) }),
      (): Req => ({ method: 'POST', path: `${base}/bucket/${seg()}/empty` }),
      (): Req => ({ method: 'POST', path: `${base}/object/list/${bucket()}`, body: obj(['prefix', 'limit', 'offset', 'search', 'sortBy']) }),
      (): Req => ({ method: 'POST', path: `${base}/object/list/${bucket()}`, body: ser({ prefix: '', limit: pick(NUMBERS), offset: pick(NUMBERS) }) }),
      (): Req => ({ method: 'POST', path: `${base}/object/list-v2/${bucket()}`, body: obj(['prefix', 'limit', 'cursor', 'with_delimiter', 'sortBy']) }),
      (): Req => ({ method: pick(['POST', 'PUT']), path: `${base}/object/${bucket()}/${key()}`, headers: { 'content-type': pick(['text/plain', 'application/json', 'a/b', 'x'.repeat(300)]), 'x-upsert': 'true' }, body: 'fuzz' }),
      // User metadata (base64 JSON in a header) and cache control, as supabase-js sends them.
      (): Req => ({
        method: pick(['POST', 'PUT']), path: `${base}/object/fuzz/meta/${Math.floor(r() * 50)}.txt`, body: 'fuzz',
        headers: {
          'content-type': 'text/plain', 'x-upsert': pick(['true', 'false', queryValue()]), 'cache-control': pick(['max-age=1e308', 'no-cache', queryValue().slice(0, 500)]),
          'x-metadata': Buffer.from(pick([() => ser({ k: hostile() }), () => deepArray(3000).text, () => deepObject(600).text, () => ser(hostile()), () => '{"a":"\\u0000"}'])()).toString('base64').slice(0, 12_000),
        },
      }),
      // A multipart form, as supabase-js uploads from browsers: the file plus hostile fields.
      (): Req => {
        const boundary = 'fuzzboundary';
        const field = (name: string, value: string) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
        const meta = pick([() => ser({ k: hostile() }), () => deepArray(3000).text, () => '{"a":"\\u0000"}', () => ser(hostile())])();
        const body = field('cacheControl', pick(['3600', '1e308', '-1', '\u0000'])) + field(pick(['metadata', 'userMetadata']), meta) +
          (r() < 0.8 ? `--${boundary}\r\ncontent-disposition: form-data; name="${pick(['', 'file', '\u0000'])}"; filename="${pick(['a.txt', '\u0000', '../x'])}"\r\ncontent-type: ${pick(['text/plain', 'x'])}\r\n\r\nfuzz\r\n` : '') +
          `--${boundary}--\r\n`;
        return { method: pick(['POST', 'PUT']), path: `${base}/object/fuzz/form/${Math.floor(r() * 50)}.txt`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-upsert': 'true' }, body };
      },
      (): Req => ({ method: 'GET', path: `${base}/object/${pick(['', 'public/', 'authenticated/', 'info/', 'info/public/'])}${bucket()}/${key()}` }),
      (): Req => ({ method: 'DELETE', path: `${base}/object/${bucket()}`, body: ser({ prefixes: r() < 0.5 ? [hostile()] : hostile() }) }),
      (): Req => ({ method: 'DELETE', path: `${base}/object/${bucket()}/${key()}` }),
      (): Req => ({ method: 'POST', path: `${base}/object/${pick(['move', 'copy'])}`, body: obj(['bucketId', 'sourceKey', 'destinationKey', 'destinationBucket']) }),
      (): Req => ({ method: 'POST', path: `${base}/object/sign/${bucket()}/${key()}`, body: obj(['expiresIn', 'transform']) }),
      (): Req => ({ method: 'POST', path: `${base}/object/sign/${bucket()}`, body: obj(['expiresIn', 'paths']) }),
      (): Req => ({ method: 'GET', path: `${base}/object/sign/${bucket()}/${key()}?token=${queryValue()}` }),
      (): Req => ({ method: 'POST', path: `${base}/object/upload/sign/${bucket()}/${key()}` }),
      (): Req => ({ method: 'PUT', path: `${base}/object/upload/sign/${bucket()}/${key()}?token=${queryValue()}`, headers: { 'content-type': 'text/plain' }, body: 'x' }),
      (): Req => ({ method: 'GET', path: `${base}/render/image/${pick(['public', 'authenticated'])}/${bucket()}/${key()}?width=${queryValue()}&height=${queryValue()}&resize=${queryValue()}&quality=${queryValue()}&format=${queryValue()}` }),
    ])();
    out.push({ ...x, headers: { ...headers, ...x.headers } });
  }
  return out;
}

// ---------------------------------------------------------------- Identity: tokens and keys

/** A token signed with the project's own secret whose claims are hostile, or a token that is not one. */
function hostileToken(): string {
  const x = r();
  if (x < 0.6) {
    const claims: Record<string, unknown> = { role: pick(['anon', 'authenticated', 'service_role']), exp: Math.floor(Date.now() / 1000) + 3600 };
    for (const k of ['role', 'sub', 'exp', 'nbf', 'iat', 'aud', 'email', 'app_metadata', 'user_metadata', 'session_id', 'is_anonymous']) {
      if (r() < 0.3) claims[k] = pick([hostile(), 'postgres', 'loam_storage_admin', 'authenticator', 'pg_read_server_files', 'x'.repeat(200), 'Anon', ''].map((v) => v instanceof Raw ? v.text : v));
    }
    return signJwt(claims as Parameters<typeof signJwt>[0], secret);
  }
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  return pick([
    () => `${b64('{"alg":"none","typ":"JWT"}')}.${b64('{"role":"service_role"}')}.`,
    () => `${b64('{"alg":"HS256"}')}.${b64('not json')}.${b64('sig')}`,
    () => `${b64('[]')}.${b64('[]')}.${b64('')}`,
    () => `${b64(ser(hostile()))}.${b64(ser(hostile()))}.x`,
    () => 'a.b.c', () => '...', () => 'x'.repeat(8000), () => '%00', () => 'Bearer', () => p.anonKey.slice(0, -3) + 'abc',
  ])();
}

function identityRequests(n: number): Req[] {
  const out: Req[] = [];
  for (let i = 0; i < n; i++) {
    const token = hostileToken();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const where = r();
    if (where < 0.5) headers.authorization = `${pick(['Bearer ', 'bearer ', 'Basic ', ''])}${token}`;
    if (where > 0.3) headers.apikey = r() < 0.5 ? token : p.anonKey;
    const req = pick([
      (): Req => ({ method: 'GET', path: `/project/${p.ref}/rest/v1/items?select=id&limit=1` }),
      (): Req => ({ method: 'POST', path: `/project/${p.ref}/rest/v1/rpc/fuzz_echo`, body: '{"a":1,"b":"x"}' }),
      (): Req => ({ method: 'POST', path: `/project/${p.ref}/graphql/v1`, body: '{"query":"{ allItems(first: 1) { nodes { rowId } } }"}' }),
      (): Req => ({ method: 'GET', path: `/project/${p.ref}/auth/v1/user` }),
      (): Req => ({ method: 'PUT', path: `/project/${p.ref}/auth/v1/user`, body: '{"data":{"k":1}}' }),
      (): Req => ({ method: 'POST', path: `/project/${p.ref}/auth/v1/logout` }),
      (): Req => ({ method: 'GET', path: `/project/${p.ref}/auth/v1/admin/users` }),
      (): Req => ({ method: 'POST', path: `/project/${p.ref}/storage/v1/object/list/fuzz`, body: '{"prefix":""}' }),
      (): Req => ({ method: 'GET', path: `/project/${p.ref}/storage/v1/object/authenticated/fuzz/dir/file.txt` }),
      (): Req => ({ method: 'GET', path: `/project/${p.ref}/storage/v1/bucket` }),
      (): Req => ({ method: 'GET', path: '/v1/projects' }),
    ])();
    out.push({ ...req, headers });
  }
  return out;
}

// ---------------------------------------------------------------- the run

test('hostile requests to every API: no 5xx, and the server keeps answering', { timeout: TIME_BUDGET_MS + 60_000 }, async () => {
  const started = Date.now();
  const requests = [
    ...managementRequests(),
    ...restRequests(700),
    ...graphqlRequests(450),
    ...authRequests(600),
    ...storageRequests(700),
    ...identityRequests(400),
  ];
  const { url } = await loam();
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let sent = 0;
  let pausedAnswers = 0;
  const one = async (q: Req) => {
    sent++;
    let status: number;
    let text = '';
    try {
      const res = await fetch(url + q.path, { method: q.method, headers: q.headers, body: q.method === 'GET' || q.method === 'HEAD' ? undefined : q.body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      status = 599; // no answer: the server dropped or never answered the request
      text = String((err as Error).cause ?? err);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const paused = status === 503 && q.pausesProject && /"code":"project_(unavailable|paused)"/.test(text);
    if (paused) pausedAnswers++;
    // What this server cannot do, said as such (backups without pg_dump of its major version, point-in-time
    // restore: 501 with the reason, test/management/backups.test.ts) is an answer, not a failure.
    const refused = status === 501 && /"code":"(backup_tools_missing|pitr_not_supported|pitr_tools_missing)"/.test(text);
    if (status >= 500 && !paused && !refused) {
      failures.push(`${q.method} ${q.path.slice(0, 200)} ${JSON.stringify(q.headers ?? {}).slice(0, 200)} body=${(q.body ?? '').slice(0, 200)} → ${status} ${text.slice(0, 300)}`);
    }
  };
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < requests.length && Date.now() - started < TIME_BUDGET_MS) await one(requests[next++]);
  }));
  console.log(`fuzz (seed ${SEED}): ${sent} requests in ${Date.now() - started} ms; ${failures.length} answered 5xx or not at all, ` +
    `besides ${pausedAnswers} "project is paused" (503) for the project the fuzz paused; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  for (const f of failures) console.log(`fuzz failure: ${f}`);
  assert.deepEqual(failures.slice(0, 15), [], `${failures.length} requests got a 5xx or no answer`);
  assert.equal(sent, requests.length, `the fuzz ran out of its ${TIME_BUDGET_MS} ms budget after ${sent} of ${requests.length} requests`);
  assert.ok(sent >= 2500, `a few thousand requests (${sent})`);

  // Still serving, for the fuzzed project and everyone else.
  assert.equal((await http('GET', '/health')).status, 200);
  assert.equal((await http('GET', `/v1/projects/${target.ref}`, { token: p.owner.token })).status, 200);
  const rows = await http('GET', `/project/${p.ref}/rest/v1/canary`, { headers: { apikey: p.anonKey } });
  assert.equal(rows.status, 200);
  assert.deepEqual(rows.body, [{ id: 1, v: 'alive' }]);
});
