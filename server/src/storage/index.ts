// The project's /storage/v1 API (Supabase Storage compatible): buckets, objects, listing, signed URLs and image
// transformation, each its own module; every error is rendered in storage-api's shape by one middleware.
import fs from 'node:fs';
import { Router } from 'express';
import { buckets } from './buckets.ts';
import { errors, renderStorageErrors } from './errors.ts';
import { list } from './list.ts';
import { objects } from './objects.ts';
import { renderImage } from './render.ts';
import { s3 } from './s3/index.ts';
import { tus } from './tus.ts';
import { sign } from './sign.ts';

export const storage = Router();
// storage-api's liveness routes, open without a key: an empty 200, and its version as plain text (Loam's).
const VERSION = (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
storage.get('/status', (_req, res) => void res.status(200).end());
storage.get('/version', (_req, res) => void res.type('text/plain').send(VERSION));
// Listing and signing routes come before the object catch-alls (`/object/:bucket/*key`) they would match.
storage.use('/s3', s3);
storage.use(tus);
storage.use(buckets, list, sign, renderImage, objects);
storage.use(() => { throw errors.routeNotFound(); });
storage.use(renderStorageErrors);
