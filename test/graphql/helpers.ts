// Shared by the GraphQL tests: POST a query to a project's /graphql/v1, and mint user tokens.
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, http, type Project } from '../helpers/platform.ts';

export interface GqlResponse { status: number; body: any; headers: Headers }

export async function gql(p: Project, query: string, opts: { key?: string; token?: string; variables?: Record<string, unknown>; headers?: Record<string, string> } = {}): Promise<GqlResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  const key = opts.key === undefined ? p.anonKey : opts.key;
  if (key) headers.apikey = key;
  return http('POST', `/project/${p.ref}/graphql/v1`, { token: opts.token, headers, body: { query, variables: opts.variables } });
}

/** The project's JWT secret, as only the platform knows it (for minting user sessions in tests). */
export async function jwtSecret(p: Project): Promise<string> {
  const c = await adminClient();
  try {
    const { rows } = await c.query('select jwt_secret from platform_private.project_runtime($1)', [p.ref]);
    return rows[0].jwt_secret;
  } finally {
    await c.end();
  }
}

export function userToken(secret: string, sub: string, extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ sub, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600, ...extra }, secret);
}

/** Connections the project's database has open (from any client), by application name. */
export async function connections(p: Project, application = 'loam graphql'): Promise<number> {
  const c = await adminClient();
  try {
    const { rows } = await c.query('select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = $2', [p.ref, application]);
    return rows[0].n;
  } finally {
    await c.end();
  }
}
