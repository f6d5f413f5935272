// The project's /storage/v1 API (Supabase Storage compatible): buckets, objects, listing, signed URLs and image
// transformation, each its own module; every error is rendered in storage-api's shape by one middleware.
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
// Listing and signing routes come before the object catch-alls (`/object/:bucket/*key`) they would match.
storage.use('/s3', s3);
storage.use(tus);
storage.use(buckets, list, sign, renderImage, objects);
storage.use(() => { throw errors.routeNotFound(); });
storage.use(renderStorageErrors);
