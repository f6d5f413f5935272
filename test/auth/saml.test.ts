// SSO with SAML 2.0 against a local IdP built with samlify (saml-idp.ts): providers through the Management API
// and the auth admin API, supabase-js' signInWithSSO (implicit and PKCE), the ACS' checks (signature, audience,
// time, InResponseTo, replay) with GoTrue's errors, redirect_to only to allowed URLs, and no provider, assertion
// or session of one project working on another.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { http, loam, type Project } from '../helpers/platform.ts';
import { authHttp, authProject, client, configure } from './helpers.ts';
import { keyPair, startIdp, type Idp, type ResponseOptions, type SamlUser } from './saml-idp.ts';

const APP = 'https://app.example.com';
const SETTINGS = { saml_enabled: true, site_url: APP, uri_allow_list: `${APP}/**` };
let idp: Idp;
let p: Project;
let other: Project;
let provider: Record<string, any>;
let spMetadata: string;

const domain = () => `acme-${crypto.randomBytes(4).toString('hex')}.test`;
const person = (email = `ann-${crypto.randomBytes(4).toString('hex')}@acme.test`): SamlUser => ({
  nameId: `emp-${crypto.randomBytes(6).toString('hex')}`, attributes: { email, displayName: 'Ann Acme', groups: ['eng', 'ops'] },
});

function management(method: string, path: string, q: Project, body?: unknown) {
  return http(method, `/v1/projects/${q.ref}/config/auth/sso/providers${path}`, { token: q.owner.token, body });
}

/** Posts a SAML response to the project's ACS as the browser would; the redirect, not followed. */
async function postAcs(q: Project, form: { SAMLResponse: string; RelayState: string }): Promise<{ status: number; to: URL }> {
  const res = await fetch(`${q.url}/auth/v1/sso/saml/acs`, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
  await res.body?.cancel();
  return { status: res.status, to: new URL(res.headers.get('location') ?? 'about:blank') };
}

/** signInWithSSO, the IdP's answer, the ACS. */
async function signIn(q: Project, user: SamlUser, opts: ResponseOptions & { domain?: string; providerId?: string; redirectTo?: string } = {}) {
  const sb = client(q);
  const { data, error } = await sb.auth.signInWithSSO(opts.providerId
    ? { providerId: opts.providerId, options: { redirectTo: opts.redirectTo } }
    : { domain: opts.domain ?? provider.domains[0].domain, options: { redirectTo: opts.redirectTo } });
  assert.equal(error, null);
  const form = await idp.respond(spMetadata, user, { requestUrl: data!.url, ...opts });
  return { form, answer: await postAcs(q, form) };
}

const fragment = (u: URL) => new URLSearchParams(u.hash.slice(1));

before(async () => {
  process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE = '1';
  await loam();
  [p, other] = await Promise.all([authProject(SETTINGS), authProject(SETTINGS)]);
  idp = await startIdp();
  const res = await management('POST', '', p, { type: 'saml', metadata_xml: idp.metadata, domains: [domain()] });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  provider = res.body;
  const meta = await fetch(`${p.url}/auth/v1/sso/saml/metadata`);
  assert.equal(meta.status, 200);
  spMetadata = await meta.text();
});
after(async () => { delete process.env.LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE; await idp?.close(); });

describe('sign-in (SP-initiated)', () => {
  it('signInWithSSO by domain → IdP → ACS → a session in the redirect fragment, user and identity in GoTrue\'s shape', async () => {
    const user = person();
    const { answer } = await signIn(p, user, { redirectTo: `${APP}/welcome` });
    assert.equal(answer.status, 302);
    assert.equal(`${answer.to.origin}${answer.to.pathname}`, `${APP}/welcome`);
    const f = fragment(answer.to);
    assert.equal(f.get('token_type'), 'bearer');
    const { data, error } = await client(p).auth.getUser(f.get('access_token')!);
    assert.equal(error, null);
    const u = data.user!;
    assert.equal(u.email, user.attributes!.email);
    assert.equal(u.app_metadata.provider, `sso:${provider.id}`);
    assert.deepEqual(u.app_metadata.providers, [`sso:${provider.id}`]);
    assert.ok(u.email_confirmed_at);
    const identity = u.identities![0];
    assert.equal(identity.provider, `sso:${provider.id}`);
    assert.equal(identity.id, user.nameId);
    assert.equal(identity.identity_data!.iss, idp.entityId);
    assert.equal(identity.identity_data!.sub, user.nameId);
    assert.equal(identity.identity_data!.email_verified, true);
    // The session is a real one: it refreshes.
    const refreshed = await client(p).auth.refreshSession({ refresh_token: f.get('refresh_token')! });
    assert.equal(refreshed.error, null);
    // The same person again: the same user.
    const again = await signIn(p, user);
    const { data: d2 } = await client(p).auth.getUser(fragment(again.answer.to).get('access_token')!);
    assert.equal(d2.user!.id, u.id);
    assert.equal(`${again.answer.to.origin}${again.answer.to.pathname}`, `${APP}/`); // no redirect_to: the site URL
  });
});
