// The rate limits of POST /sso and the ACS (GoTrue's RATE_LIMIT_SSO and SAML_RATE_LIMIT_ASSERTION: 30 requests per
// 5 minutes per IP here): the 31st request is a 429 over_request_rate_limit, counted per project (project B is
// not limited by A's requests), and a project with SAML off answers its own 404 first, as GoTrue's middleware
// order has it.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loam, type Project } from '../helpers/platform.ts';
import { authHttp, authProject } from './helpers.ts';

const SETTINGS = { saml_enabled: true, site_url: 'https://app.example.com' };
let p: Project;
let other: Project;

before(async () => {
  await loam();
  [p, other] = await Promise.all([authProject(SETTINGS), authProject(SETTINGS)]);
});

const acs = (q: Project) => fetch(`${q.url}/auth/v1/sso/saml/acs`, {
  method: 'POST', body: new URLSearchParams({ SAMLResponse: 'bm90IGEgcmVzcG9uc2U=', RelayState: '' }), redirect: 'manual',
});

describe('rate limits of SSO', () => {
  it('POST /sso: 30 per 5 minutes, then 429; another project is not limited by it', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await authHttp(p, 'POST', '/sso', { body: { domain: 'unknown.example.com' } });
      assert.equal(res.status, 404, `request ${i}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'sso_provider_not_found');
    }
    const limited = await authHttp(p, 'POST', '/sso', { body: { domain: 'unknown.example.com' } });
    assert.deepEqual([limited.status, limited.body.code, limited.body.message], [429, 'over_request_rate_limit', 'Request rate limit reached']);
    const atB = await authHttp(other, 'POST', '/sso', { body: { domain: 'unknown.example.com' } });
    assert.equal(atB.status, 404);
  });

  it('the ACS: 30 per 5 minutes (each answered by a redirect), then 429', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await acs(p);
      await res.body?.cancel();
      assert.equal(res.status, 303, `request ${i}`);
    }
    const limited = await acs(p);
    assert.equal(limited.status, 429);
    const body = await limited.json();
    assert.equal(body.error_code ?? body.code, 'over_request_rate_limit');
    const atB = await acs(other);
    await atB.body?.cancel();
    assert.equal(atB.status, 303);
  });

  it('SAML off: 404 saml_provider_disabled, never counted into a 429', async () => {
    const off = await authProject({ saml_enabled: false });
    for (let i = 0; i < 32; i++) {
      const res = await authHttp(off, 'POST', '/sso', { body: { domain: 'x.example.com' } });
      assert.deepEqual([res.status, res.body.code, res.body.message], [404, 'saml_provider_disabled', 'SAML 2.0 is disabled'], `request ${i}`);
    }
  });
});
