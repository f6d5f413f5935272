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
import { configRealtime } from './config-realtime.ts';
import { postgrest } from './postgrest.ts';
import { projects } from './projects.ts';
import { sites, siteWebhook } from './sites.ts';
import { tokens } from './tokens.ts';
import { storageManagement } from './storage.ts';
import { functionsManagement } from './functions.ts';
import { secretsManagement } from './secrets.ts';
import { environments } from './environments.ts';
import { emailSend, emailService } from './email-service.ts';
import { storageCredentials } from './storage-credentials.ts';
import { logs } from './logs.ts';
import { mcpProject, mcpProjectKey } from '../mcp/index.ts';
import { databaseSettings } from './database-settings.ts';
import { networkManagement } from './network.ts';
import { regions } from './regions.ts';
import { projectConfigV2 } from './project-config.ts';
import { signingKeys } from './signing-keys.ts';
import { thirdPartyAuth } from './third-party-auth.ts';
import { ssoProvidersManagement } from './sso-providers.ts';
import { migrations } from './migrations.ts';
import { advisors } from './advisors.ts';
import { backups } from './backups.ts';
import { typegen } from './types.ts';
import { tables } from './tables.ts';
import { rowLogin } from '../data/row-login.ts';
import { roleGuard } from './roles.ts';
import { members, invitations } from './members.ts';
import { credentials } from './credentials.ts';
import { services } from './services.ts';
import { branches } from './branches.ts';

export const management = Router();
// Signed by the sender over its exact bytes, with no access token: before the JSON parser and authentication.
management.post('/projects/:ref/sites/:site_id/builds/webhook', siteWebhook);
management.use(jsonParser({ limit: '2mb' }, errors.jsonTooDeep));
// The project MCP endpoint also takes the project's service key, which token authentication would refuse.
management.post('/projects/:ref/mcp', mcpProjectKey);
// Sending email also takes the project's email API keys (lme_…), which the role guard would refuse: it checks
// a token's role itself.
management.use(emailSend);
// What the caller's organization role allows, decided in SQL, before any route of a project or organization runs.
management.use(roleGuard);
management.use(meta, accounts, tokens, members, invitations, organizations, regions, projects, apiKeys, configAuth, credentials, database, openapi, storageManagement,
  storageCredentials, postgrest, sites, configRealtime, functionsManagement, secretsManagement, environments, emailService,
  databaseSettings, networkManagement, logs, mcpProject, signingKeys, thirdPartyAuth,
  migrations, advisors, typegen, tables, rowLogin, services, ssoProvidersManagement, backups, branches);
management.use(() => { throw errors.notFound('Endpoint'); });
management.use(renderErrors);

// `/v2`: the few operations of Supabase's second API version its CLI calls (project-config.ts).
export const managementV2 = Router();
managementV2.use(projectConfigV2);
managementV2.use(() => { throw errors.notFound('Endpoint'); });
managementV2.use(renderErrors);
