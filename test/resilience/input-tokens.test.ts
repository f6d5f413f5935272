// Hostile claims in a token signed with the project's own secret: a role with a NUL byte or characters no HTTP
// header may carry. The JWT error quotes the role, and its WWW-Authenticate header must still be a valid
// header: a 401 in each API's shape, never a 500.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { createProject, http, type Project } from '../helpers/platform.ts';
import { projectSecret } from '../storage/helpers.ts';

let p: Project;
let secret: string;
before(async () => {
  p = await createProject();
  secret = await projectSecret(p);
});

const ROLES = ['a\u0000b', '💥', 'ü\r\n'];
const token = (role: string) => signJwt({ role, exp: Math.floor(Date.now() / 1000) + 600 }, secret);

test('REST: a hostile role claim is PGRST-shaped 401 with a clean WWW-Authenticate header', async () => {
  for (const role of ROLES) {
    const res = await http('GET', `/project/${p.ref}/rest/v1/`, { headers: { apikey: p.anonKey, authorization: `Bearer ${token(role)}` } });
    assert.equal(res.status, 401, JSON.stringify(role));
    // A role the project does not allow reads as PostgREST's unknown role (22023); the header stays visible ASCII.
    assert.equal(res.body.code, '22023');
    assert.equal(typeof res.body.message, 'string');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer( error="invalid_token", error_description="[\x20-\x7e]*")?$/);
  }
});

test('GraphQL: a hostile role claim is a 401 UNAUTHENTICATED with a clean WWW-Authenticate header', async () => {
  for (const role of ROLES) {
    const res = await http('POST', `/project/${p.ref}/graphql/v1`, {
      body: { query: '{ __typename }' }, headers: { apikey: p.anonKey, authorization: `Bearer ${token(role)}` },
    });
    assert.equal(res.status, 401, JSON.stringify(role));
    assert.equal(res.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token", error_description="[\x20-\x7e]*"$/);
  }
});
