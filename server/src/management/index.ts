// The Management API (`/v1`): every endpoint group, JSON bodies, and the error renderer.
import { Router } from 'express';
import { renderErrors, errors } from '../errors.ts';
import { jsonParser } from '../json-depth.ts';
import { accounts } from './accounts.ts';
import { apiKeys } from './api-keys.ts';
import { configAuth } from './config-auth.ts';
import { database } from './database.ts';
import { meta } from './meta.ts';
import { openapi } from './openapi.ts';
import { organizations } from './organizations.ts';
import { postgrest } from './postgrest.ts';
import { projects } from './projects.ts';
import { tokens } from './tokens.ts';
import { storageManagement } from './storage.ts';
import { storageCredentials } from './storage-credentials.ts';

export const management = Router();
management.use(jsonParser({ limit: '2mb' }, errors.jsonTooDeep));
management.use(accounts, tokens, organizations, projects, apiKeys, configAuth, database, meta, openapi, storageManagement, storageCredentials, postgrest);
management.use(() => { throw errors.notFound('Endpoint'); });
management.use(renderErrors);
