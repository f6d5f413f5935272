// Organization roles (Owner, Administrator, Developer, Read-only) enforced by the Management API itself: a
// Read-only member is refused every mutating operation the OpenAPI document lists (403 insufficient_role) while
// reading everything; a Developer works on content but changes no setting; an Administrator does all but manage
// Owners; the last Owner stays; nobody outside the organization sees it.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { http, joinOrganization as join, organizationTeam, signup, type Account, type Project } from '../helpers/platform.ts';

let owner: Account, admin: Account, dev: Account, ro: Account, stranger: Account, project: Project;
const refused = (res: { status: number; body: any }, what: string) => {
  assert.equal(res.status, 403, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.code, 'insufficient_role', what);
};

before(async () => {
  ({ owner, admin, dev, ro, stranger, project } = await organizationTeam());
});

test('members are listed with Supabase\'s role names', async () => {
  const res = await http('GET', `/v1/organizations/${owner.org}/members`, { token: ro.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const roles = Object.fromEntries(res.body.map((m: { email: string; role_name: string }) => [m.email, m.role_name]));
  assert.deepEqual(roles, { [owner.email]: 'Owner', [admin.email]: 'Administrator', [dev.email]: 'Developer', [ro.email]: 'Read-only' });
  for (const m of res.body) assert.deepEqual(Object.keys(m).sort(), ['email', 'mfa_enabled', 'role_name', 'user_id', 'user_name']);
});

// Read-only POSTs: they read (a read-only query, network bans), or call /v1 again with the caller's token (MCP).
const READS = new Set(['post /v1/projects/{ref}/database/query/read-only', 'post /v1/projects/{ref}/network-bans/retrieve',
  'post /v1/projects/{ref}/network-bans/retrieve/enriched', 'post /v1/projects/{ref}/mcp']);

test('a Read-only member is refused every mutating operation of the OpenAPI document, and nothing changes', async () => {
  const spec = (await http('GET', '/v1/openapi.json')).body;
  const tried: string[] = [];
  for (const [path, ops] of Object.entries<Record<string, { security?: unknown[] }>>(spec.paths)) {
    if (!path.startsWith('/v1/projects/{ref}') && !path.startsWith('/v1/organizations/{slug}')) continue;
    for (const method of ['post', 'put', 'patch', 'delete']) {
      const op = ops[method];
      if (!op || (Array.isArray(op.security) && op.security.length === 0) || READS.has(`${method} ${path}`)) continue;
      const url = path.replace('{ref}', project.ref).replace('{slug}', owner.org).replace('{user_id}', owner.user.id)
        .replace('{function_slug}', 'hello').replace('{name}', 'rest').replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await http(method.toUpperCase(), `${url}${method === 'put' && url.endsWith('/legacy') ? '?enabled=false' : ''}`,
        { token: ro.token, body: { name: 'x', query: 'drop table if exists nothing', role_name: 'Owner', email: 'x@example.com' } });
      refused(res, `${method.toUpperCase()} ${path}`);
      tried.push(`${method} ${path}`);
    }
  }
  assert.ok(tried.length >= 50, `only ${tried.length} mutating operations found`);
  // Creating a project names the organization in the body.
  refused(await http('POST', '/v1/projects', { token: ro.token, body: { name: 'nope', organization_slug: owner.org, db_pass: 'long enough pass' } }), 'POST /v1/projects');
  // Express routes ignore case and decode parameters: the guard reads the path the same way.
  const encodedRef = project.ref.split('').map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  for (const path of [`/v1/PROJECTS/${project.ref}/database/query`, `/v1/projects/${encodedRef}/database/query`, `/v1/projects/${project.ref}/Database/Query/`]) {
    refused(await http('POST', path, { token: ro.token, body: { query: 'create table sneaky_path (x int)' } }), path);
  }
  // The SQL endpoint: a write refused, even disguised as a multi-statement read.
  refused(await http('POST', `/v1/projects/${project.ref}/database/query`, { token: ro.token, body: { query: 'select 1; create table t(x int)' } }), 'SQL write');
  const after = await http('GET', `/v1/projects/${project.ref}`, { token: owner.token });
  assert.equal(after.body.status, 'ACTIVE_HEALTHY');
  assert.equal(after.body.name, 'test project');
});

test('a Read-only member reads: the project, read-only SQL, keys without the secret ones, settings without secrets', async () => {
  const t = ro.token, base = `/v1/projects/${project.ref}`;
  assert.equal((await http('GET', base, { token: t })).status, 200);
  const q = await http('POST', `${base}/database/query`, { token: t, body: { query: 'select 1 as x', read_only: true } });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  assert.deepEqual(q.body, [{ x: 1 }]);
  // read_only really is a read-only transaction.
  const sneaky = await http('POST', `${base}/database/query`, { token: t, body: { query: 'create table sneaky (x int)', read_only: true } });
  assert.equal(sneaky.status, 400, JSON.stringify(sneaky.body));
  assert.equal((await http('POST', `${base}/database/query/read-only`, { token: t, body: { query: 'select 2 as y' } })).status, 201);

  const keys = await http('GET', `${base}/api-keys`, { token: t });
  assert.equal(keys.status, 200);
  assert.equal(keys.body.find((k: { name: string }) => k.name === 'anon').api_key, project.anonKey);
  assert.equal(keys.body.find((k: { name: string }) => k.name === 'service_role').api_key, null);
  refused(await http('GET', `${base}/api-keys?reveal=true`, { token: t }), 'reveal');
  refused(await http('GET', `${base}/api-keys/service_role`, { token: t }), 'service_role key');

  const set = await http('PATCH', `${base}/config/auth`, { token: owner.token, body: { external_google_client_id: 'gh-id', external_google_secret: 'gh-secret' } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  const auth = await http('GET', `${base}/config/auth`, { token: t });
  assert.equal(auth.status, 200);
  assert.equal(auth.body.external_google_client_id, 'gh-id');
  assert.equal(auth.body.external_google_secret, null);
  assert.equal((await http('GET', `${base}/config/auth`, { token: dev.token })).body.external_google_secret, 'gh-secret');

  const creds = await http('GET', `${base}/database/credentials`, { token: t });
  assert.equal(creds.status, 200);
  assert.equal(creds.body.user, project.ref);
  assert.equal('password' in creds.body, false);
  refused(await http('POST', `${base}/database/credentials/reveal`, { token: t }), 'credentials reveal');
  assert.equal((await http('GET', `/v1/organizations/${owner.org}/members/invitations`, { token: t })).status, 200);
});

test('a Developer works on content but changes no setting, manages no project and no member', async () => {
  const t = dev.token, base = `/v1/projects/${project.ref}`;
  const q = await http('POST', `${base}/database/query`, { token: t, body: { query: 'create table dev_table (id int primary key)' } });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  const keys = await http('GET', `${base}/api-keys`, { token: t });
  assert.equal(keys.body.find((k: { name: string }) => k.name === 'service_role').api_key, project.serviceKey);
  refused(await http('PATCH', `${base}/config/auth`, { token: t, body: { site_url: 'https://example.com' } }), 'auth settings');
  refused(await http('PATCH', `${base}/postgrest`, { token: t, body: { max_rows: 10 } }), 'API settings');
  refused(await http('POST', `${base}/api-keys`, { token: t, body: { type: 'secret', name: 'dev_key' } }), 'create key');
  refused(await http('POST', `${base}/secrets`, { token: t, body: [{ name: 'A', value: 'b' }] }), 'secrets');
  refused(await http('DELETE', base, { token: t }), 'delete project');
  refused(await http('POST', `${base}/pause`, { token: t }), 'pause project');
  refused(await http('POST', `${base}/database/credentials/reveal`, { token: t }), 'credentials');
  refused(await http('POST', `/v1/organizations/${owner.org}/members/invitations`, { token: t, body: { email: 'n@example.com', role_name: 'Developer' } }), 'invite');
  refused(await http('PATCH', `/v1/organizations/${owner.org}/members/${ro.user.id}`, { token: t, body: { role_name: 'Developer' } }), 'change role');
  refused(await http('POST', '/v1/projects', { token: t, body: { name: 'nope', organization_slug: owner.org, db_pass: 'long enough pass' } }), 'create project');
});

test('an Administrator changes settings and members, but not Owners', async () => {
  const t = admin.token, base = `/v1/projects/${project.ref}`;
  const pg = await http('PATCH', `${base}/postgrest`, { token: t, body: { max_rows: 500 } });
  assert.equal(pg.status, 200, JSON.stringify(pg.body));
  const renamed = await http('PATCH', base, { token: t, body: { name: 'renamed by admin' } });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assert.equal((await http('PATCH', base, { token: owner.token, body: { name: 'test project' } })).status, 200);
  refused(await http('POST', `/v1/organizations/${owner.org}/members/invitations`, { token: t, body: { email: 'o@example.com', role_name: 'Owner' } }), 'invite an Owner');
  refused(await http('PATCH', `/v1/organizations/${owner.org}/members/${owner.user.id}`, { token: t, body: { role_name: 'Developer' } }), 'demote the Owner');
  refused(await http('DELETE', `/v1/organizations/${owner.org}/members/${owner.user.id}`, { token: t }), 'remove the Owner');
  refused(await http('PATCH', `/v1/organizations/${owner.org}/members/${admin.user.id}`, { token: t, body: { role_name: 'Owner' } }), 'promote self');

  const extra = await signup();
  await join(admin, extra, 'Developer', owner.org);
  const changed = await http('PATCH', `/v1/organizations/${owner.org}/members/${extra.user.id}`, { token: t, body: { role_name: 'Read-only' } });
  assert.equal(changed.status, 200);
  assert.deepEqual(changed.body, { user_id: extra.user.id, user_name: extra.email, email: extra.email, role_name: 'Read-only', mfa_enabled: false });
  refused(await http('PATCH', `${base}/postgrest`, { token: extra.token, body: { max_rows: 5 } }), 'demoted member');
  const removed = await http('DELETE', `/v1/organizations/${owner.org}/members/${extra.user.id}`, { token: t });
  assert.equal(removed.status, 200);
  assert.equal(removed.body.role_name, 'Read-only');
  assert.equal((await http('GET', base, { token: extra.token })).status, 404);

  const audit = await http('GET', `/v1/organizations/${owner.org}/audit`, { token: t });
  assert.equal(audit.status, 200);
  for (const a of ['invitation.created', 'invitation.accepted', 'member.role_changed', 'member.removed']) {
    assert.ok(audit.body.some((r: { action: string }) => r.action === a), a);
  }
  const change = audit.body.find((r: { action: string }) => r.action === 'member.role_changed');
  assert.deepEqual([change.user_id, change.email], [admin.user.id, admin.email]);
  refused(await http('GET', `/v1/organizations/${owner.org}/audit`, { token: dev.token }), 'audit log');
  assert.equal((await http('GET', `/v1/organizations/${owner.org}/audit?limit=0`, { token: t })).status, 400);
});

test('the last Owner can be neither demoted nor removed; a second Owner makes both possible', async () => {
  const a = await signup(), b = await signup();
  const org = a.org;
  for (const res of [await http('PATCH', `/v1/organizations/${org}/members/${a.user.id}`, { token: a.token, body: { role_name: 'Administrator' } }),
    await http('DELETE', `/v1/organizations/${org}/members/${a.user.id}`, { token: a.token })]) {
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'last_owner');
  }
  await join(a, b, 'Owner');
  assert.equal((await http('PATCH', `/v1/organizations/${org}/members/${a.user.id}`, { token: a.token, body: { role_name: 'Read-only' } })).status, 200);
  // Now b is the last Owner, and a (Read-only) may still leave.
  assert.equal((await http('DELETE', `/v1/organizations/${org}/members/${b.user.id}`, { token: b.token })).body.code, 'last_owner');
  assert.equal((await http('DELETE', `/v1/organizations/${org}/members/${a.user.id}`, { token: a.token })).status, 200);
  assert.equal((await http('GET', `/v1/organizations/${org}`, { token: a.token })).status, 404);
});

test('bad input: unknown role names, non-members and malformed ids are clear 4xx', async () => {
  const base = `/v1/organizations/${owner.org}/members`;
  for (const role of ['owner', 'admin', '', 7]) {
    const res = await http('PATCH', `${base}/${dev.user.id}`, { token: owner.token, body: { role_name: role } });
    assert.equal(res.status, 400, String(role));
  }
  const bad = await http('PATCH', `${base}/${dev.user.id}`, { token: owner.token, body: { role_name: 'Boss' } });
  assert.deepEqual(bad.body, { code: 'invalid_role', message: 'role_name must be one of Owner, Administrator, Developer, Read-only' });
  const none = await http('PATCH', `${base}/${stranger.user.id}`, { token: owner.token, body: { role_name: 'Developer' } });
  assert.deepEqual([none.status, none.body.code], [404, 'member_not_found']);
  assert.equal((await http('DELETE', `${base}/not-a-uuid`, { token: owner.token })).status, 404);
});

test('cross-organization: a member of one organization sees and changes nothing of another', async () => {
  const theirs = stranger.org;
  for (const [method, path, body] of [
    ['GET', `/v1/organizations/${theirs}`], ['GET', `/v1/organizations/${theirs}/members`],
    ['GET', `/v1/organizations/${theirs}/members/invitations`],
    ['POST', `/v1/organizations/${theirs}/members/invitations`, { email: ro.email, role_name: 'Owner' }],
    ['PATCH', `/v1/organizations/${theirs}/members/${stranger.user.id}`, { role_name: 'Read-only' }],
    ['DELETE', `/v1/organizations/${theirs}/members/${stranger.user.id}`],
  ] as const) {
    const res = await http(method, path, { token: owner.token, body });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.code, 'organization_not_found');
  }
  for (const [method, path] of [['GET', ''], ['DELETE', ''], ['POST', '/pause'], ['GET', '/api-keys'], ['POST', '/database/credentials/reveal'], ['PATCH', '/postgrest']] as const) {
    const res = await http(method, `/v1/projects/${project.ref}${path}`, { token: stranger.token, body: method === 'GET' ? undefined : {} });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.code, 'project_not_found');
  }
});

test('branches: a Read-only member reads a branch and its diff but cannot create, change, push, merge, reset or delete it', async () => {
  const created = await http('POST', `/v1/projects/${project.ref}/branches`, { token: dev.token, body: { branch_name: 'roles-check' } });
  assert.equal(created.status, 201, JSON.stringify(created.body)); // a Developer may branch
  const id = created.body.id;
  refused(await http('POST', `/v1/projects/${project.ref}/branches`, { token: ro.token, body: { branch_name: 'nope' } }), 'create');
  refused(await http('DELETE', `/v1/projects/${project.ref}/branches`, { token: ro.token }), 'disable branching');
  for (const [method, path, body] of [['PATCH', '', { branch_name: 'renamed' }], ['POST', '/push', {}], ['POST', '/merge', {}],
    ['POST', '/reset', {}], ['DELETE', '', undefined]] as const) {
    refused(await http(method, `/v1/branches/${id}${path}`, { token: ro.token, body }), `${method} /v1/branches/{id}${path}`);
  }
  assert.equal((await http('GET', `/v1/branches/${id}`, { token: ro.token })).status, 200);
  const list = await http('GET', `/v1/projects/${project.ref}/branches`, { token: ro.token });
  assert.ok(list.body.some((b: { id: string; name: string }) => b.id === id && b.name === 'roles-check'), JSON.stringify(list.body));
  // The diff is a read; it answers once the branch is built (a 4xx before then is not a role refusal).
  const diff = await http('GET', `/v1/branches/${id}/diff`, { token: ro.token });
  assert.notEqual(diff.status, 403, JSON.stringify(diff.body));
  assert.equal((await http('DELETE', `/v1/branches/${id}`, { token: dev.token })).status, 200);
});
