// The web console end to end, in Debian's Chromium (headless, driven by playwright-core): sign up → create a
// project → wait for it to be healthy → create a table in the table editor → insert rows → query them in the SQL
// editor → add a policy → invite a member as Read-only (who sees but cannot change, in the UI and in the
// Management API) → upload files (one POST, and TUS for a big one) → delete the project. Screenshots of every
// page go to test/console/screenshots/. It measures first contentful paint on a fresh project and long tasks
// while scrolling a 100,000-row table, and prints both (timing assertions have generous slack: the machine is
// shared).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConsole, consoleBuilt } from '../../console/build.ts';
import { adminClient, http, loam, signup } from '../helpers/platform.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test/console/screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];
const missing = !fs.existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (.ci/run installs the chromium package)`;

const dirs: string[] = [];
const contexts: BrowserContext[] = [];
async function browser(): Promise<{ context: BrowserContext; page: Page }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-chromium-'));
  dirs.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1366, height: 800 }, timeout: 60_000,
  });
  contexts.push(context);
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => console.error('[browser]', e.message));
  return { context, page };
}
after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

let shotNo = 0;
async function shot(page: Page, name: string) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${String(++shotNo).padStart(2, '0')}-${name}.png`), fullPage: false });
}

let base = '';
before(async () => {
  if (missing) return;
  if (!consoleBuilt()) await buildConsole();
  base = (await loam()).url;
});

test('the console is served at / and never in place of an API', { skip: missing }, async () => {
  const res = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await res.text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, html);
  const js = await fetch(base + asset);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  // Client-side routes get the app; API paths keep their JSON answers, whatever the Accept header says.
  assert.equal((await fetch(`${base}/p/abc/tables`, { headers: { accept: 'text/html' } })).status, 200);
  const v1 = await fetch(`${base}/v1/no-such-endpoint`, { headers: { accept: 'text/html' } });
  assert.equal(v1.status, 404);
  assert.match(v1.headers.get('content-type') ?? '', /json/);
  const project = await fetch(`${base}/project/aaaaaaaaaaaaaaaaaaaa/rest/v1/`, { headers: { accept: 'text/html' } });
  assert.match(project.headers.get('content-type') ?? '', /json/);
  assert.equal((await fetch(`${base}/assets/nope.js`)).status, 404);
  // Not for a script's fetch of an unknown path (no Accept: text/html): the API's JSON 404.
  assert.match((await fetch(`${base}/nothing-here`, { headers: { accept: 'application/json' } })).headers.get('content-type') ?? '', /json/);
});

test('sign up, build a project in the console, share it read-only, delete it', { skip: missing, timeout: 600_000 }, async (t) => {
  const { page } = await browser();
  const email = `c${crypto.randomBytes(5).toString('hex')}@example.com`;
  const password = 'console password 1';

  // Sign up (the first visit lands on sign-in).
  await page.goto(`${base}/`);
  await page.waitForURL(/\/sign-in/);
  await shot(page, 'sign-in');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Name').fill('Console Tester');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await shot(page, 'sign-up');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  await page.getByTestId('me').getByText(email).waitFor();
  const token = await page.evaluate(() => localStorage.getItem('loam.session'));
  assert.ok(token);
  await shot(page, 'projects-empty');

  // Create a project and wait until it is healthy.
  await page.getByRole('button', { name: 'New project' }).click();
  await page.getByLabel('Name').fill('Console e2e');
  await shot(page, 'project-create');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.waitForURL(/\/p\/[a-z]{20}$/);
  const ref = /\/p\/([a-z]{20})/.exec(page.url())![1];
  await page.locator('[data-status="ACTIVE_HEALTHY"]').first().waitFor({ timeout: 120_000 });
  await shot(page, 'project-overview');
  await page.getByRole('button', { name: 'Reveal' }).first().click();
  await page.getByRole('button', { name: 'Copy' }).nth(2).waitFor();
  const anon = await page.getByLabel('anon key').textContent();
  assert.match(anon ?? '', /^eyJ/);

  // First contentful paint of a fresh load of the project's page.
  await page.goto(`${base}/p/${ref}`);
  await page.locator('[data-status="ACTIVE_HEALTHY"]').first().waitFor();
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
  const nav = await page.evaluate(() => { const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming; return Math.round(n.loadEventEnd - n.startTime); });
  console.log(`[console] first contentful paint on a fresh project: ${Math.round(fcp)} ms (load event ${nav} ms)`);
  assert.ok(fcp > 0, 'the browser reported a first contentful paint');
  // The goal is ≤ 1 s; the assertion leaves room for a shared, loaded machine.
  assert.ok(fcp < 5000, `first contentful paint ${fcp} ms`);

  // Table editor: create a table with columns, then insert rows through the row form.
  await page.getByRole('link', { name: 'Table editor' }).click();
  await page.getByRole('button', { name: 'New table' }).click();
  await page.getByLabel('Table name').fill('todos');
  await page.getByRole('button', { name: 'Add column' }).click();
  await page.getByLabel('Column 3 name').fill('title');
  await page.getByLabel('Column 3 type').fill('text');
  await page.getByRole('button', { name: 'Add column' }).click();
  await page.getByLabel('Column 4 name').fill('done');
  await page.getByLabel('Column 4 type').fill('boolean');
  await page.getByLabel('Column 4 default').fill('false');
  await page.getByLabel('Column 4 nullable').uncheck();
  await shot(page, 'table-create');
  await page.getByRole('button', { name: 'Create table' }).click();
  await page.getByRole('heading', { name: 'todos' }).waitFor();
  await page.getByTestId('row-count').getByText('0 rows').waitFor();
  for (const title of ['buy milk', 'write tests']) {
    await page.getByRole('button', { name: 'Insert row' }).click();
    await page.getByLabel(/^title \(text\)/).fill(title);
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
  }
  await page.getByTestId('row-count').getByText('2 rows').waitFor();
  await page.getByRole('gridcell', { name: 'write tests' }).waitFor();
  await shot(page, 'table-editor');
  // Edit a row: the form opens from the row number.
  await page.getByRole('button', { name: 'Edit row 1' }).click();
  await page.getByLabel(/^done \(boolean\)/).selectOption('true');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('dialog').waitFor({ state: 'hidden' });

  // SQL editor: the rows, then an error with its position.
  await page.getByRole('link', { name: 'SQL editor' }).click();
  const editor = page.locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText('select title, done from todos order by id');
  await page.getByRole('button', { name: 'Run' }).click();
  await page.getByRole('grid', { name: 'Query results' }).getByRole('gridcell', { name: 'buy milk' }).waitFor();
  assert.equal(await page.getByRole('grid', { name: 'Query results' }).getByRole('gridcell', { name: 'true' }).count(), 1);
  await page.getByRole('button', { name: 'Save snippet' }).click();
  await page.getByLabel('Name').fill('todos by id');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'todos by id' }).waitFor();
  await shot(page, 'sql-editor');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText('select 1;\nselect titel from todos');
  await page.keyboard.press('Control+Enter');
  const sqlError = page.getByTestId('sql-error');
  await sqlError.waitFor();
  assert.match(await sqlError.textContent() ?? '', /Line 2, column 8: .*column "titel" does not exist/s);
  await shot(page, 'sql-error');

  // A policy on the table.
  await page.getByRole('link', { name: 'Table editor' }).click();
  await page.getByRole('link', { name: 'todos' }).click();
  await page.getByRole('tab', { name: 'Policies' }).click();
  await page.getByRole('button', { name: 'New policy' }).click();
  await page.getByLabel('Policy name').fill('signed in read');
  await page.getByLabel('USING expression').fill('true');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByRole('cell', { name: 'signed in read' }).waitFor();
  await shot(page, 'policies');
  const policies = await http('POST', `/v1/projects/${ref}/database/query`, { token, body: { query: `select policyname, cmd, roles::text[] as roles from pg_policies where tablename = 'todos'` } });
  assert.deepEqual(policies.body, [{ policyname: 'signed in read', cmd: 'SELECT', roles: ['authenticated'] }]);

  // Storage: a bucket, a small image (one POST, previewed, signed) and a big file (TUS, with progress).
  await page.getByRole('link', { name: 'Storage' }).click();
  await page.getByRole('button', { name: 'New bucket' }).click();
  await page.getByLabel('Name').fill('files');
  await page.getByRole('button', { name: 'Create bucket' }).click();
  await page.getByRole('heading', { name: 'files' }).waitFor();
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  const big = crypto.randomBytes(7 * 1024 * 1024);
  await page.getByLabel('Files to upload').setInputFiles([
    { name: 'dot.png', mimeType: 'image/png', buffer: png },
    { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
  ]);
  await page.getByRole('button', { name: 'big.bin' }).waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'dot.png' }).click();
  await page.getByRole('img', { name: 'dot.png' }).waitFor();
  await page.getByRole('button', { name: 'Signed URL (1 hour)' }).click();
  const signed = await page.getByLabel('Signed URL').textContent();
  const got = await fetch(signed!);
  assert.equal(got.status, 200);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), png);
  await shot(page, 'storage-preview');
  await page.keyboard.press('Escape');
  const keys = await http('GET', `/v1/projects/${ref}/api-keys?reveal=true`, { token });
  const service = keys.body.find((k: { name: string }) => k.name === 'service_role').api_key;
  const bigBack = await fetch(`${base}/project/${ref}/storage/v1/object/files/big.bin`, { headers: { apikey: service, authorization: `Bearer ${service}` } });
  assert.equal(bigBack.status, 200);
  assert.ok(Buffer.from(await bigBack.arrayBuffer()).equals(big), 'the TUS upload stored the file byte for byte');
  await shot(page, 'storage');

  // The other pages, each rendered (and photographed) once.
  for (const [link, heading, name] of [['Auth users', 'Users', 'auth-users'], ['Observability', 'Observability', 'observability'],
    ['Functions', 'Edge functions', 'functions'], ['Sites', 'Sites', 'sites'], ['Settings', 'Settings', 'settings']] as const) {
    await page.getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, name);
  }
  await page.getByRole('tab', { name: 'Auth' }).click();
  await page.getByLabel('Site URL').waitFor();
  await shot(page, 'settings-auth');
  await page.getByRole('link', { name: 'Observability' }).click();
  await page.getByRole('tab', { name: 'Advisors' }).click();
  await page.getByRole('heading', { name: 'Security' }).waitFor();
  await page.waitForLoadState('networkidle');
  await shot(page, 'advisors');
  await page.getByRole('link', { name: 'Auth users' }).click();
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByLabel('Email').fill('app-user@example.com');
  await page.getByLabel('Password').fill('app user password');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByRole('button', { name: 'app-user@example.com' }).waitFor();
  await page.getByRole('link', { name: '← All projects' }).click();
  await page.getByRole('link', { name: 'Access tokens' }).click();
  await page.getByLabel('Name').fill('ci');
  await page.getByRole('button', { name: 'Generate token' }).click();
  await page.getByTestId('new-token').waitFor();
  await shot(page, 'tokens');

  // Scrolling a 100,000-row table: rows come page by page from the REST API as they come into view.
  await http('POST', `/v1/projects/${ref}/database/query`, { token, body: { query: `create table public.big as select g as id, md5(g::text) as label, g % 7 = 0 as flag from generate_series(1, 100000) g; alter table public.big add primary key (id)` } });
  await page.goto(`${base}/p/${ref}/tables/public/big`);
  await page.getByTestId('row-count').getByText('100,000 rows').waitFor();
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) w.longTasks.push(e.duration); }).observe({ type: 'longtask' });
  });
  const scroll = await page.evaluate(async () => {
    const el = document.querySelector('[data-testid="grid-scroll"]') as HTMLElement;
    const frame = () => new Promise((r) => requestAnimationFrame(() => r(undefined)));
    const started = performance.now();
    let frames = 0, worstFrame = 0, last = performance.now();
    const steps = 200;
    for (let i = 1; i <= steps; i++) {
      el.scrollTop = (el.scrollHeight - el.clientHeight) * (i / steps);
      await frame();
      const now = performance.now();
      worstFrame = Math.max(worstFrame, now - last); last = now; frames++;
    }
    return { ms: Math.round(performance.now() - started), frames, worstFrame: Math.round(worstFrame), height: el.scrollHeight };
  });
  await page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '100000' }) }).getByRole('gridcell').first().filter({ hasText: '100000' }).waitFor();
  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  const rendered = await page.locator('.grid-row').count();
  console.log(`[console] scrolled 100,000 rows top to bottom in ${scroll.frames} frames, ${scroll.ms} ms; worst frame ${scroll.worstFrame} ms; ` +
    `long tasks: ${longTasks.length} (longest ${Math.round(Math.max(0, ...longTasks))} ms, total ${Math.round(longTasks.reduce((a, b) => a + b, 0))} ms); ${rendered} rows in the DOM`);
  assert.ok(rendered < 200, `only the rows in view are in the DOM (${rendered})`);
  assert.ok(Math.max(0, ...longTasks) < 1000, 'no task froze the page for a second');
  await shot(page, 'table-100k-rows');

  // Invite a member as Read-only: they see the project but cannot change it, in the console or the API.
  const member = await signup();
  await page.goto(`${base}/`);
  const orgLink = page.getByRole('navigation', { name: 'Main' }).getByRole('link').nth(2);
  await orgLink.click();
  await page.getByRole('heading', { name: 'Members' }).waitFor();
  const org = /\/org\/([^/]+)/.exec(page.url())![1];
  const probe = await http('GET', `/v1/organizations/${org}/members/invitations`, { token });
  if (probe.status === 404) {
    // The invitation endpoints come with the organization-roles work; this step runs once they are served.
    t.diagnostic('invitations are not served by this Loam yet: the Read-only member step is skipped');
  } else {
    await page.getByRole('button', { name: 'Invite member' }).click();
    await page.getByLabel('Email').fill(member.email);
    await page.getByLabel('Role').selectOption('Read-only');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    // The invitation's token: from the answer (the link shown) or, as the member would get it, from the email.
    const link = page.getByTestId('invite-link');
    await page.waitForFunction(() => !!document.querySelector('[data-testid="invite-link"]') || !document.querySelector('dialog[open]'));
    let inviteToken = (await link.count()) ? (await link.textContent())?.split('/invite/')[1] : undefined;
    if (await page.locator('dialog[open]').count()) await page.keyboard.press('Escape');
    await page.getByRole('cell', { name: member.email }).waitFor();
    await shot(page, 'org-members');
    if (!inviteToken) {
      const admin = await adminClient();
      try {
        const { rows } = await admin.query(`select body_text from platform_private.email_outbox where to_address = $1 order by id desc limit 1`, [member.email]);
        inviteToken = /invit\w*\/([A-Za-z0-9_-]{16,})|[?&]token=([A-Za-z0-9_-]{16,})/.exec(rows[0]?.body_text ?? '')?.slice(1).find(Boolean);
      } finally { await admin.end(); }
    }
    assert.ok(inviteToken, 'the invitation carries a token');
    const { page: mp } = await browser();
    await mp.goto(`${base}/invite/${inviteToken}`);
    await mp.waitForURL(/\/sign-in/);
    await mp.getByLabel('Email').fill(member.email);
    await mp.getByLabel('Password').fill(member.password);
    await mp.getByRole('button', { name: 'Sign in' }).click();
    await mp.getByRole('button', { name: 'Accept invitation' }).click();
    await mp.getByRole('link', { name: 'Project Console e2e' }).click();
    await mp.locator('[data-status="ACTIVE_HEALTHY"]').first().waitFor();
    assert.ok(await mp.getByRole('button', { name: 'Delete project' }).isDisabled());
    assert.ok(await mp.getByRole('button', { name: 'Pause' }).isDisabled());
    await mp.getByRole('link', { name: 'Table editor' }).click();
    await mp.getByRole('link', { name: 'todos' }).click();
    await mp.getByRole('gridcell', { name: 'buy milk' }).waitFor();
    assert.ok(await mp.getByRole('button', { name: 'Insert row' }).isDisabled());
    assert.ok(await mp.getByRole('button', { name: 'New table' }).isDisabled());
    await shot(mp, 'read-only-member');
    const memberToken = await mp.evaluate(() => localStorage.getItem('loam.session'));
    const refused = [
      await http('PATCH', `/v1/projects/${ref}`, { token: memberToken!, body: { name: 'taken over' } }),
      await http('POST', `/v1/projects/${ref}/database/query`, { token: memberToken!, body: { query: 'drop table todos' } }),
      await http('POST', `/v1/projects/${ref}/pause`, { token: memberToken! }),
      await http('DELETE', `/v1/projects/${ref}`, { token: memberToken! }),
      await http('POST', `/v1/organizations/${org}/members/invitations`, { token: memberToken!, body: { email: 'x@example.com', role_name: 'Owner' } }),
    ];
    assert.deepEqual(refused.map((r) => r.status), [403, 403, 403, 403, 403], JSON.stringify(refused.map((r) => r.body)));
    assert.equal((await http('GET', `/v1/projects/${ref}`, { token: memberToken! })).status, 200);
    const still = await http('POST', `/v1/projects/${ref}/database/query`, { token, body: { query: 'select count(*)::int as n from todos' } });
    assert.deepEqual(still.body, [{ n: 2 }]);
  }

  // Delete the project, confirming by its name.
  await page.goto(`${base}/p/${ref}`);
  await page.getByRole('button', { name: 'Delete project' }).click();
  await page.getByLabel(/Type “Console e2e” to confirm/).fill('Console e2e');
  await shot(page, 'project-delete');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  const gone = await http('GET', `/v1/projects/${ref}`, { token });
  assert.ok(gone.status === 404 || /GOING_DOWN|REMOVED/.test(gone.body?.status), JSON.stringify(gone.body));
  await shot(page, 'projects-after-delete');
});

test('the theme toggles between dark and light and is remembered', { skip: missing }, async () => {
  const { page } = await browser();
  await page.goto(`${base}/sign-in`);
  const account = await signup();
  await page.evaluate((t) => localStorage.setItem('loam.session', t), account.token);
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  const before = await page.evaluate(() => document.documentElement.dataset.theme);
  await page.getByRole('button', { name: /Switch to (light|dark) theme/ }).click();
  const afterToggle = await page.evaluate(() => document.documentElement.dataset.theme);
  assert.notEqual(afterToggle, before);
  await shot(page, `theme-${afterToggle}`);
  await page.reload();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), afterToggle);
  // Keyboard: Tab reaches the skip link first, and it is visible when focused.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  // A signed-out visit to a page goes to sign-in and comes back after it.
  await page.evaluate(() => localStorage.removeItem('loam.session'));
  await page.goto(`${base}/account/tokens`);
  await page.waitForURL(/\/sign-in\?next=%2Faccount%2Ftokens/);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').getByText('Invalid email or password').waitFor();
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Access tokens' }).waitFor();
});
