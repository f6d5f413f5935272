// The email service end to end: a sending domain verified through a DNS server started here (LOAM_DNS_SERVERS),
// an email API key, a templated email with an attachment sent through an SMTP server started here
// (LOAM_SMTP_URL) with a DKIM signature, its events delivered to a webhook and checked per Standard Webhooks,
// idempotency keys, a bounce, a retry after a temporary refusal, stats, every error, and another account.
process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1'; // the webhook receiver listens on loopback
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import http2 from 'node:http';
import { after, before, test } from 'node:test';
import dns2 from 'dns2';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';
import { adminClient, createProject, http, signup, type Account, type Project } from '../helpers/platform.ts';

const { Packet } = dns2;
const txt = new Map<string, string[][]>();
const mx = new Map<string, string>();
let dns: ReturnType<typeof dns2.createServer>;

interface Received { from: string; to: string[]; raw: string }
const received: Received[] = [];
let retryRefused = 0;
let smtp: SMTPServer;

interface Hook { url: string; headers: http2.IncomingHttpHeaders; body: string }
const hooks: Hook[] = [];
let slowClosed = 0;
let hookServer: http2.Server;
let hookUrl = '';

before(async () => {
  dns = dns2.createServer({
    udp: true,
    handle: (request: any, send: any) => {
      const response: any = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      const name = q.name.toLowerCase();
      if (q.type === Packet.TYPE.MX && mx.has(name)) response.answers.push({ name: q.name, type: Packet.TYPE.MX, class: Packet.CLASS.IN, ttl: 1, exchange: mx.get(name), priority: 10 });
      else if (q.type === Packet.TYPE.TXT && txt.has(name)) for (const data of txt.get(name)!) response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data });
      else if (!txt.has(name) && !mx.has(name)) response.header.rcode = 3;
      send(response);
    },
  });
  dns.on('requestError', () => {});
  const addresses: any = await dns.listen({ udp: { port: 0, address: '127.0.0.1' } });
  process.env.LOAM_DNS_SERVERS = `127.0.0.1:${addresses.udp.port}`;

  smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false, size: 5 * 1024 * 1024,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('bounce@')) return cb(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
      if (address.address.startsWith('retry@') && retryRefused++ === 0) return cb(Object.assign(new Error('4.2.0 try again later'), { responseCode: 451 }));
      cb();
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d) => { raw += d; });
      stream.on('end', () => {
        received.push({ from: (session.envelope.mailFrom as { address: string }).address, to: session.envelope.rcptTo.map((r) => r.address), raw });
        cb();
      });
    },
  });
  smtp.on('error', () => {});
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  process.env.LOAM_SMTP_URL = `smtp://127.0.0.1:${(smtp.server.address() as { port: number }).port}`;

  hookServer = http2.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      hooks.push({ url: req.url!, headers: req.headers, body });
      if (req.url === '/fail') return res.writeHead(500).end('no');
      if (req.url !== '/slow') return res.writeHead(204).end();
      // An answer trickled a byte at a time: never idle long enough for a socket timeout.
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 500);
      res.on('close', () => { clearInterval(t); slowClosed++; });
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/hooks`;
});

after(async () => {
  await dns.close();
  await new Promise<void>((r) => smtp.close(() => r()));
  await new Promise<void>((r) => hookServer.close(() => r()));
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the webhook receiver got an event of this type (for this email), signed with the webhook's secret. */
async function heard(type: string, emailId?: string): Promise<void> {
  const wh = new Webhook(webhookSecret);
  await until(`the ${type} webhook`, async () => hooks.some((h) => {
    const e = wh.verify(h.body, h.headers as Record<string, string>) as any;
    return e.type === type && (emailId === undefined || e.data.email_id === emailId);
  }));
}

/** Checks a message's DKIM-Signature (relaxed/relaxed, rsa-sha256, RFC 6376 §3.4) against a public key (base64
 *  SPKI, the p= of the published record): the body hash, then the signature over the signed headers. */
function dkimVerifies(raw: string, publicKeyB64: string): boolean {
  const [head, ...rest] = raw.split(/\r\n\r\n/);
  const fields = head.split(/\r\n(?![ \t])/).map((f) => { const i = f.indexOf(':'); return { name: f.slice(0, i).trim().toLowerCase(), raw: f }; });
  const relaxed = (f: string) => { const i = f.indexOf(':'); return `${f.slice(0, i).trim().toLowerCase()}:${f.slice(i + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim()}`; };
  const sig = fields.find((f) => f.name === 'dkim-signature')!;
  const tags = Object.fromEntries(sig.raw.slice(sig.raw.indexOf(':') + 1).replace(/\s+/g, '').split(';').filter(Boolean).map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]));
  let body = rest.join('\r\n\r\n').split('\r\n').map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, '')).join('\r\n').replace(/(\r\n)*$/, '');
  body = body ? `${body}\r\n` : '';
  if (crypto.createHash('sha256').update(body).digest('base64') !== tags.bh) return false;
  const used = new Set<number>();
  const signed = (tags.h as string).split(':').map((name) => {
    const i = fields.findLastIndex((f, j) => f.name === name.toLowerCase() && !used.has(j));
    if (i < 0) return undefined;
    used.add(i);
    return relaxed(fields[i].raw);
  }).filter((x) => x !== undefined);
  const sigField = relaxed(sig.raw).replace(/b=[^;]*$/, 'b=').replace(/(;\s*b=)[^;]*/, '$1');
  const key = crypto.createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
  return crypto.verify('sha256', Buffer.from([...signed, sigField].join('\r\n')), key, Buffer.from(tags.b, 'base64'));
}

let p: Project;
let other: Account;
let domain: any;
let key = '';
let webhookSecret = '';
const DOMAIN = `mail${Date.now()}.example.com`;
const base = () => `/v1/projects/${p.ref}/email`;

test('a sending domain lists the records to publish; only a DNS-verified domain may send', async () => {
  p = await createProject();
  other = await signup();
  const created = await http('POST', `${base()}/domains`, { token: p.owner.token, body: { domain: DOMAIN.toUpperCase() } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  domain = created.body;
  assert.equal(domain.domain, DOMAIN);
  assert.equal(domain.status, 'pending');
  const [dkim, ret, spf] = domain.records;
  assert.equal(dkim.purpose, 'dkim');
  assert.match(dkim.name, new RegExp(`^loam[0-9a-f]{8}\\._domainkey\\.${DOMAIN.replace(/\./g, '\\.')}$`));
  assert.match(dkim.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
  assert.deepEqual([ret.type, ret.name, ret.value, ret.priority], ['MX', `bounces.${DOMAIN}`, 'localhost', 10]);
  assert.deepEqual([spf.type, spf.name, spf.value], ['TXT', `bounces.${DOMAIN}`, 'v=spf1 include:localhost ~all']);

  const dup = await http('POST', `${base()}/domains`, { token: p.owner.token, body: { domain: DOMAIN } });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.code, 'email_domain_exists');
  const bad = await http('POST', `${base()}/domains`, { token: p.owner.token, body: { domain: 'not a domain' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'invalid_email_domain');

  // Nothing published: verification fails, each record says so, and sending is refused.
  const failed = await http('POST', `${base()}/domains/${domain.id}/verify`, { token: p.owner.token });
  assert.equal(failed.status, 200);
  assert.equal(failed.body.status, 'failed');
  assert.deepEqual(failed.body.records.map((r: any) => r.status), ['not_found', 'not_found', 'not_found']);
  const refused = await http('POST', `/v1/projects/${p.ref}/emails`, { token: p.owner.token, body: { from: `hi@${DOMAIN}`, to: 'a@example.org', subject: 's', text: 't' } });
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.body, { message: `the domain ${DOMAIN} is not a verified sending domain of this project`, code: 'domain_not_verified' });

  // Published (the DKIM key split into 255-character strings, as DNS carries it): verified.
  const value: string = dkim.value;
  txt.set(dkim.name, [value.match(/.{1,255}/g)!]);
  txt.set(spf.name, [[spf.value]]);
  mx.set(ret.name, ret.value);
  const ok = await http('POST', `${base()}/domains/${domain.id}/verify`, { token: p.owner.token });
  assert.equal(ok.body.status, 'verified', JSON.stringify(ok.body.records));
  assert.ok(ok.body.verified_at);
  assert.equal((await http('GET', `${base()}/domains/${domain.id}`, { token: p.owner.token })).body.status, 'verified');
  assert.equal((await http('GET', `${base()}/domains`, { token: p.owner.token })).body.length, 1);

  // Resolvers that do not answer prove nothing: each record says so, and the verified domain stays verified.
  const resolvers = process.env.LOAM_DNS_SERVERS;
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  process.env.LOAM_DNS_SERVERS = `127.0.0.1:${silent.address().port}`;
  try {
    const outage = await http('POST', `${base()}/domains/${domain.id}/verify`, { token: p.owner.token });
    assert.equal(outage.status, 200);
    assert.deepEqual(outage.body.records.map((r: any) => r.status), ['lookup_failed', 'lookup_failed', 'lookup_failed']);
    assert.equal(outage.body.status, 'verified');
    assert.equal(outage.body.verified_at, ok.body.verified_at);
  } finally {
    process.env.LOAM_DNS_SERVERS = resolvers;
    silent.close();
  }
});

test('an email API key sends a templated email with an attachment: DKIM-signed over SMTP, events to the webhook', async () => {
  const hook = await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url: hookUrl } });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  assert.match(hook.body.secret, /^whsec_/);
  webhookSecret = hook.body.secret;
  assert.ok(!JSON.stringify((await http('GET', `${base()}/webhooks`, { token: p.owner.token })).body).includes(webhookSecret));

  const k = await http('POST', `${base()}/api-keys`, { token: p.owner.token, body: { name: 'app' } });
  assert.equal(k.status, 201);
  assert.match(k.body.key, /^lme_[0-9a-f]{48}$/);
  assert.deepEqual(k.body.scopes, ['emails:send']);
  key = k.body.key;

  const sent = await http('POST', `/v1/projects/${p.ref}/emails`, {
    token: key,
    body: {
      from: `Loam Test <hello@${DOMAIN}>`, to: ['person@example.org'], subject: 'Welcome, {{name}}',
      html: '<p>Hello {{ name }}, your code is {{code}}</p>', text: 'Hello {{name}}, code {{code}}',
      variables: { name: 'Ada <b>', code: 4242 },
      attachments: [{ filename: 'note.txt', content: Buffer.from('attached text').toString('base64'), content_type: 'text/plain' }],
    },
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  assert.equal(sent.body.status, 'queued');
  const email = await until('the email to be sent', async () => {
    const e = await http('GET', `/v1/projects/${p.ref}/emails/${sent.body.id}`, { token: p.owner.token });
    return e.body.status !== 'queued' && e.body;
  });
  assert.equal(email.status, 'sent', JSON.stringify(email));
  assert.deepEqual(email.events.map((e: any) => e.type), ['queued', 'sent']);
  const msg = received.find((m) => m.raw.includes(sent.body.id))!;
  assert.ok(msg, 'the SMTP server got it');
  assert.equal(msg.from, `bounces@bounces.${DOMAIN}`);
  assert.deepEqual(msg.to, ['person@example.org']);
  assert.match(msg.raw, /Subject: Welcome, Ada <b>/);
  assert.match(msg.raw, /DKIM-Signature: v=1; a=rsa-sha256;[^]*d=mail\d+\.example\.com;[^]*s=loam[0-9a-f]{8}/);
  // The signature verifies with the key the domain published; a changed byte does not.
  const published = domain.records[0].value.split('p=')[1];
  assert.ok(dkimVerifies(msg.raw, published), 'DKIM verifies with the published key');
  assert.ok(!dkimVerifies(msg.raw.replace('Subject: Welcome', 'Subject: Welcomf'), published));
  assert.ok(msg.raw.replace(/=\r?\n/g, '').includes('Hello Ada &#60;b&#62;, your code is 4242'), 'html variables are escaped');
  assert.match(msg.raw, /filename=note\.txt/);
  assert.ok(msg.raw.includes(Buffer.from('attached text').toString('base64')));
  // Delivered: the attachment's bytes are no longer kept, its name, type and size are.
  const db = await adminClient();
  const { rows: [kept] } = await db.query('select attachments from platform_private.emails where id = $1', [sent.body.id]);
  await db.end();
  assert.deepEqual(kept.attachments, [{ filename: 'note.txt', content_type: 'text/plain', size: 13 }]);

  // One Message-ID for every attempt (a resend after a crash is the same message): the email's id at its domain.
  assert.match(msg.raw.replace(/\r?\n[ \t]+/g, ' '), new RegExp(`^Message-ID: <${sent.body.id}@${DOMAIN.replace(/\./g, '\\.')}>\r?$`, 'm'));
  assert.equal(email.message_id, `<${sent.body.id}@${DOMAIN}>`);

  // The webhook got both events, each signed per Standard Webhooks.
  const got = await until('two webhook deliveries', async () => hooks.length >= 2 && hooks);
  const wh = new Webhook(webhookSecret);
  const events = got.map((h) => wh.verify(h.body, h.headers as Record<string, string>) as any);
  assert.deepEqual(events.map((e) => e.type).sort(), ['email.queued', 'email.sent']);
  assert.ok(events.every((e) => e.data.email_id === sent.body.id && !Number.isNaN(Date.parse(e.timestamp))));
  // The spec's algorithm by hand: v1,<base64 HMAC-SHA256 over "id.timestamp.body"> keyed by the whsec_ secret's bytes.
  for (const h of got) {
    const id = h.headers['webhook-id'] as string;
    const ts = h.headers['webhook-timestamp'] as string;
    assert.match(id, /^msg_\d+$/);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 120, `timestamp ${ts}`);
    const expected = crypto.createHmac('sha256', Buffer.from(webhookSecret.slice('whsec_'.length), 'base64')).update(`${id}.${ts}.${h.body}`).digest('base64');
    assert.ok((h.headers['webhook-signature'] as string).split(' ').includes(`v1,${expected}`), h.headers['webhook-signature'] as string);
  }
  assert.throws(() => wh.verify(got[0].body.replace('email.', 'emai1.'), got[0].headers as Record<string, string>));
  assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(got[0].body, got[0].headers as Record<string, string>));
});

test('idempotency keys: the same email answers the first one; another email with the key is 409', async () => {
  const body = { from: `hello@${DOMAIN}`, to: 'twice@example.org', subject: 'Once', text: 'only once' };
  const first = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body, headers: { 'idempotency-key': 'order-1' } });
  assert.equal(first.status, 202);
  const again = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body, headers: { 'idempotency-key': 'order-1' } });
  assert.equal(again.status, 200);
  assert.equal(again.body.id, first.body.id);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const changed = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { ...body, text: 'other' }, headers: { 'idempotency-key': 'order-1' } });
  assert.equal(changed.status, 409);
  assert.deepEqual(changed.body, { message: 'this idempotency key was used for a different email', code: 'idempotency_key_reused' });
  await until('the email to be sent', async () => (await http('GET', `/v1/projects/${p.ref}/emails/${first.body.id}`, { token: p.owner.token })).body.status === 'sent');
  assert.equal(received.filter((m) => m.to.includes('twice@example.org')).length, 1);
});

test('a permanent refusal is a bounce; a temporary one is retried by the worker', async () => {
  const bounce = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { from: `hello@${DOMAIN}`, to: 'bounce@example.org', subject: 'b', text: 'b' } });
  const retry = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { from: `hello@${DOMAIN}`, to: 'retry@example.org', subject: 'r', text: 'r' } });
  const b = await until('the bounce', async () => { const e = (await http('GET', `/v1/projects/${p.ref}/emails/${bounce.body.id}`, { token: p.owner.token })).body; return e.status !== 'queued' && e; });
  assert.equal(b.status, 'bounced');
  assert.match(b.last_error, /550|no such user/);
  assert.deepEqual(b.events.map((e: any) => e.type), ['queued', 'bounced']);
  const r = await until('the retried email', async () => { const e = (await http('GET', `/v1/projects/${p.ref}/emails/${retry.body.id}`, { token: p.owner.token })).body; return e.status !== 'queued' && e; }, 60_000);
  assert.equal(r.status, 'sent');
  // The refused attempt and the one that went through (a loaded machine may add a timed-out one between).
  assert.ok(r.attempts >= 2, `attempts: ${r.attempts}`);
  assert.deepEqual(r.events.map((e: any) => e.type), ['queued', 'sent']);
  await heard('email.bounced');

  const stats = await http('GET', `${base()}/stats?days=2`, { token: p.owner.token });
  assert.equal(stats.status, 200);
  assert.equal(stats.body.length, 2);
  const today = stats.body[1];
  assert.equal(today.day, new Date().toISOString().slice(0, 10));
  assert.deepEqual([today.queued, today.sent, today.bounced, today.failed], [4, 3, 1, 0]);
  assert.equal((await http('GET', `${base()}/stats?days=0`, { token: p.owner.token })).status, 400);
  const list = await http('GET', `/v1/projects/${p.ref}/emails?limit=10`, { token: p.owner.token });
  assert.equal(list.body.length, 4);
});

test('with no relay an attempt fails and is retried; the last attempt records failed, and the webhook hears it', async () => {
  const relay = process.env.LOAM_SMTP_URL;
  delete process.env.LOAM_SMTP_URL;
  try {
    const sent = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { from: `hello@${DOMAIN}`, to: 'late@example.org', subject: 'f', text: 'f' } });
    assert.equal(sent.status, 202);
    const get = async () => (await http('GET', `/v1/projects/${p.ref}/emails/${sent.body.id}`, { token: p.owner.token })).body;
    const first = await until('the first attempt', async () => { const e = await get(); return e.attempts >= 1 && e; });
    assert.equal(first.status, 'queued');
    assert.match(first.last_error, /no SMTP relay/);
    // Rather than wait out graphile-worker's backoff: the job's next attempt now, and as its last.
    const db = await adminClient();
    await db.query(`select graphile_worker.reschedule_jobs(array(select id from graphile_worker.jobs where key = $1), run_at := now(), max_attempts := 2)`,
      [`email_message__send:${sent.body.id}`]);
    await db.end();
    const done = await until('the last attempt', async () => { const e = await get(); return e.status !== 'queued' && e; });
    assert.equal(done.status, 'failed');
    assert.equal(done.attempts, 2);
    assert.deepEqual(done.events.map((e: any) => e.type), ['queued', 'failed']);
    await heard('email.failed', sent.body.id);
  } finally {
    process.env.LOAM_SMTP_URL = relay;
  }
});

test('a worker that dies during the last attempt leaves no email queued for ever: it is failed, and the webhook hears it', async () => {
  const relay = process.env.LOAM_SMTP_URL;
  delete process.env.LOAM_SMTP_URL;
  const db = await adminClient();
  try {
    const sent = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { from: `hello@${DOMAIN}`, to: 'crash@example.org', subject: 'c', text: 'c' } });
    assert.equal(sent.status, 202);
    const get = async () => (await http('GET', `/v1/projects/${p.ref}/emails/${sent.body.id}`, { token: p.owner.token })).body;
    await until('the first attempt', async () => (await get()).attempts >= 1);
    // What a worker killed during its 5th attempt leaves once its lock is released: a job whose attempts are all
    // counted, that graphile-worker will never run again.
    await db.query(`select graphile_worker.reschedule_jobs(array(select id from graphile_worker.jobs where key = $1), run_at := now() + interval '1 hour', attempts := 5, max_attempts := 5)`,
      [`email_message__send:${sent.body.id}`]);
    const done = await until('the liveness tick to fail it', async () => { const e = await get(); return e.status !== 'queued' && e; });
    assert.equal(done.status, 'failed');
    assert.match(done.last_error, /stopped before it could finish/);
    assert.deepEqual(done.events.map((e: any) => e.type), ['queued', 'failed']);
    await heard('email.failed', sent.body.id);
  } finally {
    process.env.LOAM_SMTP_URL = relay;
    await db.end();
  }
});

test('webhooks: private addresses refused when created and when connecting; failures retried then failed; a trickled answer cut off', async () => {
  const db = await adminClient();
  // What the owner sees of each delivery (the receivers below get one event each: `sent`).
  const deliveries = async (hookId: string) => {
    const r = await http('GET', `${base()}/webhooks/${hookId}/deliveries`, { token: p.owner.token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as any[];
  };
  const create = async (url: string) => {
    const r = await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url, events: ['sent'] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const send = async (to: string) => {
    const r = await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { from: `hello@${DOMAIN}`, to, subject: 'w', text: 'w' } });
    assert.equal(r.status, 202);
    return r.body.id as string;
  };
  const port = (hookServer.address() as { port: number }).port;
  const viaName = await create(`http://localhost:${port}/by-name`);
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '0';
  try {
    // Without the operator's setting: loopback, private, link-local (cloud metadata) and mapped addresses are refused.
    for (const url of ['http://127.0.0.1/x', 'http://[::1]/x', 'http://10.0.0.8/x', 'http://192.168.1.1/x', 'http://169.254.169.254/latest/meta-data',
      'http://[::ffff:127.0.0.1]/x', 'http://0x7f000001/x', 'http://[fd00::1]/x']) {
      const r = await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url } });
      assert.equal(r.status, 400, url);
      assert.deepEqual(r.body, { message: 'url points at a private or loopback address', code: 'invalid_webhook_url' });
    }
    // A name is judged by the address it resolves to when connecting: localhost is refused, nothing is sent.
    await send('by-name@example.org');
    const [refused] = await until('the refused delivery', async () => { const d = await deliveries(viaName); return d[0]?.attempts >= 1 && d; });
    assert.equal(refused.status, 'pending');
    assert.match(refused.last_error, /resolves to a private or loopback address/);
    assert.equal(refused.response_status, null);
    assert.ok(!hooks.some((h) => h.url === '/by-name'), 'the receiver got nothing');
  } finally {
    process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  }
  assert.equal((await http('DELETE', `${base()}/webhooks/${viaName}`, { token: p.owner.token })).status, 204);

  // A receiver that answers 500: retried (graphile-worker's backoff), and failed once the attempts are used up.
  const failing = await create(`http://127.0.0.1:${port}/fail`);
  const slow = await create(`http://127.0.0.1:${port}/slow`);
  const started = Date.now();
  await send('hooks@example.org');
  const [first] = await until('the first failed delivery', async () => { const d = await deliveries(failing); return d[0]?.attempts >= 1 && d; });
  assert.equal(first.status, 'pending');
  assert.equal(first.response_status, 500);
  assert.match(first.last_error, /answered 500/);
  await db.query(`select graphile_worker.reschedule_jobs(array(select id from graphile_worker.jobs where key = $1), run_at := now(), max_attempts := 2)`,
    [`email_webhook__deliver:${first.id}`]);
  const [last] = await until('the last attempt', async () => { const d = await deliveries(failing); return d[0]?.status !== 'pending' && d; });
  assert.deepEqual([last.status, last.attempts, last.response_status, last.type, last.delivered_at], ['failed', 2, 500, 'sent', null]);
  assert.equal(hooks.filter((h) => h.url === '/fail').length, 2, 'two attempts, then no more');

  // A receiver that trickles its answer a byte every 500 ms never goes idle: the delivery is cut at 10 s.
  const [cut] = await until('the trickled delivery to be cut off', async () => { const d = await deliveries(slow); return d[0]?.attempts >= 1 && d; }, 30_000);
  assert.match(cut.last_error, /did not answer in the time allowed/);
  assert.ok(Date.now() - started < 25_000, `cut after ${Date.now() - started} ms`);
  await until('the connection to be closed', async () => slowClosed >= 1);
  for (const id of [failing, slow]) assert.equal((await http('DELETE', `${base()}/webhooks/${id}`, { token: p.owner.token })).status, 204);
  const mainHook = (await http('GET', `${base()}/webhooks`, { token: p.owner.token })).body[0].id;
  const delivered = await deliveries(mainHook);
  assert.ok(delivered.length >= 10 && delivered.some((d) => d.status === 'delivered' && d.response_status === 204 && d.delivered_at && d.last_error === null));
  assert.ok(delivered.every((d) => Number.isInteger(d.id) && Number.isInteger(d.event_id)), 'integers, as the OpenAPI document says');
  assert.equal((await http('GET', `${base()}/webhooks/${mainHook}/deliveries?limit=2`, { token: p.owner.token })).body.length, 2);
  assert.equal((await http('GET', `${base()}/webhooks/${mainHook}/deliveries?limit=0`, { token: p.owner.token })).body.code, 'invalid_body');
  assert.equal((await http('GET', `${base()}/webhooks/${failing}/deliveries`, { token: p.owner.token })).body.code, 'email_webhook_not_found');
  await db.end();
});

test('an email API key is held to the rate limit of its project\'s plan, shared by the project\'s keys', async () => {
  const rl = await signup();
  const q = await createProject(rl);
  const [k1, k2] = await Promise.all(['one', 'two'].map(async (name) => (await http('POST', `/v1/projects/${q.ref}/email/api-keys`, { token: rl.token, body: { name } })).body.key as string));
  const db = await adminClient();
  const plan = `email_rl_${rl.org}`;
  await db.query(`insert into platform.plans (id, name, max_projects, max_organizations, rate_limit_per_minute, db_size_mb, storage_size_mb)
                  values ($1, 'Tiny', 2, 1, 3, 10, 10)`, [plan]);
  await db.query('update platform.organizations set plan = $1 where slug = $2', [plan, rl.org]);
  try {
    const body = { from: `hello@${DOMAIN}`, to: 'x@example.org', subject: 's', text: 't' };
    // Within the limit the key is judged (this project has no verified domain); past it, 429 before anything else.
    for (const k of [k1, k1, k2]) assert.equal((await http('POST', `/v1/projects/${q.ref}/emails`, { token: k, body })).body.code, 'domain_not_verified');
    for (const k of [k2, k1]) {
      const limited = await http('POST', `/v1/projects/${q.ref}/emails`, { token: k, body });
      assert.equal(limited.status, 429);
      assert.deepEqual(limited.body, { message: 'Too many requests: try again later', code: 'rate_limited' });
      const retryAfter = Number(limited.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    }
    // Another project's key is not affected.
    assert.equal((await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { ...body, to: 'unlimited@example.org' } })).status, 202);
  } finally {
    await db.query(`update platform.organizations set plan = 'free' where slug = $1`, [rl.org]);
    await db.end();
  }
});

test('send errors: addresses, templates, sizes, keys', async () => {
  const send = (body: unknown, token = key, headers: Record<string, string> = {}) => http('POST', `/v1/projects/${p.ref}/emails`, { token, body, headers });
  const ok = { from: `hello@${DOMAIN}`, to: 'x@example.org', subject: 'Hi {{who}}', text: 'x', variables: { who: 'you' } };
  assert.equal((await send({ ...ok, from: 'nobody' })).body.code, 'invalid_address');
  assert.equal((await send({ ...ok, to: 'a@b.c\r\nBcc: evil@example.org' })).body.code, 'invalid_address');
  assert.equal((await send({ ...ok, to: Array(51).fill('a@example.org') })).body.code, 'invalid_address');
  const missing = await send({ ...ok, variables: {} });
  assert.equal(missing.status, 422);
  assert.deepEqual(missing.body, { message: 'the template uses {{who}}, which variables does not give', code: 'missing_template_variable' });
  assert.equal((await send({ from: ok.from, to: ok.to, subject: 's' })).body.code, 'invalid_body');
  const big = await send({ ...ok, attachments: [{ filename: 'big.bin', content: Buffer.alloc(1024 * 1024 + 1).toString('base64') }] });
  assert.equal(big.status, 413);
  assert.equal(big.body.code, 'attachments_too_large');
  assert.equal((await send({ ...ok, attachments: [{ filename: '../x', content: 'AA==' }] })).body.code, 'invalid_body');
  assert.equal((await send({ ...ok, attachments: [{ filename: 'x', content: '!!!' }] })).body.code, 'invalid_body');
  assert.equal((await send(ok, key, { 'idempotency-key': 'x'.repeat(300) })).status, 400);
  assert.equal((await send({ ...ok, from: `hello@other-${DOMAIN}` })).body.code, 'domain_not_verified');

  // The key only sends: it reads nothing and manages nothing (not even more keys or webhooks of its own project).
  for (const [method, path, body] of [
    ['GET', `/v1/projects/${p.ref}/emails`], ['GET', `${base()}/domains`], ['GET', `${base()}/stats`], ['POST', `${base()}/api-keys`, { name: 'more' }],
    ['POST', `${base()}/webhooks`, { url: hookUrl }], ['GET', '/v1/projects'], ['GET', `/v1/projects/${p.ref}`], ['GET', `/v1/projects/${p.ref}/secrets`],
    ['POST', `/v1/projects/${p.ref}/database/query`, { query: 'select 1' }], ['GET', `/v1/projects/${p.ref}/api-keys`], ['GET', '/v1/organizations'],
  ] as const) {
    const r = await http(method, path, { token: key, body });
    assert.equal(r.status, 401, `${method} ${path}: ${r.status}`);
    assert.equal(r.body.code, 'unauthorized');
  }
  // Sizes: rendered bodies, and the request itself.
  const tooLarge = await send({ ...ok, html: 'h'.repeat(300 * 1024), text: 't'.repeat(300 * 1024) });
  assert.equal(tooLarge.status, 413);
  assert.deepEqual(tooLarge.body, { message: `html and text hold at most ${512 * 1024} characters once rendered`, code: 'email_too_large' });
  assert.equal((await send({ ...ok, text: 'x'.repeat(600 * 1024) })).body.code, 'invalid_body');
  const huge = await send({ ...ok, attachments: [{ filename: 'a.bin', content: 'A'.repeat(3 * 1024 * 1024) }] });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.code, 'payload_too_large');
  assert.equal((await send({ ...ok, attachments: Array(11).fill({ filename: 'a', content: 'AA==' }) })).body.code, 'invalid_body');
  // A key of another project, a made-up key, a revoked key.
  const q = await createProject(p.owner);
  const qKey = (await http('POST', `/v1/projects/${q.ref}/email/api-keys`, { token: p.owner.token, body: { name: 'q' } })).body;
  const cross = await send(ok, qKey.key);
  assert.equal(cross.status, 403);
  assert.equal(cross.body.code, 'insufficient_scope');
  // …and on its own project's route, this project's verified domain is not its own.
  const borrowed = await http('POST', `/v1/projects/${q.ref}/emails`, { token: qKey.key, body: ok });
  assert.equal(borrowed.status, 403);
  assert.equal(borrowed.body.code, 'domain_not_verified');
  assert.equal((await send(ok, `lme_${'0'.repeat(48)}`)).status, 401);
  assert.equal((await http('DELETE', `/v1/projects/${q.ref}/email/api-keys/${qKey.id}`, { token: p.owner.token })).status, 204);
  assert.equal((await http('POST', `/v1/projects/${q.ref}/emails`, { token: qKey.key, body: ok })).status, 401);
  assert.equal((await http('DELETE', `/v1/projects/${q.ref}/email/api-keys/${qKey.id}`, { token: p.owner.token })).body.code, 'email_api_key_not_found');

  // Names, lists and limits.
  assert.equal((await http('POST', `${base()}/api-keys`, { token: p.owner.token, body: {} })).body.code, 'invalid_body');
  assert.equal((await http('POST', `${base()}/api-keys`, { token: p.owner.token, body: { name: 'x'.repeat(257) } })).status, 400);
  assert.equal((await http('GET', `/v1/projects/${p.ref}/emails?limit=0`, { token: p.owner.token })).body.code, 'invalid_body');
  assert.equal((await http('GET', `/v1/projects/${p.ref}/emails?limit=501`, { token: p.owner.token })).status, 400);
  const hooksNow = (await http('GET', `${base()}/webhooks`, { token: p.owner.token })).body.length;
  const extra: string[] = [];
  for (let i = hooksNow; i < 20; i++) extra.push((await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url: `${hookUrl}?n=${i}`, events: ['bounced'] } })).body.id);
  const tooMany = await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url: hookUrl } });
  assert.equal(tooMany.status, 400);
  assert.deepEqual(tooMany.body, { message: 'a project has at most 20 email webhooks', code: 'email_limit_reached' });
  for (const id of extra) assert.equal((await http('DELETE', `${base()}/webhooks/${id}`, { token: p.owner.token })).status, 204);

  // Webhook URLs and events.
  assert.equal((await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url: 'ftp://example.org/x' } })).body.code, 'invalid_webhook_url');
  assert.equal((await http('POST', `${base()}/webhooks`, { token: p.owner.token, body: { url: hookUrl, events: ['opened'] } })).body.code, 'invalid_body');
  assert.equal((await http('GET', `/v1/projects/${p.ref}/emails/not-a-uuid`, { token: p.owner.token })).body.code, 'email_not_found');
  assert.equal((await http('GET', `${base()}/domains/00000000-0000-0000-0000-000000000000`, { token: p.owner.token })).body.code, 'email_domain_not_found');
});

test('another account reaches none of it', async () => {
  const t = other.token;
  const hookId = (await http('GET', `${base()}/webhooks`, { token: p.owner.token })).body[0].id;
  const emailId = (await http('GET', `/v1/projects/${p.ref}/emails`, { token: p.owner.token })).body[0].id;
  const keyId = (await http('GET', `${base()}/api-keys`, { token: p.owner.token })).body[0].id;
  for (const [method, path, body] of [
    ['GET', `${base()}/domains`], ['POST', `${base()}/domains`, { domain: 'evil.example.com' }],
    ['GET', `${base()}/domains/${domain.id}`], ['POST', `${base()}/domains/${domain.id}/verify`], ['DELETE', `${base()}/domains/${domain.id}`],
    ['GET', `${base()}/api-keys`], ['POST', `${base()}/api-keys`, { name: 'x' }], ['DELETE', `${base()}/api-keys/${keyId}`],
    ['GET', `${base()}/webhooks`], ['POST', `${base()}/webhooks`, { url: hookUrl }], ['DELETE', `${base()}/webhooks/${hookId}`],
    ['GET', `${base()}/webhooks/${hookId}/deliveries`], ['GET', `${base()}/stats`], ['GET', `/v1/projects/${p.ref}/emails`], ['GET', `/v1/projects/${p.ref}/emails/${emailId}`],
    ['POST', `/v1/projects/${p.ref}/emails`, { from: `hello@${DOMAIN}`, to: 'x@example.org', subject: 's', text: 't' }],
  ] as const) {
    const r = await http(method, path, { token: t, body });
    assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'project_not_found');
  }
  // The same owner's other project names none of this one's resources by id.
  const sibling = await createProject(p.owner);
  for (const [path, code] of [[`/email/domains/${domain.id}`, 'email_domain_not_found'], [`/email/api-keys/${keyId}`, 'email_api_key_not_found'],
    [`/email/webhooks/${hookId}`, 'email_webhook_not_found']]) {
    const r = await http('DELETE', `/v1/projects/${sibling.ref}${path}`, { token: p.owner.token });
    assert.equal(r.status, 404, path);
    assert.equal(r.body.code, code);
  }
  assert.equal((await http('GET', `/v1/projects/${sibling.ref}/emails/${emailId}`, { token: p.owner.token })).body.code, 'email_not_found');
  assert.equal((await http('GET', `/v1/projects/${sibling.ref}/email/webhooks/${hookId}/deliveries`, { token: p.owner.token })).body.code, 'email_webhook_not_found');
  assert.equal((await http('POST', `/v1/projects/${sibling.ref}/email/domains/${domain.id}/verify`, { token: p.owner.token })).body.code, 'email_domain_not_found');
  assert.equal((await http('GET', `${base()}/api-keys`, { token: p.owner.token })).body.length, 1, 'still there');
  // A read-only token of the owner reads, and neither sends nor manages.
  const ro = (await http('POST', '/v1/auth/tokens', { token: p.owner.token, body: { name: 'ro', scopes: ['projects:read'] } })).body.token;
  assert.equal((await http('GET', `/v1/projects/${p.ref}/emails`, { token: ro })).status, 200);
  for (const [method, path, body] of [['POST', `/v1/projects/${p.ref}/emails`, { from: `hello@${DOMAIN}`, to: 'x@example.org', subject: 's', text: 't' }],
    ['POST', `${base()}/api-keys`, { name: 'x' }], ['POST', `${base()}/webhooks`, { url: hookUrl }], ['DELETE', `${base()}/domains/${domain.id}`]] as const) {
    const r = await http(method, path, { token: ro, body });
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.equal(r.body.code, 'insufficient_scope');
  }

  // The other account's own project cannot send from this project's verified domain.
  const mine = await createProject(other);
  const res = await http('POST', `/v1/projects/${mine.ref}/emails`, { token: t, body: { from: `hello@${DOMAIN}`, to: 'x@example.org', subject: 's', text: 't' } });
  assert.equal(res.status, 403);
  assert.equal(res.body.code, 'domain_not_verified');

  // Removing the webhook and domain.
  assert.equal((await http('DELETE', `${base()}/webhooks/${hookId}`, { token: p.owner.token })).status, 204);
  assert.equal((await http('DELETE', `${base()}/webhooks/${hookId}`, { token: p.owner.token })).body.code, 'email_webhook_not_found');
  assert.equal((await http('DELETE', `${base()}/domains/${domain.id}`, { token: p.owner.token })).status, 204);
  assert.equal((await http('POST', `/v1/projects/${p.ref}/emails`, { token: key, body: { from: `hello@${DOMAIN}`, to: 'x@example.org', subject: 's', text: 't' } })).body.code, 'domain_not_verified');
});

test('stats count each event on its UTC day', async () => {
  const stats = async (days: number) => (await http('GET', `${base()}/stats?days=${days}`, { token: p.owner.token })).body;
  const before = await stats(3);
  assert.deepEqual(before.map((d: any) => d.day), [0, 1, 2].map((n) => new Date(Date.now() - (2 - n) * 86_400_000).toISOString().slice(0, 10)));
  // One email's events, moved to two days ago, count there and no longer today.
  const emailId = (await http('GET', `/v1/projects/${p.ref}/emails?limit=500`, { token: p.owner.token })).body.find((e: any) => e.status === 'bounced').id;
  const db = await adminClient();
  await db.query(`update platform_private.email_events set at = at - interval '2 days' where email_id = $1`, [emailId]);
  await db.end();
  const after = await stats(3);
  assert.deepEqual([after[0].queued - before[0].queued, after[0].bounced - before[0].bounced], [1, 1]);
  assert.deepEqual([before[2].queued - after[2].queued, before[2].bounced - after[2].bounced], [1, 1]);
  assert.equal((await stats(1)).length, 1);
  for (const bad of ['0', '91', '1.5', 'x', '-1']) {
    const r = await http('GET', `${base()}/stats?days=${bad}`, { token: p.owner.token });
    assert.equal(r.status, 400, bad);
    assert.deepEqual(r.body, { message: 'days must be an integer from 1 to 90', code: 'invalid_body' });
  }
});
