// The MCP tools, named and shaped as the Supabase MCP server names them (plus run_sql, get_table_schema, the
// auth-user tools and get_project_info). Each is a thin client of Loam's own `/v1` API called with the
// caller's credentials (api.ts): a tool can do exactly what the caller's token can, through the same
// authorization as any other client, and a `/v1` endpoint that does not exist yet answers as a tool error.
import { projectUrls } from '../project/urls.ts';
import type { Api } from './api.ts';

type JsonSchema = Record<string, unknown>;
type Args = Record<string, unknown>;

export interface Tool {
  name: string;
  description: string;
  inputSchema: JsonSchema;
  readOnly: boolean;
  /** Takes a project (`project_id`), which the project endpoint fills in itself. */
  project: boolean;
  /** Also offered to a connection made with the project's service key (served by the data plane with that key). */
  key?: true;
  /** A write the data plane makes with the service key: the caller's token must allow writing this area, as
   *  the `/v1` endpoint of such a write would demand (reading the key alone needs only read). */
  writes?: 'projects';
  run(api: Api, args: Args, ref: string): Promise<unknown>;
}

export class ToolInputError extends Error {}

function need(args: Args, name: string): string {
  const v = args[name];
  if (typeof v !== 'string' || !v) throw new ToolInputError(`${name} is required and must be a string`);
  return v;
}
function opt(args: Args, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ToolInputError(`${name} must be a string`);
  return v;
}

const s = (description: string): JsonSchema => ({ type: 'string', description });
const schema = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema =>
  ({ type: 'object', properties, required, additionalProperties: false });

const sqlQuery = (api: Api, ref: string, query: string, readOnly: boolean, parameters?: unknown[]) =>
  api.request('POST', `/projects/${ref}/database/query`, { query, read_only: readOnly, ...(parameters ? { parameters } : {}) });

// Tables with their RLS state, estimated rows, columns, primary keys and comment, in the schemas asked for.
const LIST_TABLES_SQL = `
select n.nspname as schema, c.relname as name, c.relrowsecurity as rls_enabled, c.reltuples::bigint as rows,
  coalesce((select json_agg(json_build_object('name', a.attname, 'data_type', format_type(a.atttypid, a.atttypmod),
      'options', array_remove(array[case when a.attnotnull then null else 'nullable' end,
        case when a.attidentity <> '' then 'identity' end, case when a.attgenerated <> '' then 'generated' end], null),
      'default_value', pg_get_expr(d.adbin, d.adrelid)) order by a.attnum)
    from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]') as columns,
  coalesce((select json_agg(a.attname) from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
    where i.indrelid = c.oid and i.indisprimary), '[]') as primary_keys,
  obj_description(c.oid, 'pg_class') as comment
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname = any ($1::text[])
order by 1, 2`;

const LIST_EXTENSIONS_SQL = `
select a.name, e.extnamespace::regnamespace::text as schema, a.default_version, a.installed_version, a.comment
from pg_available_extensions a left join pg_extension e on e.extname = a.name order by a.name`;

const TABLE_SCHEMA_SQL = `
select column_name, data_type, udt_name, is_nullable = 'YES' as nullable, column_default, ordinal_position
from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`;

// The query get_logs sends per service (the source-table dialect), answered by the logs endpoint.
const LOG_QUERIES: Record<string, string> = {
  api: 'select id, identifier, timestamp, event_message, request.method, request.path, response.status_code from edge_logs cross join unnest(metadata) as m cross join unnest(m.request) as request cross join unnest(m.response) as response order by timestamp desc limit 100',
  postgres: 'select identifier, postgres_logs.timestamp, id, event_message, parsed.error_severity from postgres_logs cross join unnest(metadata) as m cross join unnest(m.parsed) as parsed order by timestamp desc limit 100',
  'edge-function': 'select id, function_edge_logs.timestamp, event_message, response.status_code, request.method, m.function_id, m.execution_time_ms, m.deployment_id, m.version from function_edge_logs cross join unnest(metadata) as m cross join unnest(m.response) as response cross join unnest(m.request) as request order by timestamp desc limit 100',
  'edge-function-runtime': 'select id, function_logs.timestamp, event_message, m.level, m.event_type, m.function_id, m.execution_id, m.version from function_logs cross join unnest(metadata) as m order by timestamp desc limit 100',
  auth: 'select id, auth_logs.timestamp, event_message, metadata.level, metadata.status, metadata.path, metadata.msg as msg, metadata.error from auth_logs cross join unnest(metadata) as metadata order by timestamp desc limit 100',
  storage: 'select id, storage_logs.timestamp, event_message from storage_logs order by timestamp desc limit 100',
  realtime: 'select id, realtime_logs.timestamp, event_message from realtime_logs order by timestamp desc limit 100',
  'branch-action': 'select workflow_run, workflow_run_logs.timestamp, id, event_message from workflow_run_logs order by timestamp desc limit 100',
};

/** The project's service_role key: the connection's own, or read with the caller's token (so only a caller
 *  who may read the project's keys uses it). */
async function serviceKey(api: Api, ref: string): Promise<string> {
  if (api.serviceKey) return api.serviceKey;
  const keys = await api.request('GET', `/projects/${ref}/api-keys`) as { name: string; api_key: string }[];
  const key = keys.find((k) => k.name === 'service_role')?.api_key;
  if (!key) throw new Error('the project has no service_role key');
  return key;
}

const authAdmin = async (api: Api, ref: string, method: string, path: string, body?: unknown) =>
  api.project(ref, method, `/auth/v1/admin${path}`, await serviceKey(api, ref), body);

const tools: Tool[] = [
  // Account
  { name: 'list_organizations', description: 'Lists all organizations that the user is a member of.', readOnly: true, project: false,
    inputSchema: schema({}), run: (api) => api.request('GET', '/organizations') },
  { name: 'get_organization', description: 'Gets details for an organization.', readOnly: true, project: false,
    inputSchema: schema({ id: s('The organization slug') }, ['id']), run: (api, a) => api.request('GET', `/organizations/${encodeURIComponent(need(a, 'id'))}`) },
  { name: 'list_projects', description: 'Lists all projects the user can see.', readOnly: true, project: false,
    inputSchema: schema({}), run: (api) => api.request('GET', '/projects') },
  { name: 'get_project', description: 'Gets details for a project.', readOnly: true, project: false,
    inputSchema: schema({ id: s('The project ref') }, ['id']), run: (api, a) => api.request('GET', `/projects/${encodeURIComponent(need(a, 'id'))}`) },
  { name: 'create_project', description: 'Creates a new project in an organization.', readOnly: false, project: false,
    inputSchema: schema({ name: s('The project name'), organization_id: s('The organization slug'), region: s('The region (optional)') }, ['name', 'organization_id']),
    run: (api, a) => api.request('POST', '/projects', {
      name: need(a, 'name'), organization_slug: need(a, 'organization_id'), region: opt(a, 'region'),
      db_pass: `Lm-${crypto.randomUUID()}`,
    }) },
  { name: 'pause_project', description: 'Pauses a project.', readOnly: false, project: false,
    inputSchema: schema({ project_id: s('The project ref') }, ['project_id']), run: (api, a) => api.request('POST', `/projects/${encodeURIComponent(need(a, 'project_id'))}/pause`) },
  { name: 'restore_project', description: 'Restores a paused project.', readOnly: false, project: false,
    inputSchema: schema({ project_id: s('The project ref') }, ['project_id']), run: (api, a) => api.request('POST', `/projects/${encodeURIComponent(need(a, 'project_id'))}/restore`) },

  // Database
  { name: 'list_tables', description: 'Lists all tables in one or more schemas.', readOnly: true, project: true,
    inputSchema: schema({ schemas: { type: 'array', items: { type: 'string' }, description: 'Schemas to include (default: public)' } }),
    run: (api, a, ref) => {
      const schemas = a.schemas ?? ['public'];
      if (!Array.isArray(schemas) || schemas.some((x) => typeof x !== 'string')) throw new ToolInputError('schemas must be an array of strings');
      return sqlQuery(api, ref, LIST_TABLES_SQL, true, [schemas]);
    } },
  { name: 'list_extensions', description: 'Lists all extensions in the database.', readOnly: true, project: true,
    inputSchema: schema({}), run: (api, _a, ref) => sqlQuery(api, ref, LIST_EXTENSIONS_SQL, true) },
  { name: 'list_migrations', description: 'Lists all migrations in the database.', readOnly: true, project: true,
    inputSchema: schema({}), run: (api, _a, ref) => api.request('GET', `/projects/${ref}/database/migrations`) },
  { name: 'apply_migration', description: 'Applies a migration (DDL) to the database and records it.', readOnly: false, project: true,
    inputSchema: schema({ name: s('The name of the migration in snake_case'), query: s('The SQL query to apply') }, ['name', 'query']),
    run: (api, a, ref) => api.request('POST', `/projects/${ref}/database/migrations`, { name: need(a, 'name'), query: need(a, 'query') }) },
  { name: 'execute_sql', description: 'Executes raw SQL in the project\'s database as its owner.', readOnly: false, project: true,
    inputSchema: schema({ query: s('The SQL query to execute') }, ['query']), run: (api, a, ref) => sqlQuery(api, ref, need(a, 'query'), false) },
  { name: 'run_sql', description: 'Executes SQL in the project\'s database; `read_only: true` runs it in a read-only transaction (and needs only database:read).', readOnly: false, project: true,
    inputSchema: schema({ query: s('The SQL to run'), read_only: { type: 'boolean' } }, ['query']),
    run: (api, a, ref) => sqlQuery(api, ref, need(a, 'query'), a.read_only === true) },
  { name: 'get_table_schema', description: 'The columns of one table: name, type, nullability, default.', readOnly: true, project: true,
    inputSchema: schema({ table: s('The table name'), schema: s('The schema (default: public)') }, ['table']),
    run: (api, a, ref) => sqlQuery(api, ref, TABLE_SCHEMA_SQL, true, [opt(a, 'schema') ?? 'public', need(a, 'table')]) },

  // Debugging
  { name: 'get_logs', description: 'Gets the project\'s logs of the last 24 hours (or a window up to 24 hours) for one service.', readOnly: true, project: true,
    inputSchema: schema({
      service: { type: 'string', enum: Object.keys(LOG_QUERIES), description: 'The service to fetch logs for' },
      iso_timestamp_start: s('Start of the window (ISO 8601)'), iso_timestamp_end: s('End of the window (ISO 8601)'),
    }, ['service']),
    run: (api, a, ref) => {
      const sql = LOG_QUERIES[need(a, 'service')];
      if (!sql) throw new ToolInputError(`service must be one of ${Object.keys(LOG_QUERIES).join(', ')}`);
      const end = opt(a, 'iso_timestamp_end') ?? new Date().toISOString();
      const start = opt(a, 'iso_timestamp_start') ?? new Date(Date.parse(end) - 24 * 3600 * 1000).toISOString();
      return api.request('GET', `/projects/${ref}/analytics/endpoints/logs.all?${new URLSearchParams({ sql, iso_timestamp_start: start, iso_timestamp_end: end })}`);
    } },
  { name: 'get_advisors', description: 'Security or performance advisory notices for the project.', readOnly: true, project: true,
    inputSchema: schema({ type: { type: 'string', enum: ['security', 'performance'] } }, ['type']),
    run: (api, a, ref) => {
      const type = need(a, 'type');
      if (type !== 'security' && type !== 'performance') throw new ToolInputError('type must be security or performance');
      return api.request('GET', `/projects/${ref}/advisors/${type}`);
    } },

  // Development
  { name: 'get_project_url', description: 'Gets the API URL for a project.', readOnly: true, project: true, key: true,
    inputSchema: schema({}), run: async (api, _a, ref) => ({
      url: api.serviceKey ? projectUrls(ref).endpoint : (await api.request('GET', `/projects/${ref}`) as { endpoint: string }).endpoint,
    }) },
  { name: 'get_anon_key', description: 'Gets the anonymous API key for a project.', readOnly: true, project: true,
    inputSchema: schema({}), run: async (api, _a, ref) => {
      const keys = await api.request('GET', `/projects/${ref}/api-keys`) as { name: string; api_key: string }[];
      return { anon_key: keys.find((k) => k.name === 'anon')?.api_key ?? null };
    } },
  { name: 'get_publishable_keys', description: 'Gets the project\'s publishable keys: the legacy anon key and any sb_publishable_ keys.', readOnly: true, project: true,
    inputSchema: schema({}), run: async (api, _a, ref) => {
      const keys = await api.request('GET', `/projects/${ref}/api-keys`) as { name: string; api_key: string; type?: string; id?: string }[];
      return { keys: keys.filter((k) => k.name === 'anon' || k.type === 'publishable')
        .map((k) => ({ api_key: k.api_key, name: k.name, type: k.type === 'publishable' ? 'publishable' : 'legacy', ...(k.id ? { id: k.id } : {}) })) };
    } },
  { name: 'generate_typescript_types', description: 'Generates TypeScript types for the project\'s schema.', readOnly: true, project: true,
    inputSchema: schema({}), run: (api, _a, ref) => api.request('GET', `/projects/${ref}/types/typescript`) },
  { name: 'get_project_info', description: 'The project, its URLs and its anon key in one answer.', readOnly: true, project: true,
    inputSchema: schema({}), run: async (api, _a, ref) => {
      const [project, keys] = await Promise.all([api.request('GET', `/projects/${ref}`), api.request('GET', `/projects/${ref}/api-keys`)]);
      return { ...(project as object), anon_key: (keys as { name: string; api_key: string }[]).find((k) => k.name === 'anon')?.api_key ?? null };
    } },

  // Edge functions
  { name: 'list_edge_functions', description: 'Lists all edge functions in the project.', readOnly: true, project: true,
    inputSchema: schema({}), run: (api, _a, ref) => api.request('GET', `/projects/${ref}/functions`) },
  { name: 'get_edge_function', description: 'Gets an edge function and its files.', readOnly: true, project: true,
    inputSchema: schema({ function_slug: s('The function slug') }, ['function_slug']),
    run: async (api, a, ref) => {
      const slug = encodeURIComponent(need(a, 'function_slug'));
      const fn = await api.request('GET', `/projects/${ref}/functions/${slug}`);
      const form = await api.form(`/projects/${ref}/functions/${slug}/body`);
      const files: { name: string; content: string }[] = [];
      for (const [field, value] of form) if (field === 'file' && typeof value !== 'string') files.push({ name: value.name, content: await value.text() });
      return { ...(fn as object), files };
    } },
  { name: 'deploy_edge_function', description: 'Deploys an edge function (a new version when it exists).', readOnly: false, project: true,
    inputSchema: schema({
      name: s('The function slug'), entrypoint_path: s('The entrypoint (default index.ts)'), import_map_path: s('The import map, if any'),
      verify_jwt: { type: 'boolean' },
      files: { type: 'array', items: schema({ name: s('Path'), content: s('Source') }, ['name', 'content']) },
    }, ['name', 'files']),
    run: (api, a, ref) => {
      const files = a.files;
      if (!Array.isArray(files) || !files.length || files.some((f) => typeof f?.name !== 'string' || typeof f?.content !== 'string')) {
        throw new ToolInputError('files must be a non-empty array of {name, content}');
      }
      const name = need(a, 'name');
      const form = new FormData();
      form.append('metadata', JSON.stringify({
        name, entrypoint_path: opt(a, 'entrypoint_path') ?? 'index.ts', import_map_path: opt(a, 'import_map_path'),
        ...(typeof a.verify_jwt === 'boolean' ? { verify_jwt: a.verify_jwt } : {}),
      }));
      for (const f of files as { name: string; content: string }[]) form.append('file', new Blob([f.content]), f.name);
      return api.request('POST', `/projects/${ref}/functions/deploy?slug=${encodeURIComponent(name)}`, form);
    } },

  // Storage
  { name: 'list_storage_buckets', description: 'Lists all storage buckets in the project.', readOnly: true, project: true, key: true,
    inputSchema: schema({}), run: (api, _a, ref) => api.serviceKey
      ? api.project(ref, 'GET', '/storage/v1/bucket', api.serviceKey)
      : api.request('GET', `/projects/${ref}/storage/buckets`) },
  { name: 'get_storage_config', description: 'Gets the project\'s storage config.', readOnly: true, project: true,
    inputSchema: schema({}), run: (api, _a, ref) => api.request('GET', `/projects/${ref}/config/storage`) },

  // Auth users (through the project's auth admin API, with the service key the caller may read)
  { name: 'list_auth_users', description: 'Lists the project\'s auth users (a page of up to 50).', readOnly: true, project: true, key: true,
    inputSchema: schema({ page: { type: 'integer', minimum: 1 } }),
    run: (api, a, ref) => authAdmin(api, ref, 'GET', `/users?per_page=50&page=${Number.isInteger(a.page) ? a.page : 1}`) },
  { name: 'create_auth_user', description: 'Creates an auth user (confirmed) with an email and password.', readOnly: false, project: true, key: true, writes: 'projects',
    inputSchema: schema({ email: s('Email'), password: s('Password'), user_metadata: { type: 'object' } }, ['email', 'password']),
    run: (api, a, ref) => authAdmin(api, ref, 'POST', '/users', {
      email: need(a, 'email'), password: need(a, 'password'), email_confirm: true, user_metadata: a.user_metadata ?? {},
    }) },
  { name: 'delete_auth_user', description: 'Deletes an auth user.', readOnly: false, project: true, key: true, writes: 'projects',
    inputSchema: schema({ user_id: s('The user id (uuid)') }, ['user_id']),
    run: (api, a, ref) => authAdmin(api, ref, 'DELETE', `/users/${encodeURIComponent(need(a, 'user_id'))}`) },
];

/** The tools of an endpoint: the platform's all take a `project_id`; a project's have it filled in (and leave
 *  out the account-wide ones). */
export function toolsFor(projectRef?: string, withKey = false): Tool[] {
  if (!projectRef) return tools;
  return tools.filter((t) => t.project && (!withKey || t.key));
}

export function describe(t: Tool, projectRef?: string) {
  const input = t.project && !projectRef
    ? { ...t.inputSchema, properties: { project_id: s('The project ref'), ...(t.inputSchema.properties as object) }, required: ['project_id', ...(t.inputSchema.required as string[])] }
    : t.inputSchema;
  return { name: t.name, description: t.description, inputSchema: input, annotations: { readOnlyHint: t.readOnly, destructiveHint: !t.readOnly } };
}

export function projectOf(t: Tool, args: Args, projectRef?: string): string {
  if (!t.project) return '';
  const ref = projectRef ?? need(args, 'project_id');
  if (!/^[a-z]{20}$/.test(ref)) throw new ToolInputError('project_id must be a project ref (20 lowercase letters)');
  return ref;
}
