// AWS Signature Version 4 as S3 checks it: the Authorization header and presigned-URL forms, and the bodies
// that come with them — a payload hash to check once read, UNSIGNED-PAYLOAD, or aws-chunked bodies
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD with a signature per chunk, STREAMING-UNSIGNED-PAYLOAD-TRAILER).
// The expected signatures are computed with @smithy/signature-v4 (the AWS SDK's own signer) from the request
// exactly as it arrived: the path as sent (S3 does not normalise it), the query decoded, the signed headers only.
import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { s3Errors } from './errors.ts';

/** node:crypto as the signer's hash (with a key: HMAC). */
class Sha256 {
  private readonly h: crypto.Hash | crypto.Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? crypto.createHash('sha256')
      : crypto.createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  async digest() { return new Uint8Array(this.h.digest()); }
  reset() {}
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const MAX_SKEW_MS = 15 * 60_000;

export interface SignedRequest {
  accessKey: string;
  longDate: string;
  region: string;
  signedHeaders: string[];
  signature: string;
  presigned: boolean;
  /** x-amz-security-token / X-Amz-Security-Token: a user's JWT in session-token mode. */
  sessionToken?: string;
  payloadHash: string;
}

export interface RawRequest { method: string; url: string; headers: IncomingHttpHeaders }

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function splitUrl(url: string): { path: string; query: Record<string, string | string[]> } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query: Record<string, string | string[]> = {};
  if (q !== -1) {
    for (const part of url.slice(q + 1).split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      let k: string;
      let v: string;
      try {
        k = decodeURIComponent(eq === -1 ? part : part.slice(0, eq));
        v = eq === -1 ? '' : decodeURIComponent(part.slice(eq + 1));
      } catch {
        throw s3Errors.invalidArgument('Malformed query string');
      }
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  return { path, query };
}

function parseCredential(credential: string) {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts[3] !== 's3' || !/^\d{8}$/.test(parts[1])) {
    throw s3Errors.authorizationMalformed('The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  return { accessKey: parts[0], shortDate: parts[1], region: parts[2] };
}

const LONG_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
function dateOf(longDate: string | undefined): Date {
  const m = LONG_DATE.exec(longDate ?? '');
  if (!m) throw s3Errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/** What the request claims: undefined when it carries no SigV4 authentication at all. Checks form and time,
 *  not the signature (that needs the secret: verify()). */
export function parseSigned(req: RawRequest, now = Date.now()): SignedRequest | undefined {
  const auth = first(req.headers.authorization);
  const { query } = splitUrl(req.url);
  if (auth && auth.startsWith('AWS4-HMAC-SHA256 ')) {
    const fields: Record<string, string> = {};
    for (const part of auth.slice(17).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    if (!fields.Credential || !fields.SignedHeaders || !/^[0-9a-f]{64}$/.test(fields.Signature ?? '')) {
      throw s3Errors.authorizationMalformed('The authorization header is malformed.');
    }
    const cred = parseCredential(fields.Credential);
    const longDate = first(req.headers['x-amz-date']);
    const date = dateOf(longDate);
    if (longDate!.slice(0, 8) !== cred.shortDate) throw s3Errors.authorizationMalformed('The credential date does not match the request date.');
    if (Math.abs(now - date.getTime()) > MAX_SKEW_MS) throw s3Errors.requestTimeTooSkewed();
    const payloadHash = first(req.headers['x-amz-content-sha256']);
    if (!payloadHash) throw s3Errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
    const signedHeaders = fields.SignedHeaders.split(';');
    if (!signedHeaders.includes('host')) throw s3Errors.authorizationMalformed('The host header must be signed.');
    return {
      accessKey: cred.accessKey, longDate: longDate!, region: cred.region, signedHeaders, signature: fields.Signature,
      presigned: false, sessionToken: first(req.headers['x-amz-security-token']), payloadHash,
    };
  }
  if (query['X-Amz-Algorithm'] !== undefined) {
    const str = (k: string) => (typeof query[k] === 'string' ? query[k] as string : undefined);
    if (str('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw s3Errors.invalidArgument('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const credential = str('X-Amz-Credential');
    const signature = str('X-Amz-Signature');
    const signed = str('X-Amz-SignedHeaders');
    const expires = Number(str('X-Amz-Expires'));
    if (!credential || !signed || !signature || !/^[0-9a-f]{64}$/.test(signature)) {
      throw s3Errors.authorizationMalformed('Query-string authentication requires the X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Signature parameters');
    }
    if (!Number.isSafeInteger(expires) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
      throw s3Errors.authorizationMalformed('X-Amz-Expires must be between 1 and 604800 seconds');
    }
    const cred = parseCredential(credential);
    const longDate = str('X-Amz-Date');
    const date = dateOf(longDate);
    if (longDate!.slice(0, 8) !== cred.shortDate) throw s3Errors.authorizationMalformed('The credential date does not match the request date.');
    if (date.getTime() > now + MAX_SKEW_MS) throw s3Errors.requestTimeTooSkewed();
    if (date.getTime() + expires * 1000 < now) throw s3Errors.expired();
    const signedHeaders = signed.split(';');
    if (!signedHeaders.includes('host')) throw s3Errors.authorizationMalformed('The host header must be signed.');
    return {
      accessKey: cred.accessKey, longDate: longDate!, region: cred.region, signedHeaders, signature, presigned: true,
      sessionToken: str('X-Amz-Security-Token'), payloadHash: 'UNSIGNED-PAYLOAD',
    };
  }
  return undefined;
}

function signer(s: SignedRequest, secret: string) {
  return new SignatureV4({
    credentials: { accessKeyId: s.accessKey, secretAccessKey: secret }, region: s.region, service: 's3',
    sha256: Sha256, uriEscapePath: false,
  }) as unknown as {
    createCanonicalRequest(r: unknown, headers: Record<string, string>, payloadHash: string): string;
    getSignature(longDate: string, scope: string, key: Promise<Uint8Array>, canonical: string): Promise<string>;
    getSigningKey(c: unknown, region: string, shortDate: string, service?: string): Promise<Uint8Array>;
    signString(s: string, o: { signingDate: Date; signingRegion: string }): Promise<string>;
  };
}

const scopeOf = (s: SignedRequest) => `${s.longDate.slice(0, 8)}/${s.region}/s3/aws4_request`;

const equal = (a: string, b: string) => a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Throws SignatureDoesNotMatch unless `secret` signed this request. */
export async function verify(req: RawRequest, s: SignedRequest, secret: string): Promise<void> {
  const { path, query } = splitUrl(req.url);
  const headers: Record<string, string> = {};
  for (const name of s.signedHeaders) {
    const v = req.headers[name];
    if (v === undefined) throw s3Errors.signatureDoesNotMatch();
    headers[name] = (Array.isArray(v) ? v.join(',') : String(v)).trim().replace(/\s+/g, ' ');
  }
  const sig = signer(s, secret);
  const canonical = sig.createCanonicalRequest({ method: req.method, path, query, headers }, headers, s.payloadHash);
  const shortDate = s.longDate.slice(0, 8);
  const expected = await sig.getSignature(s.longDate, scopeOf(s),
    sig.getSigningKey({ accessKeyId: s.accessKey, secretAccessKey: secret }, s.region, shortDate, 's3'), canonical);
  if (!equal(expected, s.signature)) throw s3Errors.signatureDoesNotMatch();
}

const MAX_CHUNK = 16 * 1024 * 1024;
const CRLF = Buffer.from('\r\n');

/** Decodes an aws-chunked body (`<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n` … `0…\r\n<trailers>\r\n`),
 *  checking each chunk's signature against the chain that starts at the request's (when `signing` is given). */
class ChunkDecoder extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private readonly signing?: { s: SignedRequest; secret: string };
  private expect: { size: number; signature?: string } | undefined;
  private done = false;
  private prev: string;
  constructor(signing?: { s: SignedRequest; secret: string }) {
    super();
    this.signing = signing;
    this.prev = signing?.s.signature ?? '';
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.drain().then(() => cb(), cb);
  }

  private async drain() {
    while (!this.done) {
      if (!this.expect) {
        const eol = this.buf.indexOf(CRLF);
        if (eol === -1) {
          if (this.buf.length > 4096) throw s3Errors.invalidArgument('Malformed aws-chunked body');
          return;
        }
        const line = this.buf.subarray(0, eol).toString('latin1');
        this.buf = this.buf.subarray(eol + 2);
        const m = /^([0-9a-fA-F]{1,8})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(line);
        if (!m) throw s3Errors.invalidArgument('Malformed aws-chunked body');
        const size = parseInt(m[1], 16);
        if (size > MAX_CHUNK) throw s3Errors.invalidArgument('aws-chunked chunks are limited to 16 MiB');
        if (this.signing && !m[2]) throw s3Errors.signatureDoesNotMatch();
        this.expect = { size, signature: m[2] };
      }
      const { size, signature } = this.expect;
      // The last chunk has no CRLF of its own after its (empty) data: trailers, then a blank line, follow.
      if (size === 0) {
        await this.check(Buffer.alloc(0), signature);
        this.done = true;
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length < size + 2) return;
      const data = this.buf.subarray(0, size);
      if (!this.buf.subarray(size, size + 2).equals(CRLF)) throw s3Errors.invalidArgument('Malformed aws-chunked body');
      this.buf = this.buf.subarray(size + 2);
      this.expect = undefined;
      await this.check(data, signature);
      this.push(Buffer.from(data));
    }
  }

  private async check(data: Buffer, signature: string | undefined) {
    if (!this.signing) return;
    const { s, secret } = this.signing;
    const hash = crypto.createHash('sha256').update(data).digest('hex');
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', s.longDate, scopeOf(s), this.prev, EMPTY_SHA256, hash].join('\n');
    const expected = await signer(s, secret).signString(toSign, { signingDate: dateOf(s.longDate), signingRegion: s.region });
    if (!signature || !equal(expected, signature)) throw s3Errors.signatureDoesNotMatch();
    this.prev = signature;
  }

  override _flush(cb: TransformCallback) {
    cb(this.done ? null : s3Errors.incompleteBody());
  }
}

/** Checks a declared SHA-256 of the body once all of it has passed. */
class HashCheck extends Transform {
  private readonly hash = crypto.createHash('sha256');
  private readonly expected: string;
  constructor(expected: string) {
    super();
    this.expected = expected;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback) {
    cb(this.hash.digest('hex') === this.expected ? null : s3Errors.contentSha256Mismatch());
  }
}

/** The request body as the client meant it, failing (before its end is seen) if it is not what was signed. */
export function payload(req: Readable, s: SignedRequest, secret: string): Readable {
  switch (s.payloadHash) {
    case 'UNSIGNED-PAYLOAD':
      return req;
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      // The trailer (a checksum the client computed) is not checked: the chunks it covers are.
      return pipe(req, new ChunkDecoder({ s, secret }));
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return pipe(req, new ChunkDecoder());
    default:
      if (!/^[0-9a-f]{64}$/.test(s.payloadHash)) throw s3Errors.invalidArgument('x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a SHA-256 in hex');
      return pipe(req, new HashCheck(s.payloadHash));
  }
}

function pipe(from: Readable, to: Transform): Readable {
  from.on('error', (err) => to.destroy(err));
  // The consumer (staging, or a body read) has its own listener and fails with the error; this one only keeps
  // an error raised after the consumer gave up (its pipeline already torn down) from being uncaught.
  to.on('error', () => {});
  return from.pipe(to);
}
