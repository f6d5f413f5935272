// A project's secrets per environment (production, staging, development; each falls back along its chain):
// tabs per environment with the secrets it sets (masked), bulk add/update, delete (confirmed), the audited reveal
// of one value (only on a click, held in this page's state and dropped with it), the resolved view with the
// environment each value comes from, and the environment each function and site build is bound to.
import { useState } from 'react';
import { api, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useCanWrite, useHasRole } from '../context.tsx';
import { Button, Confirm, ErrorNote, Field, Modal, Skeleton, Tabs, fmtDate, useAction, useAsync } from '../ui.tsx';

interface Env { name: string; fallback: string[]; secrets: number; bound_functions: number; bound_sites: number }
interface SecretRow { name: string; value: string; digest: string; environment: string; updated_at: string }
interface Binding { kind: 'functions' | 'sites'; target: string; environment: string | null; updated_at: string | null }
interface Site { id: string; name?: string; subdomain: string }

/** Secrets are project settings in the API's roles (Administrator and above); the reveal too. */
function useSecretsRole(project: Project): { canWrite: boolean; title: string | undefined } {
  const notReadOnly = useCanWrite(project.organization_slug);
  const canWrite = useHasRole(project.organization_slug, 'Administrator');
  return { canWrite, title: canWrite ? undefined : notReadOnly ? 'Secrets need the Administrator role or higher' : READ_ONLY_TITLE };
}

export function SecretsPage({ project }: { project: Project }) {
  const ref = project.ref;
  const envs = useAsync(() => api<Env[]>('GET', `/projects/${ref}/environments`), [ref]);
  const [env, setEnv] = useState('production');
  const current = envs.data?.find((e) => e.name === env);
  return (
    <section>
      <header className="page-head">
        <div><h1>Secrets</h1><p className="muted">Environment variables of functions and site builds, per environment. An environment without a secret falls back along its chain.</p></div>
      </header>
      <ErrorNote error={envs.error} />
      {!envs.data ? <Skeleton rows={4} height={40} /> : (
        <>
          <Tabs tabs={envs.data.map((e) => ({ id: e.name, label: `${e.name} (${e.secrets})` }))} value={env} onChange={setEnv} />
          {/* Keyed by environment: a revealed value does not outlive its tab. */}
          <EnvironmentSecrets key={env} project={project} env={current ?? { name: env, fallback: [], secrets: 0, bound_functions: 0, bound_sites: 0 }} onChange={envs.reload} />
        </>
      )}
      <Bindings project={project} onChange={envs.reload} />
    </section>
  );
}

function EnvironmentSecrets({ project, env, onChange }: { project: Project; env: Env; onChange: () => void }) {
  const ref = project.ref;
  const base = `/projects/${ref}/environments/${env.name}`;
  const { canWrite, title } = useSecretsRole(project);
  const own = useAsync(() => api<SecretRow[]>('GET', `${base}/secrets`), [base]);
  const resolved = useAsync(() => api<{ environment: string; secrets: SecretRow[] }>('GET', `${base}/resolved`), [base]);
  const reload = () => { own.reload(); resolved.reload(); onChange(); };
  const [revealed, setRevealed] = useState<Record<string, string>>({});
  const [revealing, setRevealing] = useState<string>();
  const reveal = useAction(async (name: string) => {
    setRevealing(name);
    try {
      const r = await api<{ name: string; value: string }>('POST', `${base}/secrets/${encodeURIComponent(name)}/reveal`);
      setRevealed((v) => ({ ...v, [name]: r.value }));
    } finally { setRevealing(undefined); }
  });
  const hide = (name: string) => setRevealed(({ [name]: _, ...rest }) => rest);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState<string>();

  const valueCell = (name: string) => (
    <td><div className="secret">
      <code className="mono" aria-label={`Value of ${name}`}>{revealed[name] ?? '••••••••'}</code>
      {revealed[name] === undefined
        ? <Button busy={revealing === name} disabled={!canWrite} title={title} onClick={() => reveal.run(name)} aria-label={`Reveal ${name}`}>Reveal</Button>
        : <><Button onClick={() => navigator.clipboard?.writeText(revealed[name])} aria-label={`Copy ${name}`}>Copy</Button><Button onClick={() => hide(name)} aria-label={`Hide ${name}`}>Hide</Button></>}
    </div></td>
  );

  return (
    <div data-testid={`env-${env.name}`}>
      <div className="row between">
        <p className="muted">
          {env.fallback.length ? <>Falls back to {env.fallback.join(' → ')}.</> : 'The last of the chain: no fallback.'}
          {' '}Bound: {env.bound_functions} function{env.bound_functions === 1 ? '' : 's'}, {env.bound_sites} site{env.bound_sites === 1 ? '' : 's'}.
        </p>
        <Button variant="primary" disabled={!canWrite} title={title} onClick={() => setEditing(true)}>Add or update secrets</Button>
      </div>
      <ErrorNote error={own.error ?? reveal.error} />
      <h2>Set in {env.name}</h2>
      {!own.data ? <Skeleton rows={2} height={44} /> : own.data.length === 0 ? <p className="muted" data-testid="no-secrets">No secrets set in {env.name}.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Updated</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{own.data.map((s) => (
              <tr key={s.name} data-secret={s.name}>
                <td className="mono">{s.name}</td>
                {valueCell(s.name)}
                <td className="nowrap">{fmtDate(s.updated_at)}</td>
                <td className="right"><Button variant="danger" disabled={!canWrite} title={title} onClick={() => setDeleting(s.name)} aria-label={`Delete ${s.name}`}>Delete</Button></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <h2>Resolved for {env.name}</h2>
      <p className="muted small">What a function or site bound to {env.name} reads: each name with the environment its value comes from.</p>
      <ErrorNote error={resolved.error} />
      {!resolved.data ? <Skeleton rows={2} height={44} /> : resolved.data.secrets.length === 0 ? <p className="muted">Nothing resolves in {env.name}.</p> : (
        <div className="table-wrap">
          <table className="table" data-testid="resolved">
            <thead><tr><th scope="col">Name</th><th scope="col">From</th><th scope="col">Updated</th></tr></thead>
            <tbody>{resolved.data.secrets.map((s) => (
              <tr key={s.name} data-resolved={s.name}>
                <td className="mono">{s.name}</td>
                <td><span className={`status ${s.environment === env.name ? 'ok' : 'muted'}`} data-from={s.environment}>{s.environment}</span></td>
                <td className="nowrap">{fmtDate(s.updated_at)}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <EditSecrets open={editing} onClose={() => setEditing(false)} env={env.name} path={`${base}/secrets`} onDone={() => { setRevealed({}); reload(); }} />
      <Confirm open={!!deleting} title={`Delete ${deleting ?? ''}`} message={<>Delete the secret <code>{deleting}</code> from {env.name}? Functions and sites bound here read the fallback's value, if any.</>}
        action={() => api('DELETE', `${base}/secrets/${encodeURIComponent(deleting!)}`)} onClose={() => setDeleting(undefined)}
        onDone={() => { if (deleting) hide(deleting); reload(); }} />
    </div>
  );
}

/** Several secrets at once, one PUT (all of them or none). */
function EditSecrets({ open, onClose, env, path, onDone }: { open: boolean; onClose: () => void; env: string; path: string; onDone: () => void }) {
  const [rows, setRows] = useState([{ name: '', value: '' }]);
  const save = useAction(async () => {
    await api('PUT', path, rows.filter((r) => r.name.trim()).map((r) => ({ name: r.name.trim(), value: r.value })));
    close(); onDone();
  });
  const set = (i: number, k: 'name' | 'value', v: string) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  // Typed values are not kept once the dialog closes.
  const close = () => { setRows([{ name: '', value: '' }]); save.clear(); onClose(); };
  return (
    <Modal title={`Add or update secrets in ${env}`} open={open} onClose={close} wide>
      <form onSubmit={(e) => { e.preventDefault(); save.run(); }}>
        {rows.map((r, i) => (
          <div key={i} className="inline-form">
            <Field label={`Name ${i + 1}`}>{(id) => <input id={id} className="mono" value={r.name} required={i === 0} maxLength={256} autoComplete="off" spellCheck={false} onChange={(e) => set(i, 'name', e.target.value)} />}</Field>
            <Field label={`Value ${i + 1}`}>{(id) => <input id={id} type="password" value={r.value} autoComplete="new-password" onChange={(e) => set(i, 'value', e.target.value)} />}</Field>
            {rows.length > 1 ? <Button onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove row ${i + 1}`}>Remove</Button> : null}
          </div>
        ))}
        <p><button type="button" className="linkish" onClick={() => setRows([...rows, { name: '', value: '' }])}>+ Another secret</button></p>
        <p className="muted small">A name already set in {env} gets the new value.</p>
        <ErrorNote error={save.error} />
        <div className="row end">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={save.busy}>Save</Button>
        </div>
      </form>
    </Modal>
  );
}

function Bindings({ project, onChange }: { project: Project; onChange: () => void }) {
  const ref = project.ref;
  const { canWrite, title } = useSecretsRole(project);
  const bindings = useAsync(() => api<Binding[]>('GET', `/projects/${ref}/secret-bindings`), [ref]);
  const sites = useAsync(() => api<Site[]>('GET', `/projects/${ref}/sites`).catch(() => [] as Site[]), [ref]);
  const bind = useAction(async (b: Binding, env: string) => {
    const path = `/projects/${ref}/secret-bindings/${b.kind}/${encodeURIComponent(b.target)}`;
    if (env) await api('PUT', path, { environment: env }); else await api('DELETE', path);
    bindings.reload(); onChange();
  });
  const label = (b: Binding) => {
    if (b.kind === 'functions') return b.target;
    const s = sites.data?.find((x) => x.id === b.target);
    return s ? (s.name ?? s.subdomain) : b.target;
  };
  return (
    <>
      <h2>Bindings</h2>
      <p className="muted small">The environment each function reads at run time (production unless bound) and each site build reads (none unless bound).</p>
      <ErrorNote error={bindings.error ?? bind.error} />
      {!bindings.data ? <Skeleton rows={2} height={44} /> : bindings.data.length === 0 ? <p className="muted" data-testid="no-bindings">No functions or sites yet.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Environment</th><th scope="col">Bound</th></tr></thead>
            <tbody>{bindings.data.map((b) => (
              <tr key={`${b.kind}/${b.target}`} data-binding={`${b.kind}/${b.target}`}>
                <td>{b.kind === 'functions' ? 'function' : 'site'}</td>
                <td className="mono">{label(b)}</td>
                <td>
                  <select aria-label={`Environment of ${b.kind === 'functions' ? 'function' : 'site'} ${label(b)}`} value={b.updated_at ? b.environment ?? '' : ''} disabled={!canWrite || bind.busy} title={title}
                    onChange={(e) => bind.run(b, e.target.value)}>
                    <option value="">{b.kind === 'sites' ? 'none' : 'production (default)'}</option>
                    {['production', 'staging', 'development'].map((e) => <option key={e} value={e}>{e}</option>)}
                  </select>
                </td>
                <td className="nowrap">{b.updated_at ? fmtDate(b.updated_at) : <span className="muted">default</span>}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
