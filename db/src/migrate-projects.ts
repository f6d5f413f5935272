// `loam migrate` and the project__migrate job: brings project databases to the current privilege layout and
// template, one database at a time.
import { controlPool } from './pools.ts';
import { loadRuntimeById, type ProjectRuntime } from './projects.ts';
import { migrateProjectDatabase, projectsBehind, type SqlFile } from './migrate.ts';
import { PRIVILEGE_LAYOUT, secureProjectDatabase } from './provisioning.ts';
import { managementAddress, serverAdminAddress } from './servers.ts';

/** The hand-over first when the database has an older layout (administrator, catalog statements only), then the
 *  template migrations through the project's own management login. Returns the template version. */
export async function migrateProject(p: ProjectRuntime, log: (line: string) => void = () => {},
  migrations?: SqlFile[]): Promise<number> {
  if (p.privilege_layout < PRIVILEGE_LAYOUT) await secureProjectDatabase(await serverAdminAddress(p.database_server_id!), p);
  const version = await migrateProjectDatabase(await managementAddress(p), p.db_name, log, migrations);
  await controlPool().query('select platform_private.set_template_version($1, $2)', [p.id, version]);
  return version;
}

export async function migrateAllProjects(log: (line: string) => void): Promise<number> {
  const behind = await projectsBehind();
  for (const { id, ref } of behind) {
    const p = await loadRuntimeById(id);
    if (!p?.database_server_id) continue;
    const version = await migrateProject(p, log);
    log(`project ${ref} is at template version ${version}`);
  }
  return behind.length;
}
