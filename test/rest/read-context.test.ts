// A request's context and statement run as one implicit transaction — reads on a shared, pipelined
// connection — answered together, with no BEGIN or COMMIT (db/src/context.ts queryInContext). Written as an
// attacker would try it: reads of several callers interleaved on the same connections never see each other's
// role or claims, a function called by a GET can neither write nor switch the transaction back to read-write,
// and nothing of a read's context is left for the next one.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, test } from 'node:test';
import { signJwt } from '../../server/src/project/jwt.ts';
import { adminClient, createProject, sql, type Project } from '../helpers/platform.ts';
import { rest } from './fixture.ts';

let p: Project;
let other: Project;
const users = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
let tokens: string[] = [];

before(async () => {
  [p, other] = await Promise.all([createProject(), createProject()]);
  await sql(p, `
    create table notes (id serial primary key, owner uuid not null, body text not null);
    alter table notes enable row level security;
    create policy own on notes for select using (owner = (select auth.uid()));
    grant select on notes to anon, authenticated;
    insert into notes (owner, body) values ${users.map((u, i) => `('${u}', 'note of user ${i}')`).join(', ')};
    create table writes (at timestamptz default now());
    grant insert on writes to anon, authenticated;
    create function whoami() returns json language sql stable as $$
      select json_build_object('role', current_user, 'sub', auth.uid(), 'claims', current_setting('request.jwt.claims', true),
        'read_only', current_setting('transaction_read_only'))
    $$;
    -- Called by GET, so run read-only: they try to write, first as they are, then after switching the
    -- transaction to read-write, or to become the superuser.
    create function sneaky_write() returns int language plpgsql as $$
    begin insert into writes default values; return 1; end $$;
    create function sneaky_switch() returns int language plpgsql as $$
    begin perform set_config('transaction_read_only', 'off', true); insert into writes default values; return 1; end $$;
    create function sneaky_role() returns text language plpgsql as $$
    begin perform set_config('role', 'postgres', true); return current_user; end $$;
    grant execute on all functions in schema public to anon, authenticated;
    -- A write whose end fails: a deferred check that only the commit runs.
    create table pairs (id int primary key, twin int);
    alter table pairs add constraint twin_fk foreign key (twin) references pairs (id) deferrable initially deferred;
    grant select, insert on pairs to anon;
    create table stamped (id int primary key, by_role text default current_user, claims text default current_setting('request.jwt.claims', true));
    grant select, insert on stamped to anon, authenticated;
  `);
  const c = await adminClient();
  const { rows } = await c.query('select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1', [p.ref]);
  await c.end();
  const exp = Math.floor(Date.now() / 1000) + 3600;
  tokens = users.map((sub) => signJwt({ sub, role: 'authenticated', exp }, rows[0].jwt_secret));
});

test('reads of different callers interleaved on the shared connections each see only their own role and claims', async () => {
  const calls = Array.from({ length: 90 }, (_, i) => i % (users.length + 1));
  const results = await Promise.all(calls.map(async (who) => {
    const token = who < users.length ? tokens[who] : undefined;
    const [me, notes] = await Promise.all([
      rest(p, 'GET', '/rpc/whoami', { token }),
      rest(p, 'GET', '/notes?select=body', { token }),
    ]);
    return { who, me, notes };
  }));
  for (const { who, me, notes } of results) {
    assert.equal(me.status, 200);
    assert.equal(notes.status, 200);
    assert.equal(me.body.read_only, 'on');
    if (who < users.length) {
      assert.equal(me.body.role, `${p.ref}_authenticated`);
      assert.equal(me.body.sub, users[who]);
      assert.deepEqual(notes.body, [{ body: `note of user ${who}` }]);
    } else {
      assert.equal(me.body.role, `${p.ref}_anon`);
      assert.equal(me.body.sub, null);
      assert.deepEqual(notes.body, []);
    }
  }
});

test('a function a read calls cannot write, switch the transaction to read-write, or take another role', async () => {
  for (let i = 0; i < 6; i++) {
    const write = await rest(p, 'GET', '/rpc/sneaky_write', { token: tokens[0] });
    assert.equal(write.status, 405, JSON.stringify(write.body));
    assert.equal(write.body.code, '25006');
    const sw = await rest(p, 'GET', '/rpc/sneaky_switch');
    assert.notEqual(sw.status, 200, JSON.stringify(sw.body));
    assert.equal(sw.body.code, '25001'); // "transaction read-write mode must be set before any query"
    const role = await rest(p, 'GET', '/rpc/sneaky_role');
    assert.notEqual(role.status, 200, JSON.stringify(role.body));
    assert.equal(role.body.code, '42501');
  }
  const [{ n }] = await sql(p, 'select count(*)::int as n from writes');
  assert.equal(n, 0);
});

test('nothing of a read\'s context outlives it: the next read of another caller starts clean', async () => {
  for (let i = 0; i < 8; i++) {
    const mine = await rest(p, 'GET', '/rpc/whoami', { token: tokens[1], headers: { Prefer: 'timezone=Asia/Tokyo' } });
    assert.equal(mine.body.sub, users[1]);
    const anon = await rest(p, 'GET', '/rpc/whoami');
    assert.equal(anon.body.sub, null);
    assert.equal(JSON.parse(anon.body.claims).role, 'anon');
    assert.equal(anon.body.role, `${p.ref}_anon`);
  }
});

test('cross-project: a token of one project reads nothing of another through the shared connections', async () => {
  for (let i = 0; i < 4; i++) {
    const r = await rest(other, 'GET', '/rpc/whoami', { token: tokens[0] });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'PGRST301');
  }
});

test('a write is one transaction: a check that fails only at its commit is an error and keeps nothing', async () => {
  for (let i = 0; i < 4; i++) {
    const bad = await rest(p, 'POST', '/pairs', { body: { id: 10 + i, twin: 999 } });
    assert.equal(bad.status, 409, JSON.stringify(bad.body));
    assert.equal(bad.body.code, '23503');
    const good = await rest(p, 'POST', '/pairs', { body: [{ id: 100 + 2 * i, twin: 101 + 2 * i }, { id: 101 + 2 * i, twin: 100 + 2 * i }] });
    assert.equal(good.status, 201);
  }
  const rows = await sql(p, 'select id from pairs order by id');
  assert.deepEqual(rows.map((r) => r.id), [100, 101, 102, 103, 104, 105, 106, 107]);
});

test('writes of different callers interleaved each run as their own role with their own claims', async () => {
  const calls = Array.from({ length: 40 }, (_, i) => i);
  const statuses = await Promise.all(calls.map((i) => rest(p, 'POST', '/stamped', { token: i % 2 ? tokens[i % users.length] : undefined, body: { id: i } })
    .then((r) => r.status)));
  assert.ok(statuses.every((s) => s === 201));
  for (const row of await sql(p, 'select id, by_role, claims from stamped')) {
    const claims = JSON.parse(row.claims);
    if (row.id % 2) {
      assert.equal(row.by_role, `${p.ref}_authenticated`);
      assert.equal(claims.sub, users[row.id % users.length]);
    } else {
      assert.equal(row.by_role, `${p.ref}_anon`);
      assert.equal(claims.role, 'anon');
    }
  }
});
