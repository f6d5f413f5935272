// `npm run bench`: one PostgreSQL for the run (embedded in a temporary directory, or a fresh database on the
// server DATABASE_URL names), migrated once; then every test/bench/*.bench.ts in turn, each in its own process
// (so one bench's pools and caches do not warm another's). `npm run bench -- rest` runs the matching ones.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const filter = process.argv.slice(2);
const files = fs.readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort()
  .filter((f) => !filter.length || filter.some((x) => f.includes(x)));

const env: NodeJS.ProcessEnv = {
  ...process.env, LOAM_RATE_LIMIT_PER_MINUTE: '100000000', LOAM_REST_RATE_LIMIT_PER_MINUTE: '100000000', LOAM_BCRYPT_ROUNDS: '4', PORT: '0',
};
let cleanup = async () => {};
if (!process.env.DATABASE_URL) {
  const { scratchPostgres } = await import('../helpers/postgres.ts');
  const pgServer = await scratchPostgres('loam-bench-');
  env.DATABASE_URL = pgServer.url;
  env.LOAM_DATA_DIR = pgServer.dataDir;
  cleanup = () => pgServer.stop();
}
{
  const { openControlPool, closeAllPools } = await import('../../db/src/pools.ts');
  const { migrate } = await import('../../db/src/migrate.ts');
  openControlPool(env.DATABASE_URL!);
  await migrate(() => {});
  await closeAllPools();
}

let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const child = spawn(process.execPath, [path.join(here, f)], { stdio: 'inherit', env });
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  if (code !== 0) { failed++; console.log(`${f} failed (exit ${code})`); }
}
await cleanup().catch((err) => console.error('cleanup failed:', err));
process.exit(failed ? 1 : 0);
