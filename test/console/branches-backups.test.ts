// The console's newer pages in Debian's Chromium, driven as a person would (keyboard included): branches (create
// with data, watch it become ready, diff, a merge refused and then done after a push, reset, delete with a typed
// confirmation; a Read-only member sees but cannot change), backups (take one now: on a server without dump tools
// the API's 501 message is shown), SQL snippets renamed and deleted, and auth users searched on the server
// (the laptop screen sizes are in laptop.test.ts). Screenshots: test/console/screenshots/more-*.png.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { adminClient, createProject, http, joinOrganization as join, signup, type Account, type Project } from '../helpers/platform.ts';
import { consoleUrl, migrate, missing, screenshots, signedIn, tabTo } from './helpers.ts';

const shot = screenshots('more');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });


test('branches: create with data, ready, diff, merge refused then done, reset, delete; Read-only sees but cannot change', { skip: missing }, async () => {
  const p = await createProject();
  const token = p.owner.token;
  await migrate(p.ref, token, 'todos', 'create table todos (id bigint generated always as identity primary key, title text not null)');
  const page = await signedIn(base, token);
  await page.goto(`${base}/p/${p.ref}/branches`);
  await page.getByTestId('no-branches').waitFor();
  await shot(page, 'branches-empty');

  // Keyboard only: Tab to the button, Enter opens the form, Enter submits it.
  await tabTo(page, 'Create branch');
  await page.keyboard.press('Enter');
  await page.getByLabel('Branch name').fill('feature-x');
  await page.getByLabel(/Copy this project's data/).check();
  await page.getByLabel('Branch name').press('Enter');
  const row = page.locator('tr[data-branch="feature-x"]');
  await row.waitFor();
  await shot(page, 'branches-creating');
  // The page polls until the branch is ready.
  await row.locator('[data-status="MIGRATIONS_PASSED"]').waitFor({ timeout: 120_000 });
  await row.getByRole('button', { name: 'Diff feature-x' }).and(page.locator(':enabled')).waitFor();
  await page.getByRole('cell', { name: 'copied' }).waitFor();
  await shot(page, 'branches-ready');
  const branch = (await http('GET', `/v1/projects/${p.ref}/branches`, { token })).body.find((b: { name: string }) => b.name === 'feature-x');
  assert.equal(branch.with_data, true);

  // The branch gets a table of its own: the diff shows it, in the code view.
  await migrate(branch.project_ref, token, 'tags', 'create table tags (id bigint primary key, label text)');
  await tabTo(page, 'Diff feature-x');
  await page.keyboard.press('Enter');
  const diff = page.getByTestId('branch-diff');
  await diff.locator('.cm-content').getByText(/create table.*tags/i).first().waitFor();
  await shot(page, 'branches-diff');
  await page.keyboard.press('Escape');

  // The parent moves on: merging is refused with the API's reason; push, then merge, works.
  await migrate(p.ref, token, 'todo_done', 'alter table todos add column done boolean not null default false');
  await page.getByRole('button', { name: 'Merge feature-x' }).click();
  const refusal = page.getByTestId('branch-error');
  await refusal.getByText(/merge_conflict/).waitFor();
  assert.match(await refusal.textContent() ?? '', /parent has migration\(s\) the branch lacks/);
  await shot(page, 'branches-merge-refused');
  await page.getByRole('button', { name: 'Push feature-x' }).click();
  await page.getByTestId('branch-notice').getByText(/Pushed into feature-x: 1 migration applied/).waitFor();
  await page.getByRole('button', { name: 'Merge feature-x' }).click();
  await page.getByTestId('branch-notice').getByText(/Merged feature-x into the parent: 1 migration applied/).waitFor();
  const tables = await http('POST', `/v1/projects/${p.ref}/database/query`, { token, body: { query: `select to_regclass('public.tags') is not null as merged` } });
  assert.deepEqual(tables.body, [{ merged: true }]);

  // A Read-only member sees the branch and its diff, and every change is disabled.
  const ro = await signup();
  await join(p.owner, ro, 'Read-only');
  const roPage = await signedIn(base, ro.token);
  await roPage.goto(`${base}/p/${p.ref}/branches`);
  await roPage.locator('tr[data-branch="feature-x"] [data-status="MIGRATIONS_PASSED"]').waitFor();
  for (const name of ['Create branch', 'Push feature-x', 'Merge feature-x', 'Reset feature-x', 'Delete feature-x']) {
    assert.equal(await roPage.getByRole('button', { name, exact: true }).isDisabled(), true, `${name} is disabled for Read-only`);
  }
  assert.equal(await roPage.getByRole('button', { name: 'Diff feature-x' }).isEnabled(), true);
  await shot(roPage, 'branches-read-only');
  const refused = await http('DELETE', `/v1/branches/${branch.id}`, { token: ro.token });
  assert.equal(refused.status, 403);
  await roPage.context().close();

  // Reset, confirmed: the branch is made again and the page follows it until it is ready.
  await page.getByRole('button', { name: 'Reset feature-x' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await page.getByTestId('branch-notice').getByText('feature-x is being reset', { exact: false }).waitFor();
  await row.locator('[data-status="MIGRATIONS_PASSED"]').waitFor({ timeout: 120_000 });
  await row.getByRole('button', { name: 'Diff feature-x' }).and(page.locator(':enabled')).waitFor();

  // Delete, confirmed by typing the branch's name.
  await page.getByRole('button', { name: 'Delete feature-x' }).click();
  const confirm = page.getByRole('button', { name: 'Confirm' });
  assert.equal(await confirm.isDisabled(), true);
  await page.getByLabel('Type “feature-x” to confirm').fill('feature-x');
  await confirm.click();
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('branch-notice').getByText('feature-x deleted.').waitFor();
  await shot(page, 'branches-deleted');
  assert.equal((await http('GET', `/v1/branches/${branch.id}`, { token })).status, 404);
  await page.context().close();
});

test('backups: "Back up now" shows what the API says (the 501 message where the server has no dump tools)', { skip: missing }, async () => {
  const p = await createProject();
  const page = await signedIn(base, p.owner.token);
  await page.goto(`${base}/p/${p.ref}/backups`);
  await page.getByTestId('no-backups').waitFor();
  await tabTo(page, 'Back up now');
  await page.keyboard.press('Enter');
  const toolsMissing = page.getByTestId('backup-tools-missing');
  const row = page.locator('tr[data-backup]');
  await toolsMissing.or(row).first().waitFor();
  if (await toolsMissing.isVisible()) {
    // The page shows the API's own message: asking again gets the same 501.
    const again = await http('POST', `/v1/projects/${p.ref}/database/backups`, { token: p.owner.token, body: {} });
    assert.equal(again.status, 501, JSON.stringify(again.body));
    assert.equal(again.body.code, 'backup_tools_missing');
    assert.ok((await toolsMissing.textContent())!.includes(again.body.message), 'the message shown is the API\'s');
    await page.getByRole('heading', { name: 'Backups', exact: true }).first().waitFor();
  } else {
    // A server with the tools: the backup appears and runs to completion, polled.
    await page.locator('tr[data-backup] [data-status="COMPLETED"]').waitFor({ timeout: 120_000 });
  }
  await shot(page, 'backups');
  if (await toolsMissing.isVisible()) {
    // The restore dialog, on backups the server's jobs would have left (rows written here: this server cannot take
    // one): a running one shows its progress, a completed one offers a restore, which the API refuses as it must.
    const db = await adminClient();
    try {
      await db.query(`insert into platform.backups (project_id, trigger, status, progress, started_at)
        select id, 'manual', 'RUNNING', 'copying files 120/4000', now() from platform.projects where ref = $1`, [p.ref]);
      await db.query(`insert into platform.backups (project_id, trigger, status, database_bytes, file_count, completed_at)
        select id, 'scheduled', 'COMPLETED', 123456, 3, now() from platform.projects where ref = $1`, [p.ref]);
    } finally {
      await db.end();
    }
    await page.reload();
    await page.getByRole('progressbar', { name: 'copying files 120/4000' }).waitFor();
    const completed = page.locator('tr[data-backup]').filter({ has: page.locator('[data-status="COMPLETED"]') });
    await completed.getByRole('button', { name: /^Restore backup/ }).click();
    const dialog = page.getByRole('dialog');
    const restore = dialog.getByRole('button', { name: 'Restore', exact: true });
    assert.equal(await restore.isDisabled(), true, 'restoring into this project waits for the typed ref');
    await dialog.getByLabel(`Type “${p.ref}” to confirm`).fill(p.ref);
    await restore.click();
    await dialog.getByTestId('backup-tools-missing').waitFor();
    await shot(page, 'backups-restore-refused');
    await dialog.getByLabel('A new project').check();
    await dialog.getByLabel('New project name').fill('restored copy');
    await dialog.getByLabel('Database password').fill('a long enough password');
    await restore.click();
    await dialog.getByTestId('backup-tools-missing').getByText(/pg_dump|pg_restore/).waitFor();
    assert.equal((await http('GET', `/v1/projects/${p.ref}/database/backups/restores`, { token: p.owner.token })).body.length, 0, 'nothing was queued');
    await page.keyboard.press('Escape');
  }
  // Backups are an Administrator's: a Read-only member and a Developer find the button disabled (the API refuses them).
  for (const role of ['Read-only', 'Developer']) {
    const member = await signup();
    await join(p.owner, member, role);
    const memberPage = await signedIn(base, member.token);
    await memberPage.goto(`${base}/p/${p.ref}/backups`);
    await memberPage.getByRole('heading', { name: 'Restores' }).waitFor();
    assert.equal(await memberPage.getByRole('button', { name: 'Back up now' }).isDisabled(), true, role);
    const refused = await http('POST', `/v1/projects/${p.ref}/database/backups`, { token: member.token, body: {} });
    assert.equal(refused.status, 403, `${role}: ${JSON.stringify(refused.body)}`);
    await memberPage.context().close();
  }
  await page.context().close();
});

test('SQL snippets: renamed and deleted from the editor, and the Management API agrees', { skip: missing }, async () => {
  const p = await createProject();
  const token = p.owner.token;
  const saved = await http('POST', '/v1/snippets', { token, body: { project_ref: p.ref, name: 'count todos', sql: 'select 1' } });
  assert.equal(saved.status, 201);
  const page = await signedIn(base, token);
  await page.goto(`${base}/p/${p.ref}/sql`);
  await page.getByRole('button', { name: 'count todos', exact: true }).waitFor();
  await tabTo(page, 'Rename count todos');
  await page.keyboard.press('Enter');
  await page.getByLabel('New name').fill('todos counted');
  await page.getByLabel('New name').press('Enter');
  await page.getByRole('button', { name: 'todos counted', exact: true }).waitFor();
  assert.equal((await http('GET', `/v1/snippets/${saved.body.id}`, { token })).body.name, 'todos counted');
  await shot(page, 'snippets-renamed');
  await page.getByRole('button', { name: 'Delete todos counted' }).click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('complementary', { name: 'Snippets' }).getByText('None saved').waitFor();
  assert.equal((await http('GET', `/v1/snippets/${saved.body.id}`, { token })).status, 404);
  await page.context().close();
  // A Read-only member opens a shared snippet but finds rename and delete disabled (the API refuses them too).
  const shared = await http('POST', '/v1/snippets', { token, body: { project_ref: p.ref, name: 'shared query', sql: 'select 2', visibility: 'project' } });
  const ro = await signup();
  await join(p.owner, ro, 'Read-only');
  const roPage = await signedIn(base, ro.token);
  await roPage.goto(`${base}/p/${p.ref}/sql`);
  await roPage.getByRole('button', { name: 'shared query', exact: true }).waitFor();
  assert.equal(await roPage.getByRole('button', { name: 'Rename shared query' }).isDisabled(), true);
  assert.equal(await roPage.getByRole('button', { name: 'Delete shared query' }).isDisabled(), true);
  assert.equal((await http('DELETE', `/v1/snippets/${shared.body.id}`, { token: ro.token })).status, 403);
  await roPage.context().close();
});

test('auth users: the search is the admin API\'s filter, answered by the server', { skip: missing }, async () => {
  const p = await createProject();
  const h = { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` };
  for (const email of ['alice.search@example.com', 'bob.search@example.com', 'carol@example.com']) {
    const res = await http('POST', `/project/${p.ref}/auth/v1/admin/users`, { headers: h, body: { email, password: 'a password 1', email_confirm: true } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  const page = await signedIn(base, p.owner.token);
  await page.goto(`${base}/p/${p.ref}/users`);
  await page.getByTestId('users-count').getByText('3 users').waitFor();
  const asked = page.waitForRequest((r) => r.url().includes('/auth/v1/admin/users') && r.url().includes('filter=search'));
  await page.getByLabel('Search').fill('search');
  await asked;
  await page.getByTestId('users-count').getByText('2 users found').waitFor();
  assert.equal(await page.getByRole('button', { name: 'carol@example.com' }).count(), 0);
  await page.getByRole('button', { name: 'alice.search@example.com' }).waitFor();
  await shot(page, 'users-search');
  await page.context().close();
});
