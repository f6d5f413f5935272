// `loam migrate`: brings every project database up to the current template, one database at a time.
import { controlPool } from './pools.ts';
import { loadRuntimeById } from './projects.ts';
import { migrateProjectDatabase, projectsBehind } from './migrate.ts';
import { serverAdminAddress } from './servers.ts';

export async function migrateAllProjects(log: (line: string) => void): Promise<number> {
  const behind = await projectsBehind();
  for (const { id, ref } of behind) {
    const p = await loadRuntimeById(id);
    if (!p?.database_server_id) continue;
    const version = await migrateProjectDatabase(await serverAdminAddress(p.database_server_id), p.db_name, log);
    await controlPool().query('select platform_private.set_template_version($1, $2)', [id, version]);
    log(`project ${ref} is at template version ${version}`);
  }
  return behind.length;
}
