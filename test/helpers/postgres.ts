// A scratch PostgreSQL for test runs and benchmarks: a free port and an embedded cluster in a temporary
// directory that is removed when it stops.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../db/src/embedded.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface ScratchPostgres { url: string; dataDir: string; port: number; stop(): Promise<void> }

export async function scratchPostgres(prefix = 'loam-'): Promise<ScratchPostgres> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dataDir, 0o755); // the `postgres` OS user must reach it when we run as root
  const port = await freePort();
  const server = await startEmbeddedPostgres({ dataDir, port, listen: 'localhost' });
  return {
    url: server.url, dataDir, port,
    async stop() {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
