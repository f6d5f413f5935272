// A project's database credentials (the owner login psql uses): metadata for every member, reveal and rotate for
// Administrators and Owners (platform.role_permissions `project.credentials`). Loam keeps the password sealed with
// the operator key (db/src/secret-box.ts) so it can be revealed; every reveal and change is in platform.audit_log.
import crypto from 'node:crypto';
import { Router, type Response } from 'express';
import { loadRuntime } from '../../../db/src/projects.ts';
import { setOwnerPassword } from '../../../db/src/provisioning.ts';
import { scramVerifier } from '../../../db/src/scram.ts';
import { open, seal } from '../../../db/src/secret-box.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { param } from '../validate.ts';
import { asCaller, authenticate, callerQuery, scope } from './session.ts';
import { findProject, projectJson } from './projects.ts';

export const dbPasswordContext = (ref: string) => `db-pass:${ref}`;

/** Sets the owner login's password: on the database server first, then (sealed) in the control database, in
 *  one transaction, so a server that cannot be reached leaves both on the old password. */
export async function setDatabasePassword(res: Response, ref: string, password: string): Promise<void> {
  const verifier = scramVerifier(password);
  await asCaller(res, async (c) => {
    await c.query('select platform.set_db_password($1, $2, $3)', [ref, verifier, seal(password, dbPasswordContext(ref))]);
    const project = (await loadRuntime(ref))!;
    await setOwnerPassword(await serverAdminAddress(project.database_server_id!), project, verifier);
  });
}

async function connection(res: Response, ref: string, password: string | null) {
  const db = projectJson(await findProject(res, ref)).database;
  const port = db.port ?? 5432;
  return {
    host: db.host, port, database: db.name, user: db.user,
    ...(password === null ? {} : {
      password,
      connection_string: `postgresql://${encodeURIComponent(db.user)}:${encodeURIComponent(password)}@${db.host}:${port}/${encodeURIComponent(db.name)}`,
    }),
  };
}

export const credentials = Router();
const base = '/projects/:ref/database/credentials';
credentials.use(base, authenticate);

credentials.get(base, scope('database', 'read'), async (req, res) => {
  const ref = param(req, 'ref');
  const [m] = await callerQuery<{ user_name: string; password_set_at: Date | null; revealable: boolean; last_revealed_at: Date | null }>(res,
    'select * from platform.database_credentials($1)', [ref]);
  res.json({
    ...await connection(res, ref, null),
    password_set_at: m.password_set_at?.toISOString() ?? null,
    revealable: m.revealable,
    last_revealed_at: m.last_revealed_at?.toISOString() ?? null,
  });
});

credentials.post(`${base}/reveal`, scope('database', 'write'), async (req, res) => {
  const ref = param(req, 'ref');
  const [{ sealed }] = await callerQuery<{ sealed: string }>(res, 'select platform.reveal_db_password($1) as sealed', [ref]);
  res.json(await connection(res, ref, open(sealed, dbPasswordContext(ref)) ?? null));
});

credentials.post(`${base}/rotate`, scope('database', 'write'), async (req, res) => {
  const ref = param(req, 'ref');
  const password = crypto.randomBytes(24).toString('base64url');
  await setDatabasePassword(res, ref, password);
  res.json(await connection(res, ref, password));
});
