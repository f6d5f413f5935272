// Signed URLs: tokens signed with the project's JWT secret that grant one download (`scope: download`, maybe
// with image transformations) or one upload (`scope: upload`) of one object path until they expire. Creating a
// download URL needs SELECT on the object under RLS; an upload URL needs the right to write it.
import { Router, type Request, type Response } from 'express';
import { caller, projectStorageConfig, serviceCaller, tx } from './context.ts';
import { errors, joseMessage } from './errors.ts';
import { findObject } from './objects-db.ts';
import { transformOptions, transformationSegments } from './render.ts';
import { sendObject } from './serve.ts';
import { storageSettings } from '../../../db/src/config.ts';
import { checkUpload, upload } from './upload.ts';
import { bucketName, int, json, jsonBody, target } from './validate.ts';
import { JwtError, signJwt, verifyJwt, type Claims } from '../project/jwt.ts';
import { project } from '../project/resolve.ts';

export const sign = Router();

function secret(res: Response): string {
  const s = project(res).jwt_secret;
  if (!s) throw errors.internal();
  return s;
}

function token(res: Response, claims: Claims, expiresIn: number): string {
  const iat = Math.floor(Date.now() / 1000);
  return signJwt({ ...claims, iat, exp: iat + expiresIn }, secret(res));
}

const expiresIn = (v: unknown) => {
  const n = int(v, 'expiresIn', { min: 1 });
  if (n === undefined) throw errors.invalidRequest("body must have required property 'expiresIn'");
  return n;
};

/** Checks a signed token: signature, expiry (no leeway: an expired link is expired) and scope. */
export function verifyToken(res: Response, t: unknown, scope: 'download' | 'upload'): Claims {
  if (typeof t !== 'string' || !t) throw errors.invalidRequest("querystring must have required property 'token'");
  let claims: Claims;
  try {
    claims = verifyJwt(t, secret(res), { exactExpiry: true });
  } catch (err) {
    if (err instanceof JwtError) throw errors.invalidJwt(joseMessage(err));
    throw err;
  }
  const scoped = scope === 'upload' ? claims.scope === 'upload' : claims.scope === 'download' || (claims.scope === undefined && !('upsert' in claims));
  if (!scoped) throw errors.invalidSignature(`Token is not scoped for ${scope}`);
  return claims;
}

/** Checks a signed URL's token (verifyToken) and that it is for this object. */
export function verifySigned(req: Request, res: Response, bucket: string, key: string, scope: 'download' | 'upload'): Claims {
  const claims = verifyToken(res, req.query.token, scope);
  if (claims.url !== `${bucket}/${key}`) throw errors.invalidSignature();
  return claims;
}

sign.post('/object/sign/:bucket/*key', json, async (req, res) => {
  const { bucket, key } = target(req);
  const b = jsonBody(req);
  const seconds = expiresIn(b.expiresIn);
  const [row] = await tx(req, res, caller(req, res), async (c) =>
    (await c.query('select id from storage.objects where bucket_id = $1 and name = $2', [bucket, key])).rows, { readOnly: true });
  if (!row) throw errors.noSuchKey();
  const transform = b.transform && typeof b.transform === 'object' ? transformOptions(b.transform as Record<string, unknown>) : undefined;
  const segments = transform ? transformationSegments(transform, true) : [];
  const render = segments.length > 0 && (await projectStorageConfig(project(res).ref)).imageTransformation;
  const claims: Claims = { url: `${bucket}/${key}`, scope: 'download' };
  if (render) {
    claims.transformations = segments.join(',');
    if (transform?.format) claims.format = transform.format;
  }
  res.json({ signedURL: `/${render ? 'render/image' : 'object'}/sign/${bucket}/${key}?token=${token(res, claims, seconds)}` });
});

sign.post('/object/sign/:bucket', json, async (req, res) => {
  const bucket = bucketName(req.params.bucket);
  const b = jsonBody(req);
  const seconds = expiresIn(b.expiresIn);
  const paths = b.paths;
  if (!Array.isArray(paths) || paths.length === 0 || paths.length > 1000 || paths.some((p) => typeof p !== 'string')) {
    throw errors.invalidRequest('body/paths must be an array of 1 to 1000 strings');
  }
  const visible = await tx(req, res, caller(req, res), async (c) => new Set((await c.query<{ name: string }>(
    'select name from storage.objects where bucket_id = $1 and name = any($2::text[])', [bucket, paths])).rows.map((r) => r.name)), { readOnly: true });
  res.json((paths as string[]).map((path) => visible.has(path)
    ? { error: null, path, signedURL: `/object/sign/${bucket}/${path}?token=${token(res, { url: `${bucket}/${path}`, scope: 'download' }, seconds)}` }
    : { error: 'Either the object does not exist or you do not have access to it', path, signedURL: null }));
});

sign.get('/object/sign/:bucket/*key', async (req, res) => {
  const { bucket, key } = target(req);
  const claims = verifySigned(req, res, bucket, key, 'download');
  const obj = await findObject(req, res, serviceCaller(), bucket, key);
  await sendObject(req, res, obj, { expires: new Date(claims.exp! * 1000), download: req.query.download });
});

sign.post('/object/upload/sign/:bucket/*key', async (req, res) => {
  const who = caller(req, res);
  const { bucket, key } = target(req);
  const upsert = req.get('x-upsert') === 'true';
  await checkUpload(req, res, who, { bucket, key, upsert, owner: who.claims.sub }, {});
  const url = `${bucket}/${key}`;
  const t = token(res, { owner: who.claims.sub, url, upsert, scope: 'upload' }, storageSettings().signedUploadExpiry);
  res.json({ url: `/object/upload/sign/${url}?token=${t}`, token: t });
});

// The token is the permission (its creator passed RLS), so the write runs as service_role for its owner.
sign.put('/object/upload/sign/:bucket/*key', async (req, res) => {
  const { bucket, key } = target(req);
  const claims = verifySigned(req, res, bucket, key, 'upload');
  const result = await upload(req, res, serviceCaller(), { bucket, key, upsert: claims.upsert === true, owner: claims.owner });
  res.json({ Key: result.Key });
});
