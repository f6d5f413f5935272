// The console's shell: sign-in gate, navigation, theme, and the routes to each page. Heavy pages (the SQL editor
// with CodeMirror, the table editor) load as separate chunks so the first paint carries only the shell.
import { StrictMode, Suspense, lazy, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { api, session, type Project } from './api.ts';
import { AccountProvider, useAccount, useSession } from './context.tsx';
import { Forgot, Reset, SignIn, SignUp } from './pages/auth.tsx';
import { AcceptInvite, NewOrg, OrgPage, TokensPage } from './pages/org.tsx';
import { ProjectHome, ProjectSkeleton, ProjectsPage, StatusBadge } from './pages/projects.tsx';
import { Link, match, navigate, useLocation } from './router.tsx';
import { ErrorNote, Skeleton, useAsync } from './ui.tsx';
import './app.css';

const TablesPage = lazy(() => import('./pages/tables.tsx').then((m) => ({ default: m.TablesPage })));
const SqlEditorPage = lazy(() => import('./pages/sqleditor.tsx').then((m) => ({ default: m.SqlEditorPage })));
const UsersPage = lazy(() => import('./pages/users.tsx').then((m) => ({ default: m.UsersPage })));
const StoragePage = lazy(() => import('./pages/storage.tsx').then((m) => ({ default: m.StoragePage })));
const ObservePage = lazy(() => import('./pages/observe.tsx').then((m) => ({ default: m.ObservePage })));
const SettingsPage = lazy(() => import('./pages/settings.tsx').then((m) => ({ default: m.SettingsPage })));
const FunctionsPage = lazy(() => import('./pages/functions.tsx').then((m) => ({ default: m.FunctionsPage })));
const BranchesPage = lazy(() => import('./pages/branches.tsx').then((m) => ({ default: m.BranchesPage })));
const BackupsPage = lazy(() => import('./pages/backups.tsx').then((m) => ({ default: m.BackupsPage })));
const SecretsPage = lazy(() => import('./pages/secrets.tsx').then((m) => ({ default: m.SecretsPage })));
const EmailPage = lazy(() => import('./pages/email.tsx').then((m) => ({ default: m.EmailPage })));
const SitesPage = lazy(() => import('./pages/functions.tsx').then((m) => ({ default: m.SitesPage })));

type Theme = 'dark' | 'light';
function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('loam.theme') as Theme | null)
    ?? (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark'));
  useEffect(() => { document.documentElement.dataset.theme = theme; localStorage.setItem('loam.theme', theme); }, [theme]);
  return [theme, () => setTheme(theme === 'dark' ? 'light' : 'dark')];
}

const PUBLIC = ['/sign-in', '/sign-up', '/forgot', '/reset'];

function App() {
  const token = useSession();
  const { path } = useLocation();
  const [theme, toggleTheme] = useTheme();
  useEffect(() => {
    if (!token && !PUBLIC.includes(path)) navigate(`/sign-in${path !== '/' ? `?next=${encodeURIComponent(path + location.search)}` : ''}`, true);
  }, [token, path]);
  if (!token || PUBLIC.includes(path)) {
    if (path === '/sign-up') return <SignUp />;
    if (path === '/forgot') return <Forgot />;
    if (path === '/reset') return <Reset />;
    return <SignIn />;
  }
  return (
    <AccountProvider fallback={<Frame theme={theme} toggleTheme={toggleTheme} loading />}>
      <Frame theme={theme} toggleTheme={toggleTheme} />
    </AccountProvider>
  );
}

const PROJECT_NAV = [
  ['', 'Overview'], ['tables', 'Table editor'], ['sql', 'SQL editor'], ['users', 'Auth users'], ['storage', 'Storage'],
  ['observe', 'Observability'], ['functions', 'Functions'], ['sites', 'Sites'], ['secrets', 'Secrets'], ['email', 'Email'], ['branches', 'Branches'], ['backups', 'Backups'],
  ['settings', 'Settings'],
] as const;

function Frame({ theme, toggleTheme, loading }: { theme: Theme; toggleTheme: () => void; loading?: boolean }) {
  const { path } = useLocation();
  const p = match('/p/:ref/*', path) ?? match('/p/:ref', path);
  return (
    <div className="app">
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to="/" className="brand">Loam</Link>
        <span className="spacer" />
        <button type="button" className="btn ghost" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>{theme === 'dark' ? '☀' : '☾'}</button>
        {loading ? <span className="skeleton inline" style={{ width: 160, height: 24 }} /> : <AccountMenu />}
      </header>
      <div className="body">
        <nav className="sidebar" aria-label="Main">
          {loading ? <Skeleton rows={6} height={28} /> : p ? <ProjectNav refId={p.ref} /> : <HomeNav />}
        </nav>
        <main id="main" className="main" tabIndex={-1}>
          {loading ? <ProjectSkeleton /> : (
            <Suspense fallback={<ProjectSkeleton />}>
              <Routes theme={theme} />
            </Suspense>
          )}
        </main>
      </div>
    </div>
  );
}

function AccountMenu() {
  const { me } = useAccount();
  return (
    <div className="row">
      <span className="muted" data-testid="me">{me.email}</span>
      <button type="button" className="btn ghost" onClick={() => { session.set(null); navigate('/sign-in'); }}>Sign out</button>
    </div>
  );
}

function HomeNav() {
  const { orgs } = useAccount();
  const [newOrg, setNewOrg] = useState(false);
  return (
    <>
      <ul className="nav-list">
        <li><Link to="/">Projects</Link></li>
        <li><Link to="/account/tokens">Access tokens</Link></li>
      </ul>
      <h2 className="nav-head">Organizations</h2>
      <ul className="nav-list">
        {orgs.map((o) => <li key={o.slug}><Link to={`/org/${o.slug}`}>{o.name}</Link></li>)}
        <li><button type="button" className="linkish" onClick={() => setNewOrg(true)}>+ New organization</button></li>
      </ul>
      <NewOrg open={newOrg} onClose={() => setNewOrg(false)} />
    </>
  );
}

function ProjectNav({ refId }: { refId: string }) {
  return (
    <>
      <ul className="nav-list">
        <li><Link to="/">← All projects</Link></li>
      </ul>
      <h2 className="nav-head mono">{refId}</h2>
      <ul className="nav-list">
        {PROJECT_NAV.map(([seg, label]) => <li key={seg}><Link to={`/p/${refId}${seg ? `/${seg}` : ''}`} exact={!seg}>{label}</Link></li>)}
      </ul>
    </>
  );
}

function Routes({ theme }: { theme: Theme }) {
  const { path } = useLocation();
  let m;
  if (path === '/' || path === '/projects') return <ProjectsPage />;
  if ((m = match('/org/:slug', path))) return <OrgPage slug={m.slug} />;
  if (path === '/account/tokens') return <TokensPage />;
  // The invitation email's link (`<public url>/invitations/<token>`), and the console's own shorter form.
  if ((m = match('/invitations/:token', path) ?? match('/invite/:token', path))) return <AcceptInvite token={m.token} />;
  if ((m = match('/p/:ref/*', path) ?? match('/p/:ref', path))) return <ProjectRoutes refId={m.ref} rest={m['*'] ?? ''} theme={theme} />;
  return <section><h1>Not found</h1><p><Link to="/">Back to projects</Link></p></section>;
}

function ProjectRoutes({ refId, rest, theme }: { refId: string; rest: string; theme: Theme }) {
  const project = useAsync(() => api<Project>('GET', `/projects/${refId}`), [refId]);
  const status = project.data?.status;
  const moving = !!status && /COMING_UP|RESTORING|PAUSING|GOING_DOWN/.test(status);
  useEffect(() => { if (!moving) return; const t = setInterval(project.reload, 1000); return () => clearInterval(t); }, [moving, project.reload]);
  if (!project.data) return project.error ? <ErrorNote error={project.error} /> : <ProjectSkeleton />;
  const p = project.data;
  const [section, ...more] = rest.split('/');
  const tail = more.join('/');
  if (section && p.status !== 'ACTIVE_HEALTHY') {
    return <section><h1>{p.name}</h1><p className="row"><StatusBadge status={p.status} /> This page needs a healthy project. <Link to={`/p/${p.ref}`}>Overview</Link></p></section>;
  }
  switch (section) {
    case '': return <ProjectHome project={p} reload={project.reload} />;
    case 'tables': return <TablesPage project={p} rest={tail} />;
    case 'sql': return <SqlEditorPage project={p} theme={theme} />;
    case 'users': return <UsersPage project={p} />;
    case 'storage': return <StoragePage project={p} rest={tail} />;
    case 'observe': return <ObservePage project={p} />;
    case 'functions': return <FunctionsPage project={p} />;
    case 'sites': return <SitesPage project={p} />;
    case 'secrets': return <SecretsPage project={p} />;
    case 'email': return <EmailPage project={p} />;
    case 'branches': return <BranchesPage project={p} theme={theme} />;
    case 'backups': return <BackupsPage project={p} />;
    case 'settings': return <SettingsPage project={p} />;
    default: return <section><h1>Not found</h1></section>;
  }
}

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
