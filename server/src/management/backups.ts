// A project's backups in Supabase's shapes: the list (`GET /v1/projects/{ref}/database/backups`), point-in-time
// restore and restore points (refused with a reason where the server cannot do them: db/README.md), and Loam's
// own on-demand backup and restore-from-backup, whose jobs' progress the list and `…/backups/restores` show.
import { Router, type Response } from 'express';
import { BackupError, findPgTools, serverVersionNum } from '../../../db/src/backups.ts';
import { config } from '../../../db/src/config.ts';
import { serverAdminAddress } from '../../../db/src/servers.ts';
import { scramVerifier } from '../../../db/src/scram.ts';
import { ApiError, errors } from '../errors.ts';
import { body, param, str, type Body } from '../validate.ts';
import { callerQuery, scope } from './session.ts';
import { findProject } from './projects.ts';

export const backups = Router();
const db = scope('database');

interface BackupRow {
  id: string; trigger: string; status: string; progress: string | null; database_bytes: string | null;
  file_count: number | null; file_bytes: string | null; error: string | null; inserted_at: Date; completed_at: Date | null;
}

// Supabase's statuses: a backup that is queued or running is PENDING there.
const backupStatus = (s: string) => (s === 'QUEUED' || s === 'RUNNING' ? 'PENDING' : s);

function backupJson(b: BackupRow) {
  return {
    is_physical_backup: false, id: Number(b.id), inserted_at: b.inserted_at, status: backupStatus(b.status),
    // Loam's additions: what the job is doing now, and what the backup holds.
    trigger: b.trigger, progress: b.progress, database_bytes: b.database_bytes === null ? null : Number(b.database_bytes),
    file_count: b.file_count, file_bytes: b.file_bytes === null ? null : Number(b.file_bytes), error: b.error,
    completed_at: b.completed_at,
  };
}

/** The tools a backup of this project needs, checked before anything is queued: a missing one is a 501 that
 *  names it (LMK01), not a job that fails later. */
async function checkTools(res: Response, ref: string) {
  const p = await findProject(res, ref);
  if (!p.database_server_id) throw errors.projectUnavailable(p.status);
  await findPgTools(await serverVersionNum(await serverAdminAddress(p.database_server_id)));
  return p;
}

backups.get('/projects/:ref/database/backups', db, async (req, res) => {
  const ref = param(req, 'ref');
  const p = await findProject(res, ref);
  const rows = await callerQuery<BackupRow>(res, 'select * from platform.project_backups($1)', [ref]);
  res.json({ region: p.region, walg_enabled: false, pitr_enabled: false, backups: rows.map(backupJson), physical_backup_data: {} });
});

backups.post('/projects/:ref/database/backups', db, async (req, res) => {
  const ref = param(req, 'ref');
  await checkTools(res, ref);
  const [b] = await callerQuery<BackupRow>(res, 'select * from platform.create_backup($1)', [ref]);
  res.status(201).json(backupJson(b));
});

interface RestoreRow {
  id: string; backup_id: string; target_ref: string; status: string; progress: string | null; step: string;
  error: string | null; inserted_at: Date; completed_at: Date | null;
}
const restoreJson = (r: RestoreRow) => ({
  id: Number(r.id), backup_id: Number(r.backup_id), project_ref: r.target_ref, status: r.status, step: r.step,
  progress: r.progress, error: r.error, inserted_at: r.inserted_at, completed_at: r.completed_at,
});

backups.get('/projects/:ref/database/backups/restores', db, async (req, res) => {
  const rows = await callerQuery<RestoreRow>(res, 'select * from platform.project_restores($1)', [param(req, 'ref')]);
  res.json(rows.map(restoreJson));
});

// `{ id }` restores into this project; `{ id, new_project: { name, db_pass } }` into a new project.
backups.post('/projects/:ref/database/backups/restore', db, async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const id = b.id;
  if (!(typeof id === 'number' && Number.isSafeInteger(id) && id > 0) && !(typeof id === 'string' && /^\d{1,18}$/.test(id))) {
    throw errors.invalidBody('id must be the id of one of the project\'s backups');
  }
  let name: string | undefined;
  let verifier: string | undefined;
  if (b.new_project !== undefined && b.new_project !== null) {
    const np = body(b.new_project) as Body;
    name = str(np, 'name', { required: true, max: 256 });
    verifier = scramVerifier(str(np, 'db_pass', { required: true, min: 8, max: 128 }));
  }
  await checkTools(res, ref);
  const [r] = await callerQuery<{ id: string }>(res, 'select (platform.restore_backup($1, $2, $3, $4)).id', [ref, String(id), name ?? null, verifier ?? null]);
  const [row] = (await callerQuery<RestoreRow>(res, 'select * from platform.project_restores($1)', [ref])).filter((x) => x.id === r.id);
  res.status(201).json(restoreJson(row));
});

// Point-in-time restore and restore points need PostgreSQL's WAL machinery for one project of a shared cluster;
// db/README.md explains what that takes and why this server cannot do it yet. Input is checked first, so a bad
// request is still a 400, and the project must be one the caller may see (404 otherwise).
const pitrNotSupported = (what: string) => new BackupError('LMK07', config.databaseUrl
  ? `${what} is not available: this server (DATABASE_URL) is not managed by Loam, which cannot set up its WAL archiving; use backups (POST /v1/projects/{ref}/database/backups) instead`
  : `${what} is not available: it needs base backups with WAL archiving of the embedded cluster and pg_dump of its PostgreSQL version to bring one project back without touching the others (see db/README.md); use backups (POST /v1/projects/{ref}/database/backups) instead`);

backups.post('/projects/:ref/database/backups/restore-pitr', db, async (req, res) => {
  const b = body(req.body);
  const t = b.recovery_time_target_unix;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0 || t > Date.now() / 1000) {
    throw new ApiError(400, 'invalid_body', 'recovery_time_target_unix must be a whole number of seconds since 1970, not in the future');
  }
  await findProject(res, param(req, 'ref'));
  throw pitrNotSupported('Point-in-time restore');
});

backups.post('/projects/:ref/database/backups/restore-point', db, async (req, res) => {
  const b = body(req.body);
  str(b, 'name', { required: true, max: 20 });
  await findProject(res, param(req, 'ref'));
  throw pitrNotSupported('A restore point');
});

backups.get('/projects/:ref/database/backups/restore-point', db, async (req, res) => {
  await findProject(res, param(req, 'ref'));
  throw pitrNotSupported('A restore point');
});

backups.post('/projects/:ref/database/backups/undo', db, async (req, res) => {
  const b = body(req.body);
  str(b, 'name', { required: true, max: 20 });
  await findProject(res, param(req, 'ref'));
  throw pitrNotSupported('Undoing to a restore point');
});
