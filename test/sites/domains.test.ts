// Custom domains of sites, proven by a DNS TXT record looked up through a DNS server started here (dns2, an
// ephemeral port, named by LOAM_DNS_SERVERS): the challenge, verification, serving by Host only once verified,
// a domain held by one project never served for another (re-verification when two claim it), and the shared DNS
// module's bounds (time, answer size).
process.env.LOAM_SITES_DOMAIN = 'sites.domains.test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import dns2 from 'dns2';
import { DNS_MAX_RECORD_CHARS, DNS_MAX_RECORDS, DnsLookupFailed, lookupTxt } from '../../server/src/dns.ts';
import { http, signup, type Account } from '../helpers/platform.ts';
import { byHost, makeZip, project, subdomain, uploadZip, waitDeploy } from './helpers.ts';

const { Packet } = dns2;
/** The zone the test DNS server answers from: name → TXT records (each a list of strings). */
const zone = new Map<string, string[][]>();
let server: ReturnType<typeof dns2.createServer>;
let tcpServer: ReturnType<typeof dns2.createServer>;
let silent: dgram.Socket;
let dnsPort = 0;
let silentPort = 0;

before(async () => {
  // One handler over UDP and TCP on the same port (a resolver retries a truncated UDP answer over TCP).
  const handle = (request: any, send: (r: any) => void) => {
    const response: any = Packet.createResponseFromRequest(request);
    const [q] = request.questions;
    const records = zone.get(q.name.toLowerCase());
    if (!records) response.header.rcode = 3; // NXDOMAIN
    else for (const data of records) response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data });
    send(response);
  };
  server = dns2.createServer({ udp: true, handle });
  server.on('requestError', () => {});
  const addresses: any = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  dnsPort = addresses.udp.port;
  tcpServer = dns2.createServer({ tcp: true, handle });
  tcpServer.on('requestError', () => {});
  await tcpServer.listen({ tcp: { port: dnsPort, address: '127.0.0.1' } });
  // A resolver that never answers.
  silent = dgram.createSocket('udp4');
  silent.on('error', () => {});
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  silentPort = silent.address().port;
  process.env.LOAM_DNS_SERVERS = `127.0.0.1:${dnsPort}`;
});
after(async () => {
  await server.close();
  await tcpServer.close();
  silent.close();
});

const challenge = (domain: string) => `_loam-challenge.${domain}`;

async function siteWithLiveDeploy(owner: Account, ref: string, html: string) {
  const s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('dom') } })).body;
  const up = await uploadZip(owner.token, ref, s.id, makeZip([{ name: 'index.html', data: html }]));
  assert.equal(up.status, 202, JSON.stringify(up.body));
  assert.equal((await waitDeploy(owner.token, ref, s.id, up.body.id)).status, 'ready');
  assert.equal((await http('POST', `/v1/projects/${ref}/sites/${s.id}/deploys/${up.body.id}/publish`, { token: owner.token })).status, 200);
  return s;
}

test('the DNS module: TXT strings joined, no record → [], a silent server → a bounded failure, answers capped', async () => {
  zone.set('multi.dns.test', [['v=spf1 ', 'include:x'], ['second']]);
  assert.deepEqual((await lookupTxt('multi.dns.test')).sort(), ['second', 'v=spf1 include:x']);
  assert.deepEqual(await lookupTxt('nothing-here.dns.test'), []);

  // Larger than a UDP answer (the resolver retries over TCP); generous time: this test's DNS server is slow JS.
  zone.set('big.dns.test', Array.from({ length: 40 }, (_, i) => [`${i}-`.padEnd(150, 'x')]));
  const big = await lookupTxt('big.dns.test', 15_000);
  assert.equal(big.length, DNS_MAX_RECORDS);
  zone.set('long.dns.test', [Array.from({ length: 12 }, () => 'z'.repeat(250))]);
  assert.equal((await lookupTxt('long.dns.test', 15_000))[0].length, DNS_MAX_RECORD_CHARS);

  process.env.LOAM_DNS_SERVERS = `127.0.0.1:${silentPort}`;
  try {
    const t0 = Date.now();
    await assert.rejects(lookupTxt('anything.dns.test', 800), (err: unknown) => err instanceof DnsLookupFailed && /ETIMEOUT/.test(err.message));
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  } finally {
    process.env.LOAM_DNS_SERVERS = `127.0.0.1:${dnsPort}`;
  }
  process.env.LOAM_DNS_SERVERS = 'not-an-ip:53';
  try {
    await assert.rejects(lookupTxt('anything.dns.test'), /LOAM_DNS_SERVERS/);
  } finally {
    process.env.LOAM_DNS_SERVERS = `127.0.0.1:${dnsPort}`;
  }
});

test('a custom domain is served by Host only once its TXT record proves it; bad names are refused', async () => {
  const { ref, owner } = await project();
  const s = await siteWithLiveDeploy(owner, ref, '<h1>alpha</h1>');
  const domain = `www.${subdomain('alpha')}.example`;
  const sitePath = `/v1/projects/${ref}/sites/${s.id}`;

  for (const bad of ['1.2.3.4', 'localhost', 'a..b.example', '-x.example', 'x_y.example', `evil.${process.env.LOAM_SITES_DOMAIN}`, 'é.example']) {
    const res = await http('PATCH', sitePath, { token: owner.token, body: { custom_domain: bad } });
    assert.equal(res.status, 400, `${bad}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, 'invalid_domain', bad);
  }
  const none = await http('POST', `${sitePath}/custom-domain/verify`, { token: owner.token });
  assert.equal(none.status, 404);
  assert.equal(none.body.code, 'custom_domain_not_found');

  const set = await http('PATCH', sitePath, { token: owner.token, body: { custom_domain: `${domain.toUpperCase()}.` } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.custom_domain, domain);
  assert.equal(set.body.custom_domain_verified, false);
  assert.equal(set.body.custom_domain_challenge.type, 'TXT');
  assert.equal(set.body.custom_domain_challenge.name, challenge(domain));
  const token = set.body.custom_domain_challenge.value;
  assert.match(token, /^[0-9a-f]{32}$/);
  assert.notEqual((await byHost(domain)).text, '<h1>alpha</h1>', 'not served before verification');

  const unproven = await http('POST', `${sitePath}/custom-domain/verify`, { token: owner.token });
  assert.equal(unproven.status, 422);
  assert.equal(unproven.body.code, 'domain_not_verified');
  assert.ok(unproven.body.message.includes(challenge(domain)) && unproven.body.message.includes(token), unproven.body.message);
  zone.set(challenge(domain), [['some-other-value']]);
  assert.equal((await http('POST', `${sitePath}/custom-domain/verify`, { token: owner.token })).body.code, 'domain_not_verified');

  zone.set(challenge(domain), [['some-other-value'], [token]]);
  const verified = await http('POST', `${sitePath}/custom-domain/verify`, { token: owner.token });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.custom_domain_verified, true);
  const served = await byHost(domain);
  assert.equal(served.status, 200);
  assert.equal(served.text, '<h1>alpha</h1>');
  assert.equal((await byHost(`${domain}:8443`)).text, '<h1>alpha</h1>', 'the port does not matter');
  assert.equal((await byHost(`other.${domain}`)).text === '<h1>alpha</h1>', false, 'a subdomain of it is not it');

  // The same name again keeps the verification; a new one starts over; empty removes it.
  assert.equal((await http('PATCH', sitePath, { token: owner.token, body: { custom_domain: domain } })).body.custom_domain_verified, true);
  const removed = await http('PATCH', sitePath, { token: owner.token, body: { custom_domain: '' } });
  assert.equal(removed.body.custom_domain, null);
  assert.equal(removed.body.custom_domain_challenge, null);
  assert.notEqual((await byHost(domain)).text, '<h1>alpha</h1>', 'a removed domain is not served');
});

test('one domain, two projects: never served for the one that has not proven it; re-verification on conflict', async () => {
  const a = await project();
  const b = await project();
  const siteA = await siteWithLiveDeploy(a.owner, a.ref, '<h1>project A</h1>');
  const siteB = await siteWithLiveDeploy(b.owner, b.ref, '<h1>project B</h1>');
  const pathA = `/v1/projects/${a.ref}/sites/${siteA.id}`;
  const pathB = `/v1/projects/${b.ref}/sites/${siteB.id}`;
  const domain = `shop.${subdomain('shared')}.example`;

  const tokenA = (await http('PATCH', pathA, { token: a.owner.token, body: { custom_domain: domain } })).body.custom_domain_challenge.value;
  zone.set(challenge(domain), [[tokenA]]);
  assert.equal((await http('POST', `${pathA}/custom-domain/verify`, { token: a.owner.token })).status, 200);
  assert.equal((await byHost(domain)).text, '<h1>project A</h1>');

  // B claims the same name: its own token; A's record proves nothing for B.
  const claimB = await http('PATCH', pathB, { token: b.owner.token, body: { custom_domain: domain } });
  assert.equal(claimB.status, 200);
  const tokenB = claimB.body.custom_domain_challenge.value;
  assert.notEqual(tokenB, tokenA);
  const refused = await http('POST', `${pathB}/custom-domain/verify`, { token: b.owner.token });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.code, 'domain_not_verified');
  assert.equal((await byHost(domain)).text, '<h1>project A</h1>');

  // B's PAT cannot verify (or change) A's site, nor A's PAT B's.
  for (const [token, p] of [[b.owner.token, pathA], [a.owner.token, pathB]]) {
    assert.equal((await http('POST', `${p}/custom-domain/verify`, { token })).status, 404);
    assert.equal((await http('PATCH', p, { token, body: { custom_domain: `x.${domain}` } })).status, 404);
  }
  const mallory = await signup();
  assert.equal((await http('POST', `${pathA}/custom-domain/verify`, { token: mallory.token })).status, 404);

  // Both records published: the holder still proves it, so B is refused.
  zone.set(challenge(domain), [[tokenA], [tokenB]]);
  const conflict = await http('POST', `${pathB}/custom-domain/verify`, { token: b.owner.token });
  assert.equal(conflict.status, 409, JSON.stringify(conflict.body));
  assert.equal(conflict.body.code, 'domain_taken');
  assert.equal((await byHost(domain)).text, '<h1>project A</h1>');

  // The domain's owner now publishes only B's: B's verification re-checks A's, which is gone, and takes it.
  zone.set(challenge(domain), [[tokenB]]);
  const moved = await http('POST', `${pathB}/custom-domain/verify`, { token: b.owner.token });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal((await byHost(domain)).text, '<h1>project B</h1>');
  const aNow = (await http('GET', pathA, { token: a.owner.token })).body;
  assert.equal(aNow.custom_domain, domain);
  assert.equal(aNow.custom_domain_verified, false, 'A lost the verification');
  assert.equal((await http('POST', `${pathA}/custom-domain/verify`, { token: a.owner.token })).body.code, 'domain_not_verified');
  assert.equal((await byHost(domain)).text, '<h1>project B</h1>');

  // Deleting B's site stops serving the domain at once; A does not get it back without proving it again.
  assert.equal((await http('DELETE', pathB, { token: b.owner.token })).status, 200);
  assert.ok(!['<h1>project A</h1>', '<h1>project B</h1>'].includes((await byHost(domain)).text));
});

test('DNS that does not answer: a clear 422, in bounded time, nothing verified', async () => {
  const { ref, owner } = await project();
  const s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('dns') } })).body;
  const sitePath = `/v1/projects/${ref}/sites/${s.id}`;
  await http('PATCH', sitePath, { token: owner.token, body: { custom_domain: `${subdomain('slow')}.example` } });
  process.env.LOAM_DNS_SERVERS = `127.0.0.1:${silentPort}`;
  try {
    const t0 = Date.now();
    const res = await http('POST', `${sitePath}/custom-domain/verify`, { token: owner.token });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'domain_not_verified');
    assert.match(res.body.message, /DNS lookup .* failed \(ETIMEOUT\)/);
    assert.ok(Date.now() - t0 < 8000);
  } finally {
    process.env.LOAM_DNS_SERVERS = `127.0.0.1:${dnsPort}`;
  }
  assert.equal((await http('GET', sitePath, { token: owner.token })).body.custom_domain_verified, false);
});
