// Database servers projects live on: how to reach each as administrator, and as the data plane's authenticator.
import { controlPool, controlServerAddress, parseServerUrl, type ServerAddress } from './pools.ts';

const cache = new Map<string, ServerAddress>();

/** Administrator address of a registered server (the control server when it has no URL of its own). */
export async function serverAdminAddress(serverId: number | string): Promise<ServerAddress> {
  const key = String(serverId);
  const hit = cache.get(key);
  if (hit) return hit;
  const { rows } = await controlPool().query(
    'select admin_url from platform_private.database_server_credentials where server_id = $1', [serverId]);
  if (!rows.length) throw new Error(`database server ${serverId} is not registered`);
  const address = rows[0].admin_url ? parseServerUrl(rows[0].admin_url) : controlServerAddress();
  cache.set(key, address);
  return address;
}

let authenticatorPassword: string | undefined;

export async function authenticatorAddress(serverId: number | string): Promise<ServerAddress> {
  const admin = await serverAdminAddress(serverId);
  authenticatorPassword ??= (await controlPool().query(
    `select value from platform_private.settings where key = 'authenticator_password'`)).rows[0]?.value;
  return { host: admin.host, port: admin.port, ssl: admin.ssl, user: 'authenticator', password: authenticatorPassword };
}

export function forgetServers(): void {
  cache.clear();
  authenticatorPassword = undefined;
}
