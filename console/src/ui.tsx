// Shared building blocks: buttons, fields, dialogs, skeletons, progress, async state, notices.
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ApiError } from './api.ts';

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then((data) => live && setState({ data, loading: false }), (error) => live && setState({ error, loading: false }));
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Runs an action, keeping its busy state and its error. */
export function useAction<A extends unknown[]>(fn: (...a: A) => Promise<unknown>): { run: (...a: A) => Promise<boolean>; busy: boolean; error: Error | undefined; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const run = async (...a: A) => {
    setBusy(true); setError(undefined);
    try { await fn(...a); return true; } catch (e) { setError(e as Error); return false; } finally { setBusy(false); }
  };
  return { run, busy, error, clear: () => setError(undefined) };
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : undefined;
  return <div className="error" role="alert">{error.message}{code && !/^\d+$/.test(code) ? <span className="muted"> ({code})</span> : null}</div>;
}

export function Skeleton({ rows = 3, height = 32 }: { rows?: number; height?: number }) {
  return <div aria-busy="true" aria-label="Loading">{Array.from({ length: rows }, (_, i) => <div key={i} className="skeleton" style={{ height }} />)}</div>;
}

export function Spinner() { return <span className="spinner" aria-hidden="true" />; }

export function Button({ busy, children, variant, ...rest }: React.ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; variant?: 'primary' | 'danger' | 'ghost' }) {
  return (
    <button type="button" className={`btn ${variant ?? ''}`} disabled={busy || rest.disabled} aria-busy={busy || undefined} {...rest}>
      {busy ? <Spinner /> : null}{children}
    </button>
  );
}

export function Field({ label, children, hint }: { label: string; children: (id: string) => ReactNode; hint?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint ? <small className="muted">{hint}</small> : null}
    </div>
  );
}

/** A modal dialog (the native <dialog>: focus is trapped and Escape closes it). */
export function Modal({ title, open, onClose, children, wide }: { title: string; open: boolean; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  // Labelled only while open: a closed dialog is nothing a user (or a label lookup) should find.
  return (
    <dialog ref={ref} className={wide ? 'wide' : ''} onClose={onClose} aria-label={open ? title : undefined}>
      {open ? (
        <>
          <header className="dialog-head"><h2>{title}</h2><button type="button" className="btn ghost" aria-label="Close" onClick={onClose}>✕</button></header>
          <div className="dialog-body">{children}</div>
        </>
      ) : null}
    </dialog>
  );
}

/** Asks before a destructive action; with `typed`, the user must type it to confirm. */
export function Confirm({ open, title, message, typed, action, onClose, onDone }: {
  open: boolean; title: string; message: ReactNode; typed?: string; action: () => Promise<unknown>; onClose: () => void; onDone?: () => void;
}) {
  const [text, setText] = useState('');
  const a = useAction(action);
  useEffect(() => { if (!open) { setText(''); a.clear(); } }, [open]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Modal title={title} open={open} onClose={onClose}>
      <form onSubmit={async (e) => { e.preventDefault(); if (await a.run()) { onClose(); onDone?.(); } }}>
        <p>{message}</p>
        {typed ? <Field label={`Type “${typed}” to confirm`}>{(id) => <input id={id} value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" />}</Field> : null}
        <ErrorNote error={a.error} />
        <div className="row end">
          <Button onClick={onClose}>Cancel</Button>
          <button type="submit" className="btn danger" disabled={a.busy || (typed !== undefined && text !== typed)}>{a.busy ? <Spinner /> : null}Confirm</button>
        </div>
      </form>
    </Modal>
  );
}

export function Progress({ value, label }: { value: number | undefined; label: string }) {
  return (
    <div className="progress-wrap">
      <progress max={1} value={value} aria-label={label} />
      <span className="muted">{label}{value !== undefined ? ` ${Math.round(value * 100)}%` : ''}</span>
    </div>
  );
}

export function Tabs({ tabs, value, onChange }: { tabs: { id: string; label: string }[]; value: string; onChange: (id: string) => void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map((t) => (
        <button key={t.id} type="button" role="tab" aria-selected={t.id === value} className={t.id === value ? 'tab active' : 'tab'} onClick={() => onChange(t.id)}>{t.label}</button>
      ))}
    </div>
  );
}

/** A secret shown masked until asked for, with a copy button. */
export function Secret({ label, load }: { label: string; load: () => Promise<string> }) {
  const [value, setValue] = useState<string>();
  const a = useAction(async () => setValue(await load()));
  return (
    <div className="secret">
      <code className="mono" aria-label={label}>{value ?? '••••••••••••••••••••••••'}</code>
      {value === undefined
        ? <Button busy={a.busy} onClick={() => a.run()}>Reveal</Button>
        : <Button onClick={() => navigator.clipboard?.writeText(value)}>Copy</Button>}
      <ErrorNote error={a.error} />
    </div>
  );
}

export function Copyable({ value, label }: { value: string; label: string }) {
  return (
    <div className="secret">
      <code className="mono" aria-label={label} title={value}>{value}</code>
      <Button onClick={() => navigator.clipboard?.writeText(value)}>Copy</Button>
    </div>
  );
}

export const fmtDate = (s: string | number | null | undefined) => (s ? new Date(s).toLocaleString() : '—');
export const fmtBytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024 ** 3).toFixed(2)} GB`);
