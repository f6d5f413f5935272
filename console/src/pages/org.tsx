// Organizations, their members and invitations, personal access tokens, and accepting an invitation.
import { useState } from 'react';
import { api, ApiError, ROLES, type Member, type Role } from '../api.ts';
import { READ_ONLY_TITLE, useAccount, useCanWrite } from '../context.tsx';
import { navigate } from '../router.tsx';
import { Button, Confirm, ErrorNote, Field, Modal, Skeleton, fmtDate, useAction, useAsync } from '../ui.tsx';

interface Invitation { id: string; email: string; role_name: Role; invited_at: string; expires_at: string; token?: string }

export function NewOrg({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { reload } = useAccount();
  const [name, setName] = useState('');
  const a = useAction(async () => { const o = await api('POST', '/organizations', { name }); reload(); onClose(); navigate(`/org/${o.slug ?? o.id}`); });
  return (
    <Modal title="New organization" open={open} onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Name">{(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <ErrorNote error={a.error} />
        <div className="row end"><Button type="submit" variant="primary" busy={a.busy}>Create</Button></div>
      </form>
    </Modal>
  );
}

export function OrgPage({ slug }: { slug: string }) {
  const { me, orgs, reload: reloadAccount } = useAccount();
  const org = orgs.find((o) => o.slug === slug);
  const canWrite = useCanWrite(slug);
  const members = useAsync(() => api<Member[]>('GET', `/organizations/${slug}/members`), [slug]);
  const invitations = useAsync(() => api<Invitation[]>('GET', `/organizations/${slug}/members/invitations`).catch((e) => {
    if (e instanceof ApiError && e.status === 404) return null; // invitations are not served by this Loam
    throw e;
  }), [slug]);
  const [inviteOpen, setInviteOpen] = useState(false);
  const [removing, setRemoving] = useState<Member>();
  const [email, setEmail] = useState(''), [role, setRole] = useState<Role>('Developer');
  const [sentLink, setSentLink] = useState<string>();
  const invite = useAction(async () => {
    const inv = await api<Invitation>('POST', `/organizations/${slug}/members/invitations`, { email, role_name: role });
    setSentLink(inv.token ? `${location.origin}/invitations/${inv.token}` : undefined);
    setEmail(''); invitations.reload();
    if (!inv.token) setInviteOpen(false);
  });
  const changeRole = useAction(async (m: Member, r: Role) => {
    await api('PATCH', `/organizations/${slug}/members/${m.user_id}`, { role_name: r });
    members.reload(); if (m.user_id === me.id) reloadAccount();
  });
  const cancelInvite = useAction(async (id: string) => { await api('DELETE', `/organizations/${slug}/members/invitations/${id}`); invitations.reload(); });
  return (
    <section>
      <header className="page-head">
        <div><h1>{org?.name ?? slug}</h1><p className="muted">Organization · your role: {useAccount().roles[slug] ?? '—'}</p></div>
        <Button variant="primary" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => { setSentLink(undefined); invite.clear(); setInviteOpen(true); }}>Invite member</Button>
      </header>
      <h2>Members</h2>
      <ErrorNote error={members.error ?? changeRole.error} />
      {members.loading && !members.data ? <Skeleton rows={3} height={44} /> : (
        <table className="table">
          <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">MFA</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(members.data ?? []).map((m) => (
              <tr key={m.user_id}>
                <td>{m.user_name}{m.user_id === me.id ? <span className="badge">you</span> : null}</td>
                <td>{m.email}</td>
                <td>
                  <select aria-label={`Role of ${m.email}`} value={m.role_name} disabled={!canWrite || changeRole.busy}
                    onChange={(e) => changeRole.run(m, e.target.value as Role)}>
                    {ROLES.map((r) => <option key={r}>{r}</option>)}
                  </select>
                </td>
                <td>{m.mfa_enabled ? 'on' : 'off'}</td>
                <td className="right"><Button variant="ghost" disabled={!canWrite} title={canWrite ? undefined : READ_ONLY_TITLE} onClick={() => setRemoving(m)}>{m.user_id === me.id ? 'Leave' : 'Remove'}</Button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Pending invitations</h2>
      <ErrorNote error={invitations.error ?? cancelInvite.error} />
      {invitations.data === null ? <p className="muted">This Loam does not serve invitations yet.</p>
        : invitations.loading && !invitations.data ? <Skeleton rows={2} height={40} />
        : invitations.data?.length ? (
          <table className="table">
            <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Invited</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{invitations.data.map((i) => (
              <tr key={i.id}><td>{i.email}</td><td>{i.role_name}</td><td>{fmtDate(i.invited_at)}</td><td>{fmtDate(i.expires_at)}</td>
                <td className="right"><Button variant="ghost" disabled={!canWrite} onClick={() => cancelInvite.run(i.id)}>Cancel</Button></td></tr>
            ))}</tbody>
          </table>
        ) : <p className="muted">No pending invitations.</p>}
      <Modal title="Invite a member" open={inviteOpen} onClose={() => setInviteOpen(false)}>
        <form onSubmit={(e) => { e.preventDefault(); invite.run(); }}>
          <Field label="Email">{(id) => <input id={id} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
          <Field label="Role">{(id) => (
            <select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>{ROLES.map((r) => <option key={r}>{r}</option>)}</select>
          )}</Field>
          <ErrorNote error={invite.error} />
          {sentLink ? <div className="ok" role="status">Invitation sent by email. Link: <code className="mono" data-testid="invite-link">{sentLink}</code></div> : null}
          <div className="row end"><Button type="submit" variant="primary" busy={invite.busy}>Send invitation</Button></div>
        </form>
      </Modal>
      <Confirm open={!!removing} title={removing?.user_id === me.id ? 'Leave organization' : 'Remove member'}
        message={`${removing?.email} loses access to every project of ${org?.name ?? slug}.`}
        action={() => api('DELETE', `/organizations/${slug}/members/${removing!.user_id}`)}
        onClose={() => setRemoving(undefined)} onDone={() => { members.reload(); if (removing?.user_id === me.id) { reloadAccount(); navigate('/'); } }} />
    </section>
  );
}

export function AcceptInvite({ token }: { token: string }) {
  const { reload } = useAccount();
  const a = useAction(async () => { await api('POST', `/invitations/${encodeURIComponent(token)}/accept`); reload(); navigate('/'); });
  return (
    <section className="narrow">
      <h1>Join an organization</h1>
      <p>You were invited to an organization on this Loam. Accepting adds this account to it with the role given in the invitation.</p>
      <ErrorNote error={a.error} />
      <Button variant="primary" busy={a.busy} onClick={() => a.run()}>Accept invitation</Button>
    </section>
  );
}

interface Token { id: string; name: string; scopes: string[]; token_prefix: string; expires_at: string | null; created_at: string; last_used_at: string | null }

export function TokensPage() {
  const tokens = useAsync(() => api<Token[]>('GET', '/auth/tokens'), []);
  const [name, setName] = useState(''), [scopes, setScopes] = useState(''), [expires, setExpires] = useState('');
  const [created, setCreated] = useState<string>();
  const [revoking, setRevoking] = useState<Token>();
  const create = useAction(async () => {
    const t = await api('POST', '/auth/tokens', {
      name, scopes: scopes.split(/[\s,]+/).filter(Boolean), ...(expires ? { expires_at: new Date(expires).toISOString() } : {}),
    });
    setCreated(t.token); setName(''); tokens.reload();
  });
  return (
    <section>
      <header className="page-head"><div><h1>Access tokens</h1><p className="muted">Personal access tokens for the Supabase CLI, Terraform and scripts.</p></div></header>
      <form className="card inline-form" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
        <Field label="Name">{(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Scopes" hint="empty: all; e.g. read, projects:write">{(id) => <input id={id} value={scopes} onChange={(e) => setScopes(e.target.value)} />}</Field>
        <Field label="Expires">{(id) => <input id={id} type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />}</Field>
        <Button type="submit" variant="primary" busy={create.busy}>Generate token</Button>
      </form>
      <ErrorNote error={create.error ?? tokens.error} />
      {created ? <div className="ok" role="status">Copy this token now; it is not shown again: <code className="mono" data-testid="new-token">{created}</code></div> : null}
      {tokens.loading && !tokens.data ? <Skeleton rows={2} height={40} /> : (
        <table className="table">
          <thead><tr><th scope="col">Name</th><th scope="col">Token</th><th scope="col">Scopes</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{(tokens.data ?? []).map((t) => (
            <tr key={t.id}><td>{t.name}</td><td className="mono">{t.token_prefix}…</td><td>{t.scopes.join(', ') || 'all'}</td>
              <td>{fmtDate(t.last_used_at)}</td><td>{fmtDate(t.expires_at)}</td>
              <td className="right"><Button variant="ghost" onClick={() => setRevoking(t)}>Revoke</Button></td></tr>
          ))}</tbody>
        </table>
      )}
      <Confirm open={!!revoking} title="Revoke token" message={`Anything using “${revoking?.name}” stops working.`}
        action={() => api('DELETE', `/auth/tokens/${revoking!.id}`)} onClose={() => setRevoking(undefined)} onDone={tokens.reload} />
    </section>
  );
}
