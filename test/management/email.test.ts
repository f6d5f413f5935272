// Platform email (password reset) with LOAM_SMTP_URL set: the email__send task sends the outbox over SMTP (a
// minimal SMTP server on loopback stands in for the provider), marks it sent, and records a refusal. The task is
// also run here directly: every test file's worker shares the run's job queue, and the others have no SMTP
// settings (they leave the email in the outbox), so this file's worker may or may not be the one to get it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

const received: { to: string; data: string }[] = [];
const smtp = net.createServer((sock) => {
  let buf = '';
  let data: string | undefined;
  let to = '';
  sock.write('220 localhost ESMTP\r\n');
  sock.on('data', (chunk) => {
    buf += chunk;
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (data !== undefined) {
        if (line === '.') { received.push({ to, data }); data = undefined; sock.write('250 queued\r\n'); } else data += `${line}\n`;
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'RCPT') {
        to = line;
        sock.write(line.includes('bounce') ? '550 no such mailbox\r\n' : '250 OK\r\n');
      } else if (verb === 'DATA') { data = ''; sock.write('354 go ahead\r\n'); }
      else if (verb === 'QUIT') { sock.end('221 bye\r\n'); }
      else sock.write('250 OK\r\n');
    }
  });
  sock.on('error', () => {});
});
await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
smtp.unref();
// Loam reads its configuration when first imported: set SMTP before that.
process.env.LOAM_SMTP_URL = `smtp://127.0.0.1:${(smtp.address() as net.AddressInfo).port}`;
process.env.LOAM_SMTP_FROM = 'Loam <loam@example.com>';
const { adminClient, http, signup } = await import('../helpers/platform.ts');
const sendEmail = (await import('../../worker/src/tasks/email__send.ts')).default;

async function outboxRow(email: string) {
  const db = await adminClient();
  try {
    return (await db.query(`select id, sent_at, attempts, last_error from platform_private.email_outbox where to_address = $1 order by id desc limit 1`, [email])).rows[0];
  } finally {
    await db.end();
  }
}

const send = async (id: string) => { await sendEmail({ email_id: id }, {} as never); };

async function until<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  const end = Date.now() + 20_000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a password reset email goes out over SMTP, is marked sent, and its token resets the password', async () => {
  const a = await signup();
  assert.equal((await http('POST', '/v1/auth/forgot', { body: { email: a.email } })).status, 200);
  await send((await outboxRow(a.email)).id);
  const row = await until(async () => { const r = await outboxRow(a.email); return r.sent_at ? r : undefined; }, 'sent_at');
  assert.equal(row.last_error, null);
  const mail = received.find((m) => m.to.includes(a.email));
  assert.ok(mail, 'the email arrived');
  assert.match(mail.data, /Subject: Reset your Loam password/);
  assert.match(mail.data, /From: Loam <loam@example\.com>/);
  const token = /Reset token: (\S+)/.exec(mail.data)![1];
  // Once marked sent, running the job again sends nothing more.
  const count = received.filter((m) => m.to.includes(a.email)).length;
  await send(row.id);
  assert.equal(received.filter((m) => m.to.includes(a.email)).length, count);
  const reset = await http('POST', '/v1/auth/reset', { body: { token, password: 'from the mail' } });
  assert.equal(reset.status, 200);
});

test('a refused email stays unsent in the outbox with the reason, for the job to retry', async () => {
  const email = `bounce${Date.now()}@example.com`;
  assert.equal((await http('POST', '/v1/auth/signup', { body: { email, password: 'long enough' } })).status, 201);
  await http('POST', '/v1/auth/forgot', { body: { email } });
  const { id } = await outboxRow(email);
  await assert.rejects(send(id), /550/);
  const row = await outboxRow(email);
  assert.equal(row.sent_at, null);
  assert.ok(row.attempts >= 1);
  assert.match(row.last_error, /550/);
});
