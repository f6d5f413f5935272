// Load: password-grant throughput with production bcrypt cost (10), and the latency of a REST GET by id while
// 10 logins run at once — bcrypt runs off the event loop, so sign-ins must not stall other requests.
// A measurement, not part of `npm test` (test/run.ts skips bench folders): run it alone, on a quiet machine,
// with `npm test -- test/auth/bench` (LOAM_LOAD_BCRYPT_ROUNDS=4 to see the cost of everything but bcrypt).
import assert from 'node:assert/strict';
import { it } from 'node:test';

const ROUNDS = process.env.LOAM_LOAD_BCRYPT_ROUNDS || '10';
process.env.LOAM_BCRYPT_ROUNDS = ROUNDS;
const { http, sql } = await import('../../helpers/platform.ts');
const { PASSWORD, authProject, client, newEmail } = await import('../helpers.ts');

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

it('password grants per second, and GET-by-id p99 during 10 concurrent logins', async (t) => {
  const p = await authProject({ mailer_autoconfirm: true, rate_limit_token_refresh: 1_000_000 });
  await sql(p, `create table public.items (id int primary key, name text); insert into public.items values (1, 'one');
    grant select on public.items to anon;`);
  const admin = client(p, p.serviceKey).auth.admin;
  const emails: string[] = [];
  for (let i = 0; i < 10; i++) {
    const email = newEmail();
    await admin.createUser({ email, password: PASSWORD, email_confirm: true });
    emails.push(email);
  }
  const login = (email: string) => http('POST', `/project/${p.ref}/auth/v1/token?grant_type=password`, {
    headers: { apikey: p.anonKey }, body: { email, password: PASSWORD },
  });
  const get = async () => {
    const t0 = performance.now();
    const res = await http('GET', `/project/${p.ref}/rest/v1/items?id=eq.1`, { headers: { apikey: p.anonKey } });
    assert.equal(res.status, 200);
    return performance.now() - t0;
  };

  for (let i = 0; i < 20; i++) await get(); // warm the schema cache and pools
  const idle: number[] = [];
  for (let i = 0; i < 200; i++) idle.push(await get());

  const seconds = 5;
  const until = Date.now() + seconds * 1000;
  let logins = 0;
  const loaded: number[] = [];
  const started = performance.now();
  await Promise.all([
    ...emails.map(async (email) => {
      while (Date.now() < until) {
        const res = await login(email);
        assert.equal(res.status, 200);
        logins++;
      }
    }),
    (async () => { while (Date.now() < until) loaded.push(await get()); })(),
  ]);
  const elapsed = (performance.now() - started) / 1000;
  const rate = logins / elapsed;
  const report = `password grant: ${rate.toFixed(1)} logins/s (bcrypt cost ${ROUNDS}, 10 concurrent clients); ` +
    `GET by id p50/p99 idle ${pct(idle, 0.5).toFixed(1)}/${pct(idle, 0.99).toFixed(1)} ms, ` +
    `under 10 logins ${pct(loaded, 0.5).toFixed(1)}/${pct(loaded, 0.99).toFixed(1)} ms (${loaded.length} GETs)`;
  t.diagnostic(report);
  console.log(`# ${report}`);
  assert.ok(logins > 0);
  // A stalled event loop would put GETs behind whole bcrypt computations; this bound is loose for shared CPUs.
  assert.ok(pct(loaded, 0.99) < 1000, report);
});
