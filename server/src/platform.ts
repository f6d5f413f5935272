// Boots Loam: the database (embedded unless DATABASE_URL), migrations, the API server and/or the worker, and a
// clean shutdown of all of them on SIGINT / SIGTERM.
import http from 'node:http';
import { config, settings } from '../../db/src/config.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../db/src/embedded.ts';
import { migrate, projectsBehind } from '../../db/src/migrate.ts';
import { closeAllPools, controlPool, controlServerAddress, openControlPool } from '../../db/src/pools.ts';
import { reportBackupTools } from '../../db/src/backups.ts';
import { reportPitr } from '../../db/src/pitr.ts';
import { listenForProjectChanges, stopListening } from '../../db/src/projects.ts';
import { functionsBeforeExpress, stopFunctions } from './functions/invoke.ts';
import { stopRequestLog } from './request-log.ts';
import { silenceWorkerLogs, startWorker, type Worker } from '../../worker/src/runner.ts';
import { createApp } from './app.ts';
import { sandboxTenantContent } from './console.ts';
import { releaseAll as releaseGraphql } from './graphql/instances.ts';
import { restBeforeExpress } from './rest/raw.ts';
import { graphqlBeforeExpress } from './graphql/raw.ts';
import { attachRealtime, stopRealtime } from './realtime/socket.ts';
import { removeInterruptedUploads } from './storage/backend.ts';

export interface Platform {
  url: string;
  databaseUrl: string;
  server?: http.Server;
  stop(): Promise<void>;
}

export interface StartOptions {
  api?: boolean;
  worker?: boolean;
  port?: number;
  log?: (line: string) => void;
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

export async function startPlatform(opts: StartOptions = {}): Promise<Platform> {
  const log = opts.log ?? ((l: string) => console.log(`[loam] ${l}`));
  let embedded: EmbeddedServer | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, listen: config.embeddedPgListen, log, walArchiveDir: config.pitrWalArchiveDir });
    databaseUrl = embedded.url;
    log(`embedded PostgreSQL on port ${config.embeddedPgPort}, data in ${embedded.dataDir}`);
  } else {
    log(`using PostgreSQL at ${redact(databaseUrl)}`);
  }
  openControlPool(databaseUrl, settings.controlPoolSize);
  await migrate(log);
  const behind = await projectsBehind();
  for (const p of behind) await controlPool().query(`select graphile_worker.add_job('project__migrate', json_build_object('project_id', $1::bigint), queue_name := 'project:' || $2, job_key := 'project__migrate:' || $2)`, [p.id, p.ref]);

  // Uploads cut off by a crash of a process that used this data directory leave staged files nobody will commit.
  const staged = await removeInterruptedUploads();
  if (staged) log(`removed ${staged} staged file(s) of interrupted uploads`);
  // Whether this server's projects can be backed up (pg_dump/pg_restore of its major version), said once.
  await reportBackupTools(controlServerAddress(), log);
  // And whether its projects can be brought back to a point in time (a WAL archive and the tools), said once.
  await reportPitr(controlServerAddress(), log);

  let runner: Worker | undefined;
  if (opts.worker !== false) runner = await startWorker(controlPool());

  let server: http.Server | undefined;
  let url = '';
  if (opts.api !== false) {
    await listenForProjectChanges(databaseUrl);
    // REST reads (rest/raw.ts), GraphQL POSTs (graphql/raw.ts) and function calls (functions/invoke.ts) are
    // served on plain Node first;
    // whatever they decline goes to Express.
    const app = createApp();
    // What tenants serve on the console's origin (the platform's host) runs sandboxed (console.ts).
    server = http.createServer((req, res) => {
      sandboxTenantContent(req, res);
      if (!restBeforeExpress(req, res) && !graphqlBeforeExpress(req, res) && !functionsBeforeExpress(req, res)) app(req, res);
    });
    server.keepAliveTimeout = 65_000;
    await attachRealtime(server, databaseUrl);
    const port = opts.port ?? config.port;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, config.host, () => resolve());
    });
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    url = `http://localhost:${actualPort}`;
    // With PORT=0 the port is known only now; the project URLs the API hands out must carry it.
    if (!config.publicUrlSet) config.publicUrl = url;
    log(`listening on ${url} (Management API ${url}/v1, health ${url}/health)`);
  }
  if (runner) log(`worker ${runner.id} running`);

  let stopping: Promise<void> | undefined;
  return {
    url,
    databaseUrl,
    server,
    stop() {
      stopping ??= (async () => {
        silenceWorkerLogs();
        await stopFunctions();
        await stopRequestLog();
        await stopRealtime(); // open sockets would hold server.close() up
        if (server) {
          server.closeIdleConnections();
          await new Promise<void>((resolve) => server!.close(() => resolve()));
        }
        await runner?.stop();
        await stopListening();
        await releaseGraphql();
        await closeAllPools();
        await embedded?.stop();
      })();
      return stopping;
    },
  };
}
