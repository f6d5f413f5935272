// Every page of the console renders against a real project (screenshots: test/console/screenshots/pages-*.png):
// auth users (creating one), observability (charts, logs, advisors), functions, sites, settings (API, auth,
// storage; saving max rows reaches the Management API), access tokens and the organization page.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http } from '../helpers/platform.ts';
import { consoleUrl, missing, screenshots, signedIn } from './helpers.ts';

const shot = screenshots('pages');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });

test('each page of a project, the tokens page and the organization page', { skip: missing }, async () => {
  const p = await createProject();
  const ref = p.ref;
  const token = p.owner.token;
  const page = await signedIn(base, token);
  await page.goto(`${base}/p/${ref}`);
  await page.locator('[data-status="ACTIVE_HEALTHY"]').first().waitFor();
  // The other pages, each rendered (and photographed) once.
  for (const [link, heading, name] of [['Auth users', 'Users', 'auth-users'], ['Observability', 'Observability', 'observability'],
    ['Functions', 'Edge functions', 'functions'], ['Sites', 'Sites', 'sites'], ['Secrets', 'Secrets', 'secrets'], ['Email', 'Email', 'email'],
    ['Settings', 'Settings', 'settings']] as const) {
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


  // A setting saved in the console is the Management API's.
  await page.goto(`${base}/p/${ref}/settings`);
  await page.getByLabel('Max rows').fill('500');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('Saved').waitFor();
  assert.equal((await http('GET', `/v1/projects/${ref}/postgrest`, { token })).body.max_rows, 500);
  await page.getByRole('link', { name: '← All projects' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link').nth(2).click();
  await page.getByRole('heading', { name: 'Members' }).waitFor();
  await page.getByRole('cell', { name: p.owner.email, exact: true }).waitFor();
  await shot(page, 'organization');
});
