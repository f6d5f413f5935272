// What the console's browser tests share: Debian's Chromium (headless, a fresh profile each), screenshots under
// test/console/screenshots/, and a console build that is up to date with its sources.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConsole, consoleBuilt } from '../../console/build.ts';
import { http, loam } from '../helpers/platform.ts';

export const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test/console/screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];
/** Why the browser tests cannot run here, or false. */
export const missing: string | false = !fs.existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (.ci/run installs the chromium package)`;

const dirs: string[] = [];
const contexts: BrowserContext[] = [];
after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

export async function browser(): Promise<{ context: BrowserContext; page: Page }> {
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

/** A screenshot named `<file>-<nn>-<name>.png`. */
export function screenshots(file: string): (page: Page, name: string) => Promise<void> {
  let n = 0;
  return async (page, name) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${file}-${String(++n).padStart(2, '0')}-${name}.png`) });
  };
}

let built: Promise<void> | undefined;
/** The running Loam's URL, with the console built from the current sources. */
export async function consoleUrl(): Promise<string> {
  built ??= consoleBuilt() ? Promise.resolve() : buildConsole();
  await built;
  return (await loam()).url;
}

/** A page signed in to the console as `token` (the session the sign-in form would have stored). */
export async function signedIn(base: string, token: string): Promise<Page> {
  const { page } = await browser();
  await page.goto(`${base}/sign-in`);
  await page.evaluate((t) => localStorage.setItem('loam.session', t), token);
  return page;
}

/** Presses Tab until the focused element is the button or link named `name` (as a keyboard user reaches it). */
export async function tabTo(page: Page, name: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const label = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? (el.getAttribute('aria-label') ?? el.textContent ?? '').trim() : '';
    });
    if (label === name) return;
  }
  throw new Error(`"${name}" was not reached with Tab`);
}

/** Applies a migration through the Management API (as the CLI would). */
export const migrate = async (ref: string, token: string, name: string, query: string) => {
  const res = await http('POST', `/v1/projects/${ref}/database/migrations`, { token, body: { name, query } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
};
