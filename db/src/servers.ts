// Database servers projects live on: how to reach each as administrator, and a project's database as its own
// data-plane login or its management login.
import { controlPool, controlServerAddress, parseServerUrl, type ServerAddress } from './pools.ts';
import type { ProjectRuntime } from './provisioning.ts';

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

/** The project's data-plane login (`<ref>_authenticator`): it can switch to the project's API roles only. */
export async function authenticatorAddress(p: ProjectRuntime): Promise<ServerAddress> {
  const admin = await serverAdminAddress(p.database_server_id ?? 1);
  return { host: admin.host, port: admin.port, ssl: admin.ssl, user: p.api_role, password: p.api_password };
}

/** The project's management login, whose sessions act as the project's owner. */
export async function managementAddress(p: ProjectRuntime): Promise<ServerAddress> {
  const admin = await serverAdminAddress(p.database_server_id ?? 1);
  return { host: admin.host, port: admin.port, ssl: admin.ssl, user: p.mgmt_role, password: p.mgmt_password };
}

export function forgetServers(): void {
  cache.clear();
}
