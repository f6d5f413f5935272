// Renaming, editing and deleting SQL snippets (Loam's own PATCH / DELETE /v1/snippets/{id}; Supabase's API only
// lists and reads them): the owner may, a Read-only member may not (not even their own), a Developer may not touch
// a colleague's shared snippet but an Administrator may, and nobody outside the organization reaches one.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http, organizationTeam, type Account, type Project } from '../helpers/platform.ts';

let owner: Account, admin: Account, dev: Account, ro: Account, stranger: Account, project: Project;
before(async () => {
  ({ owner, admin, dev, ro, stranger, project } = await organizationTeam());
});

const save = async (who: Account, name: string, visibility = 'user') => {
  const res = await http('POST', '/v1/snippets', { token: who.token, body: { project_ref: project.ref, name, sql: 'select 1', visibility } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id as string;
};

test('the owner renames, edits and deletes a snippet; what changed is what is read back', async () => {
  const id = await save(owner, 'first name');
  const renamed = await http('PATCH', `/v1/snippets/${id}`, { token: owner.token, body: { name: 'second name', sql: 'select 2', description: 'two' } });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assert.equal(renamed.body.name, 'second name');
  assert.equal(renamed.body.description, 'two');
  assert.equal(renamed.body.content.sql, 'select 2');
  assert.ok(new Date(renamed.body.updated_at) >= new Date(renamed.body.inserted_at));
  assert.deepEqual(renamed.body.updated_by, renamed.body.owner);
  // An empty description clears it; fields not given stay.
  const cleared = await http('PATCH', `/v1/snippets/${id}`, { token: owner.token, body: { description: '' } });
  assert.equal(cleared.body.description, null);
  assert.equal(cleared.body.name, 'second name');
  const listed = await http('GET', `/v1/snippets?project_ref=${project.ref}`, { token: owner.token });
  assert.ok(listed.body.data.some((s: { id: string; name: string }) => s.id === id && s.name === 'second name'));

  const deleted = await http('DELETE', `/v1/snippets/${id}`, { token: owner.token });
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.equal((await http('GET', `/v1/snippets/${id}`, { token: owner.token })).status, 404);
  const again = await http('DELETE', `/v1/snippets/${id}`, { token: owner.token });
  assert.equal(again.status, 404);
  assert.equal(again.body.code, 'snippet_not_found');
});

test('bad input: a clear 400 or 404, never a 500, and nothing changes', async () => {
  const id = await save(owner, 'input checks');
  const cases: [string, string, unknown, number][] = [
    ['PATCH', id, {}, 400],
    ['PATCH', id, { name: '' }, 400],
    ['PATCH', id, { name: 'x'.repeat(257) }, 400],
    ['PATCH', id, { name: 42 }, 400],
    ['PATCH', id, { visibility: 'public' }, 400],
    ['PATCH', id, [1, 2], 400],
    ['PATCH', 'not-a-uuid', { name: 'x' }, 404],
    ['DELETE', "00000000-0000-0000-0000-000000000000' or 1=1 --", undefined, 404],
    ['DELETE', '00000000-0000-0000-0000-000000000000', undefined, 404],
  ];
  for (const [method, target, b, status] of cases) {
    const res = await http(method, `/v1/snippets/${encodeURIComponent(target)}`, { token: owner.token, body: b });
    assert.equal(res.status, status, `${method} ${target} ${JSON.stringify(b)}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.message, 'string');
  }
  assert.equal((await http('GET', `/v1/snippets/${id}`, { token: owner.token })).body.name, 'input checks');
  // A token without the database:write scope cannot change snippets.
  const pat = await http('POST', '/v1/auth/tokens', { token: owner.token, body: { name: 'reader', scopes: ['database:read'] } });
  assert.equal(pat.status, 201, JSON.stringify(pat.body));
  assert.equal((await http('GET', `/v1/snippets/${id}`, { token: pat.body.token })).status, 200);
  assert.equal((await http('PATCH', `/v1/snippets/${id}`, { token: pat.body.token, body: { name: 'nope' } })).status, 403);
  assert.equal((await http('DELETE', `/v1/snippets/${id}`, { token: pat.body.token })).status, 403);
});

test('a Read-only member is refused renaming and deleting, even a snippet of their own', async () => {
  const shared = await save(owner, 'shared by the owner', 'project');
  const own = await save(ro, 'read-only member\'s own');
  for (const id of [shared, own]) {
    const rename = await http('PATCH', `/v1/snippets/${id}`, { token: ro.token, body: { name: 'changed by read-only' } });
    assert.equal(rename.status, 403, JSON.stringify(rename.body));
    assert.equal(rename.body.code, 'insufficient_role');
    const del = await http('DELETE', `/v1/snippets/${id}`, { token: ro.token });
    assert.equal(del.status, 403, JSON.stringify(del.body));
    assert.equal(del.body.code, 'insufficient_role');
  }
  assert.equal((await http('GET', `/v1/snippets/${shared}`, { token: owner.token })).body.name, 'shared by the owner');
  assert.equal((await http('GET', `/v1/snippets/${own}`, { token: ro.token })).body.name, 'read-only member\'s own');
});

test('a Developer changes their own snippets, not a colleague\'s shared one; an Administrator may; a private one stays hidden', async () => {
  const mine = await save(dev, 'developer\'s');
  assert.equal((await http('PATCH', `/v1/snippets/${mine}`, { token: dev.token, body: { name: 'developer renamed' } })).status, 200);
  const shared = await save(owner, 'owner shared', 'project');
  const refused = await http('PATCH', `/v1/snippets/${shared}`, { token: dev.token, body: { name: 'taken over' } });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.code, 'snippet_not_owned');
  assert.equal((await http('DELETE', `/v1/snippets/${shared}`, { token: dev.token })).body.code, 'snippet_not_owned');
  const byAdmin = await http('PATCH', `/v1/snippets/${shared}`, { token: admin.token, body: { name: 'tidied by admin' } });
  assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.body));
  assert.notDeepEqual(byAdmin.body.updated_by, byAdmin.body.owner);
  // The owner's private snippet: not even an Administrator sees it, so it is not found.
  const privateOne = await save(owner, 'owner private');
  for (const who of [admin, dev]) {
    assert.equal((await http('PATCH', `/v1/snippets/${privateOne}`, { token: who.token, body: { name: 'x' } })).body.code, 'snippet_not_found');
    assert.equal((await http('DELETE', `/v1/snippets/${privateOne}`, { token: who.token })).status, 404);
  }
  assert.equal((await http('DELETE', `/v1/snippets/${shared}`, { token: admin.token })).status, 200);
});

test('attacker: an account of another organization cannot rename or delete any snippet, by id or shared', async () => {
  const shared = await save(owner, 'victim shared', 'project');
  const privateOne = await save(owner, 'victim private');
  // The attacker has an organization, a project and snippets of their own.
  const theirs = await createProject(stranger);
  const own = (await http('POST', '/v1/snippets', { token: stranger.token, body: { project_ref: theirs.ref, name: 'attacker', sql: 'select 1' } })).body.id;
  for (const id of [shared, privateOne]) {
    for (const [method, b] of [['PATCH', { name: 'pwned' }], ['PATCH', { sql: 'drop table x', visibility: 'project' }], ['DELETE', undefined]] as const) {
      const res = await http(method, `/v1/snippets/${id}`, { token: stranger.token, body: b });
      assert.equal(res.status, 404, `${method} ${id}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'snippet_not_found');
    }
  }
  // Nor through their own snippet's id with the victim's project in the body (the project cannot be changed).
  const moved = await http('PATCH', `/v1/snippets/${own}`, { token: stranger.token, body: { name: 'still mine', project_ref: project.ref } });
  assert.equal(moved.status, 200);
  assert.equal(moved.body.project.name, 'test project');
  assert.equal((await http('GET', `/v1/snippets?project_ref=${project.ref}`, { token: stranger.token })).status, 404);
  assert.equal((await http('GET', `/v1/snippets/${shared}`, { token: owner.token })).body.name, 'victim shared');
  assert.equal((await http('GET', `/v1/snippets/${privateOne}`, { token: owner.token })).body.content.sql, 'select 1');
  // The victim cannot touch the attacker's either.
  assert.equal((await http('DELETE', `/v1/snippets/${own}`, { token: owner.token })).status, 404);
});
