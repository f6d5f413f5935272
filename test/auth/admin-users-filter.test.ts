// GET /auth/v1/admin/users?filter= as GoTrue answers it: users whose email contains the text, or whose
// user_metadata.full_name does (case-insensitive), paged with the filtered total; the filter is a value, never SQL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject, http } from '../helpers/platform.ts';

test('admin users: filter by email or full name, paged, with the filtered total', async () => {
  const p = await createProject();
  const h = { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` };
  const base = `/project/${p.ref}/auth/v1/admin/users`;
  for (const [email, name] of [['alice.filter@example.com', 'Alice Liddell'], ['bob.filter@example.com', 'Bob Builder'],
    ['carol@other.test', 'Carol ALICEson'], ['dave@other.test', null]] as const) {
    const res = await http('POST', base, { headers: h, body: { email, password: 'a password 1', email_confirm: true, ...(name ? { user_metadata: { full_name: name } } : {}) } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  const emails = async (q: string) => {
    const res = await http('GET', `${base}${q}`, { headers: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { emails: res.body.users.map((u: { email: string }) => u.email).sort(), total: res.headers.get('x-total-count'), link: res.headers.get('link') };
  };
  assert.deepEqual((await emails('?filter=filter@')).emails, ['alice.filter@example.com', 'bob.filter@example.com']);
  // The full name matches whatever its case; the email as stored (lower case).
  assert.deepEqual((await emails('?filter=alice')).emails, ['alice.filter@example.com', 'carol@other.test']);
  assert.deepEqual((await emails('?filter=nobody')).emails, []);
  assert.equal((await emails('?filter=nobody')).total, '0');
  assert.equal((await emails('')).emails.length, 4);
  // Paged: the total counts the matches, the next link keeps the filter.
  const first = await emails('?filter=filter&per_page=1&page=1');
  assert.equal(first.emails.length, 1);
  assert.equal(first.total, '2');
  assert.match(first.link ?? '', /page=2&per_page=1&filter=filter>; rel="next"/);
  const second = await emails('?filter=filter&per_page=1&page=2');
  assert.notDeepEqual(second.emails, first.emails);
  // Quotes and SQL in the filter are text to look for.
  assert.deepEqual((await emails(`?filter=${encodeURIComponent("' or 1=1 --")}`)).emails, []);
  assert.equal((await http('GET', `${base}?filter=${'x'.repeat(1001)}`, { headers: h })).status, 400);
  // Only the service role lists users, filtered or not.
  const anon = await http('GET', `${base}?filter=alice`, { headers: { apikey: p.anonKey } });
  assert.ok(anon.status === 401 || anon.status === 403, JSON.stringify(anon.body));
  assert.equal(anon.body.users, undefined);
});
