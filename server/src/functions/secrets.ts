// Edge function secrets at rest: AES-256-GCM with the operator key of db/src/secret-box.ts (LOAM_SECRETS_KEY, or
// a key generated once into LOAM_DATA_DIR/secrets.key), stored as bytes. Every API process that runs functions
// must hold the same key; with several machines, set LOAM_SECRETS_KEY.
import crypto from 'node:crypto';
import { secretKey as secretsKey } from '../../../db/src/secret-box.ts';

export type Environment = 'production' | 'staging' | 'development';
export const ENVIRONMENTS: readonly Environment[] = ['production', 'staging', 'development'];

// Production's values keep the additional data they always had (`ref/name`); the other environments' name theirs.
const aad = (ref: string, name: string, environment: Environment) =>
  Buffer.from(environment === 'production' ? `${ref}/${name}` : `${ref}/${environment}/${name}`);

/** iv (12) || tag (16) || ciphertext. The project, environment and secret name are the additional data: a value
 *  cannot be moved to another name, environment or project by swapping rows. */
export function encryptSecret(ref: string, name: string, value: string, environment: Environment = 'production'): Buffer {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', secretsKey(), iv);
  c.setAAD(aad(ref, name, environment));
  const data = Buffer.concat([c.update(value, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), data]);
}

export function decryptSecret(ref: string, name: string, blob: Buffer, environment: Environment = 'production'): string {
  const d = crypto.createDecipheriv('aes-256-gcm', secretsKey(), blob.subarray(0, 12));
  d.setAAD(aad(ref, name, environment));
  d.setAuthTag(blob.subarray(12, 28));
  return Buffer.concat([d.update(blob.subarray(28)), d.final()]).toString('utf8');
}

export const secretDigest = (value: string) => crypto.createHash('sha256').update(value).digest('hex');

/** Names a secret may not have: variables the dynamic loader, Deno or its HTTP stack read at start-up (an
 *  `LD_PRELOAD` pointing into the function's own files would run native code outside Deno's sandbox), and the
 *  names Supabase reserves. Refused when set, and skipped when a worker starts. */
export const RESERVED_ENV = /^(LD_|DENO_|NPM_CONFIG_|NODE_|RUST_|SSL_|MALLOC_|GLIBC|V8_|SUPABASE_)|^(HOME|PATH|TMPDIR|TMP|TEMP|SHELL|USER|NO_COLOR|HTTPS?_PROXY|ALL_PROXY|NO_PROXY)$/i;
