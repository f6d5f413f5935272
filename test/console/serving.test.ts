// The console as served: at / on the platform's host and never in place of an API; what tenants serve on that
// origin runs sandboxed (an attacker's stored SVG cannot read the console's session); themes, keyboard, sign-in.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SANDBOX } from '../../server/src/console.ts';
import { createProject, signup } from '../helpers/platform.ts';
import { browser, consoleUrl, missing, screenshots } from './helpers.ts';

const shot = screenshots('serving');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });

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
  // Paths that are not the console's keep the platform's JSON 404, even for a browser.
  const unknown = await fetch(`${base}/etc/passwd`, { headers: { accept: 'text/html' } });
  assert.equal(unknown.status, 404);
  assert.match(unknown.headers.get('content-type') ?? '', /json/);
  assert.match((await fetch(`${base}/nothing-here`, { headers: { accept: 'application/json' } })).headers.get('content-type') ?? '', /json/);
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

test('what a tenant serves on the console\'s origin runs sandboxed: a stored SVG\'s script cannot read the session', { skip: missing }, async () => {
  const p = await createProject();
  const admin = { apikey: p.serviceKey, authorization: `Bearer ${p.serviceKey}` };
  assert.equal((await fetch(`${p.url}/storage/v1/bucket`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'pub', public: true }) })).status, 200);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg"><script>
    let r; try { r = 'read:' + localStorage.getItem('loam.session'); } catch (e) { r = 'blocked:' + e.name; }
    try { r += ' opener:' + typeof window.open('/', '_blank').document; } catch (e) { r += ' opener:blocked'; }
    document.documentElement.setAttribute('data-result', r);
  </script></svg>`;
  const up = await fetch(`${p.url}/storage/v1/object/pub/evil.svg`, { method: 'POST', headers: { ...admin, 'content-type': 'image/svg+xml' }, body: svg });
  assert.equal(up.status, 200, await up.text());
  const { page } = await browser();
  await page.goto(`${base}/sign-in`);
  await page.evaluate((t) => localStorage.setItem('loam.session', t), p.owner.token);
  await page.goto(`${p.url}/storage/v1/object/public/pub/evil.svg`);
  const result = await page.locator('svg').getAttribute('data-result');
  assert.match(result ?? '', /^blocked:SecurityError opener:blocked$/, `the script ran but reached nothing: ${result}`);
  assert.equal(await page.evaluate(() => self.origin), 'null');
  // The sandbox is on every tenant-content answer of the platform's host, whatever the tenant's own headers …
  for (const path of ['/rest/v1/', '/functions/v1/nothing', '/storage/v1/object/public/pub/evil.svg']) {
    const res = await fetch(`${p.url}${path}`, { headers: { apikey: p.anonKey } });
    assert.ok((res.headers.get('content-security-policy') ?? '').includes(SANDBOX), `${path}: ${res.headers.get('content-security-policy')}`);
  }
  const sites = await fetch(`${base}/sites/no-such-site/`);
  assert.ok((sites.headers.get('content-security-policy') ?? '').includes(SANDBOX));
  // … and not on the console's and the Management API's.
  assert.doesNotMatch((await fetch(`${base}/`, { headers: { accept: 'text/html' } })).headers.get('content-security-policy') ?? '', /sandbox/);
  assert.equal((await fetch(`${base}/v1/organizations`)).headers.get('content-security-policy'), null);
  // The session itself was there to be read by a same-origin page.
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('loam.session')), p.owner.token);
});
