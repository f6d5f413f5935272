// Edge functions and sites of a project: lists and deploys, read from the Management API.
import { useState } from 'react';
import { api, type Project } from '../api.ts';
import { Button, ErrorNote, Skeleton, fmtDate, useAsync } from '../ui.tsx';

interface Fn { id: string; slug: string; name: string; status: string; version: number; verify_jwt?: boolean; created_at: number | string; updated_at: number | string }
interface Site { id: string; name?: string; subdomain: string; url?: string; live_deploy_id?: string | null; created_at?: string }
interface Deploy { id: string; state?: string; status?: string; label?: string | null; created_at: string; file_count?: number; size?: number }

export function FunctionsPage({ project }: { project: Project }) {
  const fns = useAsync(() => api<Fn[]>('GET', `/projects/${project.ref}/functions`), [project.ref]);
  return (
    <section>
      <header className="page-head"><div><h1>Edge functions</h1><p className="muted">Deploy with <code>supabase functions deploy</code> against this Loam.</p></div></header>
      <ErrorNote error={fns.error} />
      {!fns.data ? <Skeleton rows={3} height={40} /> : fns.data.length === 0 ? <p className="muted">No functions deployed.</p> : (
        <table className="table">
          <thead><tr><th scope="col">Name</th><th scope="col">Slug</th><th scope="col">Status</th><th scope="col">Version</th><th scope="col">JWT</th><th scope="col">Updated</th></tr></thead>
          <tbody>{fns.data.map((f) => (
            <tr key={f.id}><td>{f.name}</td><td className="mono">{f.slug}</td><td>{f.status}</td><td>{f.version}</td><td>{f.verify_jwt ? 'verified' : 'off'}</td><td>{fmtDate(f.updated_at)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

export function SitesPage({ project }: { project: Project }) {
  const sites = useAsync(() => api<Site[]>('GET', `/projects/${project.ref}/sites`), [project.ref]);
  const [open, setOpen] = useState<string>();
  return (
    <section>
      <header className="page-head"><div><h1>Sites</h1><p className="muted">Static sites served by this project.</p></div></header>
      <ErrorNote error={sites.error} />
      {!sites.data ? <Skeleton rows={3} height={40} /> : sites.data.length === 0 ? <p className="muted">No sites.</p> : (
        <ul className="findings">{sites.data.map((s) => (
          <li key={s.id} className="card">
            <div className="row between">
              <strong>{s.name ?? s.subdomain}</strong>
              {s.url ? <a href={s.url} target="_blank" rel="noreferrer noopener">{s.url}</a> : null}
            </div>
            <Button onClick={() => setOpen(open === s.id ? undefined : s.id)} aria-expanded={open === s.id}>Deploys</Button>
            {open === s.id ? <Deploys project={project} site={s} /> : null}
          </li>
        ))}</ul>
      )}
    </section>
  );
}

function Deploys({ project, site }: { project: Project; site: Site }) {
  const deploys = useAsync(() => api<Deploy[]>('GET', `/projects/${project.ref}/sites/${site.id}/deploys`), [project.ref, site.id]);
  if (!deploys.data) return <><ErrorNote error={deploys.error} /><Skeleton rows={2} height={32} /></>;
  return (
    <table className="table compact">
      <thead><tr><th scope="col">Deploy</th><th scope="col">State</th><th scope="col">Label</th><th scope="col">Created</th></tr></thead>
      <tbody>{deploys.data.map((d) => (
        <tr key={d.id}><td className="mono">{d.id}{d.id === site.live_deploy_id ? <span className="badge">live</span> : null}</td><td>{d.state ?? d.status}</td><td>{d.label ?? ''}</td><td>{fmtDate(d.created_at)}</td></tr>
      ))}</tbody>
    </table>
  );
}
