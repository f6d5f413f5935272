// The flow in Debian's Chromium: sign up → create a project → wait until healthy (first contentful paint
// of the project's page measured) → create a table in the table editor → insert and edit rows → query them in the
// SQL editor (and an error with its position) → add a policy → upload files (one POST, and TUS for a big one;
// preview and signed URL) → invite a member as Read-only, who sees but cannot change anything, in the console and
// in the Management API → delete the project. Screenshots: test/console/screenshots/flow-*.png.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import { adminClient, http, signup } from '../helpers/platform.ts';
import { browser, consoleUrl, missing, screenshots } from './helpers.ts';

const shot = screenshots('flow');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });

test('sign up, build a project, share it read-only, upload, delete it', { skip: missing }, async (t) => {
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
  // Layout shift while the page loaded (skeletons have the size of what replaces them).
  const cls = await page.evaluate(() => new Promise<number>((resolve) => {
    let sum = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) if (!e.hadRecentInput) sum += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
    setTimeout(() => resolve(sum), 200);
  }));
  console.log(`[console] first contentful paint on a fresh project: ${Math.round(fcp)} ms (load event ${nav} ms); cumulative layout shift ${cls.toFixed(3)}`);
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
  await editor.focus();
  await page.keyboard.press('Escape'); // an open completion list would take the keys
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText('select title, done from todos order by id');
  await page.getByRole('button', { name: 'Run' }).click();
  await page.getByRole('grid', { name: 'Query results' }).getByRole('gridcell', { name: 'buy milk' }).waitFor();
  assert.equal(await page.getByRole('grid', { name: 'Query results' }).getByRole('gridcell', { name: 'true' }).count(), 1);
  await page.getByRole('button', { name: 'Save snippet' }).click();
  await page.getByLabel('Name').fill('todos by id');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'todos by id', exact: true }).waitFor();
  await shot(page, 'sql-editor');
  await editor.focus();
  await page.keyboard.press('Escape'); // an open completion list would take the keys
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
    await page.getByLabel('Email', { exact: true }).fill(member.email);
    await page.getByLabel('Role', { exact: true }).selectOption('Read-only');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    // The invitation's token: from the answer (the link shown) or, as the member would get it, from the email.
    const link = page.getByTestId('invite-link');
    await page.waitForFunction(() => !!document.querySelector('[data-testid="invite-link"]') || !document.querySelector('dialog[open]'));
    let inviteToken = (await link.count()) ? (await link.textContent())?.split('/invitations/')[1] : undefined;
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
    await mp.goto(`${base}/invitations/${inviteToken}`);
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

  // Storage: a bucket, a small image (one POST, previewed, signed) and a big file (TUS, with progress).
  await page.goto(`${base}/p/${ref}/storage`);
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
