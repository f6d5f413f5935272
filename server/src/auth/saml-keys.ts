// The SAML service provider key pair of a project (GoTrue's GOTRUE_SAML_PRIVATE_KEY, one per project here): an
// RSA key that signs AuthnRequests and a self-signed certificate that the SP metadata publishes. Made on first
// use with openssl (node's crypto makes keys but no certificates), stored in the control database with the
// private key sealed by the operator key and bound to the project (db/src/secret-box.ts).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { controlPool } from '../../../db/src/pools.ts';
import { open, seal } from '../../../db/src/secret-box.ts';
import { AuthError } from './errors.ts';

export interface SpKey { privateKey: string; certificate: string }

const context = (ref: string) => `saml-sp-key:${ref}`;
const cache = new Map<string, Promise<SpKey>>();

/** A fresh key and a 10-year self-signed certificate naming the project (openssl, 20 s at most). */
async function generate(ref: string): Promise<SpKey> {
  // Off the event loop: an RSA key takes a while.
  const pem = await new Promise<string>((resolve, reject) => crypto.generateKeyPair('rsa', {
    modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'loam-saml-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    await fs.writeFile(keyFile, pem, { mode: 0o600 });
    const certificate = await new Promise<string>((resolve, reject) => {
      execFile('openssl', ['req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', '3650', '-subj', `/CN=${ref} SAML SP`],
        { timeout: 20_000, maxBuffer: 64 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    if (!certificate.includes('BEGIN CERTIFICATE')) throw new Error('openssl made no certificate');
    return { privateKey: pem, certificate };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function load(ref: string): Promise<SpKey> {
  const read = async (sql: string, params: unknown[]) => {
    const row = (await controlPool().query(sql, params)).rows[0]?.k as { private_sealed: string; certificate: string } | null;
    if (!row) return undefined;
    const privateKey = open(row.private_sealed, context(ref));
    if (!privateKey) throw new AuthError(500, 'unexpected_failure', 'The SAML service provider key cannot be read (was LOAM_SECRETS_KEY changed?)');
    return { privateKey, certificate: row.certificate };
  };
  const stored = await read('select platform_private.saml_sp_key($1) as k', [ref]);
  if (stored) return stored;
  const made = await generate(ref);
  const saved = await read('select platform_private.save_saml_sp_key($1, $2, $3) as k', [ref, seal(made.privateKey, context(ref)), made.certificate]);
  if (!saved) throw new AuthError(404, 'not_found', 'Project not found');
  return saved;
}

/** The project's SP key pair, made and stored the first time (cached per process, 1000 projects at most). */
export function spKey(ref: string): Promise<SpKey> {
  let hit = cache.get(ref);
  if (!hit) {
    if (cache.size >= 1000) cache.delete(cache.keys().next().value!);
    hit = load(ref);
    hit.catch(() => cache.delete(ref));
    cache.set(ref, hit);
  }
  return hit;
}

/** A PEM certificate's base64 body, as metadata and node-saml want it. */
export const certBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
