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
const orgSlug = { name: 'slug', in: 'path', required: true, description: 'Organization slug', schema: str({ example: 'tsrqponmlkjihgfedcba' }) };

type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 429 | 503;
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
    ...(s.body ? { requestBody: { required: true, content: json(s.body) } } : {}),
    ...(authed ? {} : { security: [] }),
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
  OrganizationMember: obj({ user_id: str(), user_name: str(), email: str(), role_name: str({ enum: ['owner', 'member'] }), mfa_enabled: { type: 'boolean' } }),
  CreateOrganizationBody: obj({ name: str({ maxLength: 256 }) }),
  ProjectStatus: str({
    enum: ['COMING_UP', 'ACTIVE_HEALTHY', 'INIT_FAILED', 'PAUSING', 'INACTIVE', 'PAUSE_FAILED', 'RESTORING', 'RESTORE_FAILED', 'GOING_DOWN', 'REMOVED', 'UPGRADING'],
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
    name: str({ enum: ['anon', 'service_role'] }),
    api_key: str({ description: 'HS256 JWT signed with the project\'s secret; its `role` claim is the key\'s name.' }),
    id: nullable(str()), type: nullable(str({ enum: ['legacy'] })), prefix: nullable(str()), description: nullable(str()),
    hash: nullable(str()), inserted_at: nullable(timestamp), updated_at: nullable(timestamp),
  }, ['name', 'api_key']),
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
  }),
  UpdatePostgrestConfigBody: obj({
    db_schema: str({ maxLength: 1000 }),
    db_extra_search_path: str({ maxLength: 1000 }),
    max_rows: nullable({ type: 'integer', minimum: 1, maximum: 1000000 }),
    db_aggregates_enabled: { type: 'boolean' },
    rate_limit_per_minute: { type: 'integer', minimum: 1, maximum: 10000000 },
  }, []),
  AuthConfig: { type: 'object', additionalProperties: true, description: 'Supabase\'s auth settings (`AuthConfigResponse`), with the SMTP password left out.' },
  StorageConfig: obj({
    fileSizeLimit: { type: 'integer', format: 'int64' },
    features: obj({ imageTransformation: obj({ enabled: { type: 'boolean' } }), s3Protocol: obj({ enabled: { type: 'boolean' } }) }),
  }, ['fileSizeLimit', 'features']),
  UpdateStorageConfigBody: obj({
    fileSizeLimit: { type: 'integer', format: 'int64', minimum: 1 },
    features: obj({ imageTransformation: obj({ enabled: { type: 'boolean' } }) }, []),
  }, []),
  StorageBucket: obj({ id: str(), name: str(), owner: str(), created_at: timestamp, updated_at: timestamp, public: { type: 'boolean' } }),
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
  403: 'The access token lacks the scope this operation needs',
  404: 'Not found, or not visible to the caller (another account\'s project or organization)',
  409: 'Conflicts with an existing resource',
  429: 'Too many requests for this account (or login attempts for this email) in the current minute',
  503: 'The project is not serving (coming up, paused or failed)',
};

const responses = Object.fromEntries(Object.entries(errorDescriptions).map(([status, description]) => [`E${status}`, {
  description,
  ...(status === '429' ? { headers: { 'Retry-After': { description: 'Seconds until the limit resets', schema: { type: 'integer' } } } } : {}),
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
    get: op({ tag: 'API keys', id: 'v1-get-project-api-keys', summary: 'The project\'s anon and service_role keys', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('ApiKey')), errors: [404] }),
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
  '/v1/projects/{ref}/database/password': {
    patch: op({ tag: 'Database', id: 'v1-update-database-password', summary: 'Change the owner login\'s database password', scope: 'database:write', params: [projectRef], body: ref('UpdatePasswordBody'), response: ref('Message'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/auth': {
    get: op({ tag: 'Auth config', id: 'v1-get-auth-service-config', summary: 'The project\'s auth settings', scope: 'projects:read', params: [projectRef], response: ref('AuthConfig'), errors: [404] }),
    patch: op({ tag: 'Auth config', id: 'v1-update-auth-service-config', summary: 'Change the project\'s auth settings', scope: 'projects:write', params: [projectRef], body: ref('AuthConfig'), response: ref('AuthConfig'), errors: [404] }),
  },
  '/v1/projects/{ref}/postgrest': {
    get: op({ tag: 'REST config', id: 'v1-get-postgrest-service-config', summary: 'The project\'s REST API settings', scope: 'projects:read', params: [projectRef], response: ref('PostgrestConfig'), errors: [404] }),
    patch: op({ tag: 'REST config', id: 'v1-update-postgrest-service-config', summary: 'Change the project\'s REST API settings', scope: 'projects:write', params: [projectRef], body: ref('UpdatePostgrestConfigBody'), response: ref('PostgrestConfig'), errors: [404] }),
  },
  '/v1/projects/{ref}/config/storage': {
    get: op({ tag: 'Storage', id: 'v1-get-storage-config', summary: 'The project\'s storage settings', scope: 'projects:read', params: [projectRef], response: ref('StorageConfig'), errors: [404] }),
    patch: op({ tag: 'Storage', id: 'v1-update-storage-config', summary: 'Change the project\'s storage settings', scope: 'projects:write', params: [projectRef], body: ref('UpdateStorageConfigBody'), response: ref('StorageConfig'), errors: [404] }),
  },
  '/v1/projects/{ref}/storage/buckets': {
    get: op({ tag: 'Storage', id: 'v1-list-all-buckets', summary: 'The project\'s storage buckets', scope: 'projects:read', params: [projectRef], response: arrayOf(ref('StorageBucket')), errors: [404, 503] }),
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
    get: op({ tag: 'Platform', id: 'list-regions', summary: 'Regions projects can be placed in', response: arrayOf(ref('Region')) }),
  },
  '/v1/plans': {
    get: op({ tag: 'Platform', id: 'list-plans', summary: 'Plans and the limits quotas use', response: arrayOf(ref('Plan')) }),
  },
  '/v1/openapi.json': {
    get: op({ tag: 'Platform', id: 'get-openapi', summary: 'This document', scope: false, response: { type: 'object' } }),
  },
};

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

