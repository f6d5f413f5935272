// SUPABASE_DB_URL for a project's functions: a login of the project's own, `<ref>_functions`, member of the
// owner role (its sessions start as the owner, like the management login's) with a connection limit of its
// own, so what functions do with it reaches exactly what the owner reaches, and exhausting it blocks neither
// the owner's psql nor the platform. Created on first use; its random password is sealed with the operator key
// (db/src/secret-box.ts) in platform_private.function_db_logins. SECURITY.md "Edge functions" has the attacker
// tests' list.
import crypto from 'node:crypto';
import { controlPool, withClient, withPooledClient } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { projectRoles } from '../../../db/src/roles.ts';
import { scramVerifier } from '../../../db/src/scram.ts';
import { open, seal } from '../../../db/src/secret-box.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { functionSettings } from '../../../db/src/config.ts';

const context = (ref: string) => `functions-db:${ref}`;

/** The connection string the project's functions get as SUPABASE_DB_URL. */
export async function functionsDbUrl(p: ProjectRuntime): Promise<string> {
  const admin = await serverAdminAddress(p.database_server_id ?? 1);
  const password = await loginPassword(p);
  const user = projectRoles(p.ref).functions;
  const host = admin.host.includes(':') ? `[${admin.host}]` : admin.host;
  return `postgresql://${user}:${encodeURIComponent(password)}@${host}:${admin.port}/${encodeURIComponent(p.db_name)}`;
}

async function loginPassword(p: ProjectRuntime): Promise<string> {
  const { rows } = await controlPool().query<{ password_sealed: string }>(
    'select password_sealed from platform_private.function_db_logins where project_id = $1', [p.id]);
  const known = rows[0] && open(rows[0].password_sealed, context(p.ref));
  if (known) return known;
  // First use (or a password sealed with another operator key): a new password, stored and set on the role in
  // one control-database transaction, so concurrent processes agree on one (the row lock orders them).
  return withPooledClient(controlPool(), async (c) => {
    await c.query('begin');
    try {
      const password = crypto.randomBytes(24).toString('base64url');
      const upsert = await c.query<{ password_sealed: string }>(`insert into platform_private.function_db_logins as l (project_id, password_sealed)
        values ($1, $2) on conflict (project_id) do update set password_sealed = excluded.password_sealed
        where l.password_sealed = $3 returning password_sealed`, [p.id, seal(password, context(p.ref)), rows[0]?.password_sealed ?? '']);
      if (!upsert.rowCount) {
        // Another process set one meanwhile: use it.
        await c.query('rollback');
        const again = await controlPool().query<{ password_sealed: string }>(
          'select password_sealed from platform_private.function_db_logins where project_id = $1', [p.id]);
        const theirs = again.rows[0] && open(again.rows[0].password_sealed, context(p.ref));
        if (!theirs) throw new Error('the functions database login of this project cannot be read with this LOAM_SECRETS_KEY');
        return theirs;
      }
      await ensureLogin(p, password);
      await c.query('commit');
      return password;
    } catch (err) {
      await c.query('rollback').catch(() => {});
      throw err;
    }
  });
}

async function ensureLogin(p: ProjectRuntime, password: string): Promise<void> {
  const r = projectRoles(p.ref);
  const admin = await serverAdminAddress(p.database_server_id ?? 1);
  await withClient(admin, 'postgres', async (c) => {
    const login = c.escapeIdentifier(r.functions);
    await c.query(`do $$ begin create role ${login} nologin; exception when duplicate_object then null; end $$`);
    await c.query(`alter role ${login} with login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls
      connection limit ${functionSettings().dbConnectionLimit} password ${c.escapeLiteral(scramVerifier(password))}`);
    // Membership in the owner role only (no ADMIN): CONNECT on the project's database and everything else come
    // from it. Sessions start as the owner, so what functions create belongs to the owner.
    await c.query(`grant ${c.escapeIdentifier(r.owner)} to ${login}`);
    await c.query(`alter role ${login} set role = ${c.escapeLiteral(r.owner)}`);
  });
}
