// Signing a project's sessions and publishing its keys: the access token is signed with the signing key in use
// (ES256 / RS256 / EdDSA with its `kid`, by jose), or with the legacy HS256 secret while that is the key in use;
// the JWKS lists the public keys of every asymmetric key that is not revoked (in use, standby, previously used).
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { signJwt, signWith, type Claims } from './jwt.ts';
import { prepareKeyring } from './keyring.ts';

export async function signSession(p: ProjectRuntime, claims: Claims): Promise<string> {
  const { signer } = await prepareKeyring(p);
  return signer ? signWith(claims, signer.alg, signer.kid, signer.key) : signJwt(claims, p.jwt_secret!);
}

export async function projectJwks(p: ProjectRuntime): Promise<Record<string, unknown>[]> {
  const { keys } = await prepareKeyring(p);
  return keys.filter((k) => !k.thirdParty && k.alg !== 'HS256' && typeof k.key !== 'string')
    .map((k) => ({ ...(k.key as import('node:crypto').KeyObject).export({ format: 'jwk' }), kid: k.kid, alg: k.alg, use: 'sig', key_ops: ['verify'], ext: true }));
}
