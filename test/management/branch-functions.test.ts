// A preview branch carries its parent's edge functions: each live version is deployed again in the branch (its
// own copy of the files), serves there with the branch's keys, and a reset deploys what the branch lacks again;
// the parent's secrets are not carried (a branch's secrets are its own). And `POST /v1/branches/{id}/restore`.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { createProject, http, signup, waitForStatus, type Project } from '../helpers/platform.ts';
import { deploy, invoke } from '../functions/helpers.ts';

const HELLO = `Deno.serve((req) => Response.json({ from: 'parent code', secret: Deno.env.get('PARENT_ONLY') ?? null }));`;

async function branchProject(parent: Project, name: string): Promise<Project & { branchId: string }> {
  const res = await http('POST', `/v1/projects/${parent.ref}/branches`, { token: parent.owner.token, body: { branch_name: name } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id;
  const until = Date.now() + 90_000;
  let b: any;
  for (;;) {
    b = (await http('GET', `/v1/projects/${parent.ref}/branches`, { token: parent.owner.token })).body.find((x: { id: string }) => x.id === id);
    if (b?.status === 'MIGRATIONS_PASSED' && b.preview_project_status === 'ACTIVE_HEALTHY') break;
    if (b?.status === 'MIGRATIONS_FAILED') throw new Error(`branch failed: ${JSON.stringify(b)}`);
    if (Date.now() > until) throw new Error(`branch not ready: ${JSON.stringify(b)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const ref = b.project_ref;
  const keys = await http('GET', `/v1/projects/${ref}/api-keys`, { token: parent.owner.token });
  const key = (n: string) => keys.body.find((k: { name: string }) => k.name === n).api_key;
  return { ...parent, ref, anonKey: key('anon'), serviceKey: key('service_role'), url: parent.url.replace(parent.ref, ref), branchId: id };
}

async function functionsOf(p: Project) {
  return (await http('GET', `/v1/projects/${p.ref}/functions`, { token: p.owner.token })).body as { slug: string; status: string; version: number; verify_jwt: boolean }[];
}

async function activeIn(p: Project, slug: string, timeoutMs = 90_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    // Listed as soon as it is recorded; serving once a version is live (version ≥ 1).
    const f = (await functionsOf(p)).find((x) => x.slug === slug);
    if (f && f.version >= 1) return f;
    if (Date.now() > until) throw new Error(`${slug} is not active in ${p.ref}: ${JSON.stringify(f)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a branch gets its parent\'s live functions (not its secrets), and a reset deploys what it lacks again', async () => {
  const parent = await createProject();
  const d = await deploy(parent, 'hello', { 'index.ts': HELLO }, { verify_jwt: false, name: 'Hello' });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  assert.equal((await http('POST', `/v1/projects/${parent.ref}/secrets`, { token: parent.owner.token, body: [{ name: 'PARENT_ONLY', value: 'shh' }] })).status, 201);

  const branch = await branchProject(parent, 'with-functions');
  const f = await activeIn(branch, 'hello');
  assert.equal(f.verify_jwt, false);
  const body = await http('GET', `/v1/projects/${branch.ref}/functions/hello/body`, { token: parent.owner.token });
  assert.equal(body.body, HELLO);
  const called = await invoke(branch, 'hello', { key: branch.anonKey });
  assert.equal(called.status, 200, called.text);
  assert.deepEqual(called.json, { from: 'parent code', secret: null });
  assert.deepEqual((await http('GET', `/v1/projects/${branch.ref}/secrets`, { token: parent.owner.token })).body, []);

  // The branch's copy is its own: deleting it leaves the parent's, and a reset deploys it again.
  assert.equal((await http('DELETE', `/v1/projects/${branch.ref}/functions/hello`, { token: parent.owner.token })).status, 200);
  assert.equal((await invoke(parent, 'hello', { key: parent.anonKey })).status, 200);
  const reset = await http('POST', `/v1/branches/${branch.branchId}/reset`, { token: parent.owner.token, body: {} });
  assert.equal(reset.status, 201, JSON.stringify(reset.body));
  await activeIn(branch, 'hello');
  assert.equal((await invoke(branch, 'hello', { key: branch.anonKey })).status, 200);
  // A second reset with the functions in place deploys nothing new.
  const before = (await functionsOf(branch)).find((x) => x.slug === 'hello')!.version;
  const again = await http('POST', `/v1/branches/${branch.branchId}/reset`, { token: parent.owner.token, body: {} });
  assert.equal(again.status, 201);
  // The request set RUNNING_MIGRATIONS; the job sets MIGRATIONS_PASSED when it is done.
  const until = Date.now() + 60_000;
  for (;;) {
    const listed = (await http('GET', `/v1/projects/${parent.ref}/branches`, { token: parent.owner.token })).body.find((x: { id: string }) => x.id === branch.branchId);
    if (listed?.status === 'MIGRATIONS_PASSED') break;
    if (Date.now() > until) throw new Error('reset did not finish');
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await functionsOf(branch)).find((x) => x.slug === 'hello')!.version, before);
});

test('restore a branch (Supabase\'s shape): a paused branch serves again; the default entry, unknown ids and other accounts are refused', async () => {
  const parent = await createProject();
  const branch = await branchProject(parent, 'to-restore');
  const token = parent.owner.token;
  assert.equal((await http('POST', `/v1/projects/${branch.ref}/pause`, { token })).status, 200);
  await waitForStatus(token, branch.ref, 'INACTIVE', 60_000);
  const restored = await http('POST', `/v1/branches/${branch.branchId}/restore`, { token });
  assert.equal(restored.status, 201, JSON.stringify(restored.body));
  assert.deepEqual(restored.body, { message: 'Branch restoration initiated' });
  await waitForStatus(token, branch.ref, 'ACTIVE_HEALTHY', 60_000);
  // A serving branch: nothing to do, the same answer; by its ref as well as its id.
  const again = await http('POST', `/v1/branches/${branch.ref}/restore`, { token });
  assert.equal(again.status, 201);
  assert.equal((await http('GET', `/v1/projects/${branch.ref}`, { token })).body.status, 'ACTIVE_HEALTHY');

  const list = await http('GET', `/v1/projects/${parent.ref}/branches`, { token });
  const main = list.body.find((b: { is_default: boolean }) => b.is_default);
  const onDefault = await http('POST', `/v1/branches/${main.id}/restore`, { token });
  assert.equal(onDefault.status, 400);
  assert.equal(onDefault.body.code, 'invalid_branch_operation');
  const unknown = await http('POST', `/v1/branches/${crypto.randomUUID()}/restore`, { token });
  assert.equal(unknown.status, 404);
  const stranger = await signup();
  const hidden = await http('POST', `/v1/branches/${branch.branchId}/restore`, { token: stranger.token });
  assert.equal(hidden.status, 404);
});
