// Who an S3 request is: an access key of this project (Management API) acts as the project's service role, as
// Supabase's do; the access key `<project ref>` with the anon key as secret and a user's JWT as session token
// (or a publishable key) acts as that user (Supabase's session-token mode), so RLS applies as on the REST API. Another project's key
// reads as unknown, whatever its signature.
import type { Request, Response } from 'express';
import { controlPool } from '../../../../db/src/pools.ts';
import { open } from '../../../../db/src/secret-box.ts';
import { projectKeys } from '../../project/jwt.ts';
import { identifyHeaders } from '../../project/keys.ts';
import { apiKeyContext, keyringOf } from '../../project/keyring.ts';
import type { ProjectRuntime } from '../../../../db/src/projects.ts';
import { project } from '../../project/resolve.ts';
import { serviceCaller, type Caller } from '../context.ts';
import { s3Errors } from './errors.ts';
import { parseSigned, verify, type RawRequest, type SignedRequest } from './sigv4.ts';

export interface S3Caller { who: Caller; signed: SignedRequest; secret: string }

/** The context a sealed secret is bound to (management/storage-credentials.ts seals with the same). */
export const credentialContext = (ref: string, accessKey: string) => `s3:${ref}:${accessKey}`;

/** The secret a session-mode request is signed with: the legacy anon key (while legacy keys are on) or one of
 *  the project's publishable keys — whichever its signature verifies with. */
async function sessionSecret(raw: RawRequest, signed: SignedRequest, p: ProjectRuntime): Promise<string> {
  const candidates: string[] = [];
  if (keyringOf(p).legacyApiKeysEnabled && p.jwt_secret && p.jwt_secret_created_at) {
    candidates.push(projectKeys(p.ref, p.jwt_secret, new Date(p.jwt_secret_created_at)).anon);
  }
  const { rows } = await controlPool().query<{ id: string; key_sealed: string }>('select * from platform_private.publishable_keys($1)', [p.ref]);
  for (const r of rows) {
    const key = open(r.key_sealed, apiKeyContext(p.ref, r.id));
    if (key) candidates.push(key);
  }
  for (const secret of candidates) {
    try {
      await verify(raw, signed, secret);
      return secret;
    } catch { /* the next one */ }
  }
  throw s3Errors.signatureDoesNotMatch();
}

export async function authenticate(req: Request, res: Response): Promise<S3Caller> {
  const raw: RawRequest = { method: req.method, url: req.originalUrl, headers: req.headers };
  const signed = parseSigned(raw);
  if (!signed) throw s3Errors.missingAuth();
  const p = project(res);
  if (signed.accessKey === p.ref) {
    if (!signed.sessionToken) throw s3Errors.invalidAccessKeyId();
    const secret = await sessionSecret(raw, signed, p);
    const id = identifyHeaders({ authorization: `Bearer ${signed.sessionToken}` }, p);
    return { who: { ...id, authenticated: true }, signed, secret };
  }
  if (!/^[0-9a-f]{32}$/.test(signed.accessKey)) throw s3Errors.invalidAccessKeyId();
  // Looked up on every request, not cached: a revoked key is refused from the next request on.
  const { rows: [row] } = await controlPool().query<{ ref: string; secret_sealed: string }>(
    'select * from platform_private.storage_credential($1)', [signed.accessKey]);
  if (!row || row.ref !== p.ref) throw s3Errors.invalidAccessKeyId();
  const secret = open(row.secret_sealed, credentialContext(p.ref, signed.accessKey));
  if (secret === undefined) throw s3Errors.invalidAccessKeyId();
  await verify(raw, signed, secret);
  return { who: serviceCaller(), signed, secret };
}
