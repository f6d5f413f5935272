// Test helpers: a Loam (API + worker) per test file against the run's PostgreSQL, and shortcuts for the
// Management API calls most tests start with (an account, a healthy project and its keys).
import crypto from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { startPlatform, type Platform } from '../../server/src/platform.ts';

let platform: Promise<Platform> | undefined;

// Registered when this module is first imported (at the file's top level), so it runs after all of the file's
// tests — not after whichever test happened to start the platform.
after(async () => { if (platform) await (await platform).stop(); });

/** The Loam of this test file, started on first use and stopped after the file's tests. */
export function loam(): Promise<Platform> {
  platform ??= startPlatform({ port: 0, log: () => {} });
  return platform;
}

export interface Response<T = any> { status: number; body: T; headers: Headers }

/** fetch against the test Loam: JSON in, JSON (or text) out. */
export async function http<T = any>(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response<T>> {
  const { url } = await loam();
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url + path, {
    method, headers,
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: any = text;
  try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers };
}

export interface Account { token: string; email: string; password: string; user: { id: string; email: string }; org: string }

export async function signup(): Promise<Account> {
  const email = `u${crypto.randomBytes(6).toString('hex')}@example.com`;
  const password = 'correct horse battery';
  const res = await http('POST', '/v1/auth/signup', { body: { email, password } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  const orgs = await http('GET', '/v1/organizations', { token: res.body.token });
  return { token: res.body.token, email, password, user: res.body.user, org: orgs.body[0].slug };
}

export async function waitForStatus(token: string, ref: string, status: string, timeoutMs = 30_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await http('GET', `/v1/projects/${ref}`, { token });
    if (res.body?.status === status) return res.body;
    if (Date.now() > until) throw new Error(`project ${ref} did not reach ${status}: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Project {
  ref: string;
  dbPass: string;
  anonKey: string;
  serviceKey: string;
  /** Base URL of the project's data plane, for createClient(url, key). */
  url: string;
  owner: Account;
}

/** A new, healthy project (and, unless given, a new account to own it). */
export async function createProject(owner?: Account, name = 'test project'): Promise<Project> {
  const account = owner ?? await signup();
  const dbPass = `pw-${crypto.randomBytes(8).toString('hex')}`;
  const res = await http('POST', '/v1/projects', { token: account.token, body: { name, organization_id: account.org, db_pass: dbPass } });
  if (res.status !== 201) throw new Error(`create project failed: ${res.status} ${JSON.stringify(res.body)}`);
  const ref = res.body.ref;
  await waitForStatus(account.token, ref, 'ACTIVE_HEALTHY');
  const keys = await http('GET', `/v1/projects/${ref}/api-keys`, { token: account.token });
  const key = (n: string) => keys.body.find((k: { name: string }) => k.name === n).api_key;
  return { ref, dbPass, anonKey: key('anon'), serviceKey: key('service_role'), url: `${(await loam()).url}/project/${ref}`, owner: account };
}

/** Runs SQL in the project's database as its owner (through the Management API), returning the rows. */
export async function sql<T = any>(p: Project, query: string): Promise<T[]> {
  const res = await http('POST', `/v1/projects/${p.ref}/database/query`, { token: p.owner.token, body: { query } });
  if (res.status !== 201) throw new Error(`SQL failed: ${res.status} ${JSON.stringify(res.body)}\n${query}`);
  return res.body;
}

/** A pg client logged in as the project's owner, as a psql user would be. */
export async function ownerClient(p: Project, database = p.ref): Promise<pg.Client> {
  const u = new URL((await loam()).databaseUrl);
  const client = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: p.ref, password: p.dbPass, database });
  await client.connect();
  return client;
}

/** Whether the server checks passwords at all: a server set to `trust` (as some development machines are)
 *  lets any password in, and only CONNECT privileges keep logins apart. */
export async function passwordsChecked(): Promise<boolean> {
  const u = new URL((await loam()).databaseUrl);
  const admin = await adminClient();
  await admin.query(`do $$ begin create role loam_test_password_probe login password 'the-password';
    exception when duplicate_object then null; end $$`).finally(() => admin.end());
  const client = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: 'loam_test_password_probe', password: 'not-the-password', database: u.pathname.slice(1) });
  try {
    await client.connect();
    await client.end();
    return false;
  } catch (err) {
    return !/CONNECT privilege|permission denied/.test(String(err));
  }
}

/** A superuser client on the control database, for assertions the API cannot make. */
export async function adminClient(database?: string): Promise<pg.Client> {
  const u = new URL((await loam()).databaseUrl);
  if (database) u.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: u.href });
  await client.connect();
  return client;
}

/** The token of the newest organization invitation mailed to `email` (read from the outbox). */
export async function invitationToken(email: string): Promise<string> {
  const db = await adminClient();
  try {
    const { rows: [row] } = await db.query(`select body_text from platform_private.email_outbox
      where to_address = $1 and kind = 'organization_invitation' order by id desc limit 1`, [email]);
    return /Invitation token: ([0-9a-f]{48})/.exec(row.body_text)![1];
  } finally {
    await db.end();
  }
}

/** `member` joins `org` (by default `owner`'s own) as `role`, through an invitation `owner` sends, as a person would. */
export async function joinOrganization(owner: Account, member: Account, role: string, org = owner.org): Promise<void> {
  const inv = await http('POST', `/v1/organizations/${org}/members/invitations`, { token: owner.token, body: { email: member.email, role_name: role } });
  if (inv.status !== 201) throw new Error(`invitation: ${inv.status} ${JSON.stringify(inv.body)}`);
  const accepted = await http('POST', `/v1/invitations/${await invitationToken(member.email)}/accept`, { token: member.token });
  if (accepted.status !== 200) throw new Error(`acceptance: ${accepted.status} ${JSON.stringify(accepted.body)}`);
}

export interface Team { owner: Account; admin: Account; dev: Account; ro: Account; stranger: Account; project: Project }

/** An organization with a member of each role (Administrator, Developer, Read-only) beside its owner, a project
 *  of it, and a stranger outside it. */
export async function organizationTeam(): Promise<Team> {
  const [owner, admin, dev, ro, stranger] = await Promise.all([signup(), signup(), signup(), signup(), signup()]);
  const project = await createProject(owner);
  await joinOrganization(owner, admin, 'Administrator');
  await joinOrganization(owner, dev, 'Developer');
  await joinOrganization(owner, ro, 'Read-only');
  return { owner, admin, dev, ro, stranger, project };
}
