// The environment a project's functions see: the secrets of the environment each function is bound to
// (production unless bound; decrypted here), and the variables Supabase injects.
import { controlPool } from '../../../db/src/pools.ts';
import { loadRuntime } from '../../../db/src/projects.ts';
import { projectKeys } from '../project/jwt.ts';
import { projectBaseUrl } from '../project/urls.ts';
import { functionsDbUrl } from './db-login.ts';
import { decryptSecret, ENVIRONMENTS, RESERVED_ENV, type Environment } from './secrets.ts';

export interface ProjectFunctionEnvs {
  /** The environment of secrets each bound function reads; the others read production. */
  bindings: Map<string, Environment>;
  /** Each environment's variables: its secrets resolved through the fallback chain, and Supabase's own. */
  byEnvironment: Record<Environment, Record<string, string>>;
}

/** Decrypts rows of the store; a row this process cannot open is left out (and said so in the log). */
export function openSecrets(ref: string, rows: { name: string; source: Environment; value_enc: Buffer }[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const r of rows) {
    if (RESERVED_ENV.test(r.name)) continue;
    try { env[r.name] = decryptSecret(ref, r.name, r.value_enc, r.source); } catch { console.error(`[loam] secret ${r.name} (${r.source}) of ${ref} cannot be decrypted with this LOAM_SECRETS_KEY`); }
  }
  return env;
}

export async function functionEnvs(ref: string): Promise<ProjectFunctionEnvs> {
  const [base, secrets, bound] = await Promise.all([
    supabaseEnv(ref),
    controlPool().query<{ environment: Environment; name: string; source: Environment; value_enc: Buffer }>('select * from platform_private.environment_secrets_of($1)', [ref]),
    controlPool().query<{ slug: string; environment: Environment }>('select * from platform_private.function_environments($1)', [ref]),
  ]);
  const byEnvironment = Object.fromEntries(ENVIRONMENTS.map((e) => [e,
    { ...openSecrets(ref, secrets.rows.filter((r) => r.environment === e)), ...base }])) as Record<Environment, Record<string, string>>;
  return { bindings: new Map(bound.rows.map((r) => [r.slug, r.environment])), byEnvironment };
}

/** The variables Supabase injects into every function. */
async function supabaseEnv(ref: string): Promise<Record<string, string>> {
  const project = await loadRuntime(ref);
  const env: Record<string, string> = {};
  env.SUPABASE_URL = projectBaseUrl(ref);
  if (project?.jwt_secret) {
    const keys = projectKeys(ref, project.jwt_secret, new Date(project.jwt_secret_created_at ?? 0));
    env.SUPABASE_ANON_KEY = keys.anon;
    env.SUPABASE_SERVICE_ROLE_KEY = keys.service_role;
  }
  if (project) {
    try { env.SUPABASE_DB_URL = await functionsDbUrl(project); } catch (err) { console.error(`[loam] SUPABASE_DB_URL of ${ref}: ${(err as Error).message}`); }
  }
  return env;
}

/** The variables one function sees (the deploy check loads the code with them, as an invocation would). */
export async function functionEnv(ref: string, slug: string): Promise<Record<string, string>> {
  const { bindings, byEnvironment } = await functionEnvs(ref);
  return byEnvironment[bindings.get(slug) ?? 'production'];
}
