// Reads Loam's configuration from the environment, once, into one typed object.
import path from 'node:path';

// Grafast (GraphQL) reads this when first imported and warns when it is unset; its production mode skips
// development-time checks. Imported first by the entry points, so it is set in time.
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === 'development' ? 'development' : 'production';

/** An integer setting from the environment: `fallback` when unset, an error at start-up when malformed. */
export function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}
const int = envInt;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  embeddedPgPort: number;
  embeddedPgListen: string;
  publicUrl: string;
  projectDomain: string | undefined;
  dbPublicHost: string | undefined;
  region: string;
  rateLimitPerMinute: number;
  smtpUrl: string | undefined;
  smtpFrom: string;
  production: boolean;
  logLevel: string;
  /** Connections a project's owner login (psql) may hold at once. */
  ownerConnectionLimit: number;
  /** Connections a project's data-plane login may hold at once, across all API processes. */
  apiConnectionLimit: number;
}

export function loadConfig(env = process.env): Config {
  const port = int('PORT', 8000);
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    dataDir: path.resolve(env.LOAM_DATA_DIR || './.loam'),
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedPgPort: int('LOAM_PG_PORT', 54322),
    embeddedPgListen: env.LOAM_PG_LISTEN || 'localhost',
    publicUrl: (env.LOAM_PUBLIC_URL || `http://localhost:${port}`).replace(/\/$/, ''),
    projectDomain: env.LOAM_PROJECT_DOMAIN || undefined,
    dbPublicHost: env.LOAM_DB_PUBLIC_HOST || undefined,
    region: env.LOAM_REGION || 'local',
    rateLimitPerMinute: int('LOAM_RATE_LIMIT_PER_MINUTE', 120),
    smtpUrl: env.LOAM_SMTP_URL || undefined,
    smtpFrom: env.LOAM_SMTP_FROM || 'Loam <no-reply@localhost>',
    production: env.NODE_ENV === 'production',
    logLevel: env.LOAM_LOG_LEVEL || 'info',
    ownerConnectionLimit: int('LOAM_OWNER_CONNECTION_LIMIT', 20, 1),
    apiConnectionLimit: int('LOAM_API_CONNECTION_LIMIT', 100, 1),
  };
}

export const config: Config = loadConfig();
