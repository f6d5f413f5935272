// A project's backups in Supabase's shapes: the list (`GET /v1/projects/{ref}/database/backups`), point-in-time
// restore and restore points (refused with a reason where the server cannot do them: db/README.md), and Loam's
// own on-demand backup and restore-from-backup, whose jobs' progress the list and `…/backups/restores` show.
import { Router, type Response } from 'express';
import { findPgTools, serverVersionNum } from '../../../db/src/backups.ts';
import { createRestorePoint, findPitrTools, serverPitr } from '../../../db/src/pitr.ts';
import { controlPool } from '../../../db/src/pools.ts';
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
  const [w] = await callerQuery<{ pitr_enabled: boolean; earliest: Date | null; latest: Date | null }>(res, 'select * from platform.project_pitr_window($1)', [ref]);
  const unix = (d: Date) => Math.floor(new Date(d).getTime() / 1000);
  // Supabase's PITR window: from the end of the oldest base backup of the project's server until now.
  const physical = w.earliest && w.latest ? { earliest_physical_backup_date_unix: unix(w.earliest), latest_physical_backup_date_unix: unix(w.latest) } : {};
  res.json({ region: p.region, walg_enabled: false, pitr_enabled: w.pitr_enabled, backups: rows.map(backupJson), physical_backup_data: physical });
});

backups.post('/projects/:ref/database/backups', db, async (req, res) => {
  const ref = param(req, 'ref');
  await checkTools(res, ref);
  const [b] = await callerQuery<BackupRow>(res, 'select * from platform.create_backup($1)', [ref]);
  res.status(201).json(backupJson(b));
});

interface RestoreRow {
  id: string; backup_id: string | null; target_ref: string; status: string; progress: string | null; step: string;
  error: string | null; inserted_at: Date; completed_at: Date | null; kind: string; recovery_target_time: Date | null;
  restore_point: string | null;
}
const restoreJson = (r: RestoreRow) => ({
  id: Number(r.id), kind: r.kind, backup_id: r.backup_id === null ? null : Number(r.backup_id), project_ref: r.target_ref,
  status: r.status, step: r.step, progress: r.progress, error: r.error, inserted_at: r.inserted_at, completed_at: r.completed_at,
  // Point-in-time restores: the moment (seconds since 1970) and, for an undo, the restore point's name.
  recovery_time_target_unix: r.recovery_target_time === null ? null : Math.floor(new Date(r.recovery_target_time).getTime() / 1000),
  restore_point: r.restore_point,
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

// Point-in-time restore and restore points (Supabase's shapes) on PostgreSQL's recovery machinery: the request is
// checked and queued in SQL (sql/platform/functions/projects_pitr.sql: 501 `pitr_not_supported` where the server's
// WAL is not archived, 400 `pitr_target_out_of_range` outside the window), the tools here (501 `pitr_tools_missing`),
// and the job (worker/src/tasks/backup__restore_pitr.ts) shows its progress in `…/backups/restores`.
async function checkPitrTools(res: Response, ref: string) {
  const p = await findProject(res, ref);
  if (!p.database_server_id) throw errors.projectUnavailable(p.status);
  if (!(await serverPitr(p.database_server_id))) return p; // SQL refuses with the reason (LMK07)
  await findPitrTools(await serverVersionNum(await serverAdminAddress(p.database_server_id)));
  return p;
}

const restoreById = async (res: Response, ref: string, id: string) =>
  (await callerQuery<RestoreRow>(res, 'select * from platform.project_restores($1)', [ref])).find((x) => x.id === id)!;

backups.post('/projects/:ref/database/backups/restore-pitr', db, async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const t = b.recovery_time_target_unix;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
    throw new ApiError(400, 'invalid_body', 'recovery_time_target_unix must be a whole number of seconds since 1970');
  }
  await checkPitrTools(res, ref);
  const [r] = await callerQuery<{ id: string }>(res, 'select (platform.restore_pitr($1, $2)).id', [ref, t]);
  res.status(201).json(restoreJson(await restoreById(res, ref, r.id)));
});

interface RestorePointRow { id: string; name: string; status: string; completed_on: Date | null }
const restorePointJson = (p: RestorePointRow) => ({ name: p.name, status: p.status, completed_on: p.completed_on });
const restorePointName = (b: Body) => str(b, 'name', { required: true, min: 1, max: 20 });

backups.post('/projects/:ref/database/backups/restore-point', db, async (req, res) => {
  const ref = param(req, 'ref');
  const name = restorePointName(body(req.body));
  const p = await checkPitrTools(res, ref);
  const [point] = await callerQuery<RestorePointRow>(res, 'select * from platform.create_restore_point($1, $2)', [ref, name]);
  // Written into the server's WAL under Loam's own name; the caller's name stays in the control database.
  let lsn: string | null = null;
  let error: string | null = null;
  try {
    lsn = await createRestorePoint(await serverAdminAddress(p.database_server_id!), `loam_rp_${point.id}`);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const { rows: [done] } = await controlPool().query<RestorePointRow>('select * from platform_private.restore_point_done($1, $2, $3)', [point.id, lsn, error]);
  if (error) throw new Error(`creating the restore point failed: ${error}`);
  res.status(201).json(restorePointJson(done));
});

backups.get('/projects/:ref/database/backups/restore-point', db, async (req, res) => {
  const ref = param(req, 'ref');
  const name = typeof req.query.name === 'string' && req.query.name !== '' ? req.query.name : null;
  if (name !== null && name.length > 20) throw errors.invalidBody('name must be at most 20 characters');
  const [point] = await callerQuery<RestorePointRow>(res, 'select * from platform.project_restore_point($1, $2)', [ref, name]);
  res.json(restorePointJson(point));
});

backups.post('/projects/:ref/database/backups/undo', db, async (req, res) => {
  const ref = param(req, 'ref');
  const name = restorePointName(body(req.body));
  await checkPitrTools(res, ref);
  const [r] = await callerQuery<{ id: string }>(res, 'select (platform.undo_to_restore_point($1, $2)).id', [ref, name]);
  res.status(201).json(restoreJson(await restoreById(res, ref, r.id)));
});
