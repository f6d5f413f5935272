// Reads Loam's configuration from the environment, once, into one typed object.
import os from 'node:os';
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
  /** LOAM_PUBLIC_URL was given (else the URL follows the port the server listens on). */
  publicUrlSet: boolean;
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
  /** The Twilio API base URL projects with `sms_provider: twilio` send through (a Twilio-compatible service). */
  twilioApiUrl: string;
  /** LOAM_PG_BIN_DIR: where pg_dump/pg_restore are looked for first (db/src/backups.ts). */
  pgBinDir: string | undefined;
  /** A backup or restore's tools are stopped after this long. */
  backupTimeoutMs: number;
  /** Each healthy project is backed up when its newest backup is this old (0: no scheduled backups). */
  backupEveryHours: number;
  /** Point-in-time restore of the default server (db/README.md, "Point-in-time restore"): LOAM_PITR_WAL_ARCHIVE_DIR is
   *  where its `archive_command` puts WAL segments (the operator sets that command), LOAM_PITR_BASE_BACKUP_DIR where
   *  Loam keeps its base backups; both absolute, both needed. Other servers: `loam servers pitr <name> <wal> <base>`. */
  pitrWalArchiveDir: string | undefined;
  pitrBaseBackupDir: string | undefined;
  /** A server with PITR gets a base backup when its newest is this old (0: only on demand). */
  pitrBaseBackupEveryHours: number;
  /** Base backups (and the WAL they need) older than this go, the newest always kept: the PITR window's length. */
  pitrRetentionDays: number;
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
    publicUrlSet: Boolean(env.LOAM_PUBLIC_URL),
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
    twilioApiUrl: (env.LOAM_TWILIO_API_URL || 'https://api.twilio.com').replace(/\/$/, ''),
    pgBinDir: env.LOAM_PG_BIN_DIR || undefined,
    backupTimeoutMs: int('LOAM_BACKUP_TIMEOUT_MS', 6 * 3600_000, 1000),
    backupEveryHours: int('LOAM_BACKUP_EVERY_HOURS', 24),
    pitrWalArchiveDir: env.LOAM_PITR_WAL_ARCHIVE_DIR || undefined,
    pitrBaseBackupDir: env.LOAM_PITR_BASE_BACKUP_DIR || undefined,
    pitrBaseBackupEveryHours: int('LOAM_PITR_BASE_BACKUP_EVERY_HOURS', 24),
    pitrRetentionDays: int('LOAM_PITR_RETENTION_DAYS', 7),
  };
}

export const config: Config = loadConfig();

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
function byteSize(name: string, fallback: string): number {
  const raw = (process.env[name] || fallback).trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/.exec(raw);
  const value = m ? Math.floor(Number(m[1]) * UNITS[m[2] ?? '']) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a size such as 512kb or 10mb (got ${raw})`);
  return value;
}

/** Getters that read their variable on first use and keep it (a test sets them before it starts Loam). */
function onFirstUse<T extends Record<string, () => unknown>>(readers: T): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const out = {} as { [K in keyof T]: ReturnType<T[K]> };
  for (const [name, read] of Object.entries(readers)) {
    let value: unknown;
    let read_ = false;
    Object.defineProperty(out, name, { enumerable: true, get: () => (read_ ? value : ((read_ = true), (value = read()))) });
  }
  return out;
}

export const settings = onFirstUse({
  /** Largest REST request body in bytes: `LOAM_REST_MAX_BODY` as a number of bytes or with a unit (`512kb`, `10mb`). */
  restMaxBody: () => byteSize('LOAM_REST_MAX_BODY', '10mb'),
  /** Connections shared by pipelined REST reads, per project database and API process (0: none). */
  restSharedConnections: () => int('LOAM_REST_SHARED_CONNECTIONS', 4),
  restListenIdleMs: () => int('LOAM_REST_LISTEN_IDLE_MS', 60_000, 1),
  bcryptRounds: () => int('LOAM_BCRYPT_ROUNDS', 10, 4),
  /** Sign-in and password-reset attempts per account email per minute (Management API accounts). */
  accountAttemptsPerMinute: () => int('LOAM_AUTH_ATTEMPTS_PER_MINUTE', 10, 1),
  /** Statement timeout of the owner's SQL through the Management API (database/query, migrations). */
  sqlTimeoutMs: () => int('LOAM_SQL_TIMEOUT_MS', 60_000, 1),
  advisorsTimeoutMs: () => int('LOAM_ADVISORS_TIMEOUT_MS', 15_000, 1),
  typegenTimeoutMs: () => int('LOAM_TYPEGEN_TIMEOUT_MS', 30_000, 1),
  realtimeStartTimeoutMs: () => int('LOAM_REALTIME_START_TIMEOUT_MS', 10_000, 1),
  controlPoolSize: () => int('LOAM_CONTROL_POOL_SIZE', 20, 1),
  jsonMaxDepth: () => int('LOAM_JSON_MAX_DEPTH', 512, 1),
  trustProxy: () => process.env.LOAM_TRUST_PROXY ?? 'loopback',
  /** Project connection pools an API process keeps open at once (least recently used closed first). */
  maxProjectPools: () => int('LOAM_MAX_PROJECT_POOLS', 500, 1),
  workerConcurrency: () => int('LOAM_WORKER_CONCURRENCY', 4, 1),
  /** Key of the secrets stored encrypted in the control database (else a key file in LOAM_DATA_DIR). */
  secretsKey: () => process.env.LOAM_SECRETS_KEY || undefined,
  restRateLimitPerMinute: () => int('LOAM_REST_RATE_LIMIT_PER_MINUTE', 60_000, 1),
  /** Most bytes one query's result may bring back, for every API. */
  maxResultBytes: () => int('LOAM_MAX_RESULT_BYTES', 64 * 1024 * 1024, 1024),
  /** A project's realtime limits unless it sets its own (Supabase's names). */
  realtimeLimits: () => ({
    max_concurrent_users: int('LOAM_REALTIME_MAX_CONCURRENT_USERS', 200, 1),
    max_events_per_second: int('LOAM_REALTIME_MAX_EVENTS_PER_SECOND', 100, 1),
    max_payload_size_in_kb: int('LOAM_REALTIME_MAX_PAYLOAD_SIZE_IN_KB', 256, 1),
    max_channels_per_client: int('LOAM_REALTIME_MAX_CHANNELS_PER_CLIENT', 100, 1),
    max_joins_per_second: int('LOAM_REALTIME_MAX_JOINS_PER_SECOND', 100, 1),
  }),
  realtimeHeartbeatMs: () => int('LOAM_REALTIME_HEARTBEAT_MS', 2000, 50),
  realtimeDeadAfterMs: () => int('LOAM_REALTIME_DEAD_AFTER_MS', 10_000, 100),
  /** Postgres changes of one project waiting for their RLS check in one API process. */
  realtimeMaxBacklog: () => int('LOAM_REALTIME_MAX_BACKLOG', 10_000, 1),
});

/** Read on each use: tests (and an operator's environment reload) change them while Loam runs. */
export const liveSettings = {
  get thirdPartyAuthRefreshMs() { return int('LOAM_THIRD_PARTY_AUTH_REFRESH_MS', 30_000); },
  get allowPrivateFetch() { return process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE === '1'; },
  get requestLogRows() { return int('LOAM_REQUEST_LOG_ROWS', 10_000, 1); },
  get requestLogHours() { return int('LOAM_REQUEST_LOG_HOURS', 7 * 24, 1); },
  get workerDeadAfterMs() { return int('LOAM_WORKER_DEAD_AFTER_MS', 30_000, 1000); },
};

// ------------------------------------------------------------------------------------------------ areas
// Each area's settings, read on first use (a test sets them before its first request). The README's
// "Configuration" table lists every variable.

export interface StorageSettings {
  backend: 'file' | 's3';
  /** Root of the file backend; staging files live under it too, so a rename never crosses filesystems. */
  fileRoot: string;
  s3: { bucket: string; region: string; endpoint?: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean; prefix: string };
  /** The platform's ceiling for any project's fileSizeLimit. */
  maxFileSize: number;
  /** Image transformation: largest source accepted, bounds of output width/height, and of source pixels. */
  imageMaxInputBytes: number;
  imageMinSize: number;
  imageMaxSize: number;
  imageMaxInputPixels: number;
  /** How long a signed upload URL stays valid (seconds). */
  signedUploadExpiry: number;
  /** Seconds after which an unfinished upload (S3 multipart, TUS) is abandoned and removed. */
  uploadExpiry: number;
}

let storage: StorageSettings | undefined;

export function storageSettings(): StorageSettings {
  if (storage) return storage;
  const env = process.env;
  const backend = (env.LOAM_STORAGE_BACKEND || 'file').toLowerCase();
  if (backend !== 'file' && backend !== 's3') throw new Error(`LOAM_STORAGE_BACKEND must be "file" or "s3", got "${backend}"`);
  if (backend === 's3' && !env.LOAM_S3_BUCKET) throw new Error('LOAM_S3_BUCKET is required when LOAM_STORAGE_BACKEND=s3');
  storage = {
    backend,
    fileRoot: path.resolve(env.LOAM_STORAGE_DIR || path.join(config.dataDir, 'storage')),
    s3: {
      bucket: env.LOAM_S3_BUCKET ?? '',
      region: env.LOAM_S3_REGION || 'us-east-1',
      endpoint: env.LOAM_S3_ENDPOINT || undefined,
      accessKeyId: env.LOAM_S3_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.LOAM_S3_SECRET_ACCESS_KEY || undefined,
      forcePathStyle: (env.LOAM_S3_FORCE_PATH_STYLE ?? (env.LOAM_S3_ENDPOINT ? 'true' : 'false')) === 'true',
      prefix: (env.LOAM_S3_PREFIX || '').replace(/^\/+|\/+$/g, ''),
    },
    maxFileSize: int('LOAM_STORAGE_MAX_FILE_SIZE', 5 * 1024 ** 3),
    imageMaxInputBytes: int('LOAM_IMAGE_MAX_INPUT_BYTES', 25 * 1024 ** 2),
    imageMinSize: 1,
    imageMaxSize: int('LOAM_IMAGE_MAX_SIZE', 2500),
    imageMaxInputPixels: int('LOAM_IMAGE_MAX_INPUT_PIXELS', 50_000_000),
    signedUploadExpiry: int('LOAM_STORAGE_SIGNED_UPLOAD_EXPIRY', 7200),
    uploadExpiry: int('LOAM_STORAGE_UPLOAD_EXPIRY', 24 * 3600),
  };
  return storage;
}

export interface SitesSettings {
  /** Sites are served at `<subdomain>.<domain>` (and `<subdomain>--staging.<domain>` for staging) when set. */
  domain: string | undefined;
  /** Most bytes a deploy may hold (all files, uncompressed), and a zip upload may be. */
  maxDeployBytes: number;
  /** Most bytes of one file. */
  maxFileBytes: number;
  /** Most files a deploy may hold (zip entries counted, directories included). */
  maxFiles: number;
  /** Largest uncompressed/compressed ratio of a zip entry (a bomb's is in the thousands). */
  maxZipRatio: number;
  /** Most rules read from `_headers` and from `_redirects`. */
  maxRules: number;
  /** Deploys of a site kept (besides the live and the staging one) when the sweep runs; older ones go. */
  keepDeploys: number;
  /** Stored files younger than this are never swept (an upload whose row is not recorded yet). */
  blobGraceMs: number;
}

let sites: SitesSettings | undefined;

export function sitesSettings(): SitesSettings {
  if (sites) return sites;
  const domain = process.env.LOAM_SITES_DOMAIN?.trim().toLowerCase().replace(/^\.+|\.+$/g, '') || undefined;
  sites = {
    domain,
    maxDeployBytes: envInt('LOAM_SITES_MAX_DEPLOY_BYTES', 100 * 1024 ** 2, 1),
    maxFileBytes: envInt('LOAM_SITES_MAX_FILE_BYTES', 25 * 1024 ** 2, 1),
    maxFiles: envInt('LOAM_SITES_MAX_FILES', 5000, 1),
    maxZipRatio: envInt('LOAM_SITES_MAX_ZIP_RATIO', 100, 1),
    maxRules: envInt('LOAM_SITES_MAX_RULES', 200, 1),
    keepDeploys: envInt('LOAM_SITES_KEEP_DEPLOYS', 20, 1),
    blobGraceMs: envInt('LOAM_SITES_BLOB_GRACE_SECONDS', 3600, 0) * 1000,
  };
  return sites;
}

export interface FunctionSettings {
  /** Longest one invocation may take before its worker is killed (Supabase: 150 s). */
  wallClockMs: number;
  /** V8 heap of one worker; the RSS watchdog kills at twice this. */
  memoryMb: number;
  maxBodyBytes: number;
  /** Idle time after which a worker is stopped. */
  idleMs: number;
  maxWorkersPerProject: number;
  maxWorkers: number;
  /** Where deployed code is unpacked and Deno caches npm: packages, per project. */
  dir: string;
  /** Parent of the workers' socket folder (a socket path may not exceed 107 bytes, so not the data dir). */
  socketDir: string;
  denoPath: string;
  /** Hosts functions may not reach (Deno --deny-net). */
  denyNet: string[];
  /** How long a deploy request waits for its validation before answering with the version still validating. */
  deployWaitMs: number;
  /** How long an unpacked version folder nothing uses is kept (workers touch theirs every few seconds). */
  pruneGraceMs: number;
  /** Connections the project's `<ref>_functions` login (SUPABASE_DB_URL) may hold at once. */
  dbConnectionLimit: number;
}

export function functionSettings(env = process.env): FunctionSettings {
  return {
    wallClockMs: envInt('LOAM_FUNCTIONS_WALL_CLOCK_MS', 150_000, 100),
    memoryMb: envInt('LOAM_FUNCTIONS_MEMORY_MB', 256, 16),
    maxBodyBytes: envInt('LOAM_FUNCTIONS_MAX_BODY_BYTES', 20 * 1024 * 1024, 1),
    idleMs: envInt('LOAM_FUNCTIONS_IDLE_MS', 60_000, 100),
    maxWorkersPerProject: envInt('LOAM_FUNCTIONS_MAX_WORKERS_PER_PROJECT', 10, 1),
    maxWorkers: envInt('LOAM_FUNCTIONS_MAX_WORKERS', 50, 1),
    dir: path.join(config.dataDir, 'functions'),
    socketDir: os.tmpdir(),
    denoPath: env.LOAM_DENO_PATH || denoBinary(),
    denyNet: (env.LOAM_FUNCTIONS_DENY_NET ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    deployWaitMs: envInt('LOAM_FUNCTIONS_DEPLOY_WAIT_MS', 60_000, 0),
    pruneGraceMs: envInt('LOAM_FUNCTIONS_PRUNE_GRACE_MS', 60_000, 0),
    dbConnectionLimit: envInt('LOAM_FUNCTIONS_DB_CONNECTION_LIMIT', 10, 1),
  };
}

function denoBinary(): string {
  // The deno npm package puts the binary for this platform in its own folder and a launcher in .bin.
  return path.resolve(new URL('../../node_modules/.bin/deno', import.meta.url).pathname);
}

export interface BuildSettings {
  /** Builds run only when the operator turns them on (LOAM_BUILDS_ENABLED=1): they run tenant commands. */
  enabled: boolean;
  /** Local paths and file:// repositories (tests; never on a shared platform). */
  allowLocalRepos: boolean;
  /** Give builds the machine's network (so `npm install` can download); off: an empty network namespace. */
  network: boolean;
  /** Wall-clock limit of a whole build (clone, install and build together). */
  timeoutMs: number;
  maxLogBytes: number;
  /** Resident memory of all of a build's processes together; past it the build is killed. */
  memoryMb: number;
  /** Processes and threads of a build at once; reaching it kills the build. */
  maxProcesses: number;
  /** Largest file a build may write (RLIMIT_FSIZE). */
  maxFileMb: number;
  /** When the worker runs as root, builds run as this user and group outside their sandbox (never as root). */
  uid: number;
  gid: number;
}

export function buildSettings(env = process.env): BuildSettings {
  return {
    enabled: env.LOAM_BUILDS_ENABLED === '1',
    allowLocalRepos: env.LOAM_BUILDS_ALLOW_LOCAL_REPOS === '1',
    network: env.LOAM_BUILDS_NETWORK === '1',
    timeoutMs: envInt('LOAM_BUILDS_TIMEOUT_MS', 10 * 60_000, 1000),
    maxLogBytes: envInt('LOAM_BUILDS_MAX_LOG_BYTES', 1024 * 1024, 1024),
    memoryMb: envInt('LOAM_BUILDS_MEMORY_MB', 2048, 16),
    maxProcesses: envInt('LOAM_BUILDS_MAX_PROCESSES', 256, 8),
    maxFileMb: envInt('LOAM_BUILDS_MAX_FILE_MB', 1024, 1),
    uid: envInt('LOAM_BUILDS_UID', 65534, 1),
    gid: envInt('LOAM_BUILDS_GID', 65534, 1),
  };
}

export interface GraphqlConfig {
  /** How many projects keep a built PostGraphile instance (LRU). */
  cacheSize: number;
  /** Connections per project a GraphQL instance may open. */
  poolSize: number;
  /** Deepest selection-set nesting a query may have. */
  maxDepth: number;
  /** Largest estimated number of result nodes a query may ask for (see limits.ts). */
  maxCost: number;
  /** How often (ms) a busy project's schema version is re-read. */
  schemaCheckMs: number;
  /** Production hides internal error details and GraphiQL. */
  production: boolean;
}

let loaded: GraphqlConfig | undefined;

export function graphqlConfig(): GraphqlConfig {
  loaded ??= {
    cacheSize: int('LOAM_GRAPHQL_CACHE_SIZE', 50, 1),
    poolSize: int('LOAM_GRAPHQL_POOL_SIZE', 10, 1),
    maxDepth: int('LOAM_GRAPHQL_MAX_DEPTH', 12, 1),
    maxCost: int('LOAM_GRAPHQL_MAX_COST', 50_000, 1),
    schemaCheckMs: int('LOAM_GRAPHQL_SCHEMA_CHECK_MS', 1000, 0),
    production: config.production,
  };
  return loaded;
}
