// Invitations to an organization: sent by email through the platform outbox (a local SMTP server receives it),
// accepted with the token only the email carries, by the account whose email it names; expired, used, withdrawn
// and misaddressed invitations are refused with clear 4xx, and nothing crosses organizations.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SMTPServer } from 'smtp-server';

const received: { to: string[]; data: string }[] = [];
const smtp = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
  onData(stream, session, done) {
    let data = '';
    stream.on('data', (c: Buffer) => { if (data.length < 1_000_000) data += c.toString('utf8'); });
    // Bodies arrive quoted-printable (soft line breaks, =XX escapes): decoded here.
    stream.on('end', () => {
      const text = data.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
      received.push({ to: session.envelope.rcptTo.map((r) => r.address), data: text });
      done();
    });
  },
});
smtp.on('error', () => {});
await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
after(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
// Loam reads its configuration when first imported: SMTP is set before that.
process.env.LOAM_SMTP_URL = `smtp://127.0.0.1:${(smtp.server.address() as { port: number }).port}`;
process.env.LOAM_SMTP_FROM = 'Loam <loam@example.com>';
const { adminClient, http, signup } = await import('../helpers/platform.ts');
const sendEmail = (await import('../../worker/src/tasks/email__send.ts')).default;

/** The invitation email to `email`, sent through the outbox as the worker sends it; its token. */
async function deliver(email: string): Promise<{ token: string; data: string }> {
  const db = await adminClient();
  let id: string;
  try {
    ({ rows: [{ id }] } = await db.query(`select id from platform_private.email_outbox
      where lower(to_address) = lower($1) and kind = 'organization_invitation' order by id desc limit 1`, [email]));
  } finally {
    await db.end();
  }
  // Every test file's worker shares the job queue; this file's may or may not get the job, so it runs it too.
  await sendEmail({ email_id: id }, {} as never);
  const mail = received.findLast((m) => m.to.some((t) => t.toLowerCase() === email.toLowerCase()));
  assert.ok(mail, `an email reached ${email}`);
  return { token: /Invitation token: ([0-9a-f]{48})/.exec(mail.data)![1], data: mail.data };
}

const invite = (by: { token: string }, org: string, email: string, role_name = 'Developer') =>
  http('POST', `/v1/organizations/${org}/members/invitations`, { token: by.token, body: { email, role_name } });

test('an invitation is emailed with its token, listed without it, and accepted by the invited account', async () => {
  const owner = await signup(), invitee = await signup();
  const before = Date.now();
  const res = await invite(owner, owner.org, invitee.email, 'Read-only');
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body).sort(), ['email', 'expires_at', 'id', 'invited_at', 'role_name']);
  assert.equal(res.body.email, invitee.email);
  assert.equal(res.body.role_name, 'Read-only');
  const ttl = Date.parse(res.body.expires_at) - Date.parse(res.body.invited_at);
  assert.equal(ttl, 24 * 3600 * 1000);
  assert.ok(Date.parse(res.body.invited_at) >= before - 5000);

  const { token, data } = await deliver(invitee.email);
  assert.match(data, /Subject: You are invited to join .* on Loam/);
  assert.match(data, /as Read-only/);
  assert.equal(JSON.stringify(res.body).includes(token), false);
  const list = await http('GET', `/v1/organizations/${owner.org}/members/invitations`, { token: owner.token });
  assert.deepEqual(list.body, [res.body]);

  const accepted = await http('POST', `/v1/invitations/${token}/accept`, { token: invitee.token });
  assert.equal(accepted.status, 200);
  assert.equal(accepted.body.organization_slug, owner.org);
  assert.equal(accepted.body.role_name, 'Read-only');
  const members = await http('GET', `/v1/organizations/${owner.org}/members`, { token: invitee.token });
  assert.equal(members.body.find((m: { email: string }) => m.email === invitee.email).role_name, 'Read-only');
  assert.deepEqual((await http('GET', `/v1/organizations/${owner.org}/members/invitations`, { token: owner.token })).body, []);

  const again = await http('POST', `/v1/invitations/${token}/accept`, { token: invitee.token });
  assert.deepEqual([again.status, again.body.code], [409, 'invitation_already_accepted']);
  // A member is not invited twice.
  const member = await invite(owner, owner.org, invitee.email.toUpperCase());
  assert.deepEqual([member.status, member.body.code], [409, 'already_member']);
});

test('only the account the invitation names may accept it; the email matches case-insensitively', async () => {
  const owner = await signup(), invitee = await signup(), other = await signup();
  assert.equal((await invite(owner, owner.org, invitee.email.toUpperCase(), 'Administrator')).status, 201);
  const { token } = await deliver(invitee.email);
  const wrong = await http('POST', `/v1/invitations/${token}/accept`, { token: other.token });
  assert.equal(wrong.status, 403);
  assert.equal(wrong.body.code, 'invitation_email_mismatch');
  assert.equal((await http('GET', `/v1/organizations/${owner.org}`, { token: other.token })).status, 404);
  assert.equal((await http('POST', `/v1/invitations/${token}/accept`)).status, 401);
  const ok = await http('POST', `/v1/invitations/${token}/accept`, { token: invitee.token });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.role_name, 'Administrator');
});

test('an expired invitation is refused (410) and can be sent again; unknown and withdrawn tokens are 404', async () => {
  const owner = await signup(), invitee = await signup();
  const first = await invite(owner, owner.org, invitee.email);
  const { token } = await deliver(invitee.email);
  const db = await adminClient();
  try {
    await db.query(`update platform.organization_invitations set expires_at = now() - interval '1 second' where id = $1`, [first.body.id]);
  } finally {
    await db.end();
  }
  const expired = await http('POST', `/v1/invitations/${token}/accept`, { token: invitee.token });
  assert.equal(expired.status, 410);
  assert.equal(expired.body.code, 'invitation_expired');
  assert.match(expired.body.message, /expired/);

  // A pending one blocks a second; an expired one is replaced.
  const second = await invite(owner, owner.org, invitee.email);
  assert.equal(second.status, 201);
  const dup = await invite(owner, owner.org, invitee.email);
  assert.deepEqual([dup.status, dup.body.code], [409, 'invitation_exists']);
  const { token: token2 } = await deliver(invitee.email);
  assert.notEqual(token2, token);
  assert.equal((await http('POST', `/v1/invitations/${token}/accept`, { token: invitee.token })).body.code, 'invitation_not_found');

  const withdrawn = await http('DELETE', `/v1/organizations/${owner.org}/members/invitations/${second.body.id}`, { token: owner.token });
  assert.equal(withdrawn.status, 200);
  assert.equal(withdrawn.body.id, second.body.id);
  for (const t of [token2, 'f'.repeat(48), 'not-a-token']) {
    const res = await http('POST', `/v1/invitations/${t}/accept`, { token: invitee.token });
    assert.deepEqual([res.status, res.body.code], [404, 'invitation_not_found'], t);
  }
  const gone = await http('DELETE', `/v1/organizations/${owner.org}/members/invitations/${second.body.id}`, { token: owner.token });
  assert.deepEqual([gone.status, gone.body.code], [404, 'invitation_not_found']);
  assert.equal((await http('DELETE', `/v1/organizations/${owner.org}/members/invitations/nope`, { token: owner.token })).status, 404);
});

test('bad invitations are 400 and create nothing', async () => {
  const owner = await signup();
  for (const [body, code] of [[{ email: 'not an email', role_name: 'Developer' }, 'invalid_email'],
    [{ email: 'a@example.com', role_name: 'owner' }, 'invalid_role'], [{ email: 'a@example.com' }, 'invalid_body'],
    [{ role_name: 'Developer' }, 'invalid_body'], [{ email: 'a@example.com', role_name: ['Owner'] }, 'invalid_body']] as const) {
    const res = await http('POST', `/v1/organizations/${owner.org}/members/invitations`, { token: owner.token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.code, code, JSON.stringify(res.body));
  }
  assert.deepEqual((await http('GET', `/v1/organizations/${owner.org}/members/invitations`, { token: owner.token })).body, []);
});

test('cross-organization: invitations of another organization cannot be listed, sent or withdrawn', async () => {
  const a = await signup(), b = await signup();
  const inv = await invite(a, a.org, `x${Date.now()}@example.com`);
  assert.equal(inv.status, 201);
  for (const [method, path] of [['GET', `/v1/organizations/${a.org}/members/invitations`],
    ['POST', `/v1/organizations/${a.org}/members/invitations`], ['DELETE', `/v1/organizations/${a.org}/members/invitations/${inv.body.id}`]] as const) {
    const res = await http(method, path, { token: b.token, body: method === 'POST' ? { email: b.email, role_name: 'Owner' } : undefined });
    assert.deepEqual([res.status, res.body.code], [404, 'organization_not_found'], `${method} ${path}`);
  }
  // b's own organization does not reach a's invitation by id.
  const res = await http('DELETE', `/v1/organizations/${b.org}/members/invitations/${inv.body.id}`, { token: b.token });
  assert.deepEqual([res.status, res.body.code], [404, 'invitation_not_found']);
  assert.equal((await http('GET', `/v1/organizations/${a.org}/members/invitations`, { token: a.token })).body.length, 1);
});

test('hostile bodies and paths on the member, invitation, service and credential endpoints are 4xx, never 5xx', async () => {
  const owner = await signup();
  const org = owner.org;
  const values: unknown[] = [null, 7, true, [], {}, 'x'.repeat(100_000), 'a\u0000b@example.com', '${1}', "'; drop table x; --", { role_name: 'Owner' }];
  const requests: [string, string, unknown][] = [];
  for (const v of values) {
    requests.push(['POST', `/v1/organizations/${org}/members/invitations`, { email: v, role_name: 'Developer' }]);
    requests.push(['POST', `/v1/organizations/${org}/members/invitations`, { email: 'h@example.com', role_name: v }]);
    requests.push(['PATCH', `/v1/organizations/${org}/members/${owner.user.id}`, { role_name: v }]);
    requests.push(['POST', `/v1/organizations/${org}/members/invitations`, v]);
  }
  for (const seg of ['%00', '..', '%2e%2e', 'x'.repeat(5000), '%ff', '00000000-0000-0000-0000-000000000000']) {
    requests.push(['DELETE', `/v1/organizations/${org}/members/${seg}`, undefined]);
    requests.push(['DELETE', `/v1/organizations/${org}/members/invitations/${seg}`, undefined]);
    requests.push(['POST', `/v1/invitations/${seg}/accept`, undefined]);
    requests.push(['POST', `/v1/projects/abcdefghijklmnopqrst/services/${seg}/restart`, undefined]);
    requests.push(['POST', `/v1/projects/${seg}/database/credentials/reveal`, undefined]);
  }
  for (const [method, path, body] of requests) {
    const res = await http(method, path, { token: owner.token, body });
    assert.ok(res.status >= 400 && res.status < 500 && res.status !== 429, `${method} ${path.slice(0, 120)} ${JSON.stringify(body)?.slice(0, 80)}: ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}`);
  }
  // The Owner is still the Owner; no invitation was made.
  const members = await http('GET', `/v1/organizations/${org}/members`, { token: owner.token });
  assert.deepEqual(members.body.map((m: { role_name: string }) => m.role_name), ['Owner']);
  assert.deepEqual((await http('GET', `/v1/organizations/${org}/members/invitations`, { token: owner.token })).body, []);
});
