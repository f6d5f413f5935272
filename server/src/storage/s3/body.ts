// Request bodies of S3 operations, as signed (sigv4.ts payload()): small XML documents read whole under a cap.
import type { Request } from 'express';
import { errors } from '../errors.ts';
import type { S3Caller } from './auth.ts';
import { payload } from './sigv4.ts';

export async function readBody(req: Request, auth: S3Caller, max: number): Promise<Buffer> {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > max * 2) throw errors.entityTooLarge('request body');
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload(req, auth.signed, auth.secret)) {
    size += (chunk as Buffer).length;
    if (size > max) throw errors.entityTooLarge('request body');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}
