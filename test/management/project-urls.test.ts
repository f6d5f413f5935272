// Project URLs: with LOAM_PROJECT_DOMAIN a project is also served at https://<ref>.<domain>, and the Supabase CLI
// with a profile whose project_host is that domain reaches it (`link`, `storage ls`, `services`). The HTTPS front
// is test-local: a reverse proxy with a self-signed certificate for *.<domain>, reached through an HTTP CONNECT
// proxy (HTTPS_PROXY) so the CLI needs no DNS for the made-up domain.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { config } from '../../db/src/config.ts';
import { createProject, loam, type Project } from '../helpers/platform.ts';
import { cliUser, type Cli } from '../helpers/cli.ts';

const DOMAIN = 'loam.test';
// Read when the test Loam builds its routes: set before it starts.
config.projectDomain = DOMAIN;

let front: https.Server, tunnel: http.Server, certFile: string, p: Project, cli: Cli;
const seen: string[] = [];

before(async () => {
  const { url } = await loam();
  const target = new URL(url);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-front-'));
  certFile = path.join(dir, 'front.crt');
  const keyFile = path.join(dir, 'front.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile,
    '-out', certFile, '-days', '1', '-subj', `/CN=*.${DOMAIN}`, '-addext', `subjectAltName=DNS:*.${DOMAIN}`], { stdio: 'pipe', timeout: 30_000 });
  // The HTTPS front: every request to Loam as it came, Host header included.
  front = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (req, res) => {
    seen.push(`${req.method} ${req.headers.host}${req.url}`);
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { res.destroy(); });
    req.pipe(upstream);
  });
  front.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const frontPort = (front.address() as net.AddressInfo).port;
  // The CONNECT proxy: whatever host the CLI names, the tunnel ends at the front.
  tunnel = http.createServer((_req, res) => { res.statusCode = 405; res.end(); });
  tunnel.on('connect', (req, socket, head) => {
    socket.on('error', () => {});
    if (!String(req.url).endsWith(`.${DOMAIN}:443`)) { socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
    const out = net.connect(frontPort, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      out.write(head);
      out.pipe(socket);
      socket.pipe(out);
    });
    out.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => tunnel.listen(0, '127.0.0.1', r));
  const proxy = `http://127.0.0.1:${(tunnel.address() as net.AddressInfo).port}`;

  p = await createProject();
  cli = cliUser(url, p.owner.token, {
    HTTPS_PROXY: proxy, https_proxy: proxy, NO_PROXY: 'localhost,127.0.0.1', no_proxy: 'localhost,127.0.0.1',
    SSL_CERT_FILE: certFile, NODE_EXTRA_CA_CERTS: certFile,
  }, DOMAIN);
});

after(async () => {
  front?.closeAllConnections();
  tunnel?.closeAllConnections?.();
  await Promise.all([front, tunnel].map((s) => s && new Promise((r) => s.close(r))));
});

test('the API hands out <ref>.<domain> URLs, and the project answers there through the HTTPS front', async () => {
  const res = await fetch(`${(await loam()).url}/v1/projects/${p.ref}`, { headers: { authorization: `Bearer ${p.owner.token}` } });
  const body = await res.json();
  assert.equal(body.endpoint, `http://${p.ref}.${DOMAIN}`);
  // The project answers on its subdomain (through the HTTPS front, as a client would reach it).
  const agent = new https.Agent({ ca: fs.readFileSync(certFile) });
  const status = await new Promise<number>((resolve, reject) => {
    const r = https.request({ host: '127.0.0.1', port: (front.address() as net.AddressInfo).port, path: '/rest/v1/', servername: `${p.ref}.${DOMAIN}`,
      headers: { host: `${p.ref}.${DOMAIN}`, apikey: p.anonKey }, agent }, (res2) => { res2.resume(); resolve(res2.statusCode!); });
    r.on('error', reject);
    r.end();
  });
  assert.equal(status, 200);
});

test('supabase link, storage ls and services reach the project at https://<ref>.<domain>', async () => {
  const before = seen.length;
  const linked = await cli.run(['link', '--project-ref', p.ref, '--password', p.dbPass]);
  assert.equal(linked.code, 0, `${linked.stdout}\n${linked.stderr}`);
  const linkCalls = seen.slice(before);
  assert.ok(linkCalls.some((s) => s.includes(`${p.ref}.${DOMAIN}/`)), `link reached the project: ${JSON.stringify(linkCalls)}`);

  const bucket = `b${crypto.randomBytes(3).toString('hex')}`;
  const made = await fetch(`${p.url}/storage/v1/bucket`, { method: 'POST', headers: { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: bucket }) });
  assert.equal(made.status, 200, await made.text());
  const ls = await cli.run(['storage', 'ls', '--experimental', '--linked']);
  assert.equal(ls.code, 0, `${ls.stdout}\n${ls.stderr}`);
  assert.match(ls.stdout, new RegExp(`${bucket}/`));
  assert.ok(seen.some((s) => s.startsWith(`GET ${p.ref}.${DOMAIN}/storage/v1/bucket`)), JSON.stringify(seen.slice(-5)));

  const services = await cli.run(['services']);
  assert.equal(services.code, 0, `${services.stdout}\n${services.stderr}`);
  assert.match(services.stdout, /postgrest/i);
});
