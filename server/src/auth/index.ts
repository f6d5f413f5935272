// The project's /auth/v1 API, compatible with Supabase Auth (GoTrue): supabase-js's `auth.*` works against it
// unchanged. Users, sessions and tokens live in the project's own database (schema auth); the logic is in its
// SQL functions (sql/project/migrations/0002-auth.sql); these handlers validate, hash passwords, sign tokens.
import express, { Router } from 'express';
import { project } from '../project/resolve.ts';
import { validateClaims } from '../project/jwt.ts';
import { isApiKey } from '../project/keyring.ts';
import { verifiedToken } from '../project/keys.ts';
import { projectJwks } from '../project/signing.ts';
import { jsonParser, tooDeepMessage } from '../json-depth.ts';
import { admin } from './admin.ts';
import { authConfig } from './config.ts';
import { email } from './email.ts';
import { authErrors, renderAuthErrors, validation } from './errors.ts';
import { mfa } from './mfa.ts';
import { oauth } from './oauth.ts';
import { OAUTH2_PROVIDERS } from './oauth-providers.ts';
import { signup } from './signup.ts';
import { sso } from './sso.ts';
import { token } from './token.ts';
import { user } from './user.ts';
import { webauthn } from './webauthn.ts';
import { oauthServer } from './oauth-server.ts';

export const auth = Router();

// Browsers call auth from other origins (the app's): answer preflights and allow any origin, as Supabase's
// gateway does; tokens travel in headers, never cookies, so no credentials mode is needed.
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, apikey, x-client-info, x-supabase-api-version',
  'Access-Control-Expose-Headers': 'x-sb-error-code, x-supabase-api-version, x-total-count, link',
};
auth.use((req, res, next) => {
  res.set(CORS);
  if (req.method === 'OPTIONS') return void res.status(204).end();
  next();
});

auth.get('/health', (_req, res) => {
  res.json({ version: 'loam', name: 'GoTrue', description: 'GoTrue is a user registration and authentication API' });
});

// The public keys of the project's asymmetric signing keys (in use, standby, previously used), so clients
// verify sessions themselves (supabase-js' getClaims). Symmetric keys are never published: with only the legacy
// secret the set is empty, and getClaims asks GET /user instead.
auth.get('/.well-known/jwks.json', async (_req, res) => {
  res.set('Cache-Control', 'public, max-age=600').json({ keys: await projectJwks(project(res)) });
});

// An `apikey` of another project (or none of any) is refused before anything else, as Supabase's gateway does.
// New API keys were checked by the gate already (project/keys.ts apiKeyGate); a JWT key is verified here.
auth.use((req, res, next) => {
  const key = req.get('apikey');
  if (key && !isApiKey(key)) {
    try {
      const { claims } = verifiedToken(key, project(res));
      validateClaims(claims);
    } catch {
      return void res.status(401).json({ message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    }
  }
  next();
});

// A NUL byte in the path or query string (`%00`) is refused before any handler reads it: Postgres text cannot
// hold one, and auth's statements carry values inline, where a NUL would end the statement's text mid-way
// (a protocol error, not a clean SQL error). Bodies are checked field by field (params.ts).
auth.use((req, _res, next) => {
  if (req.url.includes('%00')) throw validation('The URL must not contain NUL characters (%00)');
  next();
});

auth.use(jsonParser({ limit: '1mb' }, () => authErrors.badJson(tooDeepMessage())), express.urlencoded({ extended: false, limit: '1mb' }));

auth.get('/settings', async (_req, res) => {
  const cfg = await authConfig(project(res).ref);
  res.json({
    external: { anonymous_users: cfg.external_anonymous_users_enabled, email: cfg.external_email_enabled,
      phone: cfg.external_phone_enabled === true, web3_ethereum: cfg.external_web3_ethereum_enabled === true, web3_solana: cfg.external_web3_solana_enabled === true,
      keycloak: cfg.external_keycloak_enabled === true, google: cfg.external_google_enabled === true,
      // The providers of oauth-providers.ts, Azure (OIDC) and Twitter (OAuth 1.0a).
      ...Object.fromEntries([...Object.keys(OAUTH2_PROVIDERS), 'azure', 'twitter'].map((n) => [n, cfg[`external_${n}_enabled`] === true])) },
    disable_signup: cfg.disable_signup, mailer_autoconfirm: cfg.mailer_autoconfirm, phone_autoconfirm: cfg.sms_autoconfirm,
    sms_provider: '', saml_enabled: cfg.saml_enabled === true, passkeys_enabled: cfg.passkey_enabled === true,
  });
});

// WebAuthn factors and passkeys (webauthn.ts) come before mfa.ts: their factor routes pass other types on.
auth.use(webauthn);
// The project's OAuth 2.1 server (oauth-server.ts): /oauth/*, /admin/oauth/clients, the discovery documents.
auth.use(oauthServer);
auth.use(signup, token, user, email, mfa, oauth, admin);
// SSO with SAML 2.0: /sso, /sso/saml/metadata, /sso/saml/acs, /admin/sso/providers (sso.ts).
auth.use(sso);
auth.use(() => { throw authErrors.notFound(); });
auth.use(renderAuthErrors);
