// Worker lifecycle: the per-project cap (idle workers are evicted first, busy ones never), idle eviction, and
// every Deno process gone when Loam stops its functions.
process.env.LOAM_FUNCTIONS_MAX_WORKERS_PER_PROJECT = '2';
process.env.LOAM_FUNCTIONS_IDLE_MS = '700';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProject } from '../helpers/platform.ts';
import { stopFunctions, workerPool } from '../../server/src/functions/invoke.ts';
import { deploy, invoke } from './helpers.ts';

const SLOW = `Deno.serve(async (req) => { if (new URL(req.url).pathname.endsWith('/slow')) await new Promise((r) => setTimeout(r, 1500)); return new Response(String(Deno.pid ?? 'ok')); });`;
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('caps, idle eviction, shutdown', async () => {
  const a = await createProject();
  for (const slug of ['f1', 'f2', 'f3']) assert.equal((await deploy(a, slug, { 'index.ts': SLOW }, { verify_jwt: false })).status, 201);
  const ofA = () => workerPool().all().filter((w) => w.ref === a.ref && !w.dead);

  await test('at the cap, an idle worker makes room; busy ones are never evicted', async () => {
    assert.equal((await invoke(a, 'f1')).status, 200);
    assert.equal((await invoke(a, 'f2')).status, 200);
    assert.equal((await invoke(a, 'f3')).status, 200);
    assert.deepEqual(ofA().map((w) => w.slug).sort(), ['f2', 'f3']);
    const busy = [invoke(a, 'f2/slow'), invoke(a, 'f3/slow')];
    await new Promise((r) => setTimeout(r, 300));
    const refused = await invoke(a, 'f1');
    assert.equal(refused.status, 503);
    assert.equal(refused.json.code, 'WORKER_LIMIT');
    for (const r of await Promise.all(busy)) assert.equal(r.status, 200);
  });

  await test('idle workers stop', async () => {
    for (let i = 0; i < 60 && ofA().length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(ofA().length, 0);
    assert.equal((await invoke(a, 'f1')).status, 200, 'and start again on demand');
  });

  await test('stopping Loam\'s functions kills every worker process', async () => {
    await invoke(a, 'f2');
    const pids = ofA().map((w) => (w as unknown as { proc?: { pid: number } }).proc?.pid).filter((p): p is number => !!p);
    assert.ok(pids.length >= 1);
    assert.ok(pids.every(alive));
    await stopFunctions();
    for (let i = 0; i < 30 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(pids.filter(alive), []);
  });
});
