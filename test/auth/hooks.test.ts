// The custom access token hook: a Postgres function of the project that adds claims (here a role from a
// table, then used by an RLS policy through REST), refuses a sign-in, or returns claims that are not valid.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { http, sql, type Project } from '../helpers/platform.ts';
import { PASSWORD, authHttp, authProject, client, configure, newEmail } from './helpers.ts';

let p: Project;
before(async () => {
  p = await authProject({ mailer_autoconfirm: true });
  await sql(p, `
    create table public.user_roles (user_id uuid primary key, role text not null);
    create function public.custom_access_token_hook(event jsonb) returns jsonb language plpgsql stable as $$
    declare
      r text;
    begin
      if event->'claims'->>'email' like 'blocked-%' then
        return jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'Your account is on hold'));
      end if;
      if event->'claims'->>'email' like 'broken-%' then
        return jsonb_build_object('claims', (event->'claims') - 'sub');
      end if;
      select role into r from public.user_roles where user_id = (event->>'user_id')::uuid;
      return jsonb_build_object('claims', jsonb_set(event->'claims', '{user_role}', to_jsonb(coalesce(r, 'member'))));
    end $$;
    grant select on public.user_roles to service_role;
    grant execute on function public.custom_access_token_hook(jsonb) to service_role;
    create table public.reports (id int primary key, title text);
    insert into public.reports values (1, 'quarterly');
    alter table public.reports enable row level security;
    create policy select_admin on public.reports for select to authenticated using (auth.jwt()->>'user_role' = 'admin');
    grant select on public.reports to authenticated;`);
  await configure(p, { hook_custom_access_token_enabled: true, hook_custom_access_token_uri: 'pg-functions://postgres/public/custom_access_token_hook' });
});

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

describe('custom access token hook', () => {
  it('adds claims that RLS policies read', async () => {
    const c = client(p);
    const { data } = await c.auth.signUp({ email: newEmail(), password: PASSWORD });
    assert.equal(claims(data.session!.access_token).user_role, 'member');
    assert.deepEqual((await c.from('reports').select('title')).data, []);

    await sql(p, `insert into public.user_roles values ('${data.user!.id}', 'admin')`);
    const { data: refreshed } = await c.auth.refreshSession();
    assert.equal(claims(refreshed.session!.access_token).user_role, 'admin');
    const res = await http('GET', `/project/${p.ref}/rest/v1/reports?select=title`, {
      token: refreshed.session!.access_token, headers: { apikey: p.anonKey },
    });
    assert.deepEqual(res.body, [{ title: 'quarterly' }]);
  });

  it("an error from the hook is the request's answer", async () => {
    const email = `blocked-${newEmail()}`;
    await client(p, p.serviceKey).auth.admin.createUser({ email, password: PASSWORD, email_confirm: true });
    const res = await authHttp(p, 'POST', '/token?grant_type=password', { body: { email, password: PASSWORD } });
    assert.equal(res.status, 403);
    assert.equal(res.body.message, 'Your account is on hold');
  });

  it('claims missing a required field are refused', async () => {
    const email = `broken-${newEmail()}`;
    await client(p, p.serviceKey).auth.admin.createUser({ email, password: PASSWORD, email_confirm: true });
    const res = await authHttp(p, 'POST', '/token?grant_type=password', { body: { email, password: PASSWORD } });
    assert.equal(res.status, 500);
    assert.equal(res.body.code, 'unexpected_failure');
    assert.match(res.body.message, /^output claims do not conform to the expected schema: \n- \(root\): sub is required/);
  });

  it('a hook URI of the wrong form is refused by the config API', async () => {
    const res = await http('PATCH', `/v1/projects/${p.ref}/config/auth`, {
      token: p.owner.token, body: { hook_custom_access_token_uri: 'ftp://example.com/hook' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'hook_custom_access_token_uri must be pg-functions://postgres/<schema>/<function> or an http(s) URL');
  });
});
