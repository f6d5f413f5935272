// Platform accounts: sign up, sign in, forgotten password, reset with the emailed token.
import { useState } from 'react';
import { api, session } from '../api.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { Button, ErrorNote, Field, useAction } from '../ui.tsx';

function Shell({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <main className="auth-shell">
      <div className="card auth-card">
        <div className="brand big">Loam</div>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

function afterSignIn(token: string) {
  session.set(token);
  const next = new URLSearchParams(location.search).get('next');
  navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
}

export function SignIn() {
  const [email, setEmail] = useState(''), [password, setPassword] = useState('');
  const a = useAction(async () => afterSignIn((await api('POST', '/auth/login', { email, password })).token));
  return (
    <Shell title="Sign in">
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Email">{(id) => <input id={id} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        <Field label="Password">{(id) => <input id={id} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
        <ErrorNote error={a.error} />
        <button type="submit" className="btn primary block" disabled={a.busy}>Sign in</button>
      </form>
      <p className="muted"><Link to={`/sign-up${location.search}`}>Create an account</Link> · <Link to="/forgot">Forgot password?</Link></p>
    </Shell>
  );
}

export function SignUp() {
  const [email, setEmail] = useState(''), [password, setPassword] = useState(''), [name, setName] = useState('');
  const a = useAction(async () => afterSignIn((await api('POST', '/auth/signup', { email, password, ...(name ? { full_name: name } : {}) })).token));
  return (
    <Shell title="Create your account">
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Name">{(id) => <input id={id} autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Email">{(id) => <input id={id} type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        <Field label="Password" hint="8 to 72 characters">{(id) => <input id={id} type="password" autoComplete="new-password" minLength={8} maxLength={72} required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
        <ErrorNote error={a.error} />
        <button type="submit" className="btn primary block" disabled={a.busy}>Sign up</button>
      </form>
      <p className="muted">Have an account? <Link to={`/sign-in${location.search}`}>Sign in</Link></p>
    </Shell>
  );
}

export function Forgot() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState<string>();
  const a = useAction(async () => setSent((await api('POST', '/auth/forgot', { email })).message));
  return (
    <Shell title="Reset your password">
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Email">{(id) => <input id={id} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        <ErrorNote error={a.error} />
        {sent ? <p className="ok" role="status">{sent}</p> : null}
        <button type="submit" className="btn primary block" disabled={a.busy}>Send reset email</button>
      </form>
      <p className="muted">Got a token? <Link to="/reset">Set a new password</Link> · <Link to="/sign-in">Sign in</Link></p>
    </Shell>
  );
}

export function Reset() {
  const { query } = useLocation();
  const [token, setToken] = useState(query.get('token') ?? ''), [password, setPassword] = useState('');
  const a = useAction(async () => afterSignIn((await api('POST', '/auth/reset', { token, password })).token));
  return (
    <Shell title="Set a new password">
      <form onSubmit={(e) => { e.preventDefault(); a.run(); }}>
        <Field label="Reset token (from the email)">{(id) => <input id={id} required value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" />}</Field>
        <Field label="New password">{(id) => <input id={id} type="password" autoComplete="new-password" minLength={8} maxLength={72} required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
        <ErrorNote error={a.error} />
        <Button type="submit" variant="primary" busy={a.busy}>Set password</Button>
      </form>
    </Shell>
  );
}
