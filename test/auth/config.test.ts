// GET/PATCH /v1/projects/{ref}/config/auth: Supabase field names, defaults, validation, members only, and the
// SMTP password never shown.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { adminClient, http, signup, type Project } from '../helpers/platform.ts';
import { authProject } from './helpers.ts';

let p: Project;
before(async () => { p = await authProject(); });

const path = () => `/v1/projects/${p.ref}/config/auth`;

describe('config/auth', () => {
  it('GET shows the defaults', async () => {
    const res = await http('GET', path(), { token: p.owner.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.site_url, 'http://localhost:3000');
    assert.equal(res.body.mailer_autoconfirm, false);
    assert.equal(res.body.jwt_exp, 3600);
    assert.equal(res.body.password_min_length, 6);
    assert.equal(res.body.external_anonymous_users_enabled, false);
    assert.equal(res.body.smtp_pass, null);
    assert.equal(res.body.rate_limit_email_sent, 30);
  });

  it('PATCH changes only the given fields; null resets; smtp_pass is stored but not shown', async () => {
    const res = await http('PATCH', path(), { token: p.owner.token, body: { site_url: 'https://app.example.com', jwt_exp: 900, smtp_host: 'smtp.example.com', smtp_pass: 'hunter2' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.site_url, 'https://app.example.com');
    assert.equal(res.body.jwt_exp, 900);
    assert.equal(res.body.smtp_pass, null);
    assert.equal(res.body.mailer_autoconfirm, false);
    const admin = await adminClient();
    const { rows } = await admin.query(
      'select c.smtp_pass from platform_private.auth_configs c join platform.projects p on p.id = c.project_id where p.ref = $1', [p.ref]);
    await admin.end();
    assert.equal(rows[0].smtp_pass, 'hunter2');
    const reset = await http('PATCH', path(), { token: p.owner.token, body: { jwt_exp: null } });
    assert.equal(reset.body.jwt_exp, 3600);
    assert.equal(reset.body.site_url, 'https://app.example.com');
  });

  const bad: [string, unknown, string][] = [
    ['an unknown field', { no_such_thing: true }, 'unknown auth config field: no_such_thing'],
    ['a wrong type', { mailer_autoconfirm: 'yes' }, 'mailer_autoconfirm must be a boolean'],
    ['out of range', { jwt_exp: 5 }, 'jwt_exp must be an integer between 30 and 604800'],
    ['a bad site_url', { site_url: 'ftp://x' }, 'site_url must be an http(s) URL'],
    ['not an object', [1], 'Request body must be a JSON object'],
  ];
  for (const [name, body, message] of bad) {
    it(`PATCH with ${name} is a 400`, async () => {
      const res = await http('PATCH', path(), { token: p.owner.token, body });
      assert.equal(res.status, 400);
      assert.equal(res.body.message, message);
    });
  }

  it('is for members only', async () => {
    const stranger = await signup();
    assert.equal((await http('GET', path(), { token: stranger.token })).status, 404);
    assert.equal((await http('PATCH', path(), { token: stranger.token, body: { disable_signup: true } })).status, 404);
    assert.equal((await http('GET', path())).status, 401);
  });
});
