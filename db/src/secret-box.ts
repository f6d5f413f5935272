// Encrypts secrets the platform must be able to read back (S3 secret access keys: SigV4 verification needs the
// secret itself, so a hash will not do; edge function secrets) with an operator key, AES-256-GCM. The key is LOAM_SECRETS_KEY (any
// string of at least 32 characters; it is hashed to 32 bytes) or, when unset, a random key generated once into
// $LOAM_DATA_DIR/secrets.key (mode 0600). Several API processes on different machines must share
// LOAM_SECRETS_KEY: a generated file is only shared by processes on one data directory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { config, settings } from './config.ts';

const VERSION = 'v1';
let key: Buffer | undefined;

function loadKey(): Buffer {
  const env = settings.secretsKey;
  if (env) {
    if (env.length < 32) throw new Error('LOAM_SECRETS_KEY must be at least 32 characters');
    return crypto.createHash('sha256').update(env).digest();
  }
  const file = path.join(config.dataDir, 'secrets.key');
  fs.mkdirSync(config.dataDir, { recursive: true });
  try {
    // `wx`: two processes starting together cannot both write a key; the loser reads the winner's.
    fs.writeFileSync(file, crypto.randomBytes(32).toString('base64'), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const text = fs.readFileSync(file, 'utf8').trim();
  const raw = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (raw.length !== 32) throw new Error(`${file} does not hold a 32-byte key (base64 or hex)`);
  return raw;
}

/** The operator key, for everything Loam seals (S3 secret keys here, edge function secrets in functions/). */
export const secretKey = (): Buffer => (key ??= loadKey());

/** `v1:<base64 iv|tag|ciphertext>`; `context` (e.g. the project ref) is bound in as associated data, so a value
 *  copied to another row or project does not decrypt there. */
export function seal(plain: string, context: string): string {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', secretKey(), iv);
  c.setAAD(Buffer.from(context));
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return `${VERSION}:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
}

/** The plain text, or undefined when the value is malformed, was sealed for another context or another key. */
export function open(sealed: string, context: string): string | undefined {
  if (!sealed.startsWith(`${VERSION}:`)) return undefined;
  const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64');
  if (raw.length < 28) return undefined;
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', secretKey(), raw.subarray(0, 12));
    d.setAAD(Buffer.from(context));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
