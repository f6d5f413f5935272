// The console's main pages at laptop sizes (1280×720, 1024×768, 1366×800) in Debian's Chromium: no horizontal
// scrollbar on any page, every navigation link inside the window, and a project page reached by keyboard.
// Screenshots: test/console/screenshots/more-<size>-*.png.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { createProject, http, type Project } from '../helpers/platform.ts';
import { consoleUrl, migrate, missing, screenshots, signedIn, tabTo } from './helpers.ts';

const shot = screenshots('more');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });

async function noHorizontalScroll(page: Page, what: string): Promise<void> {
  const m = await page.evaluate(() => ({
    doc: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    body: document.body.scrollWidth - document.body.clientWidth,
    main: (() => { const el = document.querySelector('main'); return el ? el.scrollWidth - el.clientWidth : 0; })(),
  }));
  assert.ok(m.doc <= 0 && m.body <= 0, `${what}: the page scrolls sideways (${JSON.stringify(m)})`);
  assert.ok(m.main <= 0, `${what}: the main area scrolls sideways (${JSON.stringify(m)})`);
}

test('laptop screens: main pages at 1280×720, 1024×768 and 1366×800 have no horizontal scrollbar, navigation reachable', { skip: missing }, async () => {
  const p: Project = await createProject();
  await migrate(p.ref, p.owner.token, 'wide', `create table wide (${Array.from({ length: 14 }, (_, i) => `column_number_${i} text`).join(', ')})`);
  // A branch with a long name, so the branches page has a row of actions to fit.
  const branch = await http('POST', `/v1/projects/${p.ref}/branches`, { token: p.owner.token, body: { branch_name: 'a-rather-long-feature-branch-name' } });
  assert.equal(branch.status, 201, JSON.stringify(branch.body));
  const page = await signedIn(base, p.owner.token);
  // Each page, and a heading that shows it has rendered (the wide table's grid is the widest thing in the console).
  const pages: [string, 'heading' | 'button', string][] = [['', 'heading', 'test project'], ['/tables/public/wide', 'heading', 'wide'],
    ['/sql', 'heading', 'Snippets'], ['/users', 'heading', 'Users'], ['/storage', 'button', 'New bucket'], ['/observe', 'heading', 'Observability'],
    ['/functions', 'heading', 'Edge functions'], ['/branches', 'button', 'Delete a-rather-long-feature-branch-name'], ['/backups', 'heading', 'Backups'], ['/secrets', 'heading', 'Secrets'],
    ['/email', 'heading', 'Email'], ['/settings', 'heading', 'Settings']];
  const sizes = [[1280, 720], [1024, 768], [1366, 800]];
  // Each page is opened once and laid out at each size (a resize reflows it as a reload would).
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  for (const [w, h] of sizes) {
    await page.setViewportSize({ width: w, height: h });
    await noHorizontalScroll(page, `projects at ${w}×${h}`);
  }
  for (const [path, role, name] of pages) {
    await page.goto(`${base}/p/${p.ref}${path}`);
    await page.getByRole(role, { name, exact: true }).first().waitFor();
    await page.waitForLoadState('networkidle');
    for (const [w, h] of sizes) {
      await page.setViewportSize({ width: w, height: h });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await noHorizontalScroll(page, `${path || 'overview'} at ${w}×${h}`);
      if (path === '' || path === '/branches' || path.startsWith('/tables')) await shot(page, `${w}x${h}${path.split('/')[1] ? `-${path.split('/')[1]}` : '-overview'}`);
    }
  }
  for (const [w, h] of sizes) {
    await page.setViewportSize({ width: w, height: h });
    // Every link of the navigation can be brought into view and lies inside the window.
    const links = page.getByRole('navigation', { name: 'Main' }).getByRole('link');
    const n = await links.count();
    assert.ok(n >= 12, `${n} navigation links`);
    for (let i = 0; i < n; i++) {
      const link = links.nth(i);
      await link.scrollIntoViewIfNeeded();
      const box = await link.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= w && box.y >= 0 && box.y + box.height <= h, `navigation link ${i} at ${w}×${h}: ${JSON.stringify(box)}`);
    }
    // And by keyboard: a project link is reached with Tab and followed with Enter.
    await page.goto(`${base}/p/${p.ref}/backups`);
    await page.getByRole('heading', { name: 'Backups', exact: true }).first().waitFor();
    await tabTo(page, 'Branches');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Branches', exact: true }).waitFor();
  }
  await page.context().close();
});
