// A project's storage through the Management API: its buckets, and its storage settings (file size limit,
// image transformation) kept in the control database.
import { Router } from 'express';
import { apiRoleContext, withContext } from '../../../db/src/context.ts';
import { errors } from '../errors.ts';
import { forgetStorageConfig } from '../storage/context.ts';
import { storageSettings } from '../../../db/src/config.ts';
import { body, param } from '../validate.ts';
import { ownerPool } from './project-db.ts';
import { findProject } from './projects.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const storageManagement = Router();
storageManagement.use('/projects/:ref/storage', authenticate, scope('projects'));
storageManagement.use('/projects/:ref/config/storage', authenticate, scope('projects'));

// The owner's connection lists every bucket as service_role would: bucket RLS is for the data plane's callers.
storageManagement.get('/projects/:ref/storage/buckets', async (req, res) => {
  await findProject(res, param(req, 'ref'));
  const { pool } = await ownerPool(param(req, 'ref'));
  const rows = await withContext(pool, apiRoleContext({ ref: param(req, 'ref') }, 'service_role'), async (c) => (await c.query(
    `select id, name, coalesce(owner::text, owner_id, '') as owner, public, created_at, updated_at
     from storage.buckets order by name`)).rows, { readOnly: true });
  res.json(rows);
});

interface ConfigRow { file_size_limit: string; image_transformation_enabled: boolean }

function configJson(c: ConfigRow) {
  return {
    fileSizeLimit: Number(c.file_size_limit),
    features: {
      imageTransformation: { enabled: c.image_transformation_enabled },
      s3Protocol: { enabled: true }, // /storage/v1/s3 is always served (storage/s3/)
    },
    capabilities: { list_v2: true, iceberg_catalog: false },
    external: { upstreamTarget: 'main' },
    migrationVersion: '',
    databasePoolMode: 'recycled',
  };
}

storageManagement.get('/projects/:ref/config/storage', async (req, res) => {
  const [row] = await callerQuery<ConfigRow>(res, 'select * from platform.storage_config($1)', [param(req, 'ref')]);
  res.json(configJson(row));
});

storageManagement.patch('/projects/:ref/config/storage', async (req, res) => {
  const b = body(req.body);
  const limit = b.fileSizeLimit;
  if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isSafeInteger(limit))) {
    throw errors.invalidBody('fileSizeLimit must be an integer number of bytes');
  }
  const features = (b.features ?? {}) as Record<string, unknown>;
  if (typeof features !== 'object' || Array.isArray(features)) throw errors.invalidBody('features must be an object');
  const image = features.imageTransformation as { enabled?: unknown } | undefined;
  if (image !== undefined && (typeof image !== 'object' || image === null || typeof image.enabled !== 'boolean')) {
    throw errors.invalidBody('features.imageTransformation.enabled must be a boolean');
  }
  const [row] = await callerQuery<ConfigRow>(res, 'select * from platform.update_storage_config($1, $2, $3, $4)',
    [param(req, 'ref'), limit ?? null, image?.enabled ?? null, storageSettings().maxFileSize]);
  forgetStorageConfig(param(req, 'ref'));
  res.json(configJson(row));
});
