// Read-only mode of a project's database: `default_transaction_read_only` for its logins (the owner's psql and
// the data plane's), set per role in the project's database so Loam's own management login keeps writing
// (template migrations). Sessions opened before a change are closed, so the new mode holds at once.
import { controlPool, withClient } from './pools.ts';
import { loadRuntime } from './projects.ts';
import { projectRoles } from './roles.ts';
import { serverAdminAddress } from './servers.ts';

/** Brings the database in line with the control database's read-only state; returns that state. */
export async function applyReadonly(ref: string): Promise<boolean | undefined> {
  const project = await loadRuntime(ref);
  if (!project || project.deleted || !project.database_server_id) return undefined;
  const r = projectRoles(ref);
  let on = false;
  await withClient(await serverAdminAddress(project.database_server_id), 'postgres', async (c) => {
    // The job and an operator's direct call may run at once: one at a time per project, the state read under the lock.
    await c.query('begin');
    try {
      await c.query(`select pg_advisory_xact_lock(hashtext('loam:readonly:' || $1))`, [ref]);
      const { rows: [state] } = await controlPool().query<{ on: boolean }>(
        `select coalesce(platform_private.readonly_effective(n), false) as on
           from platform.projects p left join platform_private.project_network n on n.project_id = p.id where p.ref = $1`, [ref]);
      on = state.on;
      const db = c.escapeIdentifier(project.db_name);
      const { rows } = await c.query(`select r.rolname from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
        where s.setdatabase = (select oid from pg_database where datname = $1)
          and 'default_transaction_read_only=on' = any (s.setconfig)`, [project.db_name]);
      if (rows.some((x) => x.rolname === r.owner) === on) { await c.query('commit'); return; }
      for (const role of [r.owner, r.authenticator]) {
        await c.query(on
          ? `alter role ${c.escapeIdentifier(role)} in database ${db} set default_transaction_read_only = on`
          : `alter role ${c.escapeIdentifier(role)} in database ${db} reset default_transaction_read_only`);
      }
      await c.query('commit');
    } catch (err) {
      await c.query('rollback').catch(() => {});
      throw err;
    }
    await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and usename = any ($2)',
      [project.db_name, [r.owner, r.authenticator]]);
  });
  return on;
}
