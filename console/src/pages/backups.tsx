// A project's backups through the Management API: the list (GET /database/backups), a backup taken now, restore
// into this project (typed confirmation) or into a new one, and the progress of running jobs (polled). A server
// without PostgreSQL's dump tools answers 501 backup_tools_missing: the page says so, in the API's words.
import { useEffect, useState } from 'react';
import { api, ApiError, type Project } from '../api.ts';
import { useHasRole } from '../context.tsx';
import { Link } from '../router.tsx';
import { Button, ErrorNote, Field, Modal, Progress, Skeleton, fmtBytes, fmtDate, useAction, useAsync } from '../ui.tsx';

interface Backup {
  id: number; status: string; inserted_at: string; trigger: string; progress: string | null; database_bytes: number | null;
  file_count: number | null; file_bytes: number | null; error: string | null; completed_at: string | null;
}
interface Restore {
  id: number; backup_id: number; project_ref: string; status: string; step: string; progress: string | null;
  error: string | null; inserted_at: string; completed_at: string | null;
}

const running = (s: string) => s === 'PENDING' || s === 'QUEUED' || s === 'RUNNING';
const statusClass = (s: string) => (running(s) ? 'warn' : s === 'COMPLETED' ? 'ok' : s === 'FAILED' ? 'bad' : 'muted');

function ToolsMissing({ error }: { error: Error }) {
  const code = error instanceof ApiError ? error.code : '';
  if (code !== 'backup_tools_missing' && code !== 'pitr_not_supported') return <ErrorNote error={error} />;
  return (
    <div className="card notice" role="alert" data-testid="backup-tools-missing">
      <h2>Backups cannot run on this server</h2>
      <p>{error.message}</p>
      <p className="muted small">The API answered {error instanceof ApiError ? error.status : ''} <code>{code}</code>. Install the PostgreSQL client tools of the database server's major version (see db/README.md, “Backups”), then try again.</p>
    </div>
  );
}

export function BackupsPage({ project }: { project: Project }) {
  const ref = project.ref;
  // Backups and restores are project settings in the API's roles: Administrators and Owners.
  const canWrite = useHasRole(project.organization_slug, 'Administrator');
  const noWrite = canWrite ? undefined : 'Backups and restores need the Administrator role or higher';
  const list = useAsync(() => api<{ backups: Backup[]; pitr_enabled: boolean }>('GET', `/projects/${ref}/database/backups`), [ref]);
  const restores = useAsync(() => api<Restore[]>('GET', `/projects/${ref}/database/backups/restores`), [ref]);
  const moving = (list.data?.backups ?? []).some((b) => running(b.status)) || (restores.data ?? []).some((r) => running(r.status));
  useEffect(() => {
    if (!moving) return;
    const t = setInterval(() => { list.reload(); restores.reload(); }, 1500);
    return () => clearInterval(t);
  }, [moving, list.reload, restores.reload]);

  const take = useAction(async () => { await api('POST', `/projects/${ref}/database/backups`, {}); list.reload(); });
  const [restoring, setRestoring] = useState<Backup>();
  const [target, setTarget] = useState<'same' | 'new'>('same');
  const [typed, setTyped] = useState('');
  const [newName, setNewName] = useState(''), [dbPass, setDbPass] = useState('');
  const restore = useAction(async () => {
    await api('POST', `/projects/${ref}/database/backups/restore`, target === 'same'
      ? { id: restoring!.id } : { id: restoring!.id, new_project: { name: newName, db_pass: dbPass } });
    setRestoring(undefined); restores.reload();
  });
  const openRestore = (b: Backup) => { setTarget('same'); setTyped(''); setNewName(`${project.name} (restored)`); setDbPass(''); restore.clear(); setRestoring(b); };

  const backups = list.data?.backups ?? [];
  return (
    <section>
      <header className="page-head">
        <div><h1>Backups</h1><p className="muted">Logical backups of the database (and storage files), restored into this project or a new one.</p></div>
        <Button variant="primary" busy={take.busy} disabled={!canWrite} title={noWrite} onClick={() => take.run()}>Back up now</Button>
      </header>
      {take.error ? <ToolsMissing error={take.error} /> : null}
      <ErrorNote error={list.error ?? restores.error} />
      <h2>Backups taken</h2>
      {!list.data ? <Skeleton rows={3} height={44} /> : backups.length === 0 ? <p className="muted" data-testid="no-backups">No backups yet.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Backup</th><th scope="col">Status</th><th scope="col">Size</th><th scope="col">Taken</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{backups.map((b) => (
              <tr key={b.id} data-backup={b.id}>
                <td><span className="mono">#{b.id}</span> <span className="muted">{b.trigger.toLowerCase()}</span></td>
                <td>
                  <span className={`status ${statusClass(b.status)}`} data-status={b.status}>{b.status.toLowerCase()}</span>
                  {running(b.status) ? <Progress value={undefined} label={b.progress ?? 'Waiting for a worker'} /> : null}
                  {b.error ? <div className="error small">{b.error}</div> : null}
                </td>
                <td>{b.database_bytes !== null ? fmtBytes(b.database_bytes) : '—'}{b.file_count ? <span className="muted"> + {b.file_count} files</span> : null}</td>
                <td>{fmtDate(b.inserted_at)}</td>
                <td className="right"><Button disabled={!canWrite || b.status !== 'COMPLETED'} title={noWrite} onClick={() => openRestore(b)} aria-label={`Restore backup ${b.id}`}>Restore…</Button></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <h2>Restores</h2>
      {!restores.data ? <Skeleton rows={2} height={44} /> : restores.data.length === 0 ? <p className="muted">No restores.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Restore</th><th scope="col">Into</th><th scope="col">Status</th><th scope="col">Started</th></tr></thead>
            <tbody>{restores.data.map((r) => (
              <tr key={r.id}>
                <td><span className="mono">#{r.id}</span> <span className="muted">from backup #{r.backup_id}</span></td>
                <td>{r.project_ref === ref ? 'this project' : <Link to={`/p/${r.project_ref}`}>{r.project_ref}</Link>}</td>
                <td>
                  <span className={`status ${statusClass(r.status)}`} data-status={r.status}>{r.status.toLowerCase()}</span> <span className="muted">{r.step}</span>
                  {running(r.status) ? <Progress value={undefined} label={r.progress ?? r.step} /> : null}
                  {r.error ? <div className="error small">{r.error}</div> : null}
                </td>
                <td>{fmtDate(r.inserted_at)}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <Modal title={`Restore backup #${restoring?.id ?? ''}`} open={!!restoring} onClose={() => setRestoring(undefined)}>
        <form onSubmit={(e) => { e.preventDefault(); restore.run(); }}>
          <fieldset className="choices">
            <legend>Restore into</legend>
            <label className="toggle"><input type="radio" name="target" checked={target === 'same'} onChange={() => setTarget('same')} /> This project (its current data is replaced)</label>
            <label className="toggle"><input type="radio" name="target" checked={target === 'new'} onChange={() => setTarget('new')} /> A new project</label>
          </fieldset>
          {target === 'same' ? (
            <Field label={`Type “${project.ref}” to confirm`}>{(id) => <input id={id} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />}</Field>
          ) : (
            <>
              <Field label="New project name">{(id) => <input id={id} required maxLength={256} value={newName} onChange={(e) => setNewName(e.target.value)} />}</Field>
              <Field label="Database password" hint="At least 8 characters">{(id) => <input id={id} type="password" required minLength={8} value={dbPass} onChange={(e) => setDbPass(e.target.value)} autoComplete="new-password" />}</Field>
            </>
          )}
          {restore.error ? <ToolsMissing error={restore.error} /> : null}
          <div className="row end">
            <Button onClick={() => setRestoring(undefined)}>Cancel</Button>
            <Button type="submit" variant={target === 'same' ? 'danger' : 'primary'} busy={restore.busy} disabled={target === 'same' && typed !== project.ref}>Restore</Button>
          </div>
        </form>
      </Modal>
    </section>
  );
}
