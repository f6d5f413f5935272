// The environment a project's functions see: its secrets (decrypted here), and the variables Supabase injects.
import { controlPool } from '../../../db/src/pools.ts';
import { loadRuntime } from '../../../db/src/projects.ts';
import { projectKeys } from '../project/jwt.ts';
import { projectBaseUrl } from '../project/urls.ts';
import { functionsDbUrl } from './db-login.ts';
import { decryptSecret, RESERVED_ENV } from './secrets.ts';

export async function functionEnv(ref: string): Promise<Record<string, string>> {
  const project = await loadRuntime(ref);
  const env: Record<string, string> = {};
  const { rows } = await controlPool().query<{ name: string; value_enc: Buffer }>('select * from platform_private.function_secrets($1)', [ref]);
  for (const r of rows) {
    if (RESERVED_ENV.test(r.name)) continue;
    try { env[r.name] = decryptSecret(ref, r.name, r.value_enc); } catch { console.error(`[loam] secret ${r.name} of ${ref} cannot be decrypted with this LOAM_SECRETS_KEY`); }
  }
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
