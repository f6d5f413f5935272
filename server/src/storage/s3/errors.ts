// S3's error shape (`<Error><Code>…`) and the mapping from storage-api's errors, so the one object model's
// refusals (RLS, missing bucket or key, size limits) read as S3 clients expect them.
import type { ErrorRequestHandler } from 'express';
import { StorageError, toStorageError } from '../errors.ts';
import { xml } from './xml.ts';

export class S3Error extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export const s3Errors = {
  accessDenied: (m = 'Access Denied') => new S3Error(403, 'AccessDenied', m),
  missingAuth: () => new S3Error(403, 'AccessDenied', 'Missing or unsupported authentication: sign the request with AWS Signature Version 4'),
  invalidAccessKeyId: () => new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'),
  signatureDoesNotMatch: () => new S3Error(403, 'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.'),
  authorizationMalformed: (m: string) => new S3Error(400, 'AuthorizationHeaderMalformed', m),
  requestTimeTooSkewed: () => new S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'),
  expired: () => new S3Error(403, 'AccessDenied', 'Request has expired'),
  contentSha256Mismatch: () => new S3Error(400, 'XAmzContentSHA256Mismatch', 'The provided \'x-amz-content-sha256\' header does not match what was computed.'),
  invalidArgument: (m: string) => new S3Error(400, 'InvalidArgument', m),
  invalidRequest: (m: string) => new S3Error(400, 'InvalidRequest', m),
  malformedXml: () => new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.'),
  notImplemented: (m = 'A header or query you provided implies functionality that is not implemented.') => new S3Error(501, 'NotImplemented', m),
  methodNotAllowed: () => new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.'),
  noSuchBucket: () => new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist'),
  noSuchKey: () => new S3Error(404, 'NoSuchKey', 'The specified key does not exist.'),
  noSuchUpload: () => new S3Error(404, 'NoSuchUpload', 'The specified multipart upload does not exist.'),
  invalidPart: (m = 'One or more of the specified parts could not be found.') => new S3Error(400, 'InvalidPart', m),
  invalidPartOrder: () => new S3Error(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.'),
  preconditionFailed: () => new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'),
  badDigest: () => new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.'),
  incompleteBody: () => new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header'),
};

function fromStorage(e: StorageError): S3Error {
  switch (e.code) {
    case 'NoSuchBucket': return s3Errors.noSuchBucket();
    case 'NoSuchKey': return s3Errors.noSuchKey();
    case 'AccessDenied': return s3Errors.accessDenied(e.message);
    case 'InvalidJWT': return s3Errors.accessDenied(e.message);
    case 'ResourceAlreadyExists': return new S3Error(409, 'BucketAlreadyExists', 'The requested bucket name is not available.');
    case 'ResourceNotEmpty': return new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty');
    case 'InvalidBucketName': return new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.');
    case 'InvalidKey': return new S3Error(400, 'InvalidArgument', e.message);
    case 'EntityTooLarge': return new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    // Ceph RGW's code for a user's quota.
    case 'QuotaExceeded': return new S3Error(403, 'QuotaExceeded', e.message);
    case 'InvalidMimeType': return new S3Error(400, 'InvalidArgument', e.message);
    case 'InvalidRange': return new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable');
    case 'DatabaseError': return new S3Error(503, 'ServiceUnavailable', e.message);
    case 'Aborted': return new S3Error(400, 'RequestTimeout', e.message);
    case 'InternalError': return new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.');
    default: return e.statusCode >= 500 ? new S3Error(500, 'InternalError', e.message) : new S3Error(400, 'InvalidRequest', e.message);
  }
}

export const toS3Error = (err: unknown): S3Error => (err instanceof S3Error ? err : fromStorage(toStorageError(err)));

export const renderS3Errors: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toS3Error(err);
  if (e.code === 'InternalError') console.error(err);
  if (res.headersSent) return void res.destroy();
  for (const h of res.getHeaderNames()) res.removeHeader(h);
  if (!req.complete) res.set('Connection', 'close');
  res.status(e.status);
  if (req.method === 'HEAD') return void res.end();
  res.setHeader('Content-Type', 'application/xml');
  res.end(xml('Error', { Code: e.code, Message: e.message, Resource: req.originalUrl.split('?')[0] }));
};
