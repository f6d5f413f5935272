// The project's auth users through its GoTrue-compatible admin API (service key): list, search (GoTrue's
// `filter`: the server matches email or full name and pages the matches), create, invite, ban/unban, delete, and
// each user's identities and MFA factors.
import { useEffect, useState } from 'react';
import { ApiError, projectFetch, projectJson, type Project } from '../api.ts';
import { READ_ONLY_TITLE, useCanWrite } from '../context.tsx';
import { Button, Confirm, ErrorNote, Field, Modal, Skeleton, fmtDate, useAction, useAsync } from '../ui.tsx';

interface User {
  id: string; email?: string; phone?: string; created_at: string; last_sign_in_at?: string; banned_until?: string | null;
  identities?: { provider: string; identity_id?: string; id?: string; created_at?: string; email?: string }[];
  factors?: { id: string; factor_type: string; status: string; friendly_name?: string }[];
  app_metadata?: Record<string, unknown>;
}
const PER_PAGE = 50;

export function UsersPage({ project }: { project: Project }) {
  const ref = project.ref;
  const canWrite = useCanWrite(project.organization_slug);
  const [page, setPage] = useState(1);
  const [search, setSearch] = useState('');
  const [filter, setFilter] = useState('');
  // The search is sent once typing pauses, and starts again from the first page.
  useEffect(() => { const t = setTimeout(() => { setFilter(search.trim()); setPage(1); }, 300); return () => clearTimeout(t); }, [search]);
  const users = useAsync(async () => {
    const res = await projectFetch(ref, `/auth/v1/admin/users?page=${page}&per_page=${PER_PAGE}${filter ? `&filter=${encodeURIComponent(filter)}` : ''}`);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError(res.status, String(body.error_code ?? body.code ?? res.status), String(body.msg ?? body.message ?? `HTTP ${res.status}`), body);
    return { users: (body.users ?? []) as User[], total: Number(res.headers.get('x-total-count') ?? NaN) };
  }, [ref, page, filter]);
  const [mode, setMode] = useState<'create' | 'invite'>();
  const [email, setEmail] = useState(''), [password, setPassword] = useState('');
  const [selected, setSelected] = useState<User>();
  const [deleting, setDeleting] = useState<User>();
  const add = useAction(async () => {
    if (mode === 'create') await projectJson(ref, 'POST', '/auth/v1/admin/users', { email, password, email_confirm: true });
    else await projectJson(ref, 'POST', '/auth/v1/invite', { email });
    setMode(undefined); setEmail(''); setPassword(''); users.reload();
  });
  const ban = useAction(async (u: User) => {
    const banned = u.banned_until && new Date(u.banned_until) > new Date();
    await projectJson(ref, 'PUT', `/auth/v1/admin/users/${u.id}`, { ban_duration: banned ? 'none' : '876000h' });
    users.reload(); setSelected(undefined);
  });
  const shown = users.data?.users ?? [];
  const total = users.data && Number.isFinite(users.data.total) ? users.data.total : undefined;
  return (
    <section>
      <header className="page-head">
        <div><h1>Users</h1><p className="muted">People who sign in to this project's apps</p></div>
        <div className="row">
          <Button disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setMode('invite')}>Invite user</Button>
          <Button variant="primary" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setMode('create')}>Create user</Button>
        </div>
      </header>
      <div className="toolbar">
        <Field label="Search">{(id) => <input id={id} type="search" placeholder="email or name" value={search} onChange={(e) => setSearch(e.target.value)} />}</Field>
        <Button disabled={page === 1} onClick={() => setPage(page - 1)}>Previous</Button>
        <span className="muted" aria-live="polite" data-testid="users-count">Page {page}{total !== undefined ? ` · ${total} user${total === 1 ? '' : 's'}${filter ? ' found' : ''}` : ''}</span>
        <Button disabled={total !== undefined ? page * PER_PAGE >= total : (users.data?.users.length ?? 0) < PER_PAGE} onClick={() => setPage(page + 1)}>Next</Button>
      </div>
      <ErrorNote error={users.error ?? ban.error} />
      {!users.data ? <Skeleton rows={5} height={40} /> : (
        <table className="table">
          <thead><tr><th scope="col">Email / phone</th><th scope="col">Providers</th><th scope="col">Created</th><th scope="col">Last sign-in</th><th scope="col">State</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{shown.map((u) => {
            const banned = !!u.banned_until && new Date(u.banned_until) > new Date();
            return (
              <tr key={u.id}>
                <td><button type="button" className="linkish" onClick={() => setSelected(u)}>{u.email || u.phone || u.id}</button></td>
                <td>{(u.identities ?? []).map((i) => i.provider).join(', ') || '—'}</td>
                <td>{fmtDate(u.created_at)}</td><td>{fmtDate(u.last_sign_in_at)}</td>
                <td>{banned ? <span className="status bad">banned</span> : <span className="status ok">active</span>}</td>
                <td className="right">
                  <Button variant="ghost" disabled={!canWrite} onClick={() => ban.run(u)}>{banned ? 'Unban' : 'Ban'}</Button>
                  <Button variant="ghost" disabled={!canWrite} onClick={() => setDeleting(u)}>Delete</Button>
                </td>
              </tr>
            );
          })}</tbody>
        </table>
      )}
      <Modal title={mode === 'invite' ? 'Invite user' : 'Create user'} open={!!mode} onClose={() => setMode(undefined)}>
        <form onSubmit={(e) => { e.preventDefault(); add.run(); }}>
          <Field label="Email">{(id) => <input id={id} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
          {mode === 'create' ? <Field label="Password">{(id) => <input id={id} type="password" required minLength={6} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />}</Field> : null}
          <ErrorNote error={add.error} />
          <div className="row end"><Button type="submit" variant="primary" busy={add.busy}>{mode === 'invite' ? 'Send invitation' : 'Create'}</Button></div>
        </form>
      </Modal>
      <Modal title={selected?.email ?? selected?.id ?? 'User'} open={!!selected} onClose={() => setSelected(undefined)} wide>
        {selected ? (
          <>
            <p className="mono">{selected.id}</p>
            <h3>Identities</h3>
            {(selected.identities ?? []).length ? (
              <table className="table compact"><thead><tr><th scope="col">Provider</th><th scope="col">Identity</th><th scope="col">Created</th></tr></thead>
                <tbody>{selected.identities!.map((i) => <tr key={i.identity_id ?? i.id}><td>{i.provider}</td><td className="mono">{i.email ?? i.id}</td><td>{fmtDate(i.created_at)}</td></tr>)}</tbody></table>
            ) : <p className="muted">None</p>}
            <h3>MFA factors</h3>
            {(selected.factors ?? []).length ? (
              <table className="table compact"><thead><tr><th scope="col">Type</th><th scope="col">Name</th><th scope="col">Status</th></tr></thead>
                <tbody>{selected.factors!.map((f) => <tr key={f.id}><td>{f.factor_type}</td><td>{f.friendly_name ?? ''}</td><td>{f.status}</td></tr>)}</tbody></table>
            ) : <p className="muted">None</p>}
            <h3>App metadata</h3>
            <pre className="mono small">{JSON.stringify(selected.app_metadata ?? {}, null, 2)}</pre>
          </>
        ) : null}
      </Modal>
      <Confirm open={!!deleting} title="Delete user" message={`${deleting?.email ?? deleting?.id} is deleted with their sessions and identities.`}
        action={() => projectJson(ref, 'DELETE', `/auth/v1/admin/users/${deleting!.id}`)} onClose={() => setDeleting(undefined)} onDone={users.reload} />
    </section>
  );
}
