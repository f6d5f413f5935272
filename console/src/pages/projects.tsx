// Projects: the list with status, creating one (organization, region, plan), and a project's home page with its
// connection strings, API keys (revealed on click), pause/restore and deletion.
import { useEffect, useState } from 'react';
import { api, projectBase, projectKeys, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useAccount, useCanWrite } from '../context.tsx';
import { Link, navigate } from '../router.tsx';
import { Button, Confirm, Copyable, ErrorNote, Field, Modal, Progress, Secret, Skeleton, fmtDate, useAction, useAsync } from '../ui.tsx';

export function StatusBadge({ status }: { status: string }) {
  const cls = status === 'ACTIVE_HEALTHY' ? 'ok' : /COMING_UP|RESTORING|PAUSING|GOING_DOWN/.test(status) ? 'warn' : status === 'INACTIVE' ? 'muted' : 'bad';
  const label = { ACTIVE_HEALTHY: 'Healthy', COMING_UP: 'Coming up', INACTIVE: 'Paused', RESTORING: 'Restoring', PAUSING: 'Pausing' }[status] ?? status;
  return <span className={`status ${cls}`} data-status={status}>{label}</span>;
}

export function ProjectsPage() {
  const { orgs, roles } = useAccount();
  const projects = useAsync(() => api<Project[]>('GET', '/projects'), []);
  const [creating, setCreating] = useState(false);
  // Projects on their way somewhere are polled until they arrive.
  const moving = projects.data?.some((p) => /COMING_UP|RESTORING|PAUSING|GOING_DOWN/.test(p.status));
  useEffect(() => { if (!moving) return; const t = setInterval(projects.reload, 1500); return () => clearInterval(t); }, [moving, projects.reload]);
  const anyWritable = orgs.some((o) => roles[o.slug] !== 'Read-only');
  return (
    <section>
      <header className="page-head">
        <div><h1>Projects</h1><p className="muted">{orgs.length} organization{orgs.length === 1 ? '' : 's'}</p></div>
        <Button variant="primary" disabled={!anyWritable} title={anyWritable ? undefined : READ_ONLY_TITLE} onClick={() => setCreating(true)}>New project</Button>
      </header>
      <ErrorNote error={projects.error} />
      {!projects.data ? <div className="grid-cards">{[0, 1, 2].map((i) => <div key={i} className="card project-card skeleton" />)}</div> : (
        projects.data.length === 0 ? <p className="muted">No projects yet.</p> : (
          <div className="grid-cards">
            {projects.data.map((p) => (
              <Link key={p.ref} to={`/p/${p.ref}`} className="card project-card" aria-label={`Project ${p.name}`}>
                <div className="row between"><strong>{p.name}</strong><StatusBadge status={p.status} /></div>
                <div className="muted mono">{p.ref}</div>
                <div className="muted">{p.organization_slug} · {p.region} · Postgres {p.database.version}</div>
              </Link>
            ))}
          </div>
        )
      )}
      <NewProject open={creating} onClose={() => setCreating(false)} />
    </section>
  );
}

function NewProject({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { orgs, roles } = useAccount();
  const writable = orgs.filter((o) => roles[o.slug] !== 'Read-only');
  const regions = useAsync(() => (open ? api<{ id: string; name: string }[]>('GET', '/regions') : Promise.resolve([])), [open]);
  const plans = useAsync(() => (open ? api<{ id: string; name: string }[]>('GET', '/plans') : Promise.resolve([])), [open]);
  const [name, setName] = useState(''), [org, setOrg] = useState(''), [region, setRegion] = useState(''), [plan, setPlan] = useState('');
  const [pass, setPass] = useState(() => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join(''));
  const a = useAction(async () => {
    const p = await api<Project>('POST', '/projects', {
      name, organization_slug: org || writable[0]?.slug, db_pass: pass,
      ...(region ? { region } : {}), ...(plan ? { plan } : {}),
    });
    onClose();
    navigate(`/p/${p.ref}`);
  });
  return (
    <Modal title="New project" open={open} onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Name">{(id) => <input id={id} required maxLength={256} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Organization">{(id) => (
          <select id={id} value={org} onChange={(e) => setOrg(e.target.value)}>{writable.map((o) => <option key={o.slug} value={o.slug}>{o.name}</option>)}</select>
        )}</Field>
        <Field label="Region">{(id) => (
          <select id={id} value={region} onChange={(e) => setRegion(e.target.value)}>
            <option value="">Default</option>{(regions.data ?? []).map((r) => <option key={r.id} value={r.id}>{r.name} ({r.id})</option>)}
          </select>
        )}</Field>
        <Field label="Plan" hint="Limits come from the organization's plan">{(id) => (
          <select id={id} value={plan} onChange={(e) => setPlan(e.target.value)}>
            <option value="">Organization's plan</option>{(plans.data ?? []).map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        )}</Field>
        <Field label="Database password" hint="For psql as the project's owner; keep it somewhere safe">{(id) => <input id={id} className="mono" required minLength={8} value={pass} onChange={(e) => setPass(e.target.value)} />}</Field>
        <ErrorNote error={a.error} />
        <div className="row end"><Button type="submit" variant="primary" busy={a.busy}>Create project</Button></div>
      </form>
    </Modal>
  );
}

export function ProjectHome({ project, reload }: { project: Project; reload: () => void }) {
  const canWrite = useCanWrite(project.organization_slug);
  const [confirm, setConfirm] = useState<'pause' | 'restore' | 'delete'>();
  const host = project.database.host === 'localhost' ? location.hostname : project.database.host;
  const port = project.database.port ?? 5432;
  const conn = `postgresql://${project.database.user}:[YOUR-PASSWORD]@${host}:${port}/${project.database.name}`;
  const health = useAsync(() => api<{ name: string; healthy: boolean; status: string }[]>('GET', `/projects/${project.ref}/health`), [project.ref, project.status]);
  const busy = /COMING_UP|RESTORING|PAUSING|GOING_DOWN/.test(project.status);
  const keys = useAsync(() => projectKeys(project.ref).catch(() => undefined), [project.ref, project.status]);
  return (
    <section>
      <header className="page-head">
        <div><h1>{project.name}</h1><p className="muted mono">{project.ref} · {project.region} · created {fmtDate(project.created_at)}</p></div>
        <div className="row">
          {project.status === 'INACTIVE'
            ? <Button disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setConfirm('restore')}>Restore</Button>
            : <Button disabled={!canWrite || busy} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setConfirm('pause')}>Pause</Button>}
          <Button variant="danger" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setConfirm('delete')}>Delete project</Button>
        </div>
      </header>
      <div className="card">
        <h2>Status</h2>
        <div className="row"><StatusBadge status={project.status} />{busy ? <Progress value={undefined} label="Working" /> : null}</div>
        <div className="services">
          {health.data ? health.data.map((s) => <span key={s.name} className={`status ${s.healthy ? 'ok' : 'warn'}`}>{s.name}</span>)
            : ['auth', 'db', 'rest', 'storage'].map((s) => <span key={s} className="status muted">{s}</span>)}
        </div>
      </div>
      <div className="card">
        <h2>Connect</h2>
        <Field label="Project URL">{() => <Copyable label="Project URL" value={projectBase(project.ref)} />}</Field>
        <Field label="Connection string (psql)">{() => <Copyable label="Connection string" value={conn} />}</Field>
        {keys.data?.publishable ? <Field label="Publishable key (public)">{() => <Copyable label="publishable key" value={keys.data!.publishable!} />}</Field> : null}
        <Field label="anon key (public, legacy)">{() => <Secret label="anon key" load={async () => (await projectKeys(project.ref)).anon ?? 'legacy keys are off'} />}</Field>
        <Field label="service_role key (secret: bypasses RLS)">{() => <Secret label="service_role key" load={async () => (await projectKeys(project.ref)).service ?? 'not available to your role, or legacy keys are off'} />}</Field>
        <p className="muted small">Secret keys (sb_secret_…) are for servers: list and create them with the Management API (<code>/v1/projects/{project.ref}/api-keys</code>).</p>
      </div>
      <Confirm open={confirm === 'pause'} title="Pause project" message="The project's APIs stop answering until it is restored. Its data is kept."
        action={() => api('POST', `/projects/${project.ref}/pause`)} onClose={() => setConfirm(undefined)} onDone={reload} />
      <Confirm open={confirm === 'restore'} title="Restore project" message="The project's APIs answer again."
        action={() => api('POST', `/projects/${project.ref}/restore`)} onClose={() => setConfirm(undefined)} onDone={reload} />
      <Confirm open={confirm === 'delete'} title="Delete project" typed={project.name}
        message={<>This deletes the database, files and keys of <strong>{project.name}</strong>. It cannot be undone.</>}
        action={() => api('DELETE', `/projects/${project.ref}`)} onClose={() => setConfirm(undefined)} onDone={() => navigate('/')} />
    </section>
  );
}

export function ProjectSkeleton() { return <section><Skeleton rows={1} height={56} /><Skeleton rows={4} height={48} /></section>; }
