// `GET /v2/projects/{ref}/config`: a project's database, pooler, auth, Data API and storage settings in one
// document, as the Supabase CLI reads them before `config push` (and `config pull`) — Supabase's envelope
// `{data: {type: 'project_config', attributes: {…}}}`, each block the effective settings the /v1 endpoints give.
import { Router } from 'express';
import { param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { postgresSettings } from './database-settings.ts';

export const projectConfigV2 = Router();

projectConfigV2.get('/projects/:ref/config', authenticate, scope('projects', 'read'), async (req, res) => {
  const ref = param(req, 'ref');
  const [rest] = await callerQuery<{ db_schema: string; db_extra_search_path: string; max_rows: number | null }>(res,
    'select db_schema, db_extra_search_path, max_rows from platform.rest_config($1)', [ref]);
  const [{ c: auth }] = await callerQuery<{ c: Record<string, unknown> }>(res, 'select platform.auth_config($1) as c', [ref]);
  const [storage] = await callerQuery<{ file_size_limit: string; image_transformation_enabled: boolean }>(res,
    'select file_size_limit, image_transformation_enabled from platform.storage_config($1)', [ref]);
  const [network] = await callerQuery<{ v4: string[]; v6: string[]; ssl_enforced: boolean }>(res,
    'select db_allowed_cidrs::text[] as v4, db_allowed_cidrs_v6::text[] as v6, ssl_enforced from platform.project_network($1)', [ref]);
  const { settings, major } = await postgresSettings(res, ref);
  res.json({
    data: {
      type: 'project_config',
      attributes: {
        database: {
          major_version: major,
          ssl_enforced: network.ssl_enforced,
          network_restrictions: {
            entitlement: 'allowed',
            allowed_cidrs: [...network.v4.map((address) => ({ address, type: 'v4' })), ...network.v6.map((address) => ({ address, type: 'v6' }))],
          },
          postgres_settings: settings,
        },
        pooler: { pool_mode: 'session' },
        auth,
        api: { db_schema: rest.db_schema, db_extra_search_path: rest.db_extra_search_path, ...(rest.max_rows === null ? {} : { max_rows: rest.max_rows }) },
        storage: {
          file_size_limit: Number(storage.file_size_limit),
          features: { image_transformation: { enabled: storage.image_transformation_enabled }, s3_protocol: { enabled: true } },
        },
      },
    },
  });
});
