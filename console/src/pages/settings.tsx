// Project settings: the REST API (exposed schemas, max rows), auth (/config/auth) and storage (/config/storage).
import { useEffect, useState } from 'react';
import { api, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useCanWrite } from '../context.tsx';
import { Button, ErrorNote, Field, Skeleton, Tabs, useAction, useAsync } from '../ui.tsx';

export function SettingsPage({ project }: { project: Project }) {
  const [tab, setTab] = useState('api');
  return (
    <section>
      <header className="page-head"><h1>Settings</h1></header>
      <Tabs value={tab} onChange={setTab} tabs={[{ id: 'api', label: 'API' }, { id: 'auth', label: 'Auth' }, { id: 'storage', label: 'Storage' }]} />
      {tab === 'api' ? <ApiSettings project={project} /> : tab === 'auth' ? <AuthSettings project={project} /> : <StorageSettings project={project} />}
    </section>
  );
}

function SaveRow({ canWrite, busy, saved }: { canWrite: boolean; busy: boolean; saved: boolean }) {
  return (
    <div className="row end">
      {saved ? <span className="ok" role="status">Saved</span> : null}
      <Button type="submit" variant="primary" busy={busy} disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE}>Save</Button>
    </div>
  );
}

function ApiSettings({ project }: { project: Project }) {
  const canWrite = useCanWrite(project.organization_slug);
  const cfg = useAsync(() => api('GET', `/projects/${project.ref}/postgrest`), [project.ref]);
  const [schemas, setSchemas] = useState(''), [extra, setExtra] = useState(''), [maxRows, setMaxRows] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (cfg.data) { setSchemas(cfg.data.db_schema); setExtra(cfg.data.db_extra_search_path); setMaxRows(cfg.data.max_rows == null ? '' : String(cfg.data.max_rows)); } }, [cfg.data]);
  const save = useAction(async () => {
    await api('PATCH', `/projects/${project.ref}/postgrest`, { db_schema: schemas, db_extra_search_path: extra, max_rows: maxRows === '' ? null : Number(maxRows) });
    setSaved(true); cfg.reload();
  });
  if (!cfg.data) return <><ErrorNote error={cfg.error} /><Skeleton rows={3} height={58} /></>;
  return (
    <form className="card" onSubmit={(e) => { e.preventDefault(); setSaved(false); save.run(); }}>
      <Field label="Exposed schemas" hint="Comma-separated; the REST and GraphQL APIs serve these">{(id) => <input id={id} value={schemas} onChange={(e) => setSchemas(e.target.value)} disabled={!canWrite} />}</Field>
      <Field label="Extra search path">{(id) => <input id={id} value={extra} onChange={(e) => setExtra(e.target.value)} disabled={!canWrite} />}</Field>
      <Field label="Max rows" hint="The most rows a REST response carries (empty: no limit)">{(id) => <input id={id} type="number" min={1} value={maxRows} onChange={(e) => setMaxRows(e.target.value)} disabled={!canWrite} />}</Field>
      <ErrorNote error={save.error} />
      <SaveRow canWrite={canWrite} busy={save.busy} saved={saved} />
    </form>
  );
}

// The auth settings people change most, as a form; the rest as JSON (every field of Supabase's /config/auth).
const AUTH_FIELDS: { key: string; label: string; kind: 'text' | 'bool' | 'int' }[] = [
  { key: 'site_url', label: 'Site URL', kind: 'text' },
  { key: 'uri_allow_list', label: 'Redirect URLs (comma-separated)', kind: 'text' },
  { key: 'disable_signup', label: 'Disable sign-ups', kind: 'bool' },
  { key: 'external_email_enabled', label: 'Email provider enabled', kind: 'bool' },
  { key: 'mailer_autoconfirm', label: 'Confirm emails automatically', kind: 'bool' },
  { key: 'external_anonymous_users_enabled', label: 'Anonymous sign-ins', kind: 'bool' },
  { key: 'jwt_exp', label: 'JWT expiry (seconds)', kind: 'int' },
  { key: 'password_min_length', label: 'Minimum password length', kind: 'int' },
];

function AuthSettings({ project }: { project: Project }) {
  const canWrite = useCanWrite(project.organization_slug);
  const cfg = useAsync(() => api<Record<string, unknown>>('GET', `/projects/${project.ref}/config/auth`), [project.ref]);
  const [draft, setDraft] = useState<Record<string, unknown>>({});
  const [json, setJson] = useState('');
  const [jsonError, setJsonError] = useState<Error>();
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (cfg.data) { setDraft({}); setJson(JSON.stringify(cfg.data, null, 2)); } }, [cfg.data]);
  const save = useAction(async (body: Record<string, unknown>) => { await api('PATCH', `/projects/${project.ref}/config/auth`, body); setSaved(true); cfg.reload(); });
  if (!cfg.data) return <><ErrorNote error={cfg.error} /><Skeleton rows={6} height={58} /></>;
  const value = (k: string) => (k in draft ? draft[k] : cfg.data![k]);
  return (
    <>
      <form className="card" onSubmit={(e) => { e.preventDefault(); setSaved(false); save.run(draft); }}>
        {AUTH_FIELDS.filter((f) => f.key in cfg.data!).map((f) => (
          <Field key={f.key} label={f.label}>{(id) => f.kind === 'bool'
            ? <input id={id} type="checkbox" checked={!!value(f.key)} disabled={!canWrite} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.checked })} />
            : <input id={id} type={f.kind === 'int' ? 'number' : 'text'} value={String(value(f.key) ?? '')} disabled={!canWrite}
                onChange={(e) => setDraft({ ...draft, [f.key]: f.kind === 'int' ? (e.target.value === '' ? null : Number(e.target.value)) : e.target.value })} />}
          </Field>
        ))}
        <ErrorNote error={save.error} />
        <SaveRow canWrite={canWrite} busy={save.busy} saved={saved} />
      </form>
      <details className="card">
        <summary>All settings (JSON)</summary>
        <form onSubmit={(e) => {
          e.preventDefault(); setSaved(false);
          let parsed: Record<string, unknown>;
          try { parsed = JSON.parse(json); setJsonError(undefined); } catch (err) { setJsonError(err as Error); return; }
          const changed = Object.fromEntries(Object.entries(parsed).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(cfg.data![k])));
          save.run(changed);
        }}>
          <ErrorNote error={jsonError} />
          <Field label="Auth configuration">{(id) => <textarea id={id} className="mono" rows={16} value={json} onChange={(e) => setJson(e.target.value)} disabled={!canWrite} />}</Field>
          <SaveRow canWrite={canWrite} busy={save.busy} saved={saved} />
        </form>
      </details>
    </>
  );
}

function StorageSettings({ project }: { project: Project }) {
  const canWrite = useCanWrite(project.organization_slug);
  const cfg = useAsync(() => api('GET', `/projects/${project.ref}/config/storage`), [project.ref]);
  const [limitMb, setLimitMb] = useState(''), [transforms, setTransforms] = useState(false);
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (cfg.data) { setLimitMb(String(Math.round(cfg.data.fileSizeLimit / 1024 / 1024))); setTransforms(!!cfg.data.features?.imageTransformation?.enabled); } }, [cfg.data]);
  const save = useAction(async () => {
    await api('PATCH', `/projects/${project.ref}/config/storage`, { fileSizeLimit: Math.round(Number(limitMb) * 1024 * 1024), features: { imageTransformation: { enabled: transforms } } });
    setSaved(true); cfg.reload();
  });
  if (!cfg.data) return <><ErrorNote error={cfg.error} /><Skeleton rows={2} height={58} /></>;
  return (
    <form className="card" onSubmit={(e) => { e.preventDefault(); setSaved(false); save.run(); }}>
      <Field label="Upload size limit (MB)">{(id) => <input id={id} type="number" min={1} value={limitMb} onChange={(e) => setLimitMb(e.target.value)} disabled={!canWrite} />}</Field>
      <Field label="Image transformations">{(id) => <input id={id} type="checkbox" checked={transforms} onChange={(e) => setTransforms(e.target.checked)} disabled={!canWrite} />}</Field>
      <ErrorNote error={save.error} />
      <SaveRow canWrite={canWrite} busy={save.busy} saved={saved} />
    </form>
  );
}
