// "No apikey, no access" and JWT validation, tried as an attacker would: key-less requests to every API under
// both addressing schemes, the routes Supabase leaves open, `?apikey=`, and tokens signed with the project's own
// secret whose claims are wrong (string exp, future nbf/iat, odd aud, roles the data plane does not serve),
// each refused with the status, code and message of the API asked. (Imports are dynamic so the project domain
// is set before config loads.)
import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import { before, describe, test } from 'node:test';

process.env.LOAM_PROJECT_DOMAIN = 'keys.test';
const { createProject, loam, sql } = await import('../helpers/platform.ts');
const { signJwt, validateClaims, JwtError } = await import('../../server/src/project/jwt.ts');
const { jwtSecret } = await import('../graphql/helpers.ts');
const { client } = await import('../storage/helpers.ts');
type Project = Awaited<ReturnType<typeof createProject>>;

const NO_KEY = { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' };

interface Res { status: number; body: any; headers: nodeHttp.IncomingHttpHeaders }

/** A raw request (node:http sends the path and Host exactly as given; fetch would not let us set Host). */
async function raw(method: string, path: string, opts: { host?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  const port = new URL((await loam()).url).port;
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request({
      host: '127.0.0.1', port, method, path,
      headers: { ...(opts.host ? { host: opts.host } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let body: any = text;
        try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

let p: Project;
let other: Project;
let secret: string;
const now = () => Math.floor(Date.now() / 1000);
const token = (claims: Record<string, unknown>) => signJwt(claims as any, secret);

before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  secret = await jwtSecret(p);
  await sql(p, `
    create table items (id int primary key, apikey text);
    insert into items values (1, 'a'), (2, 'b');
    grant select on items to anon, authenticated;
    create table vault (id int primary key);
    insert into vault values (7);
    revoke all on vault from anon, authenticated;
    grant select on vault to service_role;
    insert into storage.buckets (id, name, public) values ('pub', 'pub', true), ('priv', 'priv', false);`);
  const s = client(p).storage;
  assert.equal((await s.from('pub').upload('hello.txt', Buffer.from('public hello'), { contentType: 'text/plain' })).error, null);
  assert.equal((await s.from('priv').upload('secret.txt', Buffer.from('private'), { contentType: 'text/plain' })).error, null);
});

// Every data-plane API, for the two addressing schemes: [method, path relative to the project, body].
const GUARDED: [string, string, string?][] = [
  ['GET', '/rest/v1/'],
  ['GET', '/rest/v1/items?select=id'],
  ['HEAD', '/rest/v1/items'],
  ['POST', '/rest/v1/items', '{"id":3}'],
  ['POST', '/rest/v1/rpc/anything', '{}'],
  ['POST', '/graphql/v1', '{"query":"{ __typename }"}'],
  ['POST', '/graphql/v1/', '{"query":"{ __typename }"}'],
  ['GET', '/graphql/v1?query=%7B__typename%7D'],
  ['POST', '/auth/v1/signup', '{"email":"a@example.com","password":"a fine password 1"}'],
  ['POST', '/auth/v1/token?grant_type=password', '{"email":"a@example.com","password":"x"}'],
  ['GET', '/auth/v1/user'],
  ['GET', '/auth/v1/admin/users'],
  ['GET', '/auth/v1/verifyx'],
  // Dot segments never open a path: a handler that normalised this one would reach the GraphQL endpoint itself.
  ['GET', '/graphql/v1/ruru-static/..?query=%7B__typename%7D'],
  ['GET', '/graphql/v1/ruru-static/%2e%2e?query=%7B__typename%7D'],
];

// Storage authenticates itself, as Supabase's gateway leaves it to storage-api: without any credential these get
// storage-api's 400 (or, for the plain object route, a public bucket's object as anon) — never a private object.
const STORAGE_WITHOUT_KEY: [method: string, path: string, body?: string][] = [
  ['GET', '/storage/v1/bucket'],
  ['POST', '/storage/v1/object/list/pub', '{"prefix":""}'],
  ['GET', '/storage/v1/object/authenticated/priv/secret.txt'],
  ['POST', '/storage/v1/object/public/hello.txt', 'x'],
  ['POST', '/storage/v1/object/sign/priv/secret.txt', '{"expiresIn":60}'],
  ['POST', '/storage/v1/object/upload/sign/priv/new.txt', ''],
  ['GET', '/storage/v1/render/image/authenticated/priv/secret.txt'],
  ['POST', '/storage/v1/upload/resumable'],
];

describe('no apikey, no access', () => {
  test('every API answers a request without apikey or Authorization with the gateway 401, by path and by host', async () => {
    for (const [method, path, body] of GUARDED) {
      for (const [how, url, host] of [['path', `/project/${p.ref}${path}`, undefined], ['host', path, `${p.ref}.keys.test`]] as const) {
        const r = await raw(method, url, { host, body });
        const name = `${method} ${path} by ${how}`;
        assert.equal(r.status, 401, name);
        if (method !== 'HEAD') assert.deepEqual(r.body, NO_KEY, name);
        assert.equal(r.headers['access-control-allow-origin'], '*', name);
      }
    }
  });

  test('storage answers a request without any credential itself, as storage-api does, and serves nothing private', async () => {
    const missing = { statusCode: '400', code: 'InvalidRequest', error: 'Error', message: "headers must have required property 'authorization'" };
    for (const [method, path, body] of STORAGE_WITHOUT_KEY) {
      for (const [how, url, host] of [['path', `/project/${p.ref}${path}`, undefined], ['host', path, `${p.ref}.keys.test`]] as const) {
        const r = await raw(method, url, { host, body });
        assert.deepEqual([r.status, r.body], [400, missing], `${method} ${path} by ${how}`);
      }
    }
    const base = `/project/${p.ref}/storage/v1`;
    for (const path of ['/object/priv/secret.txt', '/object/PUBLIC/priv/secret.txt', '/object/public/../priv/secret.txt', '/object/public/priv/secret.txt']) {
      const r = await raw('GET', `${base}${path}`);
      assert.equal(r.status, 400, path);
      assert.ok(['Bucket not found', 'Bucket name invalid'].includes(r.body.message), `${path}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await raw('GET', `${base}/object/pub/hello.txt`)).body, 'public hello');
  });

  test('an empty apikey, an empty ?apikey=, a non-Bearer Authorization and a project that does not exist are refused the same way', async () => {
    for (const [path, headers] of [
      [`/project/${p.ref}/rest/v1/items`, { apikey: '' }],
      [`/project/${p.ref}/rest/v1/items`, { authorization: 'Basic YW5vbjphbm9u' }],
      [`/project/${p.ref}/rest/v1/items?apikey=`, {}],
      [`/project/${p.ref}/graphql/v1?apikey=`, {}],
      ['/project/zzzzzzzzzzzzzzzzzzzz/rest/v1/items', {}],
    ] as const) {
      const r = await raw(path.includes('graphql') ? 'POST' : 'GET', path, { headers, body: path.includes('graphql') ? '{"query":"{ __typename }"}' : undefined });
      assert.equal(r.status, 401, path);
      assert.deepEqual(r.body, NO_KEY, path);
    }
  });

  test('what Supabase serves without a key is served without one', async () => {
    const base = `/project/${p.ref}`;
    const health = await raw('GET', `${base}/auth/v1/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body.name, 'GoTrue');
    const settings = await raw('GET', `${base}/auth/v1/settings`);
    assert.equal(settings.status, 200);
    assert.equal(typeof settings.body.disable_signup, 'boolean');
    assert.deepEqual((await raw('GET', `${base}/auth/v1/.well-known/jwks.json`)).body, { keys: [] });
    // An email link: GoTrue's own answer (a redirect carrying the error), not the gateway's.
    const verify = await raw('GET', `${base}/auth/v1/verify?type=signup&token=nope`);
    assert.equal(verify.status, 303);
    assert.match(String(verify.headers.location), /error_code=/);
    // Preflights are the gateway's CORS answer, before any key check.
    const pre = await raw('OPTIONS', `${base}/rest/v1/items`, { headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.ok(pre.status < 300, `preflight ${pre.status}`);
    // Public objects, their info, and public renders: served (or refused by storage itself, never by the gateway).
    const obj = await raw('GET', `${base}/storage/v1/object/public/pub/hello.txt`, { host: undefined });
    assert.equal(obj.status, 200);
    assert.equal(obj.body, 'public hello');
    assert.equal((await raw('GET', `/storage/v1/object/public/pub/hello.txt`, { host: `${p.ref}.keys.test` })).body, 'public hello');
    assert.equal((await raw('GET', `${base}/storage/v1/object/info/public/pub/hello.txt`)).status, 200);
    const render = await raw('GET', `${base}/storage/v1/render/image/public/priv/secret.txt?width=10`);
    assert.equal(render.body.message, 'Bucket not found');
    // GraphiQL's scripts, which a browser fetches without headers.
    const asset = await raw('GET', `${base}/graphql/v1/ruru-static/ruru.js`);
    assert.equal(asset.status, 200);
    // Signed URLs: the token is the credential.
    const signed = await client(p).storage.from('priv').createSignedUrl('secret.txt', 60);
    const url = new URL(signed.data!.signedUrl);
    const dl = await raw('GET', url.pathname + url.search);
    assert.equal(dl.status, 200);
    assert.equal(dl.body, 'private');
    const up = await client(p).storage.from('priv').createSignedUploadUrl('dropped.txt');
    const put = await raw('PUT', `${base}/storage/v1/object/upload/sign/priv/dropped.txt?token=${up.data!.token}`, { headers: { 'content-type': 'text/plain' }, body: 'dropped' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(await (await client(p).storage.from('priv').download('dropped.txt')).data!.text(), 'dropped');
  });

  test('?apikey= is a key: it decides the role, and is not read as a filter', async () => {
    const anon = await raw('GET', `/project/${p.ref}/rest/v1/items?select=id&order=id&apikey=${p.anonKey}`);
    assert.equal(anon.status, 200);
    assert.deepEqual(anon.body, [{ id: 1 }, { id: 2 }]);
    const service = await raw('GET', `/project/${p.ref}/rest/v1/vault?apikey=${p.serviceKey}`);
    assert.deepEqual(service.body, [{ id: 7 }]);
    assert.equal((await raw('GET', `/project/${p.ref}/rest/v1/vault?apikey=${p.anonKey}`)).status, 401);
    // With a key in a header, `apikey` in the query is the caller's own business (here: a filter on a column).
    const filtered = await raw('GET', `/project/${p.ref}/rest/v1/items?select=id&apikey=eq.b`, { headers: { apikey: p.anonKey } });
    assert.deepEqual(filtered.body, [{ id: 2 }]);
    const gql = await raw('POST', `/project/${p.ref}/graphql/v1?apikey=${p.anonKey}`, { body: '{"query":"{ __typename }"}' });
    assert.equal(gql.status, 200);
    assert.deepEqual(gql.body.data, { __typename: 'Query' });
    // A foreign key in the query is checked like one in the header.
    const foreign = await raw('POST', `/project/${p.ref}/auth/v1/signup?apikey=${other.anonKey}`, { body: '{"email":"x@example.com","password":"a fine password 1"}' });
    assert.equal(foreign.status, 401);
    assert.equal(foreign.body.message, 'Invalid API key');
  });
});

// Each bad claim, with what each API says about it. Tokens are signed with the project's own secret: only the
// claims are wrong. [name, claims, PostgREST code + message, GoTrue's text after its prefix, storage (jose) message]
const BAD: [string, () => Record<string, unknown>, string, string, string, string][] = [
  ['string exp', () => ({ role: 'authenticated', exp: String(now() + 3600) }), 'PGRST303', "The JWT 'exp' claim must be a number",
    "token is malformed: could not JSON decode claim: 'exp' must be a number", '"exp" claim must be a number'],
  ['string nbf', () => ({ role: 'authenticated', nbf: 'yesterday' }), 'PGRST303', "The JWT 'nbf' claim must be a number",
    "token is malformed: could not JSON decode claim: 'nbf' must be a number", '"nbf" claim must be a number'],
  ['string iat', () => ({ role: 'authenticated', iat: '0' }), 'PGRST303', "The JWT 'iat' claim must be a number",
    "token is malformed: could not JSON decode claim: 'iat' must be a number", '"iat" claim must be a number'],
  ['expired', () => ({ role: 'authenticated', exp: now() - 60 }), 'PGRST303', 'JWT expired',
    'token has invalid claims: token is expired', '"exp" claim timestamp check failed'],
  ['nbf in the future', () => ({ role: 'authenticated', nbf: now() + 120 }), 'PGRST303', 'JWT not yet valid',
    'token has invalid claims: token is not valid yet', '"nbf" claim timestamp check failed'],
  ['iat in the future', () => ({ role: 'authenticated', iat: now() + 120 }), 'PGRST303', 'JWT issued at future',
    'token has invalid claims: token used before issued', '"iat" claim timestamp check failed (it should be in the past)'],
  ['aud a number', () => ({ role: 'authenticated', aud: 5 }), 'PGRST303', "The JWT 'aud' claim must be a string or an array of strings",
    'token is malformed: could not JSON decode claim: invalid type for claim', 'unexpected "aud" claim value'],
  ['role postgres', () => ({ role: 'postgres' }), '22023', 'role "postgres" does not exist',
    'token has invalid claims: role "postgres" does not exist', 'role "postgres" does not exist'],
  // OTHER: the other project's ref, known once it exists.
  ["role: another project's owner", () => ({ role: other.ref }), '22023', 'role "OTHER" does not exist',
    'token has invalid claims: role "OTHER" does not exist', 'role "OTHER" does not exist'],
  ['role a number', () => ({ role: 5 }), '22023', 'role "5" does not exist',
    'token has invalid claims: role "5" does not exist', 'role "5" does not exist'],
];

describe('JWT validation', () => {
  for (const [name, claims, code, ...texts] of BAD) {
    test(`${name}: refused by REST, GraphQL, auth and storage in their own words`, async () => {
      const [message, gotrue, jose] = texts.map((s) => s.replaceAll('OTHER', other.ref));
      const t = token(claims());
      const headers = { apikey: p.anonKey, authorization: `Bearer ${t}` };
      const r = await raw('GET', `/project/${p.ref}/rest/v1/items`, { headers });
      assert.equal(r.status, 401);
      assert.deepEqual(r.body, { code, message, details: null, hint: null });
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
      for (const method of ['POST', 'GET']) { // POST takes the plain-Node path (graphql/raw.ts), GET Express'
        const g = method === 'POST'
          ? await raw('POST', `/project/${p.ref}/graphql/v1`, { headers, body: '{"query":"{ __typename }"}' })
          : await raw('GET', `/project/${p.ref}/graphql/v1?query=%7B__typename%7D`, { headers: { ...headers, accept: 'application/json' } });
        const path = method;
        assert.equal(g.status, 401, path);
        assert.equal(g.body.errors[0].message, message, path);
        assert.equal(g.body.errors[0].extensions.code, 'UNAUTHENTICATED', path);
      }
      const a = await raw('GET', `/project/${p.ref}/auth/v1/user`, { headers: { ...headers, 'x-supabase-api-version': '2024-01-01' } });
      assert.equal(a.status, 403);
      assert.deepEqual(a.body, { code: 'bad_jwt', message: `invalid JWT: unable to parse or verify signature, ${gotrue}` });
      const s = await raw('GET', `/project/${p.ref}/storage/v1/bucket`, { headers });
      assert.deepEqual({ status: s.status, ...s.body }, { status: 400, statusCode: '403', code: 'AccessDenied', error: 'Unauthorized', message: jose });
    });
  }

  test('a token whose claims are JSON but not an object, and an empty Bearer', async () => {
    const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
    const payload = Buffer.from('[1,2]').toString('base64url');
    const { createHmac } = await import('node:crypto');
    const arr = `${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`;
    const r = await raw('GET', `/project/${p.ref}/rest/v1/items`, { headers: { apikey: p.anonKey, authorization: `Bearer ${arr}` } });
    assert.deepEqual([r.status, r.body.code, r.body.message], [401, 'PGRST303', 'Parsing claims failed']);
    // `Bearer` and nothing else is an empty token, not a silent fall-back to the apikey's role.
    const empty = await raw('GET', `/project/${p.ref}/rest/v1/vault`, { headers: { apikey: p.serviceKey, authorization: 'Bearer ' } });
    assert.deepEqual([empty.status, empty.body.code, empty.body.message], [401, 'PGRST301', 'Empty JWT is sent in Authorization header']);
  });

  test('claims within the 30 s clock skew, a null exp and no role are accepted', async () => {
    for (const claims of [
      { role: 'authenticated', iat: now() + 10, nbf: now() + 10, exp: now() - 10 },
      { role: 'authenticated', exp: null },
      { sub: 'x' },
      { role: 'authenticated', aud: ['authenticated', 'other'] },
    ]) {
      const r = await raw('GET', `/project/${p.ref}/rest/v1/items?select=id&order=id`, { headers: { apikey: p.anonKey, authorization: `Bearer ${token(claims)}` } });
      assert.equal(r.status, 200, JSON.stringify(claims));
      assert.deepEqual(r.body, [{ id: 1 }, { id: 2 }]);
    }
  });

  test('a verified token kept in the cache still expires on time', async () => {
    // Valid now only thanks to the skew; 2 s later it is past it.
    const t = token({ role: 'authenticated', exp: now() - 29 });
    const headers = { apikey: p.anonKey, authorization: `Bearer ${t}` };
    assert.equal((await raw('GET', `/project/${p.ref}/rest/v1/items`, { headers })).status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    const r = await raw('GET', `/project/${p.ref}/rest/v1/items`, { headers });
    assert.deepEqual([r.status, r.body.message], [401, 'JWT expired']);
  });

  test('a signed URL whose token has a string exp is refused, not served forever', async () => {
    const t = token({ url: 'priv/secret.txt', exp: String(now() + 3600) });
    const r = await raw('GET', `/project/${p.ref}/storage/v1/object/sign/priv/secret.txt?token=${t}`);
    assert.deepEqual({ status: r.status, ...r.body }, { status: 400, statusCode: '400', code: 'InvalidJWT', error: 'InvalidJWT', message: '"exp" claim must be a number' });
  });

  test('a configured audience must be in aud (validateClaims)', () => {
    const reason = (claims: Record<string, unknown>) => {
      try { validateClaims(claims, { audience: 'loam' }); return 'ok'; } catch (e) { return e instanceof JwtError ? e.message : String(e); }
    };
    assert.equal(reason({ aud: 'loam' }), 'ok');
    assert.equal(reason({ aud: ['x', 'loam'] }), 'ok');
    assert.equal(reason({ aud: [] }), 'ok');
    assert.equal(reason({}), 'ok');
    assert.equal(reason({ aud: 'other' }), 'JWT not in audience');
    assert.equal(reason({ aud: ['x', 1] }), "The JWT 'aud' claim must be a string or an array of strings");
  });
});
