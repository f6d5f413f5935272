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

/** LOAM_DNS_SERVERS: the resolvers of Loam's own DNS lookups (server/src/dns.ts) — a comma-separated list of
 *  `host:port` (an IPv4 address, or an IPv6 one as `[addr]:port`; port 53 when left out). Unset: the system's
 *  resolvers. Read on each use (a test starts its DNS server first), an error when malformed. */
export function dnsServers(env = process.env): string[] | undefined {
  const raw = env.LOAM_DNS_SERVERS?.trim();
  if (!raw) return undefined;
  return raw.split(/[\s,]+/).filter(Boolean).map((entry) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3}))(?::(\d{1,5}))?$/.exec(entry);
    const port = m?.[3] === undefined ? 53 : Number(m[3]);
    if (!m || port < 1 || port > 65535 || (m[2] && m[2].split('.').some((o) => Number(o) > 255))) {
      throw new Error(`LOAM_DNS_SERVERS must be a comma-separated list of host:port (IP addresses; IPv6 as [addr]:port), got "${entry}"`);
    }
    return m[1] ? `[${m[1]}]:${port}` : `${m[2]}:${port}`;
  });
}

/** The email service's settings (server/src/management/email-service.ts), read on each use (a test starts its SMTP
 *  server first): the SMTP relay projects' email goes through (LOAM_SMTP_URL, the one Loam's own email uses), the
 *  SPF include and MX host the records ask domains to publish (default: LOAM_PUBLIC_URL's host), and the cap on
 *  one email's attachments (decoded bytes, default 1 MiB; the Management API's 2 MB body limit stays above it). */
export function emailServiceSettings(env = process.env) {
  const publicHost = (() => { try { return new URL(env.LOAM_PUBLIC_URL || 'http://localhost').hostname; } catch { return 'localhost'; } })();
  const raw = env.LOAM_EMAIL_MAX_ATTACHMENT_BYTES;
  const maxAttachmentBytes = raw === undefined || raw === '' ? 1024 * 1024 : Number(raw);
  if (!Number.isSafeInteger(maxAttachmentBytes) || maxAttachmentBytes < 0 || maxAttachmentBytes > 1_400_000) {
    throw new Error(`LOAM_EMAIL_MAX_ATTACHMENT_BYTES must be an integer from 0 to 1400000, got "${raw}"`);
  }
  return {
    smtpUrl: env.LOAM_SMTP_URL || undefined,
    spfInclude: env.LOAM_EMAIL_SPF_INCLUDE || publicHost,
    mxHost: (env.LOAM_EMAIL_MX_HOST || publicHost).toLowerCase(),
    maxAttachmentBytes,
  };
}

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
