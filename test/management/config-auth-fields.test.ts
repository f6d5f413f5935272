// PATCH /v1/projects/{ref}/config/auth takes every field of Supabase's auth settings (UpdateAuthConfigBody), each
// type-checked: a client that sends a whole config object gets it stored and read back, fields Loam does not
// implement included; the /v2 config document the CLI reads shows the same values.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { adminClient, createProject, http, type Project } from '../helpers/platform.ts';
import { AUTH_CONFIG_FIELDS } from '../../server/src/management/auth-config-fields.ts';

interface Field { type: 'boolean' | 'integer' | 'number' | 'string'; min?: number; max?: number; enum?: string[]; pattern?: string; format?: string }

let p: Project;
let schema: Record<string, Field>;
before(async () => {
  p = await createProject();
  const admin = await adminClient();
  schema = (await admin.query('select platform_private.auth_config_schema() as s')).rows[0].s;
  await admin.end();
});

const path = () => `/v1/projects/${p.ref}/config/auth`;

// A valid value for each field, different from its default where the type allows.
const SPECIAL: Record<string, unknown> = {
  site_url: 'https://app.example.com', saml_external_url: 'https://sso.example.com',
  jwt_exp: 1800, password_min_length: 8, mailer_otp_length: 8, mailer_otp_exp: 600,
  sms_test_otp: '4152127777=123456,4152128888=654321', sessions_tags: 'mobile, web',
  sms_test_otp_valid_until: '2030-01-01T00:00:00Z', smtp_admin_email: 'admin@example.com',
  hook_custom_access_token_uri: 'pg-functions://postgres/public/custom_claims',
  // Left off: turning it on would put every token of this project through a hook that does not exist.
  hook_custom_access_token_enabled: false,
  uri_allow_list: 'https://app.example.com/**', smtp_port: '587',
};

function validValue(name: string, f: Field): unknown {
  if (name in SPECIAL) return SPECIAL[name];
  // Hooks stay off (they would run on this project's sign-ins), with a well-formed URL and Standard Webhooks secret.
  if (/^hook_\w+_enabled$/.test(name)) return false;
  if (/^hook_\w+_uri$/.test(name)) return `https://hooks.example.com/${name}`;
  if (/^hook_\w+_secrets$/.test(name)) return 'v1,whsec_dGVzdCBzZWNyZXQgb2YgdGhlIGhvb2s=';
  if (/^external_\w+_url$/.test(name)) return `https://${name.replace(/_/g, '-')}.example.com`;
  if (name === 'sms_twilio_account_sid') return 'AC0123456789abcdef';
  if (f.type === 'boolean') return true;
  if (f.type === 'integer' || f.type === 'number') return Math.min(Math.max(f.min ?? 0, 7), f.max ?? 7);
  if (f.enum) return f.enum[0];
  return `value of ${name}`;
}

describe('config/auth: every field of Supabase\'s schema', () => {
  it('the schema has every field Supabase\'s response has', () => {
    assert.ok(Object.keys(schema).length >= 237, `${Object.keys(schema).length} fields`);
    for (const f of AUTH_CONFIG_FIELDS) assert.ok(f in schema, `${f} missing from the schema`);
  });

  it('a whole config object is stored and read back, field by field', async () => {
    const body: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(schema)) body[name] = validValue(name, f);
    const res = await http('PATCH', path(), { token: p.owner.token, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const got = await http('GET', path(), { token: p.owner.token });
    assert.equal(got.status, 200);
    for (const [name, value] of Object.entries(body)) {
      if (name === 'smtp_pass') assert.equal(got.body.smtp_pass, null, 'smtp_pass is write-only');
      else assert.deepEqual(got.body[name], value, name);
    }
    // The CLI's view (`supabase config push` reads it first) carries the same values.
    const v2 = await http('GET', `/v2/projects/${p.ref}/config`, { token: p.owner.token });
    assert.equal(v2.status, 200);
    assert.equal(v2.body.data.attributes.auth.external_github_client_id, 'value of external_github_client_id');
    assert.equal(v2.body.data.attributes.auth.sms_provider, 'messagebird');
    // And a GET's answer can be sent back as it is (the response-only fields included).
    const { smtp_pass: _, ...echo } = got.body;
    const again = await http('PATCH', path(), { token: p.owner.token, body: echo });
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['an unknown field', { external_myspace_enabled: true }, 'unknown auth config field: external_myspace_enabled'],
    ['a string for a boolean of a stored-only field', { external_github_enabled: 'yes' }, 'external_github_enabled must be a boolean'],
    ['a number for a string', { external_github_client_id: 12 }, 'external_github_client_id must be a string'],
    ['a fraction for an integer', { sms_otp_exp: 1.5 }, 'sms_otp_exp must be an integer between 0 and 2147483647'],
    ['a value below the minimum', { rate_limit_web3: 0 }, 'rate_limit_web3 must be an integer between 1 and 2147483647'],
    ['a value outside the enum', { sms_provider: 'carrier-pigeon' }, "sms_provider must be one of: 'messagebird', 'textlocal', 'twilio', 'twilio_verify', 'vonage'"],
    ['a value not matching the pattern', { sms_test_otp: 'abc' }, 'sms_test_otp must match the pattern ^([0-9]{1,15}=[0-9]+,?)*$'],
    ['a bad date-time', { sms_test_otp_valid_until: 'tomorrow' }, 'sms_test_otp_valid_until must be a date-time (RFC 3339)'],
    ['an object for a string', { webauthn_rp_id: { a: 1 } }, 'webauthn_rp_id must be a string'],
    ['a string for a number', { sessions_timebox: '10' }, 'sessions_timebox must be a number'],
  ];
  for (const [name, body, message] of bad) {
    it(`PATCH with ${name} is a 400 and changes nothing`, async () => {
      const before = await http('GET', path(), { token: p.owner.token });
      const res = await http('PATCH', path(), { token: p.owner.token, body: { ...body, mailer_subjects_invite: 'changed?' } });
      assert.equal(res.status, 400);
      assert.equal(res.body.message, message);
      const after = await http('GET', path(), { token: p.owner.token });
      assert.deepEqual(after.body, before.body);
    });
  }

  it('null puts a stored-only field back to unset', async () => {
    await http('PATCH', path(), { token: p.owner.token, body: { external_twitch_client_id: 'abc' } });
    const res = await http('PATCH', path(), { token: p.owner.token, body: { external_twitch_client_id: null } });
    assert.equal(res.status, 200);
    assert.equal(res.body.external_twitch_client_id, null);
  });
});
