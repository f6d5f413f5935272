// The S3 protocol at `<project>/storage/v1/s3` (path-style): one dispatcher from method, path and subresource to
// the operation, every request authenticated by SigV4 (auth.ts) and run through the same object rows, RLS check
// and upload path as the REST API. Answers and errors are S3's XML.
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { authenticate, type S3Caller } from './auth.ts';
import { s3Errors, renderS3Errors } from './errors.ts';
import * as buckets from './buckets.ts';
import * as objects from './objects.ts';
import * as multipart from './multipart.ts';

export const s3 = Router();

export interface S3Request { req: Request; res: Response; auth: S3Caller; bucket: string; key: string; query: Record<string, string> }

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw s3Errors.invalidArgument('Malformed path');
  }
}

function queryOf(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}

// Subresources S3 has and Loam does not: refused as such, rather than read as a listing or a download.
const UNSUPPORTED = ['acl', 'policy', 'cors', 'lifecycle', 'tagging', 'website', 'encryption', 'logging', 'notification',
  'replication', 'object-lock', 'ownershipControls', 'publicAccessBlock', 'accelerate', 'requestPayment', 'analytics',
  'metrics', 'inventory', 'intelligent-tiering', 'retention', 'legal-hold', 'attributes', 'torrent', 'restore', 'select',
  'policyStatus', 'versions', 'versionId'];

s3.use(async (req, res) => {
  const auth = await authenticate(req, res);
  const path = req.path.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const bucket = decode(slash === -1 ? path : path.slice(0, slash));
  const key = slash === -1 ? '' : decode(path.slice(slash + 1));
  const query = queryOf(req);
  const r: S3Request = { req, res, auth, bucket, key, query };
  res.set('x-amz-request-id', crypto.randomBytes(8).toString('hex').toUpperCase());
  const m = req.method;
  const unsupported = UNSUPPORTED.find((q) => q in query);
  if (unsupported) throw s3Errors.notImplemented(`The ${unsupported} subresource is not supported`);
  if (!bucket) {
    if (m === 'GET') return buckets.listBuckets(r);
    throw s3Errors.methodNotAllowed();
  }
  if (!key) {
    if (m === 'PUT') return buckets.createBucket(r);
    if (m === 'DELETE') return buckets.deleteBucket(r);
    if (m === 'HEAD') return buckets.headBucket(r);
    if (m === 'POST' && 'delete' in query) return objects.deleteObjects(r);
    if (m === 'GET') {
      if ('location' in query) return buckets.location(r);
      if ('versioning' in query) return buckets.versioning(r);
      if ('uploads' in query) return multipart.listUploads(r);
      return objects.listObjects(r);
    }
    throw s3Errors.methodNotAllowed();
  }
  if ('uploadId' in query) {
    if (m === 'PUT' && req.get('x-amz-copy-source')) return multipart.uploadPartCopy(r);
    if (m === 'PUT') return multipart.uploadPart(r);
    if (m === 'POST') return multipart.complete(r);
    if (m === 'DELETE') return multipart.abort(r);
    if (m === 'GET') return multipart.listParts(r);
    throw s3Errors.methodNotAllowed();
  }
  if (m === 'POST' && 'uploads' in query) return multipart.create(r);
  if (m === 'PUT') return req.get('x-amz-copy-source') ? objects.copyObject(r) : objects.putObject(r);
  if (m === 'GET' || m === 'HEAD') return objects.getObject(r);
  if (m === 'DELETE') return objects.deleteObject(r);
  throw s3Errors.methodNotAllowed();
});
s3.use(renderS3Errors);

/** Sends an XML answer. */
export function sendXml(res: Response, body: string, status = 200): void {
  res.status(status).setHeader('Content-Type', 'application/xml');
  res.end(body);
}
