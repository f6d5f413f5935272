// The SQL editor: CodeMirror, run through the Management API's SQL endpoint (read-only toggle → read_only), the
// result in the virtualised grid, errors with their line and column marked, and saved snippets (/v1/snippets:
// saved, opened, renamed and deleted; Read-only members only open them).
import { sql as sqlLang, PostgreSQL } from '@codemirror/lang-sql';
import CodeMirror, { EditorView, Prec, keymap, type ReactCodeMirrorRef } from '@uiw/react-codemirror';
import { useCallback, useMemo, useRef, useState } from 'react';
import { api, ApiError, type Project } from '../api.ts';
import { Grid, cellText } from '../components/Grid.tsx';
import { READ_ONLY_TITLE, useCanWrite } from '../context.tsx';
import { Button, Confirm, ErrorNote, Field, Modal, Progress, Skeleton, useAction, useAsync } from '../ui.tsx';

interface Snippet { id: string; name: string; description: string | null; inserted_at: string }

const DRAFT = (ref: string) => `loam.sql.${ref}`;

export function SqlEditorPage({ project, theme }: { project: Project; theme: 'dark' | 'light' }) {
  const ref = project.ref;
  const canWrite = useCanWrite(project.organization_slug);
  const [text, setText] = useState(() => localStorage.getItem(DRAFT(ref)) ?? 'select now();');
  const [readOnly, setReadOnly] = useState(!canWrite);
  const [result, setResult] = useState<{ rows: Record<string, unknown>[]; ms: number }>();
  const [error, setError] = useState<{ message: string; line?: number; column?: number }>();
  const [running, setRunning] = useState(false);
  const editor = useRef<ReactCodeMirrorRef>(null);
  const snippets = useAsync(() => api<{ data: Snippet[] }>('GET', `/snippets?project_ref=${ref}&sort_by=name&sort_order=asc`), [ref]);
  const [saving, setSaving] = useState(false);
  const [name, setName] = useState('');

  const run = useCallback(async () => {
    const view = editor.current?.view;
    const sel = view?.state.selection.main;
    const query = sel && !sel.empty ? view!.state.sliceDoc(sel.from, sel.to) : text;
    setRunning(true); setError(undefined);
    const t = performance.now();
    try {
      const rows = await api<Record<string, unknown>[]>('POST', `/projects/${ref}/database/query`, { query, ...(readOnly || !canWrite ? { read_only: true } : {}) });
      setResult({ rows, ms: Math.round(performance.now() - t) });
    } catch (e) {
      const message = (e as Error).message;
      // "LINE n: …" and a caret line under the character (as psql prints it).
      const m = /\nLINE (\d+): (.*)\n( *)\^/.exec(message);
      const line = m ? Number(m[1]) : undefined;
      const column = m ? m[3].length - `LINE ${m[1]}: `.length + 1 : undefined;
      setError({ message: e instanceof ApiError && !/^\d+$/.test(e.code) ? `${message}\n(SQLSTATE ${e.code})` : message, line, column });
      setResult(undefined);
      if (view && line && column && !(sel && !sel.empty)) {
        const l = view.state.doc.line(Math.min(line, view.state.doc.lines));
        const pos = Math.min(l.from + column - 1, l.to);
        view.dispatch({ selection: { anchor: pos, head: Math.min(pos + 1, l.to) }, scrollIntoView: true });
      }
    } finally {
      setRunning(false);
    }
  }, [ref, text, readOnly, canWrite]);

  // Ctrl/Cmd+Enter runs, ahead of the editor's own binding (which would insert a line).
  const runRef = useRef(run);
  runRef.current = run;
  const extensions = useMemo(() => [
    sqlLang({ dialect: PostgreSQL }), EditorView.lineWrapping, EditorView.contentAttributes.of({ 'aria-label': 'SQL query' }),
    Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => { runRef.current(); return true; } }])),
  ], []);

  const save = useAction(async () => { await api('POST', '/snippets', { project_ref: ref, name, sql: text }); setSaving(false); snippets.reload(); });
  const open = useAction(async (id: string) => { const s = await api('GET', `/snippets/${id}`); setText(s.content.sql); });
  const [renaming, setRenaming] = useState<Snippet>();
  const [newName, setNewName] = useState('');
  const [deleting, setDeleting] = useState<Snippet>();
  const rename = useAction(async () => { await api('PATCH', `/snippets/${renaming!.id}`, { name: newName }); setRenaming(undefined); snippets.reload(); });
  const noWrite = canWrite ? undefined : READ_ONLY_TITLE;
  const cols = result?.rows[0] ? Object.keys(result.rows[0]).map((name) => ({ name })) : [];
  return (
    <section className="editor">
      <aside className="editor-side" aria-label="Snippets">
        <h2>Snippets</h2>
        <ErrorNote error={snippets.error ?? open.error} />
        {!snippets.data ? <Skeleton rows={3} height={28} /> : (
          <ul className="side-list">
            {snippets.data.data.map((s) => (
              <li key={s.id} className="snippet-item">
                <button type="button" className="linkish" onClick={() => open.run(s.id)}>{s.name}</button>
                <button type="button" className="icon-btn" aria-label={`Rename ${s.name}`} title={noWrite ?? 'Rename'} disabled={!canWrite}
                  onClick={() => { setNewName(s.name); rename.clear(); setRenaming(s); }}>✎</button>
                <button type="button" className="icon-btn" aria-label={`Delete ${s.name}`} title={noWrite ?? 'Delete'} disabled={!canWrite}
                  onClick={() => setDeleting(s)}>🗑</button>
              </li>
            ))}
            {snippets.data.data.length === 0 ? <li className="muted">None saved</li> : null}
          </ul>
        )}
      </aside>
      <div className="editor-main">
        <div className="toolbar">
          <Button variant="primary" busy={running} onClick={run} title="Ctrl+Enter">Run</Button>
          <label className="toggle"><input type="checkbox" checked={readOnly || !canWrite} disabled={!canWrite} onChange={(e) => setReadOnly(e.target.checked)} /> Read-only</label>
          <Button onClick={() => { setName(''); setSaving(true); }}>Save snippet</Button>
          <span className="muted" aria-live="polite">{running ? 'Running…' : result ? `${result.rows.length} row${result.rows.length === 1 ? '' : 's'} · ${result.ms} ms` : ''}</span>
        </div>
        <div className="code">
          <CodeMirror ref={editor} value={text} height="240px" theme={theme}
            extensions={extensions}
            onChange={(v) => { setText(v); localStorage.setItem(DRAFT(ref), v); }} basicSetup={{ foldGutter: false }} />
        </div>
        {running ? <Progress value={undefined} label="Running query" /> : null}
        {error ? (
          <div className="error" role="alert" data-testid="sql-error">
            {error.line ? <strong>Line {error.line}, column {error.column}: </strong> : null}
            <pre className="mono">{error.message}</pre>
          </div>
        ) : null}
        {result ? (result.rows.length === 0 ? <p className="muted">Success. No rows returned.</p> : (
          <Grid label="Query results" columns={cols} rowCount={result.rows.length} getRow={(i) => result.rows[i]} renderCell={(r, c) => cellText(r[c.name])} height="calc(100vh - 520px)" />
        )) : null}
      </div>
      <Modal title="Save snippet" open={saving} onClose={() => setSaving(false)}>
        <form onSubmit={(e) => { e.preventDefault(); save.run(); }}>
          <Field label="Name">{(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
          <ErrorNote error={save.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={save.busy}>Save</Button></div>
        </form>
      </Modal>
      <Modal title="Rename snippet" open={!!renaming} onClose={() => setRenaming(undefined)}>
        <form onSubmit={(e) => { e.preventDefault(); rename.run(); }}>
          <Field label="New name">{(id) => <input id={id} required maxLength={256} value={newName} onChange={(e) => setNewName(e.target.value)} />}</Field>
          <ErrorNote error={rename.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={rename.busy}>Rename</Button></div>
        </form>
      </Modal>
      <Confirm open={!!deleting} title="Delete snippet" message={`The snippet “${deleting?.name ?? ''}” is deleted for everyone who sees it.`}
        action={() => api('DELETE', `/snippets/${deleting!.id}`)} onClose={() => setDeleting(undefined)} onDone={snippets.reload} />
    </section>
  );
}
