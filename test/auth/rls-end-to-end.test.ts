// End to end: two users sign up through auth, each writes rows through REST under `auth.uid() = user_id`,
// each reads back only their own — through REST and GraphQL alike; the other project sees none of it.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { http, sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authProject, client, newEmail } from './helpers.ts';

let p: Project;
before(async () => {
  p = await authProject({ mailer_autoconfirm: true });
  await sql(p, `
    create table public.notes (
      id bigint generated always as identity primary key,
      user_id uuid not null default auth.uid() references auth.users on delete cascade,
      body text not null
    );
    alter table public.notes enable row level security;
    create policy select_own on public.notes for select to authenticated using (auth.uid() = user_id);
    create policy insert_own on public.notes for insert to authenticated with check (auth.uid() = user_id);
    grant select, insert on public.notes to authenticated;
    grant usage on sequence public.notes_id_seq to authenticated;`);
});

async function user() {
  const c = client(p);
  const { data, error } = await c.auth.signUp({ email: newEmail(), password: PASSWORD });
  assert.equal(error, null);
  return { c, id: data.user!.id, token: data.session!.access_token };
}

describe('auth.uid() in RLS policies through REST and GraphQL', () => {
  it('each user sees only their own rows', async () => {
    const [u1, u2] = [await user(), await user()];
    for (const [u, bodies] of [[u1, ['one', 'two']], [u2, ['three']]] as const) {
      const { error } = await u.c.from('notes').insert(bodies.map((body) => ({ body })));
      assert.equal(error, null, JSON.stringify(error));
    }
    const mine1 = await u1.c.from('notes').select('body, user_id').order('id');
    assert.equal(mine1.error, null);
    assert.deepEqual(mine1.data!.map((r) => r.body), ['one', 'two']);
    assert.ok(mine1.data!.every((r) => r.user_id === u1.id));
    const mine2 = await u2.c.from('notes').select('body');
    assert.deepEqual(mine2.data!.map((r) => r.body), ['three']);

    // Writing a row for someone else is refused by the policy.
    const forged = await u1.c.from('notes').insert({ body: 'forged', user_id: u2.id });
    assert.equal(forged.error?.code, '42501');

    // Anonymous callers see nothing.
    const anon = await client(p).from('notes').select('body');
    assert.deepEqual(anon.data ?? [], []);

    // GraphQL agrees.
    const gql = async (token: string) => (await http('POST', `/project/${p.ref}/graphql/v1`, {
      token, headers: { apikey: p.anonKey }, body: { query: '{ allNotes { nodes { body } } }' },
    })).body;
    const g1 = await gql(u1.token);
    assert.deepEqual(g1.data?.allNotes.nodes.map((n: { body: string }) => n.body).sort(), ['one', 'two'], JSON.stringify(g1));
    const g2 = await gql(u2.token);
    assert.deepEqual(g2.data?.allNotes.nodes.map((n: { body: string }) => n.body), ['three']);
  });

  it("a user of another project cannot read this project's rows", async () => {
    const other = await authProject({ mailer_autoconfirm: true });
    const { data } = await client(other).auth.signUp({ email: newEmail(), password: PASSWORD });
    const res = await http('GET', `/project/${p.ref}/rest/v1/notes?select=body`, {
      token: data.session!.access_token, headers: { apikey: p.anonKey },
    });
    assert.equal(res.status, 401);
  });
});
