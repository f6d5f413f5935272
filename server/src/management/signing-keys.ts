// JWT signing keys of a project's auth (Supabase's /v1/projects/{ref}/config/auth/signing-keys): list, create
// (ES256, RS256, EdDSA made with jose, or imported from a private JWK; HS256 with a random or given secret), get,
// move through Supabase's life cycle (standby → in_use rotates, previously_used → revoked, …), delete, and the
// legacy HS256 secret as a key of its own. Private keys are sealed with the operator key before they reach the
// database and are never returned; the SQL (keys.sql) owns the life cycle and tells every API process.
import crypto from 'node:crypto';
import { Router, type Response } from 'express';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { seal } from '../../../db/src/secret-box.ts';
import { ApiError, errors } from '../errors.ts';
import { signingKeyContext } from '../project/keyring.ts';
import { body, param, str } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

interface KeyRow { id: string; algorithm: string; status: string; legacy: boolean; public_jwk: JWK | null; created_at: Date; updated_at: Date }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ALGS = ['ES256', 'RS256', 'EdDSA', 'HS256'] as const;
type Alg = typeof ALGS[number];
const KTY: Record<Alg, string> = { ES256: 'EC', RS256: 'RSA', EdDSA: 'OKP', HS256: 'oct' };
const notFound = () => new ApiError(404, 'signing_key_not_found', 'Signing key not found');

const keyJson = (k: KeyRow) => ({
  id: k.id, algorithm: k.algorithm, status: k.status,
  public_jwk: k.public_jwk ? { ...k.public_jwk, kid: k.id, alg: k.algorithm, use: 'sig', key_ops: ['verify'], ext: true } : null,
  created_at: k.created_at.toISOString(), updated_at: k.updated_at.toISOString(),
});

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
const publicPart = (jwk: JWK): JWK => Object.fromEntries(Object.entries(jwk).filter(([n]) => !PRIVATE_MEMBERS.includes(n) && ['kty', 'crv', 'x', 'y', 'n', 'e'].includes(n))) as JWK;

/** The private and public JWK of a new key: made here, or the caller's private JWK checked and completed. */
async function keyMaterial(alg: Alg, given: unknown): Promise<{ priv: JWK; pub: JWK | null }> {
  if (given === undefined || given === null) {
    if (alg === 'HS256') return { priv: { kty: 'oct', k: crypto.randomBytes(32).toString('base64url') }, pub: null };
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
    return { priv: await exportJWK(privateKey), pub: publicPart(await exportJWK(publicKey)) };
  }
  if (typeof given !== 'object' || Array.isArray(given) || JSON.stringify(given).length > 16_384) throw errors.invalidBody('private_jwk must be a JWK object');
  const jwk = given as JWK;
  if (jwk.kty !== KTY[alg]) throw errors.invalidBody(`private_jwk.kty must be ${KTY[alg]} for ${alg}`);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw errors.invalidBody(`private_jwk.alg must be ${alg}`);
  if (alg === 'HS256') {
    if (typeof jwk.k !== 'string' || Buffer.from(jwk.k, 'base64url').length < 16) throw errors.invalidBody('private_jwk.k must hold at least 16 bytes');
    return { priv: { kty: 'oct', k: jwk.k }, pub: null };
  }
  let key: crypto.KeyObject;
  try {
    const imported = await importJWK({ ...jwk, alg, ext: true }, alg);
    key = crypto.KeyObject.from(imported as CryptoKey);
  } catch {
    throw errors.invalidBody(`private_jwk is not a valid ${alg} private key`);
  }
  if (key.type !== 'private') throw errors.invalidBody('private_jwk must be a private key');
  if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw errors.invalidBody('RSA keys must have at least 2048 bits');
  const priv = key.export({ format: 'jwk' }) as JWK;
  return { priv, pub: publicPart(crypto.createPublicKey(key).export({ format: 'jwk' }) as JWK) };
}

async function one(res: Response, ref: string, id: string): Promise<KeyRow> {
  const k = UUID.test(id) ? (await callerQuery<KeyRow>(res, 'select * from platform.signing_keys($1)', [ref])).find((r) => r.id === id) : undefined;
  if (!k) throw notFound();
  return k;
}

const BASE = '/projects/:ref/config/auth/signing-keys';
export const signingKeys = Router();
signingKeys.use(BASE, authenticate, scope('projects'));

signingKeys.get(BASE, async (req, res) => {
  const rows = await callerQuery<KeyRow>(res, 'select * from platform.signing_keys($1)', [param(req, 'ref')]);
  res.json({ keys: rows.map(keyJson) });
});

signingKeys.post(BASE, async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const alg = str(b, 'algorithm', { required: true }) as Alg;
  if (!ALGS.includes(alg)) throw errors.invalidBody(`algorithm must be one of ${ALGS.join(', ')}`);
  const status = str(b, 'status') ?? 'standby';
  if (status !== 'standby' && status !== 'in_use') throw errors.invalidBody('status must be standby or in_use');
  const unknown = Object.keys(b).filter((k) => !['algorithm', 'status', 'private_jwk'].includes(k));
  if (unknown.length) throw errors.invalidBody(`unknown field ${unknown[0]}`);
  const { priv, pub } = await keyMaterial(alg, b.private_jwk);
  const given = (b.private_jwk as JWK | undefined)?.kid;
  const id = typeof given === 'string' && UUID.test(given) ? given.toLowerCase() : crypto.randomUUID();
  const [row] = await callerQuery<KeyRow>(res, 'select * from platform.create_signing_key($1, $2, $3, $4, $5, $6)',
    [ref, id, alg, status, pub, seal(JSON.stringify(priv), signingKeyContext(ref, id))]);
  forgetRuntime(ref);
  res.status(201).json(keyJson(row));
});

// The legacy HS256 secret as a signing key (made the first time it is asked for); POST is Supabase's "migrate".
signingKeys.get(`${BASE}/legacy`, async (req, res) => {
  const rows = await callerQuery<KeyRow>(res, 'select * from platform.signing_keys($1)', [param(req, 'ref')]);
  const legacy = rows.find((r) => r.legacy);
  if (!legacy) throw notFound();
  res.json(keyJson(legacy));
});

signingKeys.post(`${BASE}/legacy`, async (req, res) => {
  const ref = param(req, 'ref');
  const rows = await callerQuery<KeyRow>(res, 'select * from platform.signing_keys($1)', [ref]);
  const legacy = rows.find((r) => r.legacy);
  if (!legacy) throw notFound();
  forgetRuntime(ref);
  res.status(201).json(keyJson(legacy));
});

signingKeys.get(`${BASE}/:id`, async (req, res) => {
  res.json(keyJson(await one(res, param(req, 'ref'), param(req, 'id'))));
});

signingKeys.patch(`${BASE}/:id`, async (req, res) => {
  const ref = param(req, 'ref');
  const id = param(req, 'id');
  const b = body(req.body);
  const status = str(b, 'status', { required: true });
  if (!['in_use', 'standby', 'previously_used', 'revoked'].includes(status)) throw errors.invalidBody('status must be in_use, standby, previously_used or revoked');
  if (!UUID.test(id)) throw notFound();
  const [row] = await callerQuery<KeyRow>(res, 'select * from platform.update_signing_key($1, $2, $3)', [ref, id, status]);
  forgetRuntime(ref);
  res.json(keyJson(row));
});

signingKeys.delete(`${BASE}/:id`, async (req, res) => {
  const ref = param(req, 'ref');
  const id = param(req, 'id');
  if (!UUID.test(id)) throw notFound();
  const [row] = await callerQuery<KeyRow>(res, 'select * from platform.delete_signing_key($1, $2)', [ref, id]);
  forgetRuntime(ref);
  res.json(keyJson(row));
});
