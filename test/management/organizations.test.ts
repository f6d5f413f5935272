// Organizations: list, create, get, members; another account's organization is 404.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminClient, http, signup } from '../helpers/platform.ts';

test('organizations: list, create, get and members in Supabase shapes', async () => {
  const a = await signup();
  const list = await http('GET', '/v1/organizations', { token: a.token });
  assert.equal(list.status, 200);
  assert.deepEqual(Object.keys(list.body[0]).sort(), ['id', 'name', 'slug']);
  assert.equal(list.body[0].id, list.body[0].slug);
  assert.match(list.body[0].slug, /^[a-z]{20}$/);

  const created = await http('POST', '/v1/organizations', { token: a.token, body: { name: 'Acme' } });
  assert.equal(created.status, 201);
  assert.equal(created.body.name, 'Acme');
  assert.match(created.body.slug, /^[a-z]{20}$/);
  assert.equal(created.body.id, created.body.slug);
  const after = await http('GET', '/v1/organizations', { token: a.token });
  assert.deepEqual(after.body.map((o: { slug: string }) => o.slug).sort(), [a.org, created.body.slug].sort());

  const one = await http('GET', `/v1/organizations/${created.body.slug}`, { token: a.token });
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, { id: created.body.slug, name: 'Acme', plan: 'free', opt_in_tags: [], allowed_release_channels: ['ga'] });

  const members = await http('GET', `/v1/organizations/${created.body.slug}/members`, { token: a.token });
  assert.equal(members.status, 200);
  assert.deepEqual(members.body, [{ user_id: a.user.id, user_name: a.email, email: a.email, role_name: 'Owner', mfa_enabled: false }]);
});

test('another account\'s organization, or an unknown one, is 404', async () => {
  const a = await signup();
  const b = await signup();
  for (const path of [`/v1/organizations/${a.org}`, `/v1/organizations/${a.org}/members`,
    '/v1/organizations/nosuchorganization', '/v1/organizations/nosuchorganization/members']) {
    const res = await http('GET', path, { token: b.token });
    assert.equal(res.status, 404, path);
    assert.deepEqual(res.body, { message: 'Organization not found', code: 'organization_not_found' });
  }
  const list = await http('GET', '/v1/organizations', { token: b.token });
  assert.deepEqual(list.body.map((o: { slug: string }) => o.slug), [b.org]);
  assert.equal((await http('GET', '/v1/organizations')).status, 401);
});

test('organization creation: bad names are 400, the plan limit is 402, nothing extra is created', async () => {
  const a = await signup();
  for (const [body, message] of [[{}, /name is required/], [{ name: 'x'.repeat(257) }, /name must be at most 256 characters/],
    [{ name: '   ' }, /name must be 1-256 characters/], [{ name: 7 }, /name must be a string/]] as const) {
    const res = await http('POST', '/v1/organizations', { token: a.token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.message, message);
  }
  const db = await adminClient();
  const { rows: [{ max }] } = await db.query(`select max_organizations as max from platform.plans where id = 'free'`);
  for (let i = 1; i < max; i++) assert.equal((await http('POST', '/v1/organizations', { token: a.token, body: { name: `Org ${i}` } })).status, 201);
  const over = await http('POST', '/v1/organizations', { token: a.token, body: { name: 'One too many' } });
  assert.equal(over.status, 402);
  assert.deepEqual(over.body, { message: 'organization limit of the plan reached', code: 'quota_exceeded' });
  const { rows: [{ n }] } = await db.query(
    'select count(*)::int as n from platform.organization_members where account_id = $1', [a.user.id]);
  await db.end();
  assert.equal(n, max);
});
