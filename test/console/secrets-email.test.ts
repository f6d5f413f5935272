// The secrets and email pages in Debian's Chromium: a secret set in staging through the form, listed masked,
// revealed on a click (the reveal is audited), resolved in development through the fallback chain, a site bound
// to staging with its select; a sending domain added with the DNS records to publish, an email API key and a
// webhook whose secrets are shown once, an email sent with that key opened with its events; a Read-only member
// sees both pages with every change disabled; no sideways scroll at 1024×768.
// Screenshots: test/console/screenshots/secrets-email-*.png.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { adminClient, createProject, http, joinOrganization as join, signup } from '../helpers/platform.ts';
import { consoleUrl, missing, screenshots, signedIn } from './helpers.ts';

const shot = screenshots('secrets-email');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });

async function noHorizontalScroll(page: Page, what: string): Promise<void> {
  const m = await page.evaluate(() => ({
    doc: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    main: (() => { const el = document.querySelector('main'); return el ? el.scrollWidth - el.clientWidth : 0; })(),
  }));
  assert.ok(m.doc <= 0 && m.main <= 0, `${what}: scrolls sideways (${JSON.stringify(m)})`);
}

test('secrets per environment and the email service in the console; Read-only sees but cannot change', { skip: missing }, async () => {
  const p = await createProject();
  const token = p.owner.token;
  const site = await http('POST', `/v1/projects/${p.ref}/sites`, { token, body: { subdomain: `se-${crypto.randomBytes(5).toString('hex')}` } });
  assert.equal(site.status, 201, JSON.stringify(site.body));
  const page = await signedIn(base, token);
  await page.goto(`${base}/p/${p.ref}`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Secrets', exact: true }).click();
  await page.getByRole('heading', { name: 'Secrets', exact: true }).waitFor();

  // A secret set in staging through the form (two at once: one PUT), listed masked.
  await page.getByRole('tab', { name: /^staging/ }).click();
  await page.getByTestId('env-staging').getByTestId('no-secrets').waitFor();
  await page.getByRole('button', { name: 'Add or update secrets' }).click();
  await page.getByLabel('Name 1').fill('API_TOKEN');
  await page.getByLabel('Value 1').fill('s3cret-staging-value');
  await page.getByRole('button', { name: '+ Another secret' }).click();
  await page.getByLabel('Name 2').fill('MODE');
  await page.getByLabel('Value 2').fill('stage');
  await page.getByRole('button', { name: 'Save' }).click();
  const row = page.locator('tr[data-secret="API_TOKEN"]');
  await row.waitFor();
  await page.locator('tr[data-secret="MODE"]').waitFor();
  assert.equal(await row.getByLabel('Value of API_TOKEN').textContent(), '••••••••');
  assert.equal(await page.content().then((html) => html.includes('s3cret-staging-value')), false, 'the value is not in the page before a reveal');
  const listed = await http('GET', `/v1/projects/${p.ref}/environments/staging/secrets`, { token });
  assert.deepEqual(listed.body.map((s: { name: string }) => s.name), ['API_TOKEN', 'MODE']);

  // A bad name: the API's message, nothing written.
  await page.getByRole('button', { name: 'Add or update secrets' }).click();
  await page.getByLabel('Name 1').fill('SUPABASE_URL');
  await page.getByLabel('Value 1').fill('x');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('dialog').getByRole('alert').getByText(/SUPABASE_URL is a reserved name/).waitFor();
  await page.keyboard.press('Escape');

  // Revealed on a click, and audited.
  await row.getByRole('button', { name: 'Reveal API_TOKEN' }).click();
  await row.getByLabel('Value of API_TOKEN').getByText('s3cret-staging-value').waitFor();
  await shot(page, 'staging-revealed');
  const reveals = await http('GET', `/v1/projects/${p.ref}/secret-reveals`, { token });
  assert.equal(reveals.body.length, 1, JSON.stringify(reveals.body));

  // Development sets nothing and resolves both through staging; production resolves nothing. The revealed value
  // went with the staging tab.
  await page.getByRole('tab', { name: /^development/ }).click();
  await page.getByTestId('env-development').getByText('Falls back to staging → production.').waitFor();
  await page.locator('tr[data-resolved="API_TOKEN"] [data-from="staging"]').waitFor();
  await page.locator('tr[data-resolved="MODE"] [data-from="staging"]').waitFor();
  await shot(page, 'development-resolved');
  await page.getByRole('tab', { name: /^staging/ }).click();
  assert.equal(await page.locator('tr[data-secret="API_TOKEN"]').getByLabel('Value of API_TOKEN').textContent(), '••••••••');

  // The site, bound to staging with its select.
  const select = page.getByLabel(`Environment of site ${site.body.subdomain}`);
  assert.equal(await select.inputValue(), '');
  await select.selectOption('staging');
  await page.locator(`tr[data-binding="sites/${site.body.id}"]`).getByText('default').waitFor({ state: 'detached' });
  const bindings = await http('GET', `/v1/projects/${p.ref}/secret-bindings`, { token });
  assert.equal(bindings.body.find((b: { kind: string }) => b.kind === 'sites').environment, 'staging');
  await page.getByTestId('env-staging').getByText('Bound: 0 functions, 1 site.').waitFor();

  // Delete, confirmed.
  await page.getByRole('button', { name: 'Delete MODE' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await page.locator('tr[data-secret="MODE"]').waitFor({ state: 'detached' });
  await page.setViewportSize({ width: 1024, height: 768 });
  await noHorizontalScroll(page, 'secrets at 1024×768');

  // Email: a sending domain with its DNS records; a bad one gets the API's message.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Email', exact: true }).click();
  await page.getByRole('heading', { name: 'Email', exact: true }).waitFor();
  await page.getByTestId('no-domains').waitFor();
  await page.getByLabel('Domain').fill('not a domain');
  await page.getByRole('button', { name: 'Add domain' }).click();
  await page.getByRole('alert').getByText(/invalid domain/).waitFor();
  await page.getByLabel('Domain').fill('mail.example.com');
  await page.getByRole('button', { name: 'Add domain' }).click();
  const domain = page.locator('[data-domain="mail.example.com"]');
  await domain.locator('[data-status="pending"]').waitFor();
  const dkim = (await http('GET', `/v1/projects/${p.ref}/email/domains`, { token })).body[0].records.find((r: { purpose: string }) => r.purpose === 'dkim');
  assert.equal(await domain.getByLabel('dkim record name').textContent(), dkim.name);
  assert.equal(await domain.getByLabel('dkim record value').textContent(), dkim.value);
  await domain.getByLabel('return_path record value').waitFor();
  await noHorizontalScroll(page, 'email domains at 1024×768');
  await shot(page, 'email-domains');

  // An API key: its secret shown once, then only its prefix.
  await page.getByRole('tab', { name: 'API keys' }).click();
  await page.getByLabel('Key name').fill('mailer');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-email-key').getByLabel('New email API key').textContent())!;
  assert.match(key, /^lme_[0-9a-f]{48}$/);
  await page.locator('tr[data-key="mailer"]').getByText(`${key.slice(0, 10)}…`).waitFor();
  await shot(page, 'email-key');
  // A webhook: its signing secret shown once; a loopback URL gets the API's refusal.
  await page.getByRole('tab', { name: 'Webhooks' }).click();
  await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/hook');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.getByRole('alert').getByText(/private or loopback/).waitFor();
  await page.getByLabel('Endpoint URL').fill('https://hooks.example.com/email');
  await page.getByLabel('bounced').uncheck();
  await page.getByRole('button', { name: 'Add webhook' }).click();
  assert.match((await page.getByTestId('new-webhook-secret').getByLabel('New webhook signing secret').textContent())!, /^whsec_/);
  const hook = page.locator('[data-webhook="https://hooks.example.com/email"]');
  await hook.getByText('queued, sent, failed').waitFor();
  await hook.getByRole('button', { name: 'Deliveries' }).click();
  await hook.getByText('No deliveries yet.').waitFor();
  await shot(page, 'email-webhook');
  await page.getByRole('button', { name: 'Delete webhook https://hooks.example.com/email' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await page.getByTestId('no-webhooks').waitFor();
  await page.getByRole('tab', { name: 'API keys' }).click();
  await page.locator('tr[data-key="mailer"]').waitFor();
  assert.equal(await page.getByTestId('new-email-key').count(), 0, 'the key is not shown again');
  assert.equal(await page.content().then((html) => html.includes(key)), false);
  await page.getByRole('tab', { name: 'Emails' }).click();
  await page.getByTestId('email-stats').waitFor();
  await page.getByTestId('no-emails').waitFor();

  // An email sent with that key (the domain marked verified here: this test has no DNS server to check it with)
  // is listed, and opened shows its events.
  const db = await adminClient();
  try {
    await db.query(`update platform_private.email_domains set status = 'verified', verified_at = now() where domain = 'mail.example.com'
      and project_id = (select id from platform.projects where ref = $1)`, [p.ref]);
  } finally { await db.end(); }
  const sent = await http('POST', `/v1/projects/${p.ref}/emails`, { headers: { authorization: `Bearer ${key}` },
    body: { from: 'Shop <hello@mail.example.com>', to: 'someone@example.org', subject: 'Your order', text: 'Thanks' } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByRole('button', { name: 'Your order' }).click();
  const dialog = page.getByRole('dialog', { name: 'Your order' });
  await dialog.getByTestId('email-events').getByRole('cell', { name: 'queued', exact: true }).waitFor();
  await dialog.getByText('someone@example.org').first().waitFor();
  await shot(page, 'email-opened');
  await page.keyboard.press('Escape');
  const today = (await http('GET', `/v1/projects/${p.ref}/email/stats?days=7`, { token })).body.find((d: { queued: number }) => d.queued > 0);
  assert.ok(today, 'the stats count the email');
  await page.getByTestId('email-stats').getByRole('cell', { name: today.day, exact: true }).waitFor();
  await page.context().close();

  // A Read-only member sees both pages, with every change disabled (and the API refuses them too).
  const ro = await signup();
  await join(p.owner, ro, 'Read-only');
  const roPage = await signedIn(base, ro.token);
  await roPage.goto(`${base}/p/${p.ref}/secrets`);
  await roPage.getByRole('tab', { name: /^staging/ }).click();
  await roPage.locator('tr[data-secret="API_TOKEN"]').waitFor();
  for (const name of ['Add or update secrets', 'Reveal API_TOKEN', 'Delete API_TOKEN']) {
    assert.equal(await roPage.getByRole('button', { name, exact: true }).isDisabled(), true, `${name} is disabled for Read-only`);
  }
  assert.equal(await roPage.getByLabel(`Environment of site ${site.body.subdomain}`).isDisabled(), true);
  await shot(roPage, 'secrets-read-only');
  assert.equal((await http('POST', `/v1/projects/${p.ref}/environments/staging/secrets/API_TOKEN/reveal`, { token: ro.token })).status, 403);
  await roPage.goto(`${base}/p/${p.ref}/email`);
  await roPage.locator('[data-domain="mail.example.com"]').waitFor();
  for (const name of ['Add domain', 'Verify mail.example.com', 'Delete mail.example.com']) {
    assert.equal(await roPage.getByRole('button', { name, exact: true }).isDisabled(), true, `${name} is disabled for Read-only`);
  }
  await roPage.getByRole('tab', { name: 'API keys' }).click();
  await roPage.locator('tr[data-key="mailer"]').waitFor();
  assert.equal(await roPage.getByRole('button', { name: 'Create key' }).isDisabled(), true);
  assert.equal(await roPage.getByRole('button', { name: 'Delete key mailer' }).isDisabled(), true);
  await shot(roPage, 'email-read-only');
  await roPage.context().close();
});
