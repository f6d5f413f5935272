// A project's email service: sending domains with the DNS records to publish and their verification, send-only
// API keys and webhooks (each secret shown once, held in this page's state only), the recent emails with their
// events, and the counts per day.
import { useState } from 'react';
import { api, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useCanWrite, useHasRole } from '../context.tsx';
import { Button, Confirm, Copyable, ErrorNote, Field, Modal, Skeleton, Tabs, fmtDate, useAction, useAsync } from '../ui.tsx';

interface DnsRecord { purpose: string; type: string; name: string; value: string; priority?: number; status: string }
interface Domain { id: string; domain: string; status: string; records: DnsRecord[]; created_at: string; last_checked_at: string | null; verified_at: string | null }
interface EmailKey { id: string; name: string; key_prefix: string; created_at: string; last_used_at: string | null; key?: string }
interface Webhook { id: string; url: string; events: string[]; created_at: string; secret?: string }
interface Delivery { id: number; event_id: number; type: string; email_id: string; at: string; status: string; attempts: number; response_status: number | null; last_error: string | null; delivered_at: string | null }
interface EmailEvent { type: string; at: string; detail: string | null }
interface Email {
  id: string; from_address: string; to_addresses: string[]; subject: string; status: string; attempts: number; last_error: string | null;
  message_id: string | null; idempotency_key: string | null; created_at: string; sent_at: string | null; events: EmailEvent[];
}
interface DayStats { day: string; queued: number; sent: number; bounced: number; failed: number }

const EVENTS = ['queued', 'sent', 'bounced', 'failed'];
const statusClass = (s: string) => (/verified|sent|delivered/.test(s) ? 'ok' : /fail|bounced|not_found/.test(s) ? 'bad' : 'warn');

/** Domains, keys and webhooks are project settings in the API's roles (Administrator and above). */
function useEmailRole(project: Project): { canWrite: boolean; title: string | undefined } {
  const notReadOnly = useCanWrite(project.organization_slug);
  const canWrite = useHasRole(project.organization_slug, 'Administrator');
  return { canWrite, title: canWrite ? undefined : notReadOnly ? 'Email settings need the Administrator role or higher' : READ_ONLY_TITLE };
}

export function EmailPage({ project }: { project: Project }) {
  const [tab, setTab] = useState('domains');
  return (
    <section>
      <header className="page-head">
        <div><h1>Email</h1><p className="muted">Send from your own domains with <code>POST /v1/projects/{project.ref}/emails</code> and a send-only key.</p></div>
      </header>
      <Tabs tabs={[{ id: 'domains', label: 'Domains' }, { id: 'keys', label: 'API keys' }, { id: 'webhooks', label: 'Webhooks' }, { id: 'emails', label: 'Emails' }]} value={tab} onChange={setTab} />
      {tab === 'domains' ? <Domains project={project} /> : tab === 'keys' ? <Keys project={project} /> : tab === 'webhooks' ? <Webhooks project={project} /> : <Emails project={project} />}
    </section>
  );
}

function Domains({ project }: { project: Project }) {
  const base = `/projects/${project.ref}/email/domains`;
  const { canWrite, title } = useEmailRole(project);
  const list = useAsync(() => api<Domain[]>('GET', base), [base]);
  const [name, setName] = useState('');
  const add = useAction(async () => { await api('POST', base, { domain: name }); setName(''); list.reload(); });
  const verify = useAction(async (id: string) => { await api('POST', `${base}/${id}/verify`); list.reload(); });
  const [deleting, setDeleting] = useState<Domain>();
  return (
    <>
      <form className="card inline-form" onSubmit={(e) => { e.preventDefault(); add.run(); }}>
        <Field label="Domain">{(id) => <input id={id} value={name} required maxLength={200} placeholder="mail.example.com" onChange={(e) => setName(e.target.value)} disabled={!canWrite} />}</Field>
        <Button type="submit" variant="primary" busy={add.busy} disabled={!canWrite} title={title}>Add domain</Button>
      </form>
      <ErrorNote error={add.error ?? list.error ?? verify.error} />
      {!list.data ? <Skeleton rows={2} height={60} /> : list.data.length === 0 ? <p className="muted" data-testid="no-domains">No sending domains.</p> : list.data.map((d) => (
        <div key={d.id} className="card" data-domain={d.domain}>
          <div className="row between">
            <div className="row"><strong>{d.domain}</strong><span className={`status ${statusClass(d.status)}`} data-status={d.status}>{d.status}</span>
              <span className="muted small">{d.last_checked_at ? `checked ${fmtDate(d.last_checked_at)}` : 'not checked yet'}</span></div>
            <div className="row">
              <Button busy={verify.busy} disabled={!canWrite} title={title} onClick={() => verify.run(d.id)} aria-label={`Verify ${d.domain}`}>Verify</Button>
              <Button variant="danger" disabled={!canWrite} title={title} onClick={() => setDeleting(d)} aria-label={`Delete ${d.domain}`}>Delete</Button>
            </div>
          </div>
          <p className="muted small">Publish these records at your DNS provider, then verify.</p>
          <div className="records" role="table" aria-label={`DNS records of ${d.domain}`}>
            <div className="records-row head" role="row"><span role="columnheader">Type</span><span role="columnheader">Name</span><span role="columnheader">Value</span><span role="columnheader">Status</span></div>
            {d.records.map((r) => (
              <div key={`${r.purpose}-${r.type}`} className="records-row" role="row" data-record={r.purpose}>
                <span role="cell" className="mono">{r.type}{r.priority !== undefined ? <span className="muted"> {r.priority}</span> : null}</span>
                <span role="cell"><Copyable value={r.name} label={`${r.purpose} record name`} /></span>
                <span role="cell"><Copyable value={r.value} label={`${r.purpose} record value`} /></span>
                <span role="cell"><span className={`status ${statusClass(r.status)}`}>{r.status}</span></span>
              </div>
            ))}
          </div>
        </div>
      ))}
      <Confirm open={!!deleting} title={`Delete ${deleting?.domain ?? ''}`} message={<>Delete the sending domain <strong>{deleting?.domain}</strong>? Emails from it are refused afterwards.</>}
        action={() => api('DELETE', `${base}/${deleting!.id}`)} onClose={() => setDeleting(undefined)} onDone={list.reload} />
    </>
  );
}

function Keys({ project }: { project: Project }) {
  const base = `/projects/${project.ref}/email/api-keys`;
  const { canWrite, title } = useEmailRole(project);
  const list = useAsync(() => api<EmailKey[]>('GET', base), [base]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<EmailKey>();
  const create = useAction(async () => { setCreated(await api<EmailKey>('POST', base, { name })); setName(''); list.reload(); });
  const [deleting, setDeleting] = useState<EmailKey>();
  return (
    <>
      <form className="card inline-form" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
        <Field label="Key name">{(id) => <input id={id} value={name} required maxLength={256} onChange={(e) => setName(e.target.value)} disabled={!canWrite} />}</Field>
        <Button type="submit" variant="primary" busy={create.busy} disabled={!canWrite} title={title}>Create key</Button>
      </form>
      <ErrorNote error={create.error ?? list.error} />
      {created?.key ? (
        <div className="card notice" data-testid="new-email-key">
          <p><strong>{created.name}</strong>: copy this key now. It is shown once and cannot be read again.</p>
          <Copyable value={created.key} label="New email API key" />
          <div className="row end"><Button onClick={() => setCreated(undefined)}>Done</Button></div>
        </div>
      ) : null}
      {!list.data ? <Skeleton rows={2} height={44} /> : list.data.length === 0 ? <p className="muted" data-testid="no-keys">No email API keys.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{list.data.map((k) => (
              <tr key={k.id} data-key={k.name}>
                <td>{k.name}</td><td className="mono">{k.key_prefix}…</td><td className="mono small">emails:send</td>
                <td className="nowrap">{fmtDate(k.created_at)}</td><td className="nowrap">{fmtDate(k.last_used_at)}</td>
                <td className="right"><Button variant="danger" disabled={!canWrite} title={title} onClick={() => setDeleting(k)} aria-label={`Delete key ${k.name}`}>Delete</Button></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <Confirm open={!!deleting} title={`Delete key ${deleting?.name ?? ''}`} message="Delete this key? Senders using it are refused at once."
        action={() => api('DELETE', `${base}/${deleting!.id}`)} onClose={() => setDeleting(undefined)} onDone={list.reload} />
    </>
  );
}

function Webhooks({ project }: { project: Project }) {
  const base = `/projects/${project.ref}/email/webhooks`;
  const { canWrite, title } = useEmailRole(project);
  const list = useAsync(() => api<Webhook[]>('GET', base), [base]);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(EVENTS);
  const [created, setCreated] = useState<Webhook>();
  const create = useAction(async () => { setCreated(await api<Webhook>('POST', base, { url, events })); setUrl(''); list.reload(); });
  const [deleting, setDeleting] = useState<Webhook>();
  const [open, setOpen] = useState<string>();
  return (
    <>
      <form className="card inline-form" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
        <Field label="Endpoint URL">{(id) => <input id={id} type="url" value={url} required maxLength={2048} placeholder="https://example.com/hooks/email" onChange={(e) => setUrl(e.target.value)} disabled={!canWrite} />}</Field>
        <fieldset className="row">
          <legend className="sr-only">Events</legend>
          {EVENTS.map((ev) => (
            <label key={ev} className="toggle"><input type="checkbox" checked={events.includes(ev)} disabled={!canWrite}
              onChange={(e) => setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev))} /> {ev}</label>
          ))}
        </fieldset>
        <Button type="submit" variant="primary" busy={create.busy} disabled={!canWrite || events.length === 0} title={title}>Add webhook</Button>
      </form>
      <ErrorNote error={create.error ?? list.error} />
      {created?.secret ? (
        <div className="card notice" data-testid="new-webhook-secret">
          <p>The signing secret of <span className="mono">{created.url}</span>: copy it now. It is shown once.</p>
          <Copyable value={created.secret} label="New webhook signing secret" />
          <div className="row end"><Button onClick={() => setCreated(undefined)}>Done</Button></div>
        </div>
      ) : null}
      {!list.data ? <Skeleton rows={2} height={44} /> : list.data.length === 0 ? <p className="muted" data-testid="no-webhooks">No webhooks.</p> : list.data.map((w) => (
        <div key={w.id} className="card" data-webhook={w.url}>
          <div className="row between">
            <div className="cell-text"><span className="mono">{w.url}</span> <span className="muted small">{w.events.join(', ')}</span></div>
            <div className="row">
              <Button onClick={() => setOpen(open === w.id ? undefined : w.id)} aria-expanded={open === w.id}>Deliveries</Button>
              <Button variant="danger" disabled={!canWrite} title={title} onClick={() => setDeleting(w)} aria-label={`Delete webhook ${w.url}`}>Delete</Button>
            </div>
          </div>
          {open === w.id ? <Deliveries path={`${base}/${w.id}/deliveries`} /> : null}
        </div>
      ))}
      <Confirm open={!!deleting} title="Delete webhook" message={<>Stop sending events to <span className="mono">{deleting?.url}</span>?</>}
        action={() => api('DELETE', `${base}/${deleting!.id}`)} onClose={() => setDeleting(undefined)} onDone={list.reload} />
    </>
  );
}

function Deliveries({ path }: { path: string }) {
  const list = useAsync(() => api<Delivery[]>('GET', path), [path]);
  if (!list.data) return <><ErrorNote error={list.error} /><Skeleton rows={2} height={32} /></>;
  if (list.data.length === 0) return <p className="muted">No deliveries yet.</p>;
  return (
    <div className="table-wrap">
      <table className="table compact">
        <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Answer</th><th scope="col">At</th></tr></thead>
        <tbody>{list.data.map((d) => (
          <tr key={d.id}><td>{d.type}</td><td><span className={`status ${statusClass(d.status)}`}>{d.status}</span></td><td>{d.attempts}</td>
            <td>{d.response_status ?? ''}{d.last_error ? <span className="muted small"> {d.last_error}</span> : null}</td><td className="nowrap">{fmtDate(d.delivered_at ?? d.at)}</td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}

function Emails({ project }: { project: Project }) {
  const ref = project.ref;
  const stats = useAsync(() => api<DayStats[]>('GET', `/projects/${ref}/email/stats?days=7`), [ref]);
  const list = useAsync(() => api<Email[]>('GET', `/projects/${ref}/emails?limit=50`), [ref]);
  const [open, setOpen] = useState<Email>();
  return (
    <>
      <h2>Last 7 days</h2>
      <ErrorNote error={stats.error} />
      {!stats.data ? <Skeleton rows={2} height={32} /> : (
        <div className="table-wrap">
          <table className="table compact" data-testid="email-stats">
            <thead><tr><th scope="col">Day</th>{EVENTS.map((e) => <th key={e} scope="col">{e}</th>)}</tr></thead>
            <tbody>{stats.data.map((d) => <tr key={d.day}><td className="nowrap">{d.day}</td><td>{d.queued}</td><td>{d.sent}</td><td>{d.bounced}</td><td>{d.failed}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      <div className="row between"><h2>Recent emails</h2><Button onClick={() => { list.reload(); stats.reload(); }}>Refresh</Button></div>
      <ErrorNote error={list.error} />
      {!list.data ? <Skeleton rows={3} height={44} /> : list.data.length === 0 ? <p className="muted" data-testid="no-emails">No emails sent yet.</p> : (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th scope="col">Subject</th><th scope="col">To</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
            <tbody>{list.data.map((m) => (
              <tr key={m.id} data-email={m.id}>
                <td><button type="button" className="linkish" onClick={() => setOpen(m)}>{m.subject}</button></td>
                <td className="small">{m.to_addresses.join(', ')}</td>
                <td><span className={`status ${statusClass(m.status)}`}>{m.status}</span></td>
                <td className="nowrap">{fmtDate(m.created_at)}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <Modal title={open?.subject ?? ''} open={!!open} onClose={() => setOpen(undefined)} wide>
        {open ? <EmailDetail path={`/projects/${ref}/emails/${open.id}`} first={open} /> : null}
      </Modal>
    </>
  );
}

/** One email, read again when opened (its events move on while it is delivered). */
function EmailDetail({ path, first }: { path: string; first: Email }) {
  const one = useAsync(() => api<Email>('GET', path), [path]);
  const m = one.data ?? first;
  return (
    <>
      <ErrorNote error={one.error} />
      <dl className="facts">
        <dt>From</dt><dd>{m.from_address}</dd>
        <dt>To</dt><dd>{m.to_addresses.join(', ')}</dd>
        <dt>Status</dt><dd><span className={`status ${statusClass(m.status)}`}>{m.status}</span> <span className="muted small">{m.attempts} attempt{m.attempts === 1 ? '' : 's'}</span></dd>
        {m.last_error ? <><dt>Last error</dt><dd className="error small">{m.last_error}</dd></> : null}
        {m.message_id ? <><dt>Message-ID</dt><dd className="mono small">{m.message_id}</dd></> : null}
        <dt>Created</dt><dd>{fmtDate(m.created_at)}</dd>
        <dt>Sent</dt><dd>{fmtDate(m.sent_at)}</dd>
      </dl>
      <h3>Events</h3>
      {m.events.length === 0 ? <p className="muted">No events.</p> : (
        <table className="table compact" data-testid="email-events">
          <thead><tr><th scope="col">Event</th><th scope="col">At</th><th scope="col">Detail</th></tr></thead>
          <tbody>{m.events.map((ev, i) => <tr key={i}><td>{ev.type}</td><td className="nowrap">{fmtDate(ev.at)}</td><td className="small">{ev.detail ?? ''}</td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}
