// `npm test`: one PostgreSQL for the whole run — embedded in a temporary directory, or a fresh database on the
// server DATABASE_URL names — migrated once, then every test file in parallel (`node --test`), each file
// starting its own Loam (API + worker) against it and creating its own accounts and projects.
//   npm test                       all tests
//   npm test -- test/rest          one folder (or files)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';


function testFiles(args: string[]): string[] {
  const roots = args.length ? args : ['test'];
  const out: string[] = [];
  const walk = (p: string) => {
    if (fs.statSync(p).isDirectory()) {
      for (const f of fs.readdirSync(p).sort()) if (f !== 'bench' && f !== 'node_modules') walk(path.join(p, f));
    } else if (p.endsWith('.test.ts')) out.push(p);
  };
  roots.forEach(walk);
  return out;
}

const files = testFiles(process.argv.slice(2));
let databaseUrl: string;
let cleanup: () => Promise<void>;
// Site builds (test/sites/builds.test.ts) may run in the worker of any test file's Loam: every one allows them.
const env: NodeJS.ProcessEnv = {
  ...process.env, LOAM_RATE_LIMIT_PER_MINUTE: '100000', LOAM_BCRYPT_ROUNDS: '4', PORT: '0',
  LOAM_BUILDS_ENABLED: '1', LOAM_BUILDS_ALLOW_LOCAL_REPOS: '1', LOAM_BUILDS_TIMEOUT_MS: '5000',
  LOAM_BUILDS_MAX_PROCESSES: '64', LOAM_BUILDS_MEMORY_MB: '192',
};

if (process.env.DATABASE_URL) {
  const admin = new URL(process.env.DATABASE_URL);
  const name = `loam_test_${crypto.randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(admin.href);
  url.pathname = `/${name}`;
  databaseUrl = url.href;
  // Files (storage) still go to a directory of the run's own.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-test-files-'));
  env.LOAM_DATA_DIR = dataDir;
  cleanup = async () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: admin.href });
    await c.connect();
    // The run's projects live on this server too: their databases and roles go with it.
    const control = new pg.Client({ connectionString: databaseUrl });
    await control.connect();
    const refs: string[] = (await control.query('select ref from platform.projects')).rows.map((r) => r.ref);
    await control.end();
    const dbs = (await c.query(`select datname from pg_database where datname = any($1)`, [[name, `${name}_template`, ...refs]])).rows;
    for (const { datname } of dbs) await c.query(`drop database ${c.escapeIdentifier(datname)} with (force)`);
    const { projectRoles } = await import('../db/src/roles.ts');
    await c.query('drop role if exists loam_test_password_probe');
    for (const ref of refs) {
      for (const role of Object.values(projectRoles(ref))) await c.query(`drop role if exists ${c.escapeIdentifier(role)}`);
    }
    await c.end();
  };
} else {
  const { scratchPostgres } = await import('./helpers/postgres.ts');
  const pgServer = await scratchPostgres('loam-test-');
  databaseUrl = pgServer.url;
  env.LOAM_DATA_DIR = pgServer.dataDir;
  // Tests of what only the embedded server has (its TLS certificate, its managed pg_hba.conf section) look for this.
  env.LOAM_TEST_EMBEDDED_POSTGRES = '1';
  cleanup = () => pgServer.stop();
}
env.DATABASE_URL = databaseUrl;

// Migrate once up front, so test files do not all race to do it.
{
  const { openControlPool, closeAllPools } = await import('../db/src/pools.ts');
  const { migrate } = await import('../db/src/migrate.ts');
  openControlPool(databaseUrl);
  await migrate();
  await closeAllPools();
}

// Every test file's Loam runs a worker on the one shared job queue, so a job may run in another file's process.
// Where a file's assertions depend on a setting of its own process that a job reads (the SMTP relay), the file
// runs after the others, alone.
const ALONE = new Set(['test/management/email.test.ts', 'test/management/invitations.test.ts', 'test/management/email-service.test.ts',
  'test/sites/sweep.test.ts']);
const alone = files.filter((f) => ALONE.has(path.relative(process.cwd(), f)));
const together = files.filter((f) => !alone.includes(f));
const concurrency = Number(process.env.TEST_CONCURRENCY || Math.max(2, os.availableParallelism()));
const run = (list: string[], n: number): Promise<number> => {
  if (!list.length) return Promise.resolve(0);
  const child = spawn(process.execPath, ['--test', `--test-concurrency=${n}`, '--test-timeout=120000', '--test-force-exit', ...list], {
    stdio: 'inherit', env,
  });
  return new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
};
const code = Math.max(await run(together, concurrency), await run(alone, 1));
await cleanup().catch((err) => console.error('cleanup failed:', err));
process.exit(code);
