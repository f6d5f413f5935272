// A project's preview branches through the Management API: list (polled while one is being made or reset), create
// (optionally with the parent's data), push the parent's migrations in, merge the branch's out (a refusal shows the
// API's reason), reset, the schema diff in a read-only code view, and delete with a typed confirmation. Read-only
// members see everything and change nothing (the buttons are disabled; the API refuses them as well).
import { sql as sqlLang, PostgreSQL } from '@codemirror/lang-sql';
import CodeMirror, { EditorView } from '@uiw/react-codemirror';
import { useEffect, useMemo, useState } from 'react';
import { api, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useCanWrite } from '../context.tsx';
import { Link } from '../router.tsx';
import { Button, Confirm, ErrorNote, Field, Modal, Progress, Skeleton, fmtDate, useAction, useAsync } from '../ui.tsx';

export interface Branch {
  id: string; name: string; project_ref: string; parent_project_ref: string; is_default: boolean; git_branch?: string;
  persistent: boolean; status: string; status_reason?: string; created_at: string; updated_at: string; with_data: boolean;
  preview_project_status: string;
}

const BUILDING = new Set(['CREATING_PROJECT', 'RUNNING_MIGRATIONS']);
/** Whether a branch is still changing (being made, reset, or its project coming up). */
export const branchMoving = (b: Branch) => BUILDING.has(b.status) || (!b.is_default && /COMING_UP|RESTORING|GOING_DOWN|PAUSING/.test(b.preview_project_status ?? ''));
const ready = (b: Branch) => b.status === 'MIGRATIONS_PASSED' || b.status === 'FUNCTIONS_DEPLOYED';

function BranchStatus({ b }: { b: Branch }) {
  const moving = branchMoving(b);
  const cls = moving ? 'warn' : ready(b) ? 'ok' : /FAILED/.test(b.status) ? 'bad' : 'muted';
  const label = b.is_default ? 'default' : moving ? b.status === 'RUNNING_MIGRATIONS' ? 'running migrations' : 'creating' : ready(b) ? 'ready' : b.status.toLowerCase().replace(/_/g, ' ');
  return (
    <span className="row">
      <span className={`status ${cls}`} data-status={b.status} title={`${b.status}${b.status_reason ? `: ${b.status_reason}` : ''}`}>{label}</span>
      {moving ? <span className="spinner" aria-hidden="true" /> : null}
    </span>
  );
}

type Action = 'push' | 'merge' | 'reset';

export function BranchesPage({ project, theme }: { project: Project; theme: 'dark' | 'light' }) {
  const ref = project.ref;
  const canWrite = useCanWrite(project.organization_slug);
  const noWrite = canWrite ? undefined : READ_ONLY_TITLE;
  const list = useAsync(() => api<Branch[]>('GET', `/projects/${ref}/branches`), [ref]);
  const moving = (list.data ?? []).some(branchMoving);
  // Statuses are polled while a branch changes; the list stays on screen meanwhile.
  useEffect(() => { if (!moving) return; const t = setInterval(list.reload, 1500); return () => clearInterval(t); }, [moving, list.reload]);

  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [withData, setWithData] = useState(false);
  const create = useAction(async () => {
    await api('POST', `/projects/${ref}/branches`, { branch_name: name, with_data: withData });
    setCreating(false); setName(''); setWithData(false); list.reload();
  });

  const [notice, setNotice] = useState<string>();
  const act = useAction(async (b: Branch, action: Action) => {
    setNotice(undefined);
    const r = await api<{ applied?: string[]; message: string }>('POST', `/branches/${b.id}/${action}`, {});
    const n = r.applied?.length ?? 0;
    setNotice(action === 'reset' ? `${b.name} is being reset: its database is made again from the parent's migrations.`
      : `${action === 'push' ? `Pushed into ${b.name}` : `Merged ${b.name} into the parent`}: ${n === 0 ? 'nothing to apply' : `${n} migration${n === 1 ? '' : 's'} applied (${r.applied!.join(', ')})`}.`);
    list.reload();
  });
  const [confirmReset, setConfirmReset] = useState<Branch>();
  const [deleting, setDeleting] = useState<Branch>();
  const [diffOf, setDiffOf] = useState<Branch>();

  const branches = list.data ?? [];
  return (
    <section>
      <header className="page-head">
        <div><h1>Branches</h1><p className="muted">Preview branches: a database of their own, made from this project's migrations.</p></div>
        <Button variant="primary" disabled={!canWrite} title={noWrite} onClick={() => { create.clear(); setCreating(true); }}>Create branch</Button>
      </header>
      <ErrorNote error={list.error} />
      {act.error ? <div className="error" role="alert" data-testid="branch-error">{act.error.message}<span className="muted"> ({(act.error as { code?: string }).code})</span></div> : null}
      {notice ? <p role="status" className="ok" data-testid="branch-notice">{notice}</p> : null}
      {!list.data ? <Skeleton rows={3} height={44} /> : branches.length === 0 ? (
        <p className="muted" data-testid="no-branches">No branches yet. The first one also makes this project the default branch.</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Branch</th><th scope="col">Status</th><th scope="col">Data</th><th scope="col">Created</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{branches.map((b) => (
              <tr key={b.id} data-branch={b.name}>
                <td>
                  <strong>{b.name}</strong>{b.is_default ? <span className="badge">this project</span> : null}
                  <div className="muted mono small">{b.is_default ? b.project_ref : <Link to={`/p/${b.project_ref}`}>{b.project_ref}</Link>}</div>
                </td>
                <td><BranchStatus b={b} />{b.status_reason && /FAILED/.test(b.status) ? <div className="error small">{b.status_reason}</div> : null}</td>
                <td>{b.is_default ? '—' : b.with_data ? 'copied' : 'schema only'}</td>
                <td>{fmtDate(b.created_at)}</td>
                <td className="right">
                  {b.is_default ? null : (
                    <span className="row actions">
                      <Button disabled={!ready(b)} onClick={() => setDiffOf(b)} aria-label={`Diff ${b.name}`}>Diff</Button>
                      <Button disabled={!canWrite || !ready(b) || act.busy} title={noWrite ?? 'Apply the parent\'s new migrations to the branch'} onClick={() => act.run(b, 'push')} aria-label={`Push ${b.name}`}>Push</Button>
                      <Button disabled={!canWrite || !ready(b) || act.busy} title={noWrite ?? 'Apply the branch\'s migrations to the parent'} onClick={() => act.run(b, 'merge')} aria-label={`Merge ${b.name}`}>Merge</Button>
                      <Button disabled={!canWrite || branchMoving(b)} title={noWrite} onClick={() => setConfirmReset(b)} aria-label={`Reset ${b.name}`}>Reset</Button>
                      <Button variant="danger" disabled={!canWrite} title={noWrite} onClick={() => setDeleting(b)} aria-label={`Delete ${b.name}`}>Delete</Button>
                    </span>
                  )}
                </td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      {act.busy ? <Progress value={undefined} label="Applying migrations" /> : null}
      <Modal title="Create branch" open={creating} onClose={() => setCreating(false)}>
        <form onSubmit={(e) => { e.preventDefault(); create.run(); }}>
          <Field label="Branch name">{(id) => <input id={id} required maxLength={256} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}</Field>
          <label className="toggle"><input type="checkbox" checked={withData} onChange={(e) => setWithData(e.target.checked)} /> Copy this project's data (with_data)</label>
          <ErrorNote error={create.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={create.busy}>Create</Button></div>
        </form>
      </Modal>
      <Confirm open={!!confirmReset} title="Reset branch" message={`${confirmReset?.name}'s database is dropped and made again from the parent's migrations. Its data is lost.`}
        action={async () => act.run(confirmReset!, 'reset')} onClose={() => setConfirmReset(undefined)} />
      <Confirm open={!!deleting} title="Delete branch" typed={deleting?.name}
        message={`The branch ${deleting?.name} and its project ${deleting?.project_ref} are deleted, with its database.`}
        action={() => api('DELETE', `/branches/${deleting!.id}`)} onClose={() => setDeleting(undefined)} onDone={() => { setNotice(`${deleting?.name} deleted.`); list.reload(); }} />
      <Modal title={`Diff: ${diffOf?.name ?? ''}`} open={!!diffOf} onClose={() => setDiffOf(undefined)} wide>
        {diffOf ? <Diff branch={diffOf} theme={theme} /> : null}
      </Modal>
    </section>
  );
}

function Diff({ branch, theme }: { branch: Branch; theme: 'dark' | 'light' }) {
  const [schemas, setSchemas] = useState('public');
  const [asked, setAsked] = useState('public');
  const diff = useAsync(() => api<string>('GET', `/branches/${branch.id}/diff?included_schemas=${encodeURIComponent(asked)}`), [branch.id, asked]);
  const extensions = useMemo(() => [sqlLang({ dialect: PostgreSQL }), EditorView.lineWrapping, EditorView.editable.of(false),
    EditorView.contentAttributes.of({ 'aria-label': 'Schema diff' })], []);
  const text = typeof diff.data === 'string' ? diff.data : diff.data === undefined ? '' : JSON.stringify(diff.data, null, 2);
  return (
    <>
      <form className="toolbar" onSubmit={(e) => { e.preventDefault(); setAsked(schemas); }}>
        <Field label="Schemas">{(id) => <input id={id} value={schemas} onChange={(e) => setSchemas(e.target.value)} />}</Field>
        <Button type="submit">Compare</Button>
        <span className="muted">SQL that makes the parent's schema into the branch's</span>
      </form>
      <ErrorNote error={diff.error} />
      {diff.loading && !diff.data ? <Skeleton rows={6} height={20} /> : (
        <div className="code diff" data-testid="branch-diff">
          {text.trim() === '' ? <p className="muted pad">No differences.</p>
            : <CodeMirror value={text} height="360px" theme={theme} readOnly extensions={extensions} basicSetup={{ foldGutter: false, highlightActiveLine: false }} />}
        </div>
      )}
    </>
  );
}
