// The table editor over 100,000 rows: only the rows in view are in the DOM, and pages of rows come from the
// project's REST API as they scroll into view. Long tasks are recorded while scrolling top to bottom, beside the
// same scroll loop over an empty page as a yardstick for how loaded the machine is; all are printed.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createProject, http } from '../helpers/platform.ts';
import { consoleUrl, missing, screenshots, signedIn } from './helpers.ts';

const shot = screenshots('scroll');
let base = '';
before(async () => { if (!missing) base = await consoleUrl(); });

test('the table editor scrolls through 100,000 rows without freezing', { skip: missing }, async () => {
  const p = await createProject();
  const ref = p.ref;
  const token = p.owner.token;
  const page = await signedIn(base, token);
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
  const longTasks = await page.evaluate(() => [...(window as unknown as { longTasks: number[] }).longTasks]);
  // The same loop over a hand-written grid (plain DOM, the same rows of text re-rendered on each scroll) in the
  // same place: a yardstick for what painting rows costs on this machine at this moment.
  const baseline = await page.evaluate(async () => {
    const grid = document.querySelector('[data-testid="grid-scroll"]') as HTMLElement;
    const r = grid.getBoundingClientRect();
    const el = document.createElement('div');
    el.style.cssText = `position:fixed;left:${r.left}px;top:${r.top}px;width:${r.width}px;height:${r.height}px;overflow:auto;contain:strict;z-index:99;background:#fff;font:13px system-ui`;
    el.innerHTML = '<div style="height:3200000px;position:relative"></div>';
    const body = el.firstChild as HTMLElement;
    const paint = () => {
      const first = Math.floor(el.scrollTop / 32);
      let h = '';
      for (let i = first; i < first + 40; i++) h += `<div style="position:absolute;top:0;transform:translateY(${i * 32}px);height:32px;display:grid;grid-template-columns:72px 120px 200px 110px"><div>${i + 1}</div><div>${i + 1}</div><div>${(i * 2654435761 >>> 0).toString(16)}</div><div>false</div></div>`;
      body.innerHTML = h;
    };
    el.addEventListener('scroll', paint);
    document.body.append(el);
    paint();
    const frame = () => new Promise((res) => requestAnimationFrame(() => res(undefined)));
    const started = performance.now();
    for (let i = 1; i <= 200; i++) { el.scrollTop = (el.scrollHeight - el.clientHeight) * (i / 200); await frame(); }
    el.remove();
    return Math.round(performance.now() - started);
  });
  console.log(`[console] the same 200 scroll steps over a hand-written plain-DOM grid: ${baseline} ms`);
  await page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '100000' }) }).getByRole('gridcell').first().filter({ hasText: '100000' }).waitFor();
  const rendered = await page.locator('.grid-row').count();
  console.log(`[console] scrolled 100,000 rows top to bottom in ${scroll.frames} frames, ${scroll.ms} ms; worst frame ${scroll.worstFrame} ms; ` +
    `long tasks: ${longTasks.length} (longest ${Math.round(Math.max(0, ...longTasks))} ms, total ${Math.round(longTasks.reduce((a, b) => a + b, 0))} ms); ${rendered} rows in the DOM`);
  assert.ok(rendered < 200, `only the rows in view are in the DOM (${rendered})`);
  assert.ok(Math.max(0, ...longTasks) < 1000, 'no task froze the page for a second');
  await shot(page, 'table-100k-rows');

});
