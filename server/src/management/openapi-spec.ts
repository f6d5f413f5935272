// The Management API described as OpenAPI 3.0: every /v1 route, its body, its responses and its errors.
// test/management/openapi.test.ts walks the router and fails when a route is missing here or a path here has
// no route, so a new endpoint is documented in the same change that adds it. Shapes follow Supabase's own
// Management API where Loam implements the same endpoint, so generated clients of either work.

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema =>
  ({ type: 'object', properties, required });
const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const timestamp: Schema = { type: 'string', format: 'date-time' };
const nullable = (s: Schema): Schema => ({ ...s, nullable: true });

const projectRef = {
  name: 'ref', in: 'path', required: true, description: 'Project ref',
  schema: { type: 'string', minLength: 20, maxLength: 20, pattern: '^[a-z]+$', example: 'abcdefghijklmnopqrst' },
};
const functionSlug = { name: 'function_slug', in: 'path', required: true, description: 'Function slug', schema: str({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$', example: 'hello-world' }) };
const reveal = { name: 'reveal', in: 'query', required: false, description: 'Show secret keys in full', schema: { type: 'boolean' } };
const enabledQuery = { name: 'enabled', in: 'query', required: true, schema: { type: 'boolean' } };
const keyId = { name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) };
const signingKeyId = { name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) };
const ssoProviderId = { name: 'provider_id', in: 'path', required: true, schema: str({ format: 'uuid' }) };
const tpaId = { name: 'tpa_id', in: 'path', required: true, schema: str({ format: 'uuid' }) };
const memberId = { name: 'user_id', in: 'path', required: true, description: 'The member\'s account id', schema: str({ format: 'uuid' }) };
const orgSlug = { name: 'slug', in: 'path', required: true, description: 'Organization slug', schema: str({ example: 'tsrqponmlkjihgfedcba' }) };

type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 406 | 409 | 410 | 413 | 415 | 422 | 429 | 501 | 503;
const errorResponse = (status: ErrorStatus) => ({ $ref: `#/components/responses/E${status}` });

interface OpSpec {
  summary: string;
  tag: string;
  id: string;
  /** Token scope the route needs (absent: any valid token; `false`: no token at all). */
  scope?: string | false;
  params?: unknown[];
  body?: Schema;
  status?: number;
  response?: Schema;
  description?: string;
  errors?: ErrorStatus[];
  /** The body is multipart/form-data (a function deploy), not JSON. */
  multipart?: boolean;
}

function op(s: OpSpec): Operation {
  const authed = s.scope !== false;
  const errs = new Set<ErrorStatus>(s.errors ?? []);
  if (s.body) errs.add(400);
  if (authed) { errs.add(401); errs.add(429); }
  if (authed && s.scope) errs.add(403);
  const responses: Record<string, unknown> = {
    [String(s.status ?? 200)]: s.response
      ? { description: 'OK', content: json(s.response) }
      : { description: 'No content' },
  };
  for (const e of [...errs].sort()) responses[String(e)] = errorResponse(e);
  const description = [s.description, authed && s.scope ? `Token scope: \`${s.scope}\` (or \`${s.scope.split(':')[1]}\`).` : undefined]
    .filter(Boolean).join('\n\n');
  return {
    tags: [s.tag],
    operationId: s.id,
    summary: s.summary,
    ...(description ? { description } : {}),
    ...(s.params?.length ? { parameters: s.params } : {}),
    ...(s.body ? { requestBody: { required: true, content: s.multipart ? { 'multipart/form-data': { schema: s.body } } : json(s.body) } } : {}),
    ...(authed ? {} : { security: [] }),
    // The scope a personal access token that carries scopes needs (any one of these; `read`/`write` alone
    // cover every area). Empty: any valid token. Enforced by scope() in session.ts; quotas.test.ts checks both agree.
    'x-required-scopes': authed && s.scope ? [s.scope, s.scope.split(':')[1]] : [],
    responses,
  };
}

const schemas: Record<string, Schema> = {
  Error: {
    ...obj({
      message: str({ description: 'What went wrong, for people.' }),
      code: str({ description: 'Stable machine-readable code (e.g. `invalid_body`, `project_not_found`, or a SQLSTATE for SQL errors).' }),
    }),
    example: { message: 'Project not found', code: 'project_not_found' },
  },
  Message: obj({ message: str() }),
  User: obj({ id: str({ format: 'uuid' }), email: str(), full_name: nullable(str()), created_at: timestamp }),
  Session: obj({ token: str({ pattern: '^sbp_[0-9a-f]{40}$', description: 'Access token for `Authorization: Bearer`.' }), user: ref('User') }),
  Profile: obj({ gotrue_id: str({ format: 'uuid' }), primary_email: str(), username: str() }),
  SignupBody: obj({ email: str({ format: 'email' }), password: str({ minLength: 8, maxLength: 72 }), full_name: str({ maxLength: 256 }) }, ['email', 'password']),
  LoginBody: obj({ email: str(), password: str() }),
  ChangePasswordBody: obj({ current_password: str(), new_password: str({ minLength: 8, maxLength: 72 }) }),
  ForgotPasswordBody: obj({ email: str({ format: 'email' }) }),
  ResetPasswordBody: obj({ token: str({ description: 'The reset token from the email.' }), password: str({ minLength: 8, maxLength: 72 }) }),
  AccessToken: obj({
    id: str({ format: 'uuid' }), name: str(), scopes: arrayOf(str()), token_prefix: str({ example: 'sbp_1a2b' }),
    expires_at: nullable(timestamp), created_at: timestamp, last_used_at: nullable(timestamp),
  }),
  CreatedAccessToken: {
    allOf: [ref('AccessToken'), obj({ token: str({ pattern: '^sbp_[0-9a-f]{40}$', description: 'Shown once; only its hash is kept.' }) })],
  },
  CreateAccessTokenBody: obj({
    name: str({ minLength: 1, maxLength: 256 }),
    scopes: {
      ...arrayOf(str({ pattern: '^(read|write|(organizations|projects|database|tokens):(read|write))$' })),
      description: 'No scopes: full access. `write` implies `read`; `<area>:write` implies `<area>:read`.',
    },
    expires_at: { ...timestamp, description: 'Must be in the future; absent: never expires.' },
  }, ['name']),
  Whoami: obj({
    account: obj({ id: str({ format: 'uuid' }), email: str(), full_name: nullable(str()), created_at: timestamp }),
    token: obj({ id: str({ format: 'uuid' }), prefix: str(), scopes: arrayOf(str()), kind: str({ enum: ['session', 'personal'] }) }),
    plan: ref('PlanRow'),
    usage: obj({ date: str({ format: 'date' }), requests: { type: 'integer' }, organizations: { type: 'integer' }, projects: { type: 'integer' } }),
  }),
  PlanRow: obj({
    id: str(), name: str(), max_projects: { type: 'integer' }, max_organizations: { type: 'integer' },
    rate_limit_per_minute: nullable({ type: 'integer' }), db_size_mb: { type: 'integer' }, storage_size_mb: { type: 'integer' },
  }),
  Plan: obj({
    id: str(), name: str(),
    limits: obj({
      max_projects: { type: 'integer' }, max_organizations: { type: 'integer' }, rate_limit_per_minute: { type: 'integer' },
      db_size_mb: { type: 'integer' }, storage_size_mb: { type: 'integer' },
    }),
  }),
  Region: obj({ id: str(), name: str(), database_servers: { type: 'integer' } }),
  Organization: obj({ id: str({ deprecated: true, description: 'Same as `slug`.' }), slug: str(), name: str() }),
  OrganizationDetail: obj({
    id: str(), name: str(), plan: str(), opt_in_tags: arrayOf(str()), allowed_release_channels: arrayOf(str()),
  }),
  OrganizationMember: obj({ user_id: str(), user_name: str(), email: str(), role_name: ref('RoleName'), mfa_enabled: { type: 'boolean' } }),
  RoleName: str({
    enum: ['Owner', 'Administrator', 'Developer', 'Read-only'],
    description: 'Supabase\'s organization roles. Read-only reads everything and changes nothing; Developer works on project content (SQL, migrations, tables, functions, sites, buckets) but changes no setting and manages no project or member; Administrator does everything but change the organization\'s settings and manage Owners; Owner does everything. A refused action is 403 `insufficient_role`.',
  }),
  UpdateMemberBody: obj({ role_name: ref('RoleName') }),
  InviteMemberBody: obj({ email: str({ format: 'email', maxLength: 320 }), role_name: ref('RoleName') }),
  Invitation: obj({ id: str({ format: 'uuid' }), email: str(), role_name: ref('RoleName'), invited_at: timestamp, expires_at: timestamp }),
  AcceptedInvitation: obj({ organization_slug: str(), organization_name: str(), role_name: ref('RoleName') }),
  BackendType: obj({ id: str(), name: str(), description: str(), database_apis: { type: 'boolean', description: 'false: REST, GraphQL, auth, storage, realtime and functions answer 404 `database_api_disabled`.' } }),
  Service: obj({
    name: str({ enum: ['db', 'rest', 'graphql', 'auth', 'storage', 'realtime', 'functions', 'sites'] }),
    enabled: { type: 'boolean' }, status: str({ description: '`DISABLED` for the database APIs of a frontend project; the project\'s status while it is not ACTIVE_HEALTHY.' }),
    healthy: { type: 'boolean' }, error: str(),
    schema_cached: { type: 'boolean', description: 'rest: this process holds the schema cache.' },
    instance_cached: { type: 'boolean', description: 'graphql: this process holds a built instance.' },
  }, ['name', 'enabled', 'status', 'healthy']),
  DatabaseCredentials: obj({
    host: str(), port: { type: 'integer' }, database: str(), user: str(),
    password: str({ description: 'Only from reveal and rotate.' }), connection_string: str({ description: 'Only from reveal and rotate.' }),
    password_set_at: nullable(timestamp), revealable: { type: 'boolean', description: 'false: Loam does not hold the password (set before it kept passwords sealed): rotate it.' },
    last_revealed_at: nullable(timestamp),
  }, ['host', 'port', 'database', 'user']),
  CreateOrganizationBody: obj({ name: str({ maxLength: 256 }) }),
  ProjectStatus: str({
    enum: ['COMING_UP', 'ACTIVE_HEALTHY', 'INIT_FAILED', 'PAUSING', 'INACTIVE', 'PAUSE_FAILED', 'RESTORING', 'RESTORE_FAILED', 'GOING_DOWN', 'REMOVED', 'UPGRADING', 'RESTORING_BACKUP'],
  }),
  Project: {
    ...obj({
      id: str({ deprecated: true, description: 'Same as `ref`.' }),
      ref: str({ minLength: 20, maxLength: 20, pattern: '^[a-z]+$' }),
      organization_id: str({ deprecated: true, description: 'Same as `organization_slug`.' }),
      organization_slug: str(),
      name: str(),
      region: str(),
      created_at: timestamp,
      status: ref('ProjectStatus'),
      status_reason: str({ description: 'Why provisioning (or another step) failed, when it did.' }),
      backend_type: str({ description: 'What the project is (GET /v1/backend-types): `shared`, or `frontend` (a site, no database APIs).' }),
      database: ref('ProjectDatabase'),
      endpoint: str({ description: 'Base URL of the data plane, for `createClient(endpoint, key)`.' }),
      rest_url: str(), graphql_url: str(), auth_url: str(), storage_url: str(),
    }, ['id', 'ref', 'organization_id', 'organization_slug', 'name', 'region', 'created_at', 'status', 'database']),
  },
  ProjectDatabase: obj({
    host: str(), port: { type: 'integer' }, name: str(), user: str({ description: 'The owner login (psql) — its password is `db_pass`.' }),
    version: str(), postgres_engine: str(), release_channel: str(),
  }),
  CreateProjectBody: {
    ...obj({
      name: str({ maxLength: 256, description: 'Letters, digits, spaces and `_ . \' -`, starting with a letter or digit.' }),
      organization_slug: str(),
      organization_id: str({ deprecated: true, description: 'Same as `organization_slug`.' }),
      db_pass: str({ minLength: 8, maxLength: 128, description: 'Password of the owner login (psql). Kept only as a SCRAM verifier.' }),
      region: str({ description: 'A region id from `GET /v1/regions`; default: the default server\'s region.' }),
      region_selection: obj({ type: str({ enum: ['specific'] }), code: str() }),
      plan: str({ deprecated: true, description: 'Ignored: the plan is the organization\'s.' }),
      backend_type: str({ description: 'An id from `GET /v1/backend-types`: `shared` (default) or `frontend` (a site, no database APIs).' }),
    }, ['name', 'db_pass']),
    description: 'One of `organization_slug` or `organization_id` is required.',
  },
  UpdateProjectBody: obj({ name: str({ minLength: 1, maxLength: 256 }) }),
  ProjectRef: obj({ id: { type: 'integer' }, ref: str(), name: str() }),
  ServiceHealth: obj({
    name: str({ enum: ['auth', 'db', 'rest', 'storage'] }),
    healthy: { type: 'boolean', deprecated: true },
    status: str({ enum: ['COMING_UP', 'ACTIVE_HEALTHY', 'UNHEALTHY'] }),
    info: obj({ healthy: { type: 'boolean' }, db_connected: { type: 'boolean' }, replication_connected: { type: 'boolean' }, connected_cluster: { type: 'integer' } }),
    error: str(),
  }, ['name', 'healthy', 'status']),
  ApiKey: obj({
    name: str(),
    api_key: nullable(str({ description: 'Legacy keys: an HS256 JWT whose `role` claim is the key\'s name. Secret keys are masked unless `?reveal=true`.' })),
    id: nullable(str()), type: nullable(str({ enum: ['legacy', 'publishable', 'secret'] })), prefix: nullable(str()), description: nullable(str()),
    hash: nullable(str()), secret_jwt_template: nullable({ type: 'object', additionalProperties: true }),
    inserted_at: nullable(timestamp), updated_at: nullable(timestamp),
  }, ['name']),
  CreateApiKeyBody: {
    ...obj({
      type: str({ enum: ['publishable', 'secret'] }),
      name: str({ minLength: 4, maxLength: 64, pattern: '^[a-z_][a-z0-9_]+$' }),
      description: nullable(str({ maxLength: 256 })),
      secret_jwt_template: nullable({ type: 'object', additionalProperties: true, description: 'Secret keys only: the claims the key stands for; `role` is anon, authenticated or service_role (default).' }),
    }, ['type', 'name']),
    example: { type: 'secret', name: 'ci_secret_key' },
  },
  UpdateApiKeyBody: obj({
    name: str({ minLength: 4, maxLength: 64, pattern: '^[a-z_][a-z0-9_]+$' }),
    description: nullable(str({ maxLength: 256 })),
    secret_jwt_template: nullable({ type: 'object', additionalProperties: true }),
  }, []),
  LegacyApiKeys: obj({ enabled: { type: 'boolean' } }),
  SigningKey: obj({
    id: str({ format: 'uuid' }), algorithm: str({ enum: ['EdDSA', 'ES256', 'RS256', 'HS256'] }),
    status: str({ enum: ['in_use', 'previously_used', 'revoked', 'standby'] }),
    public_jwk: nullable({ type: 'object', additionalProperties: true }), created_at: timestamp, updated_at: timestamp,
  }, ['id', 'algorithm', 'status', 'created_at', 'updated_at']),
  SigningKeys: obj({ keys: arrayOf(ref('SigningKey')) }),
  CreateSigningKeyBody: {
    ...obj({
      algorithm: str({ enum: ['EdDSA', 'ES256', 'RS256', 'HS256'] }),
      status: str({ enum: ['in_use', 'standby'] }),
      private_jwk: { type: 'object', additionalProperties: true, description: 'Import this private key instead of making one.' },
    }, ['algorithm']),
    example: { algorithm: 'ES256', status: 'standby' },
  },
  UpdateSigningKeyBody: obj({ status: str({ enum: ['in_use', 'previously_used', 'revoked', 'standby'] }) }),
  ThirdPartyAuth: obj({
    id: str({ format: 'uuid' }), type: str(), oidc_issuer_url: nullable(str()), jwks_url: nullable(str()),
    custom_jwks: nullable({ type: 'object', additionalProperties: true }), resolved_jwks: nullable({ type: 'object', additionalProperties: true }),
    inserted_at: timestamp, updated_at: timestamp, resolved_at: nullable(timestamp),
  }, ['id', 'type', 'inserted_at', 'updated_at']),
  CreateThirdPartyAuthBody: {
    ...obj({ oidc_issuer_url: str(), jwks_url: str(), custom_jwks: { type: 'object', additionalProperties: true } }, []),
    example: { oidc_issuer_url: 'https://login.acme.com' },
  },
  // SSO providers (SAML 2.0): Supabase's CreateProviderBody / CreateProviderResponse and friends.
  SsoProvider: obj({
    id: str({ format: 'uuid' }),
    saml: obj({
      id: str({ format: 'uuid' }), entity_id: str(), metadata_url: str(), metadata_xml: str(),
      attribute_mapping: obj({ keys: { type: 'object', additionalProperties: obj({ name: str(), names: arrayOf(str()), default: {}, array: { type: 'boolean' } }, []) } }, []),
      name_id_format: str(),
    }, ['id', 'entity_id']),
    domains: arrayOf(obj({ id: str({ format: 'uuid' }), domain: str(), created_at: timestamp, updated_at: timestamp }, ['id'])),
    created_at: timestamp, updated_at: timestamp,
  }, ['id']),
  SsoProviderList: obj({ items: arrayOf(ref('SsoProvider')) }),
  CreateSsoProviderBody: {
    ...obj({
      type: str({ enum: ['saml'] }),
      metadata_xml: str({ description: 'The IdP\'s SAML metadata; or metadata_url.' }),
      metadata_url: str({ description: 'An https URL Loam fetches the metadata from.' }),
      domains: arrayOf(str()),
      attribute_mapping: { type: 'object', additionalProperties: true },
      name_id_format: str({ enum: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
        'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'] }),
    }, ['type']),
    example: { type: 'saml', metadata_url: 'https://idp.example.com/metadata', domains: ['example.com'] },
  },
  UpdateSsoProviderBody: obj({
    metadata_xml: str(), metadata_url: str(), domains: arrayOf(str()), attribute_mapping: { type: 'object', additionalProperties: true }, name_id_format: str(),
  }, []),
  RunQueryBody: {
    ...obj({
      query: str({ minLength: 1 }),
      parameters: { type: 'array', items: {}, description: 'Values for `$1`, `$2`…; the query is then one statement.' },
      read_only: { type: 'boolean', description: 'Runs in a read-only transaction; the query must then be one statement.' },
    }, ['query']),
    example: { query: 'select * from pg_stat_activity limit 1;', read_only: true },
  },
  QueryRows: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'The rows of the last statement.' },
  UpdatePasswordBody: obj({ password: str({ minLength: 8, maxLength: 128 }) }),
  PostgrestConfig: obj({
    db_schema: str({ description: 'Comma-separated schemas the REST API exposes.' }),
    db_extra_search_path: str(),
    max_rows: nullable({ type: 'integer' }),
    db_pool: nullable({ type: 'integer' }),
    db_aggregates_enabled: { type: 'boolean', description: 'Loam: aggregate functions in `select`.' },
    rate_limit_per_minute: { type: 'integer', description: 'Loam: data-plane requests per minute for the project.' },
    db_plan_enabled: { type: 'boolean', description: 'Loam: `Accept: application/vnd.pgrst.plan` returns the query plan (PostgREST\'s db-plan-enabled).' },
  }),
  UpdatePostgrestConfigBody: obj({
    db_schema: str({ maxLength: 1000 }),
    db_extra_search_path: str({ maxLength: 1000 }),
    max_rows: nullable({ type: 'integer', minimum: 1, maximum: 1000000 }),
    db_aggregates_enabled: { type: 'boolean' },
    rate_limit_per_minute: { type: 'integer', minimum: 1, maximum: 10000000 },
    db_pool: nullable({ type: 'integer', description: 'Accepted for Supabase clients; Loam has no per-project pool size.' }),
    db_plan_enabled: { type: 'boolean' },
  }, []),
  AuthConfig: { type: 'object', additionalProperties: true, description: 'Supabase\'s auth settings (`AuthConfigResponse`), with the SMTP password left out.' },
  UpdateAuthConfigBody: {
    type: 'object', additionalProperties: false,
    description: 'Any of the fields of Supabase\'s `UpdateAuthConfigBody`, each checked against its type, bounds, enum and pattern (400 naming the field otherwise); an unknown field is a 400. `null` resets a field. Fields Loam does not implement are stored and read back (server/src/auth/README.md lists which).',
  },
  Function: obj({
    id: str({ format: 'uuid' }), slug: str(), name: str(), status: str({ enum: ['ACTIVE', 'REMOVED', 'THROTTLED'] }),
    version: { type: 'integer', description: 'The live version (0 until one validated).' },
    created_at: { type: 'integer', description: 'Milliseconds since the epoch.' }, updated_at: { type: 'integer' },
    verify_jwt: { type: 'boolean' }, import_map: { type: 'boolean' }, entrypoint_path: str(), import_map_path: str(),
  }, ['id', 'slug', 'name', 'status', 'version', 'created_at', 'updated_at', 'verify_jwt']),
  FunctionDeployBody: obj({
    metadata: str({ description: 'JSON: `{"entrypoint_path", "import_map_path"?, "verify_jwt"?, "name"?}` (paths relative to the bundle).' }),
    file: arrayOf(str({ format: 'binary' })),
  }, ['metadata']),
  CreateFunctionBody: obj({ slug: str({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }), name: str(), body: str({ description: 'The source of index.ts.' }), verify_jwt: { type: 'boolean' } }, ['slug', 'body']),
  UpdateFunctionBody: obj({ name: str(), verify_jwt: { type: 'boolean' } }, []),
  BulkUpdateFunctionBody: arrayOf(obj({
    id: str(), slug: str({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }), name: str(), status: str({ enum: ['ACTIVE', 'REMOVED', 'THROTTLED'] }),
    version: { type: 'integer' }, created_at: { type: 'integer' }, verify_jwt: { type: 'boolean' }, import_map: { type: 'boolean' },
    entrypoint_path: str(), import_map_path: str(), ezbr_sha256: str(),
  }, ['slug', 'version'])),
  FunctionLogs: obj({ result: arrayOf(obj({ at: timestamp, version: { type: 'integer' }, method: str(), path: str(), status: { type: 'integer' }, duration_ms: { type: 'integer' }, output: str() })) }),
  EmailDnsRecord: obj({ purpose: str({ enum: ['dkim', 'return_path', 'spf'] }), type: str({ enum: ['TXT', 'MX'] }), name: str(), value: str(), priority: { type: 'integer' }, status: str({ enum: ['pending', 'verified', 'not_found', 'lookup_failed'] }) }, ['purpose', 'type', 'name', 'value', 'status']),
  EmailDomain: obj({ id: str({ format: 'uuid' }), domain: str(), status: str({ enum: ['pending', 'verified', 'failed'] }), records: arrayOf(ref('EmailDnsRecord')), created_at: timestamp, last_checked_at: nullable(timestamp), verified_at: nullable(timestamp) }),
  EmailApiKey: obj({ id: str({ format: 'uuid' }), name: str(), key_prefix: str(), scopes: arrayOf(str()), created_at: timestamp, last_used_at: nullable(timestamp) }),
  CreatedEmailApiKey: obj({ id: str({ format: 'uuid' }), name: str(), key_prefix: str(), scopes: arrayOf(str()), created_at: timestamp, last_used_at: nullable(timestamp), key: str({ description: 'Shown once.' }) }),
  EmailWebhook: obj({ id: str({ format: 'uuid' }), url: str(), events: arrayOf(str({ enum: ['queued', 'sent', 'bounced', 'failed'] })), created_at: timestamp }),
  EmailWebhookDelivery: obj({ id: { type: 'integer' }, event_id: { type: 'integer' }, type: str({ enum: ['queued', 'sent', 'bounced', 'failed'] }), email_id: str({ format: 'uuid' }), at: timestamp,
    status: str({ enum: ['pending', 'delivered', 'failed'] }), attempts: { type: 'integer' }, response_status: nullable({ type: 'integer' }), last_error: nullable(str()), delivered_at: nullable(timestamp) }),
  CreatedEmailWebhook: obj({ id: str({ format: 'uuid' }), url: str(), events: arrayOf(str()), created_at: timestamp, secret: str({ description: 'whsec_… signing secret (Standard Webhooks), shown once.' }) }),
  SendEmailBody: obj({
    from: str({ description: '`a@domain` or `Name <a@domain>`; the domain must be a verified sending domain.' }),
    to: { oneOf: [str(), arrayOf(str())], description: '1 to 50 addresses.' },
    subject: str({ maxLength: 998 }), html: str(), text: str(),
    variables: { type: 'object', additionalProperties: true, description: 'Values for {{name}} in subject, html (escaped) and text.' },
    attachments: arrayOf(obj({ filename: str(), content: str({ description: 'base64' }), content_type: str() }, ['filename', 'content'])),
  }, ['from', 'to', 'subject']),
  QueuedEmail: obj({ id: str({ format: 'uuid' }), status: str(), created_at: timestamp }),
  Email: obj({ id: str({ format: 'uuid' }), from_address: str(), to_addresses: arrayOf(str()), subject: str(), status: str({ enum: ['queued', 'sent', 'bounced', 'failed'] }), attempts: { type: 'integer' }, last_error: nullable(str()), message_id: nullable(str()), idempotency_key: nullable(str()), created_at: timestamp, sent_at: nullable(timestamp), events: arrayOf(obj({ type: str(), at: timestamp, detail: nullable(str()) })) }),
  EmailStatsDay: obj({ day: str({ format: 'date' }), queued: { type: 'integer' }, sent: { type: 'integer' }, bounced: { type: 'integer' }, failed: { type: 'integer' } }),
  Environment: obj({ name: str({ enum: ['production', 'staging', 'development'] }), fallback: arrayOf(str()), secrets: { type: 'integer' }, bound_functions: { type: 'integer' }, bound_sites: { type: 'integer' } }),
  MaskedSecret: obj({ name: str(), value: str({ description: 'Always `********`: values are shown only by the audited reveal.' }), digest: str({ description: 'SHA-256 (hex) of the value.' }), environment: str({ description: 'The environment the value comes from (an environment further down the fallback chain in resolved views).' }), updated_at: timestamp }),
  ResolvedSecrets: obj({ environment: str(), secrets: arrayOf(ref('MaskedSecret')) }),
  TargetSecrets: obj({ kind: str({ enum: ['functions', 'sites'] }), target: str(), environment: nullable(str({ description: 'null: a site build not bound to an environment reads no secrets.' })), secrets: arrayOf(ref('MaskedSecret')) }),
  RevealedSecret: obj({ name: str(), environment: str(), value: str() }),
  SecretReveal: obj({ id: { type: 'integer' }, environment: str(), name: str(), account_id: nullable(str({ format: 'uuid' })), account_email: nullable(str()), token_id: nullable(str({ format: 'uuid' })), at: timestamp }),
  SecretBinding: obj({ kind: str({ enum: ['functions', 'sites'] }), target: str({ description: 'Function slug or site id.' }), environment: nullable(str()), updated_at: nullable(timestamp) }),
  BindSecretsBody: obj({ environment: str({ enum: ['production', 'staging', 'development'] }) }),
  DeletedSecrets: obj({ deleted: arrayOf(str()), missing: arrayOf(str()) }),
  Secret: obj({ name: str(), value: str({ description: 'SHA-256 (hex) of the value; the value itself is never returned.' }), updated_at: timestamp }),
  CreateSecretsBody: arrayOf(obj({ name: str({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), value: str() })),
  DeleteSecretsBody: arrayOf(str()),
  StorageConfig: obj({
    fileSizeLimit: { type: 'integer', format: 'int64' },
    features: obj({ imageTransformation: obj({ enabled: { type: 'boolean' } }), s3Protocol: obj({ enabled: { type: 'boolean' } }) }),
  }, ['fileSizeLimit', 'features']),
  UpdateStorageConfigBody: obj({
    fileSizeLimit: { type: 'integer', format: 'int64', minimum: 1 },
    features: obj({ imageTransformation: obj({ enabled: { type: 'boolean' } }) }, []),
  }, []),
  RealtimeConfig: obj({
    private_only: { type: 'boolean' }, max_concurrent_users: { type: 'integer' }, max_events_per_second: { type: 'integer' },
    max_payload_size_in_kb: { type: 'integer' }, max_channels_per_client: { type: 'integer' }, max_joins_per_second: { type: 'integer' },
  }),
  UpdateRealtimeConfigBody: obj({
    private_only: { type: 'boolean' }, max_concurrent_users: { type: 'integer', minimum: 1 }, max_events_per_second: { type: 'integer', minimum: 1 },
    max_payload_size_in_kb: { type: 'integer', minimum: 1 }, max_channels_per_client: { type: 'integer', minimum: 1 }, max_joins_per_second: { type: 'integer', minimum: 1 },
  }, []),
  StorageBucket: obj({ id: str(), name: str(), owner: str(), created_at: timestamp, updated_at: timestamp, public: { type: 'boolean' } }),
  Site: obj({
    id: str({ format: 'uuid' }), project_ref: str(), name: str(), subdomain: str(), spa_mode: { type: 'boolean' },
    not_found_page: nullable(str()), live_deploy_id: nullable(str({ format: 'uuid' })), staging_deploy_id: nullable(str({ format: 'uuid' })),
    live_url: str({ description: 'Where the published deploy is served.' }),
    staging_url: str({ description: 'Where the staging deploy is served (a preview, not indexed).' }),
    repo_url: nullable(str()), production_branch: str(), install_command: nullable(str()), build_command: nullable(str()),
    output_dir: str(), auto_publish: { type: 'boolean' },
    build_env: { type: 'object', additionalProperties: str(), description: 'Names only: values are never returned.' },
    webhook_url: str(), webhook_secret: str({ description: 'Key of the push webhook\'s HMAC signature.' }),
    deploy_key_public: nullable(str()), has_repo_token: { type: 'boolean' },
    custom_domain: nullable(str()), custom_domain_verified: { type: 'boolean', description: 'Only a verified custom domain is served.' },
    custom_domain_verified_at: nullable(timestamp),
    custom_domain_challenge: nullable(obj({ type: str({ enum: ['TXT'] }), name: str(), value: str() }, ['type', 'name', 'value'])),
    created_at: timestamp, updated_at: timestamp,
  }),
  CreateSiteBody: obj({
    subdomain: str({ pattern: '^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$', description: 'Unique across the platform; some names are reserved.' }),
    name: str({ maxLength: 256 }), spa_mode: { type: 'boolean' },
    not_found_page: str({ maxLength: 1024, description: 'A path in the deploy served with 404 (default `404.html`).' }),
  }, ['subdomain']),
  UpdateSiteBody: obj({
    subdomain: str(), name: str({ maxLength: 256 }), spa_mode: { type: 'boolean' },
    not_found_page: str({ maxLength: 1024, description: 'Empty to clear.' }),
    repo_url: str({ maxLength: 2048, description: '`https://`, `ssh://` or `git@host:path`; empty to remove.' }),
    production_branch: str({ maxLength: 255 }), install_command: str({ maxLength: 4096 }), build_command: str({ maxLength: 4096 }),
    output_dir: str({ maxLength: 1024 }), auto_publish: { type: 'boolean' },
    build_env: { type: 'object', additionalProperties: str({ maxLength: 4096 }), description: 'Replaces the build\'s environment variables.' },
    repo_token: str({ maxLength: 4096, description: 'An https access token for a private repository (sent as `x-access-token`); write-only, empty to remove.' }),
    custom_domain: str({ maxLength: 254, description: 'A domain of yours to serve the site at once verified (see `custom_domain_challenge`); empty to remove.' }),
  }, []),
  SiteDeploy: obj({
    id: str({ format: 'uuid' }), site_id: str({ format: 'uuid' }), version: str(), label: str(),
    source: str({ enum: ['zip', 'files'] }), status: str({ enum: ['pending', 'processing', 'ready', 'failed'] }),
    error: str({ description: 'Why a zip deploy failed.' }), size: { type: 'integer' }, file_count: { type: 'integer' },
    uploaded_at: timestamp, ready_at: nullable(timestamp), published_at: nullable(timestamp),
  }, ['id', 'site_id', 'version', 'label', 'source', 'status', 'size', 'file_count', 'uploaded_at', 'ready_at', 'published_at']),
  OpenDeployBody: obj({
    label: str({ maxLength: 256 }),
    manifest: { type: 'object', additionalProperties: str({ pattern: '^[0-9a-f]{64}$' }), description: 'path → SHA-256 of the deploy\'s files.' },
  }, []),
  SiteFile: obj({ path: str(), sha256: str({ pattern: '^[0-9a-f]{64}$' }), size: nullable({ type: 'integer' }), content_type: nullable(str()) }),
  SiteBuild: obj({
    id: str({ format: 'uuid' }), site_id: str({ format: 'uuid' }), status: str({ enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] }),
    trigger: str({ enum: ['api', 'webhook'] }), branch: str(), deploy_id: nullable(str({ format: 'uuid' })), error: str(),
    created_at: timestamp, started_at: nullable(timestamp), finished_at: nullable(timestamp),
  }, ['id', 'site_id', 'status', 'trigger', 'branch', 'deploy_id', 'created_at', 'started_at', 'finished_at']),
  SiteDiff: obj({ deploy_id: str(), vs: str(), added: arrayOf(str()), removed: arrayOf(str()), changed: arrayOf(str()) }),
  StorageCredential: obj({ id: str({ format: 'uuid' }), description: str(), access_key: str(), created_at: timestamp }),
  StorageCredentialList: obj({ data: arrayOf(ref('StorageCredential')) }),
  CreatedStorageCredential: obj({
    id: str({ format: 'uuid' }), description: str(), access_key: str(), created_at: timestamp,
    secret_key: str({ description: 'Shown in this answer only' }),
  }),
  CreateStorageCredentialBody: obj({ description: str({ maxLength: 256 }) }, []),
};

const errorDescriptions: Record<ErrorStatus, string> = {
  400: 'Invalid input, a state that does not allow the operation, or (SQL endpoint) a SQL error with its SQLSTATE as `code`',
  401: 'Missing, unknown, revoked or expired access token — or wrong credentials',
  402: 'A limit of the organization\'s plan is reached',
  403: 'The access token lacks the scope this operation needs (`insufficient_scope`), or the caller\'s organization role does not allow it (`insufficient_role`)',
  404: 'Not found, or not visible to the caller (another account\'s project or organization)',
  406: 'The client does not accept the media types the operation answers with',
  409: 'Conflicts with an existing resource, or a state that does not allow the operation',
  410: 'No longer valid (an expired invitation)',
  413: 'Over a size or count limit (a deploy\'s bytes or files)',
  415: 'The body is not of a media type this operation takes',
  422: 'Well-formed but not acceptable (an empty or incomplete deploy)',
  429: 'Too many requests for this account (or login attempts for this email, or reads of the discovery endpoints from this address) in the current minute (`rate_limited`), or the access token has used its plan\'s daily quota (`daily_quota_exceeded`, with `quota` and `reset_at`, the next UTC midnight)',
  501: 'This server cannot do it: the tool or the PostgreSQL machinery it needs is missing (the message says which)',
  503: 'The project is not serving (coming up, paused or failed)',
};

const responses = Object.fromEntries(Object.entries(errorDescriptions).map(([status, description]) => [`E${status}`, {
  description,
  ...(status === '429' ? {
    headers: {
      'Retry-After': { description: 'Seconds until the limit resets', schema: { type: 'integer' } },
      // Also on every other response of a token whose plan has a daily quota.
      'X-RateLimit-Limit': { description: 'The token\'s daily quota (requests per UTC day)', schema: { type: 'integer' } },
      'X-RateLimit-Remaining': { description: 'Requests left today', schema: { type: 'integer' } },
      'X-RateLimit-Reset': { description: 'When the quota resets (epoch seconds, the next UTC midnight)', schema: { type: 'integer' } },
    },
  } : {}),
  content: json(ref('Error')),
}]));

const paths: Record<string, Record<string, Operation>> = {
  '/v1/auth/signup': {
    post: op({ tag: 'Accounts', id: 'signup', summary: 'Create an account (and its personal organization)', scope: false, body: ref('SignupBody'), status: 201, response: ref('Session'), errors: [409] }),
  },
  '/v1/auth/login': {
    post: op({ tag: 'Accounts', id: 'login', summary: 'Sign in with email and password', scope: false, body: ref('LoginBody'), response: ref('Session'), errors: [401, 429],
      description: 'Attempts per email address are limited per minute (`LOAM_AUTH_ATTEMPTS_PER_MINUTE`, default 10).' }),
  },
  '/v1/auth/me': {
    get: op({ tag: 'Accounts', id: 'get-me', summary: 'The signed-in account', response: ref('User') }),
  },
  '/v1/profile': {
    get: op({ tag: 'Accounts', id: 'v1-get-profile', summary: 'The signed-in account in Supabase\'s profile shape', response: ref('Profile') }),
  },
  '/v1/auth/password': {
    patch: op({
      tag: 'Accounts', id: 'change-password', summary: 'Change the account password', scope: 'tokens:write', body: ref('ChangePasswordBody'), response: ref('Message'),
      description: 'Ends every session except the caller\'s; personal access tokens stay valid. A wrong `current_password` is 401.',
    }),
  },
  '/v1/auth/forgot': {
    post: op({
      tag: 'Accounts', id: 'forgot-password', summary: 'Email a password reset token', scope: false, body: ref('ForgotPasswordBody'), response: ref('Message'),
      errors: [429],
      description: 'Answers the same whether or not the email has an account. The token works once and expires in one hour. Limited per email address like login.',
    }),
  },
  '/v1/auth/reset': {
    post: op({ tag: 'Accounts', id: 'reset-password', summary: 'Set a new password with a reset token', scope: false, body: ref('ResetPasswordBody'), response: ref('Session') }),
  },
  '/v1/auth/tokens': {
    get: op({ tag: 'Access tokens', id: 'list-tokens', summary: 'List personal access tokens (never the tokens themselves)', scope: 'tokens:read', response: arrayOf(ref('AccessToken')) }),
    post: op({ tag: 'Access tokens', id: 'create-token', summary: 'Create a personal access token', scope: 'tokens:write', body: ref('CreateAccessTokenBody'), status: 201, response: ref('CreatedAccessToken') }),
  },
  '/v1/auth/tokens/{id}': {
    delete: op({
      tag: 'Access tokens', id: 'delete-token', summary: 'Revoke a personal access token (401 from the next request on)', scope: 'tokens:write', status: 204, errors: [404],
      params: [{ name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) }],
    }),
  },
  '/v1/whoami': {
    get: op({ tag: 'Accounts', id: 'whoami', summary: 'The caller\'s account, token, plan limits and today\'s usage', response: ref('Whoami') }),
  },
  '/v1/organizations': {
    get: op({ tag: 'Organizations', id: 'v1-list-all-organizations', summary: 'List organizations the caller belongs to', scope: 'organizations:read', response: arrayOf(ref('Organization')) }),
    post: op({ tag: 'Organizations', id: 'v1-create-an-organization', summary: 'Create an organization', scope: 'organizations:write', body: ref('CreateOrganizationBody'), status: 201, response: ref('Organization'), errors: [402] }),
  },
  '/v1/organizations/{slug}': {
    get: op({ tag: 'Organizations', id: 'v1-get-an-organization', summary: 'Get an organization', scope: 'organizations:read', params: [orgSlug], response: ref('OrganizationDetail'), errors: [404] }),
  },
  '/v1/organizations/{slug}/projects': {
    get: op({
      tag: 'Organizations', id: 'v1-get-all-projects-for-organization', summary: 'The organization\'s projects, a page at a time', scope: 'projects:read', errors: [400, 404],
      params: [orgSlug,
        { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 } },
        { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 100 } },
        { name: 'search', in: 'query', required: false, description: 'Part of the name, or the ref', schema: str() },
        { name: 'sort', in: 'query', required: false, schema: str({ enum: ['name_asc', 'name_desc', 'created_asc', 'created_desc'], default: 'name_asc' }) },
        { name: 'statuses', in: 'query', required: false, description: 'Comma-separated statuses', schema: str({ example: 'ACTIVE_HEALTHY,INACTIVE' }) }],
      response: obj({
        projects: arrayOf(obj({
          ref: str(), name: str(), cloud_provider: str(), region: str(), is_branch: { type: 'boolean' }, status: str(), inserted_at: timestamp,
          databases: arrayOf(obj({ region: str(), status: str(), cloud_provider: str(), identifier: str(), type: str({ enum: ['PRIMARY'] }) })),
        })),
        pagination: obj({ count: { type: 'number' }, limit: { type: 'number' }, offset: { type: 'number' } }),
      }),
    }),
  },
  '/v1/organizations/{slug}/members': {
    get: op({ tag: 'Organizations', id: 'v1-list-organization-members', summary: 'List the members of an organization', scope: 'organizations:read', params: [orgSlug], response: arrayOf(ref('OrganizationMember')), errors: [404] }),
  },
  '/v1/projects': {
    get: op({ tag: 'Projects', id: 'v1-list-all-projects', summary: 'List projects of the caller\'s organizations', scope: 'projects:read', response: arrayOf(ref('Project')) }),
    post: op({
      tag: 'Projects', id: 'v1-create-a-project', summary: 'Create a project', scope: 'projects:write', body: ref('CreateProjectBody'), status: 201, response: ref('Project'), errors: [402, 503],
      description: 'Answers at once with status `COMING_UP`; a job creates the database and keys and sets `ACTIVE_HEALTHY` (or `INIT_FAILED` with `status_reason`). Nothing is created when the input is invalid.',
    }),
  },
  '/v1/projects/{ref}': {
    get: op({ tag: 'Projects', id: 'v1-get-project', summary: 'Get a project, its data-plane URLs and its database', scope: 'projects:read', params: [projectRef], response: ref('Project'), errors: [404] }),
    patch: op({ tag: 'Projects', id: 'v1-update-a-project', summary: 'Rename a project', scope: 'projects:write', params: [projectRef], body: ref('UpdateProjectBody'), response: ref('ProjectRef'), errors: [404] }),
    delete: op({
      tag: 'Projects', id: 'v1-delete-a-project', summary: 'Delete a project', scope: 'projects:write', params: [projectRef], response: ref('ProjectRef'), errors: [404],
      description: 'The project leaves every listing at once; a job drops its database and roles.',
    }),
  },
  '/v1/projects/{ref}/health': {
    get: op({
      tag: 'Projects', id: 'v1-get-services-health', summary: 'Health of the project\'s services', scope: 'projects:read', response: arrayOf(ref('ServiceHealth')), errors: [404],
      params: [projectRef, { name: 'services', in: 'query', required: false, description: 'Comma-separated; default: all', schema: arrayOf(str({ enum: ['auth', 'db', 'rest', 'storage'] })), style: 'form', explode: false }],
    }),
  },
  '/v1/projects/{ref}/pause': {
    post: op({
      tag: 'Projects', id: 'v1-pause-a-project', summary: 'Pause a project', scope: 'projects:write', params: [projectRef], response: ref('Project'), errors: [404],
      description: 'The data plane answers 503 "project is paused" at once; a job closes the database to new connections. Data is kept.',
    }),
  },
  '/v1/projects/{ref}/restore': {
    post: op({
      tag: 'Projects', id: 'v1-restore-a-project', summary: 'Restore a paused project, or retry what a project is stuck in (provisioning, pausing, restoring)', scope: 'projects:write', params: [projectRef], response: ref('Project'), errors: [404],
    }),
  },
  '/v1/projects/{ref}/api-keys': {
    get: op({ tag: 'API keys', id: 'v1-get-project-api-keys', summary: 'The project\'s API keys: legacy anon and service_role, publishable and secret', scope: 'projects:read', params: [projectRef, reveal], response: arrayOf(ref('ApiKey')), errors: [404] }),
    post: op({ tag: 'API keys', id: 'v1-create-project-api-key', summary: 'Create a publishable or secret API key', scope: 'projects:write', params: [projectRef, reveal], body: ref('CreateApiKeyBody'), status: 201, response: ref('ApiKey'), errors: [404, 409] }),
  },
  '/v1/projects/{ref}/api-keys/legacy': {
    get: op({ tag: 'API keys', id: 'v1-get-project-legacy-api-keys', summary: 'Whether the legacy JWT keys are accepted', scope: 'projects:read', params: [projectRef], response: ref('LegacyApiKeys'), errors: [404] }),
    put: op({
      tag: 'API keys', id: 'v1-update-project-legacy-api-keys', summary: 'Turn the legacy JWT keys on or off', scope: 'projects:write', params: [projectRef, enabledQuery], response: ref('LegacyApiKeys'), errors: [400, 404],
      description: 'Off: every data-plane API refuses the anon and service_role JWTs (401 `Legacy API keys are disabled`).',
    }),
  },
  '/v1/projects/{ref}/api-keys/{id}': {
    get: op({ tag: 'API keys', id: 'v1-get-project-api-key', summary: 'One API key', scope: 'projects:read', params: [projectRef, keyId, reveal], response: ref('ApiKey'), errors: [404] }),
    patch: op({ tag: 'API keys', id: 'v1-update-project-api-key', summary: 'Rename an API key or change its JWT template', scope: 'projects:write', params: [projectRef, keyId, reveal], body: ref('UpdateApiKeyBody'), response: ref('ApiKey'), errors: [404, 409] }),
    delete: op({ tag: 'API keys', id: 'v1-delete-project-api-key', summary: 'Delete an API key (it stops working at once)', scope: 'projects:write', params: [projectRef, keyId, reveal], response: ref('ApiKey'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/auth/signing-keys': {
    get: op({ tag: 'Auth', id: 'v1-get-project-signing-keys', summary: 'The JWT signing keys of the project', scope: 'projects:read', params: [projectRef], response: ref('SigningKeys'), errors: [404] }),
    post: op({
      tag: 'Auth', id: 'v1-create-project-signing-key', summary: 'Create (or import) a JWT signing key', scope: 'projects:write', params: [projectRef], body: ref('CreateSigningKeyBody'), status: 201, response: ref('SigningKey'), errors: [400, 404],
      description: '`in_use` makes it sign new sessions at once (the key in use becomes `previously_used`); `standby` (default) publishes it in the JWKS first.',
    }),
  },
  '/v1/projects/{ref}/config/auth/signing-keys/legacy': {
    get: op({ tag: 'Auth', id: 'v1-get-legacy-signing-key', summary: 'The legacy HS256 secret as a signing key', scope: 'projects:read', params: [projectRef], response: ref('SigningKey'), errors: [404] }),
    post: op({ tag: 'Auth', id: 'v1-create-legacy-signing-key', summary: 'Move the legacy HS256 secret into the signing keys', scope: 'projects:write', params: [projectRef], status: 201, response: ref('SigningKey'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/auth/signing-keys/{id}': {
    get: op({ tag: 'Auth', id: 'v1-get-project-signing-key', summary: 'One JWT signing key', scope: 'projects:read', params: [projectRef, signingKeyId], response: ref('SigningKey'), errors: [404] }),
    patch: op({
      tag: 'Auth', id: 'v1-update-project-signing-key', summary: 'Change a signing key\'s status (rotate, revoke)', scope: 'projects:write', params: [projectRef, signingKeyId], body: ref('UpdateSigningKeyBody'), response: ref('SigningKey'), errors: [400, 404],
      description: 'standby → in_use rotates (the key in use becomes previously_used); previously_used → revoked stops its tokens at once.',
    }),
    delete: op({ tag: 'Auth', id: 'v1-remove-project-signing-key', summary: 'Delete a standby or revoked signing key', scope: 'projects:write', params: [projectRef, signingKeyId], response: ref('SigningKey'), errors: [400, 404] }),
  },
  '/v1/projects/{ref}/config/auth/third-party-auth': {
    get: op({ tag: 'Auth', id: 'v1-list-project-tpa-integrations', summary: 'The third-party issuers the project trusts', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('ThirdPartyAuth')), errors: [404] }),
    post: op({ tag: 'Auth', id: 'v1-create-project-tpa-integration', summary: 'Trust another issuer\'s tokens', scope: 'projects:write', params: [projectRef], body: ref('CreateThirdPartyAuthBody'), status: 201, response: ref('ThirdPartyAuth'), errors: [404, 409] }),
  },
  '/v1/projects/{ref}/config/auth/third-party-auth/{tpa_id}': {
    get: op({ tag: 'Auth', id: 'v1-get-project-tpa-integration', summary: 'One third-party auth integration', scope: 'projects:read', params: [projectRef, tpaId], response: ref('ThirdPartyAuth'), errors: [404] }),
    delete: op({ tag: 'Auth', id: 'v1-delete-project-tpa-integration', summary: 'Stop trusting an issuer', scope: 'projects:write', params: [projectRef, tpaId], response: ref('ThirdPartyAuth'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/auth/sso/providers': {
    get: op({ tag: 'Auth', id: 'v1-list-all-sso-provider', summary: 'The project\'s SSO (SAML 2.0) identity providers', scope: 'projects:read', params: [projectRef], response: ref('SsoProviderList'), errors: [404],
      description: '404 while the project\'s `saml_enabled` is off.' }),
    post: op({ tag: 'Auth', id: 'v1-create-a-sso-provider', summary: 'Add an SSO (SAML 2.0) identity provider', scope: 'projects:write', params: [projectRef], body: ref('CreateSsoProviderBody'), status: 201, response: ref('SsoProvider'), errors: [404, 422] }),
  },
  '/v1/projects/{ref}/config/auth/sso/providers/{provider_id}': {
    get: op({ tag: 'Auth', id: 'v1-get-a-sso-provider', summary: 'One SSO identity provider', scope: 'projects:read', params: [projectRef, ssoProviderId], response: ref('SsoProvider'), errors: [404] }),
    put: op({ tag: 'Auth', id: 'v1-update-a-sso-provider', summary: 'Change an SSO identity provider', scope: 'projects:write', params: [projectRef, ssoProviderId], body: ref('UpdateSsoProviderBody'), response: ref('SsoProvider'), errors: [404] }),
    delete: op({ tag: 'Auth', id: 'v1-delete-a-sso-provider', summary: 'Remove an SSO identity provider', scope: 'projects:write', params: [projectRef, ssoProviderId], response: ref('SsoProvider'), errors: [404] }),
  },
  '/v1/projects/{ref}/api-keys/rotate': {
    post: op({
      tag: 'API keys', id: 'rotate-project-jwt-secret', summary: 'Rotate the project\'s JWT secret', scope: 'projects:write', params: [projectRef], response: arrayOf(ref('ApiKey')), errors: [404],
      description: 'Returns the new keys. Keys and user sessions signed with the old secret stop working at once.',
    }),
  },
  '/v1/projects/{ref}/database/query': {
    post: op({
      tag: 'Database', id: 'v1-run-a-query', summary: 'Run SQL as the project owner', scope: 'database:write', params: [projectRef], body: ref('RunQueryBody'), status: 201, response: ref('QueryRows'), errors: [404, 503],
      description: 'With `read_only: true` the scope `database:read` is enough. A SQL error is 400 with Postgres\'s message and its SQLSTATE as `code`.',
    }),
  },
  '/v1/projects/{ref}/database/query/read-only': {
    post: op({
      tag: 'Database', id: 'v1-read-only-query', summary: 'Run one SQL statement in a read-only transaction', scope: 'database:read', params: [projectRef], body: ref('RunQueryBody'), status: 201, response: ref('QueryRows'), errors: [404, 503],
      description: 'The same as `POST …/database/query` with `read_only: true`: one statement (with `parameters`), as the owner, in a read-only transaction.',
    }),
  },
  '/v1/projects/{ref}/database/context': {
    get: op({
      tag: 'Database', id: 'v1-get-database-metadata', summary: 'The project\'s database and the schemas its owner can use', scope: 'database:read', params: [projectRef], errors: [404, 503],
      response: obj({ databases: arrayOf(obj({ name: str(), schemas: arrayOf(obj({ name: str() })) })) }),
    }),
  },
  '/v1/projects/{ref}/database/password': {
    patch: op({ tag: 'Database', id: 'v1-update-database-password', summary: 'Change the owner login\'s database password', scope: 'database:write', params: [projectRef], body: ref('UpdatePasswordBody'), response: ref('Message'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/auth': {
    get: op({ tag: 'Auth config', id: 'v1-get-auth-service-config', summary: 'The project\'s auth settings', scope: 'projects:read', params: [projectRef], response: ref('AuthConfig'), errors: [404] }),
    patch: op({ tag: 'Auth config', id: 'v1-update-auth-service-config', summary: 'Change the project\'s auth settings', scope: 'projects:write', params: [projectRef], body: ref('UpdateAuthConfigBody'), response: ref('AuthConfig'), errors: [400, 404] }),
  },
  '/v1/projects/{ref}/postgrest': {
    get: op({ tag: 'REST config', id: 'v1-get-postgrest-service-config', summary: 'The project\'s REST API settings', scope: 'projects:read', params: [projectRef], response: ref('PostgrestConfig'), errors: [404] }),
    patch: op({ tag: 'REST config', id: 'v1-update-postgrest-service-config', summary: 'Change the project\'s REST API settings', scope: 'projects:write', params: [projectRef], body: ref('UpdatePostgrestConfigBody'), response: ref('PostgrestConfig'), errors: [400, 404] }),
  },
  '/v1/projects/{ref}/config/storage': {
    get: op({ tag: 'Storage', id: 'v1-get-storage-config', summary: 'The project\'s storage settings', scope: 'projects:read', params: [projectRef], response: ref('StorageConfig'), errors: [404] }),
    patch: op({ tag: 'Storage', id: 'v1-update-storage-config', summary: 'Change the project\'s storage settings', scope: 'projects:write', params: [projectRef], body: ref('UpdateStorageConfigBody'), response: ref('StorageConfig'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/realtime': {
    get: op({ tag: 'Realtime config', id: 'v1-get-realtime-config', summary: 'The project\'s realtime settings', scope: 'projects:read', params: [projectRef], response: ref('RealtimeConfig'), errors: [404] }),
    patch: op({ tag: 'Realtime config', id: 'v1-update-realtime-config', summary: 'Change the project\'s realtime settings', scope: 'projects:write', params: [projectRef], body: ref('UpdateRealtimeConfigBody'), response: ref('RealtimeConfig'), errors: [404] }),
  },
  '/v1/projects/{ref}/storage/buckets': {
    get: op({ tag: 'Storage', id: 'v1-list-all-buckets', summary: 'The project\'s storage buckets', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('StorageBucket')), errors: [404, 503] }),
  },
  ...sitePaths(),
  ...analyticsPaths(),
  ...mcpPaths(),
  ...databaseSettingsPaths(),
  ...toolingPaths(),
  ...tablePaths(),
  ...backupPaths(),
  ...branchPaths(),
  '/v1/projects/{ref}/functions': {
    get: op({ tag: 'Edge Functions', id: 'v1-list-all-functions', summary: 'The project\'s edge functions', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('Function')), errors: [404] }),
    post: op({ tag: 'Edge Functions', id: 'v1-create-a-function', summary: 'Deploy a one-file function from a JSON body', scope: 'projects:write', params: [projectRef], body: ref('CreateFunctionBody'), status: 201, response: ref('Function'), errors: [404] }),
    put: op({ tag: 'Edge Functions', id: 'v1-bulk-update-functions', summary: 'Make validated versions of several functions live together, with their names and verify_jwt', description: 'What the Supabase CLI sends after deploying several functions with `bundleOnly=true`. Each item needs `slug` and `version` (a READY version); otherwise nothing changes (404 `function_version_not_found`, 400 `function_version_not_ready`).', scope: 'projects:write', params: [projectRef], body: ref('BulkUpdateFunctionBody'), response: obj({ functions: arrayOf(ref('Function')) }, ['functions']), errors: [400, 404] }),
  },
  '/v1/projects/{ref}/functions/deploy': {
    post: op({ tag: 'Edge Functions', id: 'v1-deploy-a-function', summary: 'Deploy a new version of a function (multipart: metadata + files)', description: 'Validated by a job before it serves; a failing version answers 400 `function_deploy_failed` and the live version keeps serving. The request waits for the verdict at most LOAM_FUNCTIONS_DEPLOY_WAIT_MS (60 s), then answers 201 with the new version number while validation goes on. With `bundleOnly=true` the version validates but does not go live until `PUT …/functions`.', scope: 'projects:write', params: [projectRef, { name: 'slug', in: 'query', required: true, schema: str() }, { name: 'bundleOnly', in: 'query', required: false, schema: { type: 'boolean' } }], body: ref('FunctionDeployBody'), multipart: true, status: 201, response: ref('Function'), errors: [404] }),
  },
  '/v1/projects/{ref}/functions/{function_slug}': {
    get: op({ tag: 'Edge Functions', id: 'v1-get-a-function', summary: 'One edge function', scope: 'projects:read', params: [projectRef, functionSlug], response: ref('Function'), errors: [404] }),
    patch: op({ tag: 'Edge Functions', id: 'v1-update-a-function', summary: 'Rename a function or switch verify_jwt', scope: 'projects:write', params: [projectRef, functionSlug], body: ref('UpdateFunctionBody'), response: ref('Function'), errors: [404] }),
    delete: op({ tag: 'Edge Functions', id: 'v1-delete-a-function', summary: 'Delete a function: its versions stop serving', scope: 'projects:write', params: [projectRef, functionSlug], response: ref('Message'), errors: [404] }),
  },
  '/v1/projects/{ref}/functions/{function_slug}/body': {
    get: op({ tag: 'Edge Functions', id: 'v1-get-a-function-body', summary: 'The live version\'s source (the entrypoint, or every file as multipart/form-data when asked for)', scope: 'projects:read', params: [projectRef, functionSlug], response: str(), errors: [404] }),
  },
  '/v1/projects/{ref}/functions/{function_slug}/logs': {
    get: op({ tag: 'Edge Functions', id: 'v1-get-function-logs', summary: 'The last invocations (status, duration, console output), newest first', scope: 'projects:read', params: [projectRef, functionSlug, { name: 'limit', in: 'query', required: false, schema: { type: 'integer' } }], response: ref('FunctionLogs'), errors: [404] }),
  },
  ...environmentPaths(),
  ...emailPaths(),
  '/v1/projects/{ref}/secrets': {
    get: op({ tag: 'Secrets', id: 'v1-list-all-secrets', summary: 'The project\'s secrets: names and digests', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('Secret')), errors: [404] }),
    post: op({ tag: 'Secrets', id: 'v1-bulk-create-secrets', summary: 'Set secrets (edge functions see them as environment variables)', scope: 'projects:write', params: [projectRef], body: ref('CreateSecretsBody'), status: 201, response: ref('Message'), errors: [404] }),
    delete: op({ tag: 'Secrets', id: 'v1-bulk-delete-secrets', summary: 'Unset secrets', scope: 'projects:write', params: [projectRef], body: ref('DeleteSecretsBody'), response: ref('Message'), errors: [404] }),
  },
  '/v1/projects/{ref}/storage/credentials': {
    get: op({ tag: 'Storage', id: 'v1-list-storage-credentials', summary: 'The project\'s S3 access keys (never their secrets)', scope: 'projects:read', params: [projectRef], response: ref('StorageCredentialList'), errors: [404] }),
    post: op({ tag: 'Storage', id: 'v1-create-storage-credential', summary: 'Create an S3 access key, acting as the project\'s service role; its secret is shown once', scope: 'projects:write', params: [projectRef], body: ref('CreateStorageCredentialBody'), status: 201, response: ref('CreatedStorageCredential'), errors: [402, 404] }),
  },
  '/v1/projects/{ref}/storage/credentials/{id}': {
    delete: op({
      tag: 'Storage', id: 'v1-delete-storage-credential', summary: 'Revoke an S3 access key (refused from the next request on)', scope: 'projects:write', errors: [404],
      params: [projectRef, { name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) }], response: obj({ message: str() }),
    }),
  },
  '/v1/regions': {
    get: op({ tag: 'Platform', id: 'list-regions', summary: 'Regions projects can be placed in (no token needed; rate limited per address)', scope: false, errors: [429], response: arrayOf(ref('Region')) }),
  },
  '/v1/plans': {
    get: op({
      tag: 'Platform', id: 'list-plans', summary: 'Plans and the limits quotas use (no token needed; rate limited per address)', scope: false, errors: [429], response: arrayOf(ref('Plan')),
      description: '`limits` holds every column of the plan besides id and name, so limits the operator adds show up here.',
    }),
  },
  '/v1/backend-types': {
    get: op({ tag: 'Platform', id: 'list-backend-types', summary: 'What a project can be created as (no token needed; rate limited per address)', scope: false, errors: [429], response: arrayOf(ref('BackendType')) }),
  },
  '/v1/organizations/{slug}/members/{user_id}': {
    patch: op({
      tag: 'Organizations', id: 'v1-update-organization-member', summary: 'Change a member\'s role', scope: 'organizations:write', errors: [403, 404, 409],
      params: [orgSlug, memberId], body: ref('UpdateMemberBody'), response: ref('OrganizationMember'),
      description: 'Administrators and Owners; only an Owner makes or unmakes an Owner; the last Owner cannot be demoted (409 `last_owner`).',
    }),
    delete: op({
      tag: 'Organizations', id: 'v1-delete-organization-member', summary: 'Remove a member (or leave)', scope: 'organizations:write', errors: [403, 404, 409],
      params: [orgSlug, memberId], response: ref('OrganizationMember'),
      description: 'Anyone may remove themselves; removing others needs Administrator (Owner for an Owner). The last Owner cannot be removed.',
    }),
  },
  '/v1/organizations/{slug}/members/invitations': {
    get: op({ tag: 'Organizations', id: 'v1-list-organization-invitations', summary: 'Pending invitations (expired ones included until replaced)', scope: 'organizations:read', params: [orgSlug], response: arrayOf(ref('Invitation')), errors: [404] }),
    post: op({
      tag: 'Organizations', id: 'v1-create-organization-invitation', summary: 'Invite an email address with a role', scope: 'organizations:write', errors: [403, 404, 409],
      params: [orgSlug], body: ref('InviteMemberBody'), status: 201, response: ref('Invitation'),
      description: 'Queues an email carrying the token (the only place it appears); valid 24 hours. Administrators and Owners; only an Owner invites an Owner.',
    }),
  },
  '/v1/organizations/{slug}/members/invitations/{id}': {
    delete: op({
      tag: 'Organizations', id: 'v1-delete-organization-invitation', summary: 'Withdraw a pending invitation', scope: 'organizations:write', errors: [403, 404],
      params: [orgSlug, { name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) }], response: ref('Invitation'),
    }),
  },
  '/v1/organizations/{slug}/audit': {
    get: op({
      tag: 'Organizations', id: 'v1-get-organization-audit-log', summary: 'Who changed roles, sent invitations, revealed or rotated credentials, restarted services (newest first)',
      scope: 'organizations:read', errors: [400, 403, 404],
      params: [orgSlug, { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }],
      response: arrayOf(obj({ id: str(), action: str(), target: nullable(str()), project_ref: nullable(str()), user_id: nullable(str({ format: 'uuid' })), email: nullable(str()), token_id: nullable(str({ format: 'uuid', description: 'The access token the action was taken with.' })), created_at: timestamp })),
      description: 'Administrators and Owners.',
    }),
  },
  '/v1/invitations/{token}/accept': {
    post: op({
      tag: 'Organizations', id: 'v1-accept-invitation', summary: 'Join an organization with the token from an invitation email', scope: 'organizations:write', errors: [403, 404, 409, 410],
      params: [{ name: 'token', in: 'path', required: true, schema: str({ pattern: '^[0-9a-f]{48}$' }) }], response: ref('AcceptedInvitation'),
      description: 'Only the signed-in account whose email the invitation names (403 `invitation_email_mismatch`); 404 unknown or withdrawn, 409 already accepted, 410 expired.',
    }),
  },
  '/v1/projects/{ref}/services': {
    get: op({ tag: 'Projects', id: 'v1-list-project-services', summary: 'The project\'s services and their status', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('Service')), errors: [404] }),
  },
  '/v1/projects/{ref}/services/{name}/restart': {
    post: op({
      tag: 'Projects', id: 'v1-restart-project-service', summary: 'Rebuild one service\'s caches and connections for this project alone', scope: 'projects:write', errors: [403, 404],
      params: [projectRef, { name: 'name', in: 'path', required: true, schema: str({ enum: ['db', 'rest', 'graphql', 'auth', 'storage', 'realtime', 'functions', 'sites'] }) }],
      response: obj({ name: str(), restarted: { type: 'boolean' } }),
      description: 'In every API process, for this project alone: rest: the schema cache; graphql: the PostGraphile instance and its pool; db: the database pools (and both of those); realtime: its sockets close with 1012 and clients reconnect; functions: its workers stop and the next requests boot new ones; every service: the project\'s runtime record (keys, settings). Administrators and Owners; audited.',
    }),
  },
  '/v1/projects/{ref}/database/credentials': {
    get: op({ tag: 'Database', id: 'v1-get-database-credentials', summary: 'The owner login (psql) without its password', scope: 'database:read', params: [projectRef], response: ref('DatabaseCredentials'), errors: [404] }),
  },
  '/v1/projects/{ref}/database/credentials/reveal': {
    post: op({
      tag: 'Database', id: 'v1-reveal-database-credentials', summary: 'The owner login\'s password and connection string (audited)', scope: 'database:write', params: [projectRef],
      response: ref('DatabaseCredentials'), errors: [403, 404, 409], description: 'Administrators and Owners; every reveal is recorded in the organization\'s audit log.',
    }),
  },
  '/v1/projects/{ref}/database/credentials/rotate': {
    post: op({
      tag: 'Database', id: 'v1-rotate-database-credentials', summary: 'A new random password for the owner login; the old one stops working', scope: 'database:write', params: [projectRef],
      response: ref('DatabaseCredentials'), errors: [403, 404, 400], description: 'Administrators and Owners; audited. Open sessions stay; new logins need the new password.',
    }),
  },
  '/v1/openapi.json': {
    get: op({ tag: 'Platform', id: 'get-openapi', summary: 'This document', scope: false, response: { type: 'object' } }),
  },
};

function sitePaths(): Record<string, Record<string, Operation>> {
  const siteId = { name: 'site_id', in: 'path', required: true, description: 'Site id', schema: str({ format: 'uuid' }) };
  const deployId = { name: 'deploy_id', in: 'path', required: true, description: 'Deploy id', schema: str({ format: 'uuid' }) };
  const buildId = { name: 'build_id', in: 'path', required: true, description: 'Build id', schema: str({ format: 'uuid' }) };
  const filePath = { name: 'path', in: 'query', required: true, description: 'The file\'s path in the deploy', schema: str({ maxLength: 1024 }) };
  const site = '/v1/projects/{ref}/sites/{site_id}';
  const deploy = `${site}/deploys/{deploy_id}`;
  const r = 'projects:read', w = 'projects:write';
  const base = (extra: Partial<OpSpec> & Pick<OpSpec, 'id' | 'summary'>): Operation => op({ tag: 'Sites', scope: w, errors: [404], ...extra });
  const withRaw = (o: Operation, types: string[], description: string): Operation => ({
    ...o, requestBody: { required: true, description, content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])) },
  });
  return {
    '/v1/projects/{ref}/sites': {
      get: base({ id: 'v1-list-sites', summary: 'The project\'s sites', scope: r, params: [projectRef], response: arrayOf(ref('Site')) }),
      post: base({ id: 'v1-create-site', summary: 'Create a site', params: [projectRef], body: ref('CreateSiteBody'), status: 201, response: ref('Site'), errors: [402, 404, 409] }),
    },
    [site]: {
      get: base({ id: 'v1-get-site', summary: 'A site', scope: r, params: [projectRef, siteId], response: ref('Site') }),
      patch: base({ id: 'v1-update-site', summary: 'Change a site', params: [projectRef, siteId], body: ref('UpdateSiteBody'), response: ref('Site'), errors: [404, 409] }),
      delete: base({ id: 'v1-delete-site', summary: 'Delete a site and its files', params: [projectRef, siteId], response: ref('Site') }),
    },
    [`${site}/deploys`]: {
      get: base({ id: 'v1-list-site-deploys', summary: 'The site\'s deploys, newest first', scope: r, params: [projectRef, siteId], response: arrayOf(ref('SiteDeploy')) }),
      post: withRaw(base({
        id: 'v1-create-site-deploy', summary: 'Deploy a zip into staging', params: [projectRef, siteId, { name: 'label', in: 'query', required: false, schema: str({ maxLength: 256 }) }],
        status: 202, response: ref('SiteDeploy'), errors: [400, 403, 404, 413, 415, 422],
        description: 'The zip is checked (no `..`, absolute or backslashed names, no symlinks, file count, sizes, compression ratio) before anything is stored, then unpacked by a job: the deploy is `processing`, then `ready` (and the site\'s staging deploy) or `failed`. A zip whose files all sit in one folder is unwrapped.',
      }), ['application/zip', 'multipart/form-data'], 'The zip as the raw body, or the field `zipfile` of a multipart form.'),
    },
    [`${site}/deploys/open`]: {
      post: base({
        id: 'v1-open-site-deploy', summary: 'Open a file-by-file deploy', params: [projectRef, siteId], body: ref('OpenDeployBody'), status: 201,
        response: { allOf: [ref('SiteDeploy'), obj({ missing: arrayOf(str()) })] }, errors: [403, 404, 413],
        description: 'With a manifest, the files whose SHA-256 the site already has are taken from earlier deploys; `missing` lists the hashes to upload.',
      }),
    },
    [deploy]: {
      get: base({ id: 'v1-get-site-deploy', summary: 'A deploy', scope: r, params: [projectRef, siteId, deployId], response: ref('SiteDeploy') }),
    },
    [`${deploy}/files`]: {
      get: base({ id: 'v1-list-site-deploy-files', summary: 'The files of a deploy', scope: r, params: [projectRef, siteId, deployId], response: arrayOf(ref('SiteFile')) }),
      post: withRaw(base({ id: 'v1-upload-site-deploy-file', summary: 'Upload one file of a pending deploy', params: [projectRef, siteId, deployId, filePath], status: 201, response: ref('SiteFile'), errors: [400, 403, 404, 409, 413, 415] }),
        ['application/octet-stream'], 'The file\'s bytes.'),
      delete: base({ id: 'v1-delete-site-deploy-file', summary: 'Remove a file from a pending deploy', params: [projectRef, siteId, deployId, filePath], status: 204, errors: [400, 404, 409] }),
    },
    [`${deploy}/finalize`]: {
      post: base({ id: 'v1-finalize-site-deploy', summary: 'Finish a file-by-file deploy: it becomes the staging deploy', params: [projectRef, siteId, deployId], response: ref('SiteDeploy'), errors: [404, 409, 413, 422] }),
    },
    [`${deploy}/publish`]: {
      post: base({ id: 'v1-publish-site-deploy', summary: 'Make the staging deploy live', params: [projectRef, siteId, deployId], response: ref('Site'), errors: [404, 409] }),
    },
    [`${deploy}/rollback`]: {
      post: base({ id: 'v1-rollback-site-deploy', summary: 'Make an earlier published deploy live again', params: [projectRef, siteId, deployId], response: ref('Site'), errors: [404, 409] }),
    },
    [`${site}/custom-domain/verify`]: {
      post: base({
        id: 'v1-verify-site-custom-domain', summary: 'Verify the site\'s custom domain by its DNS TXT record', params: [projectRef, siteId], response: ref('Site'), errors: [404, 409, 422],
        description: 'Looks up the TXT record `_loam-challenge.<domain>` (the site\'s `custom_domain_challenge`). Found: the domain is served for this site — and no longer for another site that held it, unless that site\'s record is still published too (409).',
      }),
    },
    [`${site}/deploy-key`]: {
      post: base({
        id: 'v1-create-site-deploy-key', summary: 'Generate an SSH deploy key for a private repository', params: [projectRef, siteId], status: 201,
        response: obj({ public_key: str() }), description: 'Replaces any earlier key. Add the public key to the repository as a read-only deploy key; the private key is never returned.',
      }),
    },
    [`${site}/builds`]: {
      get: base({ id: 'v1-list-site-builds', summary: 'The site\'s builds from git, newest first', scope: r, params: [projectRef, siteId], response: arrayOf(ref('SiteBuild')) }),
      post: base({
        id: 'v1-create-site-build', summary: 'Build the site from its repository', params: [projectRef, siteId], status: 202, response: ref('SiteBuild'), errors: [403, 404, 409],
        description: 'Clone (shallow) → install → build in a sandbox → a deploy into staging (live with `auto_publish`). A failed build changes nothing.',
      }),
    },
    [`${site}/builds/{build_id}`]: {
      get: base({ id: 'v1-get-site-build', summary: 'A build', scope: r, params: [projectRef, siteId, buildId], response: ref('SiteBuild') }),
    },
    [`${site}/builds/{build_id}/logs`]: {
      get: { ...base({ id: 'v1-get-site-build-logs', summary: 'A build\'s log (text); `?follow=1` streams it until the build ends', scope: r, params: [projectRef, siteId, buildId, { name: 'follow', in: 'query', required: false, schema: str({ enum: ['1', 'true'] }) }] }),
        responses: { 200: { description: 'The log', content: { 'text/plain': { schema: str() } } }, 401: errorResponse(401), 403: errorResponse(403), 404: errorResponse(404), 429: errorResponse(429) } },
    },
    [`${site}/builds/{build_id}/cancel`]: {
      post: base({ id: 'v1-cancel-site-build', summary: 'Cancel a build: it is killed with all its processes', params: [projectRef, siteId, buildId], response: ref('SiteBuild'), errors: [404, 409] }),
    },
    [`${site}/builds/webhook`]: {
      post: withRaw(op({
        tag: 'Sites', id: 'v1-site-build-webhook', summary: 'GitHub push webhook: builds on a push to the production branch', scope: false,
        params: [projectRef, siteId], status: 202, response: ref('SiteBuild'), errors: [400, 401, 403],
        description: 'Signed with the site\'s `webhook_secret` (`X-Hub-Signature-256: sha256=<HMAC>` over the exact body); no access token. Pushes to other branches are acknowledged and ignored.',
      }), ['application/json'], 'GitHub\'s push event.'),
    },
    [`${deploy}/diff`]: {
      get: base({
        id: 'v1-diff-site-deploys', summary: 'Paths added, removed and changed (by SHA-256) since another deploy', scope: r,
        params: [projectRef, siteId, deployId, { name: 'vs', in: 'query', required: true, schema: str({ format: 'uuid' }) }], response: ref('SiteDiff'), errors: [400, 404, 409],
      }),
    },
  };
}

function analyticsPaths(): Record<string, Record<string, Operation>> {
  const window = [
    { name: 'iso_timestamp_start', in: 'query', required: false, schema: str({ format: 'date-time', example: '2025-03-01T00:00:00Z' }) },
    { name: 'iso_timestamp_end', in: 'query', required: false, schema: str({ format: 'date-time', example: '2025-03-01T23:59:59Z' }) },
  ];
  const sqlParam = { name: 'sql', in: 'query', required: false, schema: str(), description: 'A log query as Supabase\'s clients send it (never run: recognised). Default: edge_logs.' };
  const logsOp = (id: string) => op({
    tag: 'Analytics', id, summary: 'The project\'s logs: API requests, Postgres errors, auth, storage, realtime and edge function logs', scope: 'projects:read',
    params: [projectRef, sqlParam, ...window], response: obj({ result: arrayOf({ type: 'object' }) }), errors: [400, 404],
    description: 'Sources: `edge_logs`, `postgres_logs`, `function_edge_logs`, `function_logs`, `auth_logs`, `storage_logs`, `realtime_logs`, `postgrest_logs`, `workflow_run_logs` (always empty). '
      + 'Both dialects the Supabase MCP server sends are understood — `select log_attributes[\'k\'] as k … from logs where source = \'…\'` and `select m.k … from <source> cross join unnest(metadata) as m` — with `and`-joined comparisons, `order by timestamp` and `limit` (≤ 1000); anything else is 400 `unsupported_log_query`. '
      + 'Without a start, the last minute; the window is at most 24 hours. `timestamp` is microseconds since the epoch.',
  });
  return {
    '/v1/projects/{ref}/analytics/endpoints/logs.all': { get: logsOp('v1-get-project-logs') },
    '/v1/projects/{ref}/analytics/endpoints/logs': { get: logsOp('v1-query-project-logs') },
    '/v1/projects/{ref}/analytics/endpoints/usage.api-counts': {
      get: op({
        tag: 'Analytics', id: 'v1-get-project-usage-api-count', summary: 'Requests per service over a recent interval, in time buckets', scope: 'projects:read', errors: [400, 404],
        params: [projectRef, { name: 'interval', in: 'query', required: false, schema: str({ enum: ['15min', '30min', '1hr', '3hr', '1day', '3day', '7day'], example: '1day' }) }],
        response: obj({ result: arrayOf(obj({ timestamp, total_auth_requests: { type: 'number' }, total_realtime_requests: { type: 'number' }, total_rest_requests: { type: 'number' }, total_storage_requests: { type: 'number' } })) }),
        description: 'REST counts GraphQL too. Buckets: a minute up to `1hr`, 15 minutes for `3hr`, an hour for `1day`, a day beyond.',
      }),
    },
    '/v1/projects/{ref}/analytics/endpoints/usage.api-requests-count': {
      get: op({
        tag: 'Analytics', id: 'v1-get-project-usage-request-count', summary: 'The project\'s data-plane requests in the last 24 hours', scope: 'projects:read', errors: [404],
        params: [projectRef], response: obj({ result: arrayOf(obj({ count: { type: 'number' } })) }),
      }),
    },
  };
}

function mcpPaths(): Record<string, Record<string, Operation>> {
  const message = { type: 'object', description: 'A JSON-RPC 2.0 message (or a batch) of the Model Context Protocol.' };
  const post = (id: string, summary: string, params: unknown[]) => op({
    tag: 'MCP', id, summary, params, body: message, response: message, errors: [403, 404, 406],
    description: 'MCP Streamable HTTP transport, stateless (no session id). Authenticate with a personal access token; every tool calls this API with it, so a tool can do no more than the token can. '
      + 'Clients must accept `application/json, text/event-stream`.',
  });
  const config = (id: string, params: unknown[]) => op({
    tag: 'MCP', id, summary: 'The connection config an MCP client needs for this endpoint', params,
    response: obj({ mcpServers: { type: 'object' } }), errors: [404],
  });
  return {
    '/v1/projects/{ref}/mcp': {
      get: config('v1-get-project-mcp-config', [projectRef]),
      post: post('v1-project-mcp', 'The MCP server, scoped to one project', [projectRef]),
    },
  };
}

export const managementSpec = {
  openapi: '3.0.3',
  info: {
    title: 'Loam Management API',
    version: '1.0.0',
    description: 'Accounts, access tokens, organizations and projects of a Loam platform. Errors are `{ "message", "code" }`.',
  },
  security: [{ bearer: [] }],
  paths,
  components: {
    securitySchemes: {
      bearer: {
        type: 'http', scheme: 'bearer',
        description: 'A session token from /v1/auth/login or a personal access token (`sbp_` + 40 hex).',
      },
    },
    schemas,
    responses,
  },
};

// Database settings, network rules, regions and snippets (database-settings.ts, network.ts, regions.ts): Supabase's
// paths and shapes.
function databaseSettingsPaths(): Record<string, Record<string, Operation>> {
  const r = 'database:read', w = 'database:write';
  const cidrs = obj({ dbAllowedCidrs: arrayOf(str()), dbAllowedCidrsV6: arrayOf(str()) }, []);
  const restrictions = obj({
    entitlement: str({ enum: ['disallowed', 'allowed'] }), config: cidrs, old_config: cidrs,
    status: str({ enum: ['stored', 'applied'], description: '`applied`: enforced on psql logins (pg_hba.conf) and the SQL endpoint; `stored`: on the SQL endpoint only (the server has no Loam-managed pg_hba.conf section).' }),
    updated_at: timestamp, applied_at: timestamp, message: str({ description: 'Why the rules are not enforced on psql logins, when they are not.' }),
  }, ['entitlement', 'config', 'status']);
  const typedCidrs = obj({ dbAllowedCidrs: arrayOf(obj({ address: str(), type: str({ enum: ['v4', 'v6'] }) })) }, []);
  const ssl = obj({ currentConfig: obj({ database: { type: 'boolean' } }), appliedSuccessfully: { type: 'boolean' } });
  const pgSetting = (type: string) => ({ type });
  const postgresConfig = obj({
    effective_cache_size: str(), logical_decoding_work_mem: str(), maintenance_work_mem: str(), track_activity_query_size: str(),
    max_connections: pgSetting('integer'), max_locks_per_transaction: pgSetting('integer'), max_parallel_maintenance_workers: pgSetting('integer'),
    max_parallel_workers: pgSetting('integer'), max_parallel_workers_per_gather: pgSetting('integer'), max_replication_slots: pgSetting('integer'),
    max_slot_wal_keep_size: str(), max_standby_archive_delay: str(), max_standby_streaming_delay: str(), max_wal_size: str(),
    max_wal_senders: pgSetting('integer'), max_worker_processes: pgSetting('integer'), session_replication_role: str({ enum: ['origin', 'replica', 'local'] }),
    shared_buffers: str(), statement_timeout: str(), track_commit_timestamp: pgSetting('boolean'), wal_keep_size: str(),
    wal_sender_timeout: str(), work_mem: str(), checkpoint_timeout: str(), hot_standby_feedback: pgSetting('boolean'),
  }, []);
  const person = obj({ id: { type: 'number' }, username: str() });
  const snippet = obj({
    id: str({ format: 'uuid' }), inserted_at: timestamp, updated_at: timestamp, type: str({ enum: ['sql'] }),
    visibility: str({ enum: ['user', 'project'] }), name: str(), description: nullable(str()),
    project: obj({ id: { type: 'number' }, name: str() }), owner: person, updated_by: person, favorite: { type: 'boolean' },
  });
  const fullSnippet = { allOf: [snippet, obj({ content: obj({ schema_version: str(), sql: str(), favorite: { type: 'boolean' } }) })] };
  const region = obj({ name: str(), code: str(), type: str({ enum: ['specific'] }), provider: str() });
  const group = obj({ name: str(), code: str({ enum: ['americas', 'emea', 'apac'] }), type: str({ enum: ['smartGroup'] }) });
  const q = (name: string, schema: Schema = str(), required = false) => ({ name, in: 'query', required, schema });
  return {
    '/v1/projects/available-regions': {
      get: op({ tag: 'Projects', id: 'v1-get-available-regions', summary: 'Supabase region codes a project can be created in', scope: 'projects:read',
        params: [q('organization_slug'), q('continent'), q('desired_instance_size')],
        description: 'Loam regions named by Supabase\'s codes that have a server, or are placed on a region that has one (every code on a fresh install).',
        response: obj({ recommendations: obj({ smartGroup: group, specific: arrayOf(region) }), all: obj({ smartGroup: arrayOf(group), specific: arrayOf(region) }) }) }),
    },
    '/v1/projects/{ref}/config/database/postgres': {
      get: op({ tag: 'Database', id: 'v1-get-postgres-config', summary: 'The Postgres settings set for the project\'s database', scope: r, params: [projectRef], response: postgresConfig, errors: [404, 503] }),
      put: op({ tag: 'Database', id: 'v1-update-postgres-config', summary: 'Set the project database\'s Postgres settings (replaces them)', scope: w, params: [projectRef],
        body: { ...postgresConfig, additionalProperties: false }, response: postgresConfig, errors: [404, 503],
        description: 'Applied with `ALTER DATABASE … SET` (new sessions see them). Server-wide and superuser-only settings (max_connections, shared_buffers, session_replication_role, …) are refused with 400 `invalid_postgres_config` naming them.' }),
    },
    '/v1/projects/{ref}/config/database/pgbouncer': {
    get: op({
      tag: 'Database', id: 'v1-get-project-pgbouncer-config', summary: 'The connection clients should use (Loam has no PgBouncer: direct, session mode)', scope: r, params: [projectRef], errors: [404, 503],
      response: obj({ pool_mode: str({ enum: ['session'] }), connection_string: str() }),
    }),
  },
  '/v1/projects/{ref}/config/database/pooler': {
      get: op({ tag: 'Database', id: 'v1-get-pooler-config', summary: 'The connection string clients should use', scope: r, params: [projectRef], errors: [404, 503],
        description: 'Loam has no pooler: the project\'s own login, direct, in session mode; `?sslmode=require` when the server offers TLS.',
        response: arrayOf(obj({ identifier: str(), database_type: str({ enum: ['PRIMARY'] }), is_using_scram_auth: { type: 'boolean' }, db_user: str(), db_host: str(),
          db_port: { type: 'integer' }, db_name: str(), connection_string: str(), connectionString: str(), default_pool_size: nullable({ type: 'integer' }),
          max_client_conn: nullable({ type: 'integer' }), pool_mode: str({ enum: ['session'] }), ssl: { type: 'boolean' } })) }),
      patch: op({ tag: 'Database', id: 'v1-update-pooler-config', summary: 'Session mode is the only mode (no pooler to configure)', scope: w, params: [projectRef],
        body: obj({ default_pool_size: nullable({ type: 'integer' }), pool_mode: str({ enum: ['transaction', 'session'] }) }, []),
        response: obj({ default_pool_size: nullable({ type: 'integer' }), pool_mode: str() }), errors: [404] }),
    },
    '/v1/projects/{ref}/ssl-enforcement': {
      get: op({ tag: 'Database', id: 'v1-get-ssl-enforcement-config', summary: 'Whether psql logins must use TLS', scope: r, params: [projectRef], response: ssl, errors: [404] }),
      put: op({ tag: 'Database', id: 'v1-update-ssl-enforcement-config', summary: 'Require (or stop requiring) TLS for psql logins', scope: w, params: [projectRef],
        body: obj({ requestedConfig: obj({ database: { type: 'boolean' } }) }), response: ssl, errors: [404] }),
    },
    '/v1/projects/{ref}/network-restrictions': {
      get: op({ tag: 'Database', id: 'v1-get-network-restrictions', summary: 'Networks the project\'s database may be reached from', scope: r, params: [projectRef], response: restrictions, errors: [404] }),
      patch: op({ tag: 'Database', id: 'v1-patch-network-restrictions', summary: 'Add and remove allowed networks', scope: w, params: [projectRef],
        body: obj({ add: cidrs, remove: cidrs }, []), response: { ...restrictions, properties: { ...(restrictions.properties as object), config: typedCidrs, old_config: typedCidrs } }, errors: [404] }),
    },
    '/v1/projects/{ref}/network-restrictions/apply': {
      post: op({ tag: 'Database', id: 'v1-update-network-restrictions', summary: 'Replace the allowed networks', scope: w, params: [projectRef], body: cidrs, status: 201, response: restrictions, errors: [404] }),
    },
    '/v1/projects/{ref}/network-bans/retrieve': {
      post: op({ tag: 'Database', id: 'v1-list-all-network-bans', summary: 'Addresses banned from the project\'s database', scope: r, params: [projectRef], status: 201,
        response: obj({ banned_ipv4_addresses: arrayOf(str()) }), errors: [404] }),
    },
    '/v1/projects/{ref}/network-bans/retrieve/enriched': {
      post: op({ tag: 'Database', id: 'v1-list-all-network-bans-enriched', summary: 'Banned addresses with what they were banned from', scope: r, params: [projectRef], status: 201,
        response: obj({ banned_ipv4_addresses: arrayOf(obj({ banned_address: str(), identifier: str(), type: str() })) }), errors: [404] }),
    },
    '/v1/projects/{ref}/network-bans': {
      delete: op({ tag: 'Database', id: 'v1-delete-network-bans', summary: 'Lift bans', scope: w, params: [projectRef],
        body: obj({ ipv4_addresses: arrayOf(str()), requester_ip: { type: 'boolean' }, identifier: str() }, ['ipv4_addresses']), response: ref('Message'), errors: [404] }),
    },
    '/v1/projects/{ref}/readonly': {
      get: op({ tag: 'Database', id: 'v1-get-readonly-mode-status', summary: 'Whether the project\'s database is in read-only mode', scope: r, params: [projectRef],
        response: obj({ enabled: { type: 'boolean' }, override_enabled: { type: 'boolean' }, override_active_until: str() }), errors: [404] }),
    },
    '/v1/projects/{ref}/readonly/temporary-disable': {
      post: op({ tag: 'Database', id: 'v1-disable-readonly-mode-temporarily', summary: 'Allow writes for 15 minutes', scope: w, params: [projectRef], status: 201, errors: [404] }),
    },
    '/v1/projects/{ref}/billing/addons': {
      get: op({ tag: 'Billing', id: 'v1-list-project-addons', summary: 'Add-ons (self-hosting has none: both lists are empty)', scope: 'projects:read', params: [projectRef],
        response: obj({ selected_addons: arrayOf({ type: 'object' }), available_addons: arrayOf({ type: 'object' }) }), errors: [404] }),
    },
    '/v1/snippets': {
      get: op({ tag: 'Database', id: 'v1-list-all-snippets', summary: 'SQL snippets the caller may read', scope: r,
        params: [q('project_ref'), q('cursor'), q('limit', { type: 'integer', minimum: 1, maximum: 1000 }), q('sort_by', str({ enum: ['name', 'inserted_at'] })), q('sort_order', str({ enum: ['asc', 'desc'] }))],
        response: obj({ data: arrayOf(snippet), cursor: str() }, ['data']), errors: [404] }),
      post: op({ tag: 'Database', id: 'loam-create-snippet', summary: 'Save a SQL snippet (Loam\'s own)', scope: w, status: 201,
        body: obj({ project_ref: str(), name: str(), sql: str(), description: str(), visibility: str({ enum: ['user', 'project'] }) }, ['project_ref', 'name', 'sql']),
        response: fullSnippet, errors: [402, 404] }),
    },
    '/v1/snippets/{id}': {
      get: op({ tag: 'Database', id: 'v1-get-a-snippet', summary: 'A SQL snippet with its SQL', scope: r,
        params: [{ name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) }], response: fullSnippet, errors: [404] }),
      patch: op({ tag: 'Database', id: 'loam-update-snippet', summary: 'Rename or edit a SQL snippet (Loam\'s own)', scope: w,
        params: [{ name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) }],
        body: obj({ name: str(), sql: str(), description: str(), visibility: str({ enum: ['user', 'project'] }) }, []),
        response: fullSnippet, errors: [400, 403, 404] }),
      delete: op({ tag: 'Database', id: 'loam-delete-snippet', summary: 'Delete a SQL snippet (Loam\'s own)', scope: w,
        params: [{ name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) }],
        response: obj({ message: str() }), errors: [403, 404] }),
    },
  };
}

// Types, migration history and advisors: what the Supabase CLI and MCP server call (shapes as Supabase's).
function toolingPaths(): Record<string, Record<string, Operation>> {
  const version = (name: string, where: 'path' | 'query') => ({ name, in: where, required: true, schema: str({ pattern: '^\\d+$', example: '20250312000000' }) });
  const idempotencyKey = { name: 'Idempotency-Key', in: 'header', required: false, description: 'POST: a key already recorded is not applied again. PUT: replaces the entry with this key.', schema: str({ maxLength: 256 }) };
  const migrationBody = obj({ query: str({ minLength: 1 }), name: str({ maxLength: 1000 }), rollback: str({ description: 'SQL that undoes it, run by `DELETE ?gte=`.' }) }, ['query']);
  const applied = obj({ version: str(), name: nullable(str()) });
  const migration = obj({ version: str(), name: str(), statements: arrayOf(str()), rollback: arrayOf(str()), created_by: str(), idempotency_key: str() }, ['version']);
  const lint = obj({
    name: str({ example: 'rls_disabled_in_public' }), title: str(), level: str({ enum: ['ERROR', 'WARN', 'INFO'] }), facing: str({ enum: ['EXTERNAL'] }),
    categories: arrayOf(str({ enum: ['PERFORMANCE', 'SECURITY'] })), description: str(), detail: str(), remediation: str(),
    metadata: { type: 'object', additionalProperties: true, description: '`schema`, `name`, `type` of the object, and lint-specific keys.' }, cache_key: str(),
  });
  const advisors = (category: 'security' | 'performance') => op({
    tag: 'Advisors', id: `v1-get-${category}-advisors`, summary: `The project's ${category} advisors`, scope: 'database:read', params: [projectRef],
    response: obj({ lints: arrayOf(lint) }), errors: [404, 503],
    description: 'Lint queries over the project\'s catalog, run as the owner in a read-only transaction with a statement timeout.',
  });
  const migrationsPath = '/v1/projects/{ref}/database/migrations';
  return {
    '/v1/projects/{ref}/types/typescript': {
      get: op({
        tag: 'Database', id: 'v1-generate-typescript-types', summary: 'TypeScript types of the project\'s schemas (as `supabase gen types typescript`)', scope: 'database:read',
        params: [{ name: 'included_schemas', in: 'query', required: false, schema: str({ default: 'public', example: 'public,other' }) }, projectRef],
        response: obj({ types: str() }), errors: [400, 404, 503],
      }),
    },
    [migrationsPath]: {
      get: op({ tag: 'Database', id: 'v1-list-migration-history', summary: 'Applied migrations, by version', scope: 'database:read', params: [projectRef],
        response: arrayOf(obj({ version: str({ minLength: 1 }), name: str() }, ['version'])), errors: [404, 503],
        description: 'Read from `supabase_migrations.schema_migrations` in the project database, the table the Supabase CLI keeps.' }),
      post: op({ tag: 'Database', id: 'v1-apply-a-migration', summary: 'Apply a migration as the project owner and record it', scope: 'database:write', params: [projectRef, idempotencyKey],
        body: migrationBody, response: applied, errors: [404, 503],
        description: 'One transaction: a SQL error is 400 with Postgres\'s message and SQLSTATE, and nothing is applied or recorded.' }),
      put: op({ tag: 'Database', id: 'v1-upsert-a-migration', summary: 'Apply a migration and record it, replacing the entry with the same Idempotency-Key', scope: 'database:write',
        params: [projectRef, idempotencyKey], body: migrationBody, response: applied, errors: [404, 503] }),
      delete: op({ tag: 'Database', id: 'v1-rollback-migrations', summary: 'Roll back the migrations at or after a version, newest first', scope: 'database:write',
        params: [projectRef, version('gte', 'query')], response: obj({ message: str(), versions: arrayOf(str()) }), errors: [404, 503],
        description: 'Runs each one\'s recorded rollback SQL and removes it from the history, in one transaction.' }),
    },
    [`${migrationsPath}/{version}`]: {
      get: op({ tag: 'Database', id: 'v1-get-a-migration', summary: 'One entry of the migration history', scope: 'database:read', params: [projectRef, version('version', 'path')], response: migration, errors: [404, 503] }),
      patch: op({ tag: 'Database', id: 'v1-patch-a-migration', summary: 'Change an entry\'s name or rollback SQL', scope: 'database:write', params: [projectRef, version('version', 'path')],
        body: obj({ name: str(), rollback: str() }, []), response: ref('Message'), errors: [404, 503] }),
    },
    '/v1/projects/{ref}/advisors/security': { get: advisors('security') },
    '/v1/projects/{ref}/advisors/performance': { get: advisors('performance') },
  };
}

function backupPaths(): Record<string, Record<string, Operation>> {
  const backup = obj({
    is_physical_backup: { type: 'boolean' }, id: { type: 'integer' }, inserted_at: timestamp,
    status: str({ enum: ['COMPLETED', 'FAILED', 'PENDING', 'REMOVED'] }),
    trigger: str({ enum: ['scheduled', 'manual'], description: 'Loam: the daily schedule or a request.' }),
    progress: nullable(str({ description: 'Loam: what the job is doing now (PENDING only).' })),
    database_bytes: nullable({ type: 'integer' }), file_count: nullable({ type: 'integer' }), file_bytes: nullable({ type: 'integer' }),
    error: nullable(str()), completed_at: nullable(timestamp),
  }, ['is_physical_backup', 'id', 'inserted_at', 'status']);
  const restore = obj({
    id: { type: 'integer' }, kind: str({ enum: ['backup', 'pitr'] }), backup_id: nullable({ type: 'integer' }), project_ref: str({ description: 'The project restored into.' }),
    recovery_time_target_unix: nullable({ type: 'integer', description: 'Point-in-time restores: the moment.' }),
    restore_point: nullable(str({ description: 'Undo: the restore point\'s name.' })),
    status: str({ enum: ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED'] }), step: str({ enum: ['preparing', 'restoring', 'swapping'] }),
    progress: nullable(str()), error: nullable(str()), inserted_at: timestamp, completed_at: nullable(timestamp),
  });
  const base = '/v1/projects/{ref}/database/backups';
  const pitrNote = 'On PostgreSQL\'s recovery (base backups + archived WAL), one project at a time through a temporary cluster (db/README.md). 501 `pitr_not_supported` where the project\'s server has no WAL archive configured, 501 `pitr_tools_missing` where postgres/pg_basebackup/pg_dump of its version are not installed.';
  const restorePoint = obj({ name: str(), status: str({ enum: ['AVAILABLE', 'PENDING', 'FAILED', 'REMOVED'] }), completed_on: nullable(timestamp) }, ['name', 'status']);
  return {
    [base]: {
      get: op({ tag: 'Database', id: 'v1-list-all-backups', summary: 'The project\'s backups', scope: 'database:read', params: [projectRef], errors: [404],
        response: obj({ region: str(), walg_enabled: { type: 'boolean' }, pitr_enabled: { type: 'boolean' }, backups: arrayOf(backup),
          physical_backup_data: obj({ earliest_physical_backup_date_unix: { type: 'integer' }, latest_physical_backup_date_unix: { type: 'integer' } }, []) }),
        description: 'Supabase\'s shape. Loam\'s backups are logical (`is_physical_backup: false`): the database by pg_dump and the project\'s stored files. `pitr_enabled` and `physical_backup_data` (the point-in-time window) come from the project\'s server\'s base backups and WAL archive.' }),
      post: op({ tag: 'Database', id: 'loam-create-backup', summary: 'Back the project up now (Loam)', scope: 'database:write', params: [projectRef], status: 201, response: backup,
        errors: [400, 404, 409, 501],
        description: 'Queues a backup job (database and stored files); its progress shows in the list. 501 `backup_tools_missing` names the PostgreSQL client tool and version this server lacks.' }),
    },
    [`${base}/restore`]: {
      post: op({ tag: 'Database', id: 'loam-restore-backup', summary: 'Restore a backup into the project or into a new project (Loam)', scope: 'database:write', params: [projectRef],
        body: obj({ id: { type: 'integer' }, new_project: obj({ name: str({ maxLength: 256 }), db_pass: str({ minLength: 8, maxLength: 128 }) }) }, ['id']),
        status: 201, response: restore, errors: [402, 404, 409, 501],
        description: 'Into the project itself: it is out of service (`RESTORING_BACKUP`) until the restore ends; its database stays as it was until the restored one is complete, then they are swapped. With `new_project`: a new project of the same organization.' }),
    },
    [`${base}/restores`]: {
      get: op({ tag: 'Database', id: 'loam-list-restores', summary: 'Restores into the project and of its backups, with progress (Loam)', scope: 'database:read', params: [projectRef],
        response: arrayOf(restore), errors: [404] }),
    },
    [`${base}/restore-pitr`]: {
      post: op({ tag: 'Database', id: 'v1-restore-pitr-backup', summary: 'Restore the database to a point in time', scope: 'database:write', params: [projectRef],
        body: obj({ recovery_time_target_unix: { type: 'integer', minimum: 0 } }, ['recovery_time_target_unix']), status: 201, response: restore,
        errors: [404, 501], description: `${pitrNote} The project is out of service until the restore ends; its progress shows in \`…/backups/restores\`. 400 \`pitr_target_out_of_range\` outside the window \`physical_backup_data\` gives.` }),
    },
    [`${base}/restore-point`]: {
      get: op({ tag: 'Database', id: 'v1-get-restore-point', summary: 'A restore point (the newest without `name`)', scope: 'database:read',
        params: [projectRef, { name: 'name', in: 'query', required: false, schema: str({ maxLength: 20 }) }], response: restorePoint, errors: [404] }),
      post: op({ tag: 'Database', id: 'v1-create-restore-point', summary: 'Create a restore point', scope: 'database:write', params: [projectRef],
        body: obj({ name: str({ maxLength: 20 }) }, ['name']), status: 201, response: restorePoint, errors: [404, 409, 501], description: pitrNote }),
    },
    [`${base}/undo`]: {
      post: op({ tag: 'Database', id: 'v1-undo', summary: 'Undo to a restore point', scope: 'database:write', params: [projectRef],
        body: obj({ name: str({ maxLength: 20 }) }, ['name']), status: 201, response: restore, errors: [404, 409, 501], description: pitrNote }),
    },
  };
}

function tablePaths(): Record<string, Record<string, Operation>> {
  const tableName = { name: 'name', in: 'path', required: true, description: 'Table name (in `public`)', schema: str({ minLength: 1 }) };
  const columnBody = obj({
    name: str({ minLength: 1, maxLength: 63 }),
    type: str({ enum: ['text', 'integer', 'bigint', 'numeric', 'boolean', 'timestamptz', 'date', 'uuid', 'jsonb', 'references', 'password'] }),
    primary_key: { type: 'boolean' }, not_null: { type: 'boolean' }, unique: { type: 'boolean' }, index: { type: 'boolean' },
    default: { description: 'A literal value, cast to the column type.' },
    default_expression: str({ enum: ['now()', 'gen_random_uuid()', 'auth.uid()', 'current_date'] }),
    references: str({ description: 'For `references`: the table whose primary key the column points at.' }),
    on_delete: str({ enum: ['cascade', 'set null', 'restrict', 'no action'] }),
    identifier: str({ description: 'For `password`: the unique column row login looks rows up by. The table\'s primary key must be a uuid with a default (the API roles may not write it).' }),
    role: str({ enum: ['authenticated', 'anon'], description: 'For `password`: the role of row-login tokens (default authenticated).' }),
  }, ['name', 'type']);
  const policies = { ...arrayOf(str({ example: 'owner only by user_id' })),
    description: '`<public|authenticated|owner> <read|insert|update|delete|all>`, with `by <column>` for owner; `owner only by <column>` = `owner all by <column>`.' };
  const table = obj({
    name: str(), comment: nullable(str()), rls_enabled: { type: 'boolean' },
    columns: arrayOf(obj({ name: str(), type: str(), not_null: { type: 'boolean' }, default: nullable(str()), identity: { type: 'boolean' },
      primary_key: { type: 'boolean' }, unique: { type: 'boolean' }, references: nullable(str()), on_delete: nullable(str()) }, ['name', 'type'])),
    indexes: arrayOf(str()), policies: arrayOf(obj({ name: str(), command: str(), roles: arrayOf(str()), using: nullable(str()), check: nullable(str()) })),
  });
  const base = '/v1/projects/{ref}/tables';
  const note = 'Compiled to plain SQL, run as the project owner and recorded in `supabase_migrations.schema_migrations`.';
  return {
    [base]: {
      get: op({ tag: 'Table builder', id: 'v1-list-tables', summary: 'Tables in public, with columns, indexes and policies', scope: 'database:read', params: [projectRef], response: arrayOf(table), errors: [404, 503] }),
      post: op({ tag: 'Table builder', id: 'v1-create-table', summary: 'Create a table (RLS on) from columns, indexes and policy shorthand', scope: 'database:write', params: [projectRef], status: 201,
        body: obj({ name: str({ minLength: 1, maxLength: 63 }), comment: str(), columns: arrayOf(columnBody), indexes: arrayOf(obj({ columns: arrayOf(str()), unique: { type: 'boolean' } }, ['columns'])), policies }, ['name', 'columns']),
        response: table, errors: [404, 503], description: `${note} Without a primary key column the table gets \`id bigint generated by default as identity\` (\`id uuid default gen_random_uuid()\` if it has a password column).` }),
    },
    [`${base}/{name}`]: {
      get: op({ tag: 'Table builder', id: 'v1-get-table', summary: 'One table', scope: 'database:read', params: [projectRef, tableName], response: table, errors: [404, 503] }),
      patch: op({ tag: 'Table builder', id: 'v1-update-table', summary: 'Change a table: its columns, new indexes, its comment, its name', scope: 'database:write', params: [projectRef, tableName],
        body: obj({ name: str(), comment: str(),
          columns: arrayOf(obj({ name: str(), rename: str(), drop: { type: 'boolean' }, not_null: { type: 'boolean' }, unique: { type: 'boolean' },
            default: { description: 'A literal value (null drops the default).' }, default_expression: str({ enum: ['now()', 'gen_random_uuid()', 'auth.uid()', 'current_date'] }),
            role: str({ enum: ['authenticated', 'anon'], description: 'For the password column: the role of its login tokens.' }) }, ['name'])),
          indexes: arrayOf(obj({ columns: arrayOf(str()), unique: { type: 'boolean' } }, ['columns'])) }, []),
        response: table, errors: [404, 503], description: `${note} Column changes run in the order given, then new indexes, the comment and the name; recorded with the SQL that undoes them unless a column is dropped. The columns of a login (key, identifier, password) stay as they are until its password column is dropped.` }),
      delete: op({ tag: 'Table builder', id: 'v1-delete-table', summary: 'Drop a table (and its password hashes)', scope: 'database:write', params: [projectRef, tableName], response: ref('Message'), errors: [404, 503], description: note }),
    },
    [`${base}/{name}/columns`]: {
      post: op({ tag: 'Table builder', id: 'v1-add-table-column', summary: 'Add a column', scope: 'database:write', params: [projectRef, tableName], status: 201, body: columnBody, response: table, errors: [404, 503], description: note }),
    },
    [`${base}/{name}/policies`]: {
      put: op({ tag: 'Table builder', id: 'v1-replace-table-policies', summary: 'Replace the table\'s RLS policies with those the shorthand describes', scope: 'database:write', params: [projectRef, tableName],
        body: obj({ policies }), response: table, errors: [404, 503], description: `${note} Every policy of the table is replaced, hand-written ones included; the rollback makes them again.` }),
    },
    '/v1/data/{ref}/{table}/login': {
      post: op({ tag: 'Table builder', id: 'v1-row-login', summary: 'Log in as a row of a table with a password column', scope: false,
        params: [projectRef, { name: 'table', in: 'path', required: true, schema: str() }, { name: 'apikey', in: 'header', required: true, schema: str() }],
        body: obj({ identifier: str(), password: str() }),
        response: obj({ access_token: str(), token_type: str({ enum: ['bearer'] }), expires_in: { type: 'integer' }, expires_at: { type: 'integer' }, sub: str(), role: str() }),
        errors: [401, 404, 415, 429, 503],
        description: 'A project JWT whose `sub` is the row\'s primary key and whose role is the password column\'s (authenticated or anon, nothing else). Unknown row and wrong password give the same 400 `invalid_credentials`; login settings the owner changed so that they no longer match the table give 400 `row_login_misconfigured`. JSON only (415). Needs one of the project\'s API keys; rate limited per IP like password sign-in.' }),
    },
  };
}

// Preview branches (server/src/management/branches.ts), in Supabase's shapes.
function branchPaths(): Record<string, Record<string, Operation>> {
  const tag = 'Environments', r = 'projects:read', w = 'projects:write';
  const statuses = ['CREATING_PROJECT', 'RUNNING_MIGRATIONS', 'MIGRATIONS_PASSED', 'MIGRATIONS_FAILED', 'FUNCTIONS_DEPLOYED', 'FUNCTIONS_FAILED'];
  const projectStatuses = ['COMING_UP', 'ACTIVE_HEALTHY', 'INIT_FAILED', 'PAUSING', 'INACTIVE', 'PAUSE_FAILED', 'RESTORING', 'RESTORE_FAILED', 'GOING_DOWN', 'REMOVED', 'UPGRADING'];
  const branch = obj({
    id: str({ format: 'uuid' }), name: str(), project_ref: str(), parent_project_ref: str(), is_default: { type: 'boolean' },
    git_branch: str(), persistent: { type: 'boolean' }, status: str({ enum: statuses }),
    status_reason: str({ description: 'Why the last build or reset failed (Loam).' }), created_at: timestamp, updated_at: timestamp,
    with_data: { type: 'boolean' }, notify_url: str({ format: 'uri' }), preview_project_status: str({ enum: projectStatuses }),
  }, ['id', 'name', 'project_ref', 'parent_project_ref', 'is_default', 'persistent', 'status', 'created_at', 'updated_at', 'with_data']);
  const detail = obj({
    ref: str(), postgres_version: str(), postgres_engine: str(), release_channel: str(), status: str({ enum: projectStatuses }),
    db_host: str(), db_port: { type: 'integer' }, db_user: str(),
  }, ['ref', 'postgres_version', 'postgres_engine', 'release_channel', 'status', 'db_host', 'db_port']);
  const id = { name: 'branch_id_or_ref', in: 'path', required: true, description: 'Branch id (uuid) or the branch project\'s ref', schema: str() };
  const action = obj({ migration_version: str({ pattern: '^\\d{1,32}$' }) }, []);
  const run = obj({ workflow_run_id: str(), message: str({ enum: ['ok'] }), applied: arrayOf(str()) }, ['workflow_run_id', 'message']);
  const ok = obj({ message: str({ enum: ['ok'] }) });
  return {
    '/v1/projects/{ref}/branches': {
      get: op({ tag, id: 'v1-list-all-branches', summary: 'The project\'s preview branches (its own default entry first; empty before the first branch)', scope: r,
        params: [projectRef], response: arrayOf(branch), errors: [404] }),
      post: op({ tag, id: 'v1-create-a-branch', summary: 'Create a preview branch: a project of its own, built from the parent\'s migrations by a job', scope: w,
        params: [projectRef], status: 201, response: branch, errors: [402, 404, 409],
        body: obj({ branch_name: str({ minLength: 1, maxLength: 256 }), git_branch: str(), persistent: { type: 'boolean' }, region: str(),
          with_data: { type: 'boolean' }, notify_url: str({ format: 'uri' }), secrets: { type: 'object', additionalProperties: str() },
          seed: str({ description: 'Loam: SQL run as the branch\'s owner after the parent\'s migrations.' }) }, ['branch_name']),
        description: 'The branch counts against the plan\'s project limit (402). Its status goes CREATING_PROJECT → RUNNING_MIGRATIONS → MIGRATIONS_PASSED (or MIGRATIONS_FAILED with `status_reason`). With `with_data` the parent\'s rows are copied too, read in one snapshot as the parent\'s owner.' }),
      delete: op({ tag, id: 'v1-disable-preview-branching', summary: 'Disable branching: delete every preview branch of the project', scope: w,
        params: [projectRef], response: ok, errors: [400, 404] }),
    },
    '/v1/projects/{ref}/branches/{name}': {
      get: op({ tag, id: 'v1-get-a-branch', summary: 'A preview branch by name', scope: r,
        params: [projectRef, { name: 'name', in: 'path', required: true, schema: str() }], response: branch, errors: [404] }),
    },
    '/v1/branches/{branch_id_or_ref}': {
      get: op({ tag, id: 'v1-get-a-branch-config', summary: 'How to reach a branch\'s database', scope: r, params: [id], response: detail, errors: [404] }),
      patch: op({ tag, id: 'v1-update-a-branch-config', summary: 'Rename a branch, or change its git branch, persistence, status or notify URL', scope: w, params: [id],
        body: obj({ branch_name: str(), git_branch: str(), persistent: { type: 'boolean' }, status: str({ enum: statuses }), notify_url: str({ format: 'uri' }),
          reset_on_push: { type: 'boolean' }, request_review: { type: 'boolean' } }, []), response: branch, errors: [404, 409] }),
      delete: op({ tag, id: 'v1-delete-a-branch', summary: 'Delete a preview branch and its project', scope: w,
        params: [id, { name: 'force', in: 'query', required: false, schema: { type: 'boolean' } }], response: ok, errors: [404] }),
    },
    '/v1/branches/{branch_id_or_ref}/push': {
      post: op({ tag, id: 'v1-push-a-branch', summary: 'Apply to the branch the parent\'s migrations it lacks', scope: w, params: [id], body: action, status: 201, response: run,
        errors: [404, 409, 422, 503], description: 'One transaction of the branch\'s owner: a failing migration is 400 with Postgres\'s message and nothing is applied.' }),
    },
    '/v1/branches/{branch_id_or_ref}/merge': {
      post: op({ tag, id: 'v1-merge-a-branch', summary: 'Apply to the parent the branch\'s migrations it lacks', scope: w, params: [id], body: action, status: 201, response: run,
        errors: [404, 409, 422, 503], description: 'One transaction of the parent\'s owner. 409 `merge_conflict`, with nothing applied, when the parent has migrations the branch lacks, a version holds different SQL on each side, or a migration fails on the parent.' }),
    },
    '/v1/branches/{branch_id_or_ref}/reset': {
      post: op({ tag, id: 'v1-reset-a-branch', summary: 'Make the branch\'s database again from the parent\'s migrations (or its own up to `migration_version`)', scope: w,
        params: [id], body: action, status: 201, response: run, errors: [404, 409] }),
    },
    '/v1/branches/{branch_id_or_ref}/restore': {
      post: op({ tag, id: 'v1-restore-a-branch', summary: 'Restore a branch: a paused branch serves again', scope: w, params: [id], status: 201,
        response: obj({ message: str({ enum: ['Branch restoration initiated'] }) }), errors: [400, 404],
        description: 'Supabase cancels a scheduled deletion here; Loam deletes branches at once, so there is none to cancel: a paused branch is restored (as `POST /v1/projects/{branch ref}/restore`), any other is left as it is.' }),
    },
    '/v1/branches/{branch_id_or_ref}/diff': {
      get: { ...op({ tag, id: 'v1-diff-a-branch', summary: 'The SQL that takes the parent\'s schema to the branch\'s', scope: r,
        params: [id, { name: 'included_schemas', in: 'query', required: false, schema: str({ default: 'public' }) }], errors: [400, 404, 409, 503] }),
      responses: { 200: { description: 'SQL', content: { 'text/plain': { schema: str() } } }, 400: errorResponse(400), 401: errorResponse(401), 403: errorResponse(403),
        404: errorResponse(404), 409: errorResponse(409), 429: errorResponse(429), 503: errorResponse(503) } },
    },
  };
}

// Environments of the project's secrets (a PaaS API shape): the same store as /secrets, which is production.
function environmentPaths(): Record<string, Record<string, Operation>> {
  const tag = 'Environments';
  const environment = { name: 'environment', in: 'path', required: true, schema: str({ enum: ['production', 'staging', 'development'] }) };
  const name = { name: 'name', in: 'path', required: true, schema: str() };
  const kind = { name: 'kind', in: 'path', required: true, schema: str({ enum: ['functions', 'sites'] }) };
  const target = { name: 'target', in: 'path', required: true, description: 'Function slug or site id', schema: str() };
  return {
    '/v1/projects/{ref}/environments': {
      get: op({ tag, id: 'list-environments', summary: 'The environments of the project\'s secrets and their fallbacks', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('Environment')), errors: [404] }),
    },
    '/v1/projects/{ref}/environments/{environment}/secrets': {
      get: op({ tag, id: 'list-environment-secrets', summary: 'The secrets one environment sets (masked)', scope: 'projects:read', params: [projectRef, environment], response: arrayOf(ref('MaskedSecret')), errors: [404] }),
      put: op({ tag, id: 'upsert-environment-secrets', summary: 'Set secrets of one environment in bulk (all or none)', scope: 'projects:write', params: [projectRef, environment], body: ref('CreateSecretsBody'), response: arrayOf(ref('MaskedSecret')), errors: [404] }),
      delete: op({ tag, id: 'delete-environment-secrets', summary: 'Delete secrets of one environment', scope: 'projects:write', params: [projectRef, environment], body: ref('DeleteSecretsBody'), response: ref('DeletedSecrets'), errors: [404] }),
    },
    '/v1/projects/{ref}/environments/{environment}/secrets/{name}': {
      delete: op({ tag, id: 'delete-environment-secret', summary: 'Delete one secret of one environment', scope: 'projects:write', params: [projectRef, environment, name], status: 204, errors: [400, 404] }),
    },
    '/v1/projects/{ref}/environments/{environment}/secrets/{name}/reveal': {
      post: op({ tag, id: 'reveal-environment-secret', summary: 'Show a secret\'s value as the environment resolves it (audited)', scope: 'projects:write', params: [projectRef, environment, name], response: ref('RevealedSecret'), errors: [400, 404, 409],
        description: 'Each reveal is recorded (account, token, time): `GET /v1/projects/{ref}/secret-reveals`.' }),
    },
    '/v1/projects/{ref}/environments/{environment}/resolved': {
      get: op({ tag, id: 'resolve-environment-secrets', summary: 'The secrets an environment resolves to through its fallbacks (masked)', scope: 'projects:read', params: [projectRef, environment], response: ref('ResolvedSecrets'), errors: [400, 404] }),
    },
    '/v1/projects/{ref}/secret-reveals': {
      get: op({ tag, id: 'list-secret-reveals', summary: 'Who revealed which secret, when (newest first)', scope: 'projects:read', params: [projectRef, { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } }], response: arrayOf(ref('SecretReveal')), errors: [400, 404] }),
    },
    '/v1/projects/{ref}/secret-bindings': {
      get: op({ tag, id: 'list-secret-bindings', summary: 'The environment each function and site build reads', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('SecretBinding')), errors: [404] }),
    },
    '/v1/projects/{ref}/secret-bindings/{kind}/{target}': {
      put: op({ tag, id: 'bind-secrets', summary: 'Bind a function or site build to an environment', scope: 'projects:write', params: [projectRef, kind, target], body: ref('BindSecretsBody'), response: ref('SecretBinding'), errors: [404] }),
      delete: op({ tag, id: 'unbind-secrets', summary: 'Remove a binding (functions read production again, site builds no secrets)', scope: 'projects:write', params: [projectRef, kind, target], status: 204, errors: [400, 404] }),
    },
    '/v1/projects/{ref}/secret-bindings/{kind}/{target}/secrets': {
      get: op({ tag, id: 'resolve-target-secrets', summary: 'The secrets a function or site build reads, resolved (masked)', scope: 'projects:read', params: [projectRef, kind, target], response: ref('TargetSecrets'), errors: [400, 404] }),
    },
  };
}

// The project's email service (a PaaS API shape).
function emailPaths(): Record<string, Record<string, Operation>> {
  const tag = 'Email';
  const id = { name: 'id', in: 'path', required: true, schema: str({ format: 'uuid' }) };
  return {
    '/v1/projects/{ref}/email/domains': {
      get: op({ tag, id: 'list-email-domains', summary: 'Sending domains and the DNS records each must publish', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('EmailDomain')), errors: [404] }),
      post: op({ tag, id: 'create-email-domain', summary: 'Add a sending domain (a DKIM key pair is made for it)', scope: 'projects:write', params: [projectRef], body: obj({ domain: str() }), status: 201, response: ref('EmailDomain'), errors: [404, 409] }),
    },
    '/v1/projects/{ref}/email/domains/{id}': {
      get: op({ tag, id: 'get-email-domain', summary: 'One sending domain', scope: 'projects:read', params: [projectRef, id], response: ref('EmailDomain'), errors: [404] }),
      delete: op({ tag, id: 'delete-email-domain', summary: 'Remove a sending domain', scope: 'projects:write', params: [projectRef, id], status: 204, errors: [404] }),
    },
    '/v1/projects/{ref}/email/domains/{id}/verify': {
      post: op({ tag, id: 'verify-email-domain', summary: 'Look the records up in DNS (the operator\'s resolvers); verified when all are found', scope: 'projects:write', params: [projectRef, id], response: ref('EmailDomain'), errors: [404] }),
    },
    '/v1/projects/{ref}/email/api-keys': {
      get: op({ tag, id: 'list-email-api-keys', summary: 'Email API keys (never the keys)', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('EmailApiKey')), errors: [404] }),
      post: op({ tag, id: 'create-email-api-key', summary: 'Create a key that may only send this project\'s email', scope: 'projects:write', params: [projectRef], body: obj({ name: str() }), status: 201, response: ref('CreatedEmailApiKey'), errors: [404] }),
    },
    '/v1/projects/{ref}/email/api-keys/{id}': {
      delete: op({ tag, id: 'delete-email-api-key', summary: 'Revoke an email API key', scope: 'projects:write', params: [projectRef, id], status: 204, errors: [404] }),
    },
    '/v1/projects/{ref}/email/webhooks': {
      get: op({ tag, id: 'list-email-webhooks', summary: 'Webhooks receiving email events', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('EmailWebhook')), errors: [404] }),
      post: op({ tag, id: 'create-email-webhook', summary: 'Add a webhook (events signed per Standard Webhooks)', scope: 'projects:write', params: [projectRef], body: obj({ url: str(), events: arrayOf(str()) }, ['url']), status: 201, response: ref('CreatedEmailWebhook'), errors: [400, 404],
        description: 'Each event is POSTed as `{type: "email.<event>", timestamp, data}` with `webhook-id`, `webhook-timestamp` and `webhook-signature` (the secret is shown once). Public addresses only; 10 s per delivery; 5 attempts, then the delivery is failed.' }),
    },
    '/v1/projects/{ref}/email/webhooks/{id}': {
      delete: op({ tag, id: 'delete-email-webhook', summary: 'Remove an email webhook', scope: 'projects:write', params: [projectRef, id], status: 204, errors: [404] }),
    },
    '/v1/projects/{ref}/email/webhooks/{id}/deliveries': {
      get: op({ tag, id: 'list-email-webhook-deliveries', summary: 'What became of each event sent to a webhook (newest first)', scope: 'projects:read', params: [projectRef, id, { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } }], response: arrayOf(ref('EmailWebhookDelivery')), errors: [400, 404] }),
    },
    '/v1/projects/{ref}/email/stats': {
      get: op({ tag, id: 'get-email-stats', summary: 'Email events per UTC day', scope: 'projects:read', params: [projectRef, { name: 'days', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 90 } }], response: arrayOf(ref('EmailStatsDay')), errors: [400, 404] }),
    },
    '/v1/projects/{ref}/emails': {
      get: op({ tag, id: 'list-emails', summary: 'Emails sent (newest first) with their events', scope: 'projects:read', params: [projectRef, { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } }], response: arrayOf(ref('Email')), errors: [400, 404] }),
      post: op({ tag, id: 'send-email', summary: 'Send an email from a verified domain', scope: 'projects:write', params: [projectRef, { name: 'Idempotency-Key', in: 'header', required: false, schema: str({ maxLength: 256 }) }], body: ref('SendEmailBody'), status: 202, response: ref('QueuedEmail'), errors: [403, 404, 409, 413, 422],
        description: 'Also takes an email API key (`Authorization: Bearer lme_…`) of the project, counted against the requests per minute of the project\'s plan. A repeated Idempotency-Key with the same email answers 200 with the first email (header `Idempotent-Replayed: true`); with another email, 409.' }),
    },
    '/v1/projects/{ref}/emails/{id}': {
      get: op({ tag, id: 'get-email', summary: 'One email and its events', scope: 'projects:read', params: [projectRef, id], response: ref('Email'), errors: [404] }),
    },
  };
}
