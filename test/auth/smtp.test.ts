// With the project's SMTP settings, auth emails leave the outbox through the worker over a real SMTP
// conversation (a minimal SMTP server on loopback stands in for the mail provider).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, it } from 'node:test';
import type { Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, newEmail } from './helpers.ts';

const received: { from: string; to: string[]; data: string }[] = [];
let server: net.Server;
let port = 0;

function smtpServer(): net.Server {
  return net.createServer((sock) => {
    let buf = '';
    let inData = false;
    let msg = { from: '', to: [] as string[], data: '' };
    sock.write('220 localhost ESMTP test\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') { inData = false; received.push(msg); msg = { from: '', to: [], data: '' }; sock.write('250 OK queued\r\n'); }
          else msg.data += line.replace(/^\.\./, '.') + '\n';
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') sock.write('250 localhost\r\n');
        else if (verb === 'MAIL') { msg.from = line; sock.write('250 OK\r\n'); }
        else if (verb === 'RCPT') { msg.to.push(line); sock.write('250 OK\r\n'); }
        else if (verb === 'DATA') { inData = true; sock.write('354 end with .\r\n'); }
        else if (verb === 'QUIT') { sock.write('221 bye\r\n'); sock.end(); }
        else sock.write('250 OK\r\n');
      }
    });
    sock.on('error', () => {});
  });
}

let p: Project;
before(async () => {
  server = smtpServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  p = await authProject({ smtp_host: '127.0.0.1', smtp_port: String(port), smtp_admin_email: 'auth@example.com', smtp_sender_name: 'Example App' });
});
after(() => server.close());

it('a confirmation email is sent over SMTP and marked sent in the outbox', async () => {
  const email = newEmail();
  const { error } = await client(p).auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  const until = Date.now() + 15_000;
  while (!received.some((m) => m.to.some((t) => t.includes(email))) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const msg = received.find((m) => m.to.some((t) => t.includes(email)));
  assert.ok(msg, 'no email arrived');
  assert.match(msg.from, /auth@example\.com/);
  assert.match(msg.data, /Subject: Confirm your signup/);
  assert.match(msg.data, /From: "?Example App"? <auth@example\.com>/);
  let row: { sent_at: string | null; attempts: number } | undefined;
  for (let i = 0; i < 50; i++) {
    row = (await authHttp(p, 'GET', `/admin/outbox?email=${encodeURIComponent(email)}`, { token: p.serviceKey })).body[0];
    if (row?.sent_at) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(row?.sent_at);
  assert.equal(row?.attempts, 1);
});
