// Helpers of the sites tests: a small zip writer that can also write what no honest tool writes (absolute and
// `..` names, symlinks, lying sizes), projects that need no database (sites live in the control database),
// and raw HTTP with a Host header.
import crypto from 'node:crypto';
import http from 'node:http';
import { http as api, loam, signup, type Account } from '../helpers/platform.ts';

export { makeZip, type ZipEntry } from './zip-writer.ts';

/** A project row is all a site needs: no waiting for its database. */
export async function project(owner?: Account): Promise<{ ref: string; owner: Account }> {
  const account = owner ?? await signup();
  const res = await api('POST', '/v1/projects', { token: account.token, body: { name: 'site project', organization_id: account.org, db_pass: 'pw-0123456789' } });
  if (res.status !== 201) throw new Error(`create project failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ref: res.body.ref, owner: account };
}

export async function uploadZip(token: string, ref: string, siteId: string, zip: Buffer, label = 'v') {
  const { url } = await loam();
  const res = await fetch(`${url}/v1/projects/${ref}/sites/${siteId}/deploys?label=${label}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/zip' }, body: new Uint8Array(zip),
  });
  return { status: res.status, body: await res.json() as any };
}

export async function waitDeploy(token: string, ref: string, siteId: string, deployId: string): Promise<any> {
  const until = Date.now() + 15_000;
  for (;;) {
    const res = await api('GET', `/v1/projects/${ref}/sites/${siteId}/deploys/${deployId}`, { token });
    if (res.body?.status !== 'processing') return res.body;
    if (Date.now() > until) throw new Error(`deploy ${deployId} still processing`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A GET through the path form `/sites/<label>/…`. */
export async function site(label: string, path = '/', headers: Record<string, string> = {}) {
  const { url } = await loam();
  const res = await fetch(`${url}/sites/${label}${path}`, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A GET with a Host header (the `<subdomain>.<LOAM_SITES_DOMAIN>` form). */
export async function byHost(host: string, path = '/'): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const { url } = await loam();
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    }).on('error', reject);
  });
}

export const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
export const subdomain = (prefix = 's') => `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
