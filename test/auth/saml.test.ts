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

describe('sign-in variants', () => {
  it('PKCE: the ACS redirects with ?code=, which exchangeCodeForSession turns into a session', async () => {
    const sb = client(p, p.anonKey, { flowType: 'pkce' });
    const { data, error } = await sb.auth.signInWithSSO({ providerId: provider.id, options: { redirectTo: `${APP}/cb` } });
    assert.equal(error, null);
    const user = person();
    const answer = await postAcs(p, await idp.respond(spMetadata, user, { requestUrl: data!.url }));
    assert.equal(answer.status, 302);
    assert.equal(answer.to.pathname, '/cb');
    const code = answer.to.searchParams.get('code');
    assert.ok(code);
    const exchanged = await sb.auth.exchangeCodeForSession(code!);
    assert.equal(exchanged.error, null);
    assert.equal(exchanged.data.user!.email, user.attributes!.email);
    assert.equal(exchanged.data.user!.app_metadata.provider, `sso:${provider.id}`);
    // The code works once.
    const twice = await sb.auth.exchangeCodeForSession(code!);
    assert.ok(twice.error);
  });

  it('without skip_http_redirect /sso answers 303 to the IdP', async () => {
    const res = await fetch(`${p.url}/auth/v1/sso`, { method: 'POST', redirect: 'manual',
      headers: { apikey: p.anonKey, 'content-type': 'application/json' }, body: JSON.stringify({ provider_id: provider.id }) });
    await res.body?.cancel();
    assert.equal(res.status, 303);
    const to = new URL(res.headers.get('location')!);
    assert.equal(to.pathname, '/sso');
    assert.ok(to.searchParams.get('SAMLRequest') && to.searchParams.get('Signature') && to.searchParams.get('RelayState'));
  });

  it('IdP-initiated: a response without a relay state signs in once; the same response again is refused', async () => {
    const user = person();
    const form = await idp.respond(spMetadata, user, { sessionNotOnOrAfter: new Date(Date.now() + 3_600_000).toISOString() });
    const first = await postAcs(p, form);
    assert.equal(first.status, 302);
    assert.ok(fragment(first.to).get('access_token'));
    const replay = await postAcs(p, form);
    assert.equal(replay.status, 303);
    assert.equal(replay.to.searchParams.get('error_code'), 'validation_failed');
    assert.equal(replay.to.searchParams.get('error_description'), 'SAML Assertion has already been used');
  });

  it('attribute_mapping fills user_metadata (custom keys under custom_claims), as GoTrue maps them', async () => {
    const q = await authProject(SETTINGS);
    const mapped = await management('POST', '', q, { type: 'saml', metadata_xml: idp.metadata, domains: [domain()],
      attribute_mapping: { keys: { name: { name: 'displayName' }, groups: { name: 'groups', array: true }, tier: { name: 'missing', default: 'basic' } } } });
    assert.equal(mapped.status, 201, JSON.stringify(mapped.body));
    const qMeta = await (await fetch(`${q.url}/auth/v1/sso/saml/metadata`)).text();
    const { data } = await client(q).auth.signInWithSSO({ providerId: mapped.body.id });
    const answer = await postAcs(q, await idp.respond(qMeta, person(), { requestUrl: data!.url }));
    const { data: u } = await client(q).auth.getUser(fragment(answer.to).get('access_token')!);
    assert.equal(u.user!.user_metadata.name, 'Ann Acme');
    assert.deepEqual(u.user!.user_metadata.custom_claims, { groups: ['eng', 'ops'], tier: 'basic' });
  });
});

describe('the ACS refuses what it must (GoTrue: 303 to the site URL with the error in the query)', () => {
  const refused = async (answer: { status: number; to: URL }, code: string, description: string) => {
    assert.equal(answer.status, 303);
    assert.equal(`${answer.to.origin}${answer.to.pathname}`, `${APP}/`);
    assert.equal(answer.to.searchParams.get('error_code'), code);
    assert.equal(answer.to.searchParams.get('error_description'), description);
    assert.equal(answer.to.hash, '');
  };

  it('a response signed with a key the IdP metadata does not publish', async () => {
    const { answer } = await signIn(p, person(), { signWith: keyPair('impostor') });
    await refused(answer, 'validation_failed', 'SAML Assertion is not valid');
  });

  it('an assertion for another audience', async () => {
    const { answer } = await signIn(p, person(), { audience: 'https://someone-else.example.com/sso/saml/metadata' });
    await refused(answer, 'validation_failed', 'SAML Assertion is not valid');
  });

  it('an expired assertion', async () => {
    const { answer } = await signIn(p, person(), { validFor: -600 });
    await refused(answer, 'validation_failed', 'SAML Assertion is not valid');
  });

  it('a response to another AuthnRequest (InResponseTo)', async () => {
    const { answer } = await signIn(p, person(), { inResponseTo: 'id-not-the-one-loam-sent' });
    await refused(answer, 'validation_failed', 'SAML Assertion is not valid');
  });

  it('a replayed response: its relay state was used', async () => {
    const { form, answer } = await signIn(p, person());
    assert.equal(answer.status, 302);
    await refused(await postAcs(p, form), 'saml_relay_state_not_found', 'SAML RelayState does not exist, try logging in again?');
  });

  it('a relay state that is neither a UUID nor a URL; a missing SAMLResponse', async () => {
    await refused(await postAcs(p, { SAMLResponse: 'x', RelayState: 'nope' }), 'validation_failed', 'SAML RelayState is not a valid UUID or URL');
    await refused(await postAcs(p, { SAMLResponse: '', RelayState: '' }), 'validation_failed', 'SAMLResponse is missing');
    await refused(await postAcs(p, { SAMLResponse: '%%%', RelayState: '' }), 'validation_failed', 'SAMLResponse is not a valid Base64 string');
  });

  it('an assertion without a persistent subject or without an email', async () => {
    const transient = await signIn(p, { nameId: 'tmp-1', nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient', attributes: { email: 'x@acme.test' } });
    await refused(transient.answer, 'saml_assertion_no_user_id', 'SAML Assertion did not contain a persistent Subject Identifier attribute or Subject NameID uniquely identifying this user');
    const noEmail = await signIn(p, { nameId: 'emp-no-mail', attributes: {} });
    await refused(noEmail.answer, 'saml_assertion_no_email', 'SAML Assertion does not contain an email address');
  });

  it('redirect_to outside the allowed URLs lands on the site URL', async () => {
    const { answer } = await signIn(p, person(), { redirectTo: 'https://evil.example.net/steal' });
    assert.equal(answer.status, 302);
    assert.equal(`${answer.to.origin}${answer.to.pathname}`, `${APP}/`);
    assert.ok(fragment(answer.to).get('access_token'));
  });
});

describe('GoTrue\'s errors at /sso', () => {
  it('SAML off: 404 saml_provider_disabled on every SSO path and on the Management API', async () => {
    const off = await authProject({ site_url: APP });
    const { error } = await client(off).auth.signInWithSSO({ domain: 'acme.test' });
    assert.equal(error?.status, 404);
    assert.equal(error?.code, 'saml_provider_disabled');
    assert.equal(error?.message, 'SAML 2.0 is disabled');
    const meta = await authHttp(off, 'GET', '/sso/saml/metadata');
    assert.deepEqual([meta.status, meta.body], [404, { code: 'saml_provider_disabled', message: 'SAML 2.0 is disabled' }]);
    const list = await management('GET', '', off);
    assert.deepEqual([list.status, list.body], [404, { code: 'saml_provider_disabled', message: 'SAML 2.0 support is not enabled for this project' }]);
    const settings = await authHttp(off, 'GET', '/settings');
    assert.equal(settings.body.saml_enabled, false);
    assert.equal((await authHttp(p, 'GET', '/settings')).body.saml_enabled, true);
  });

  it('unknown domain, unknown provider, both or neither', async () => {
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ domain: 'nobody.test' }, 404, 'sso_provider_not_found', 'No SSO provider assigned for this domain'],
      [{ provider_id: crypto.randomUUID() }, 404, 'sso_provider_not_found', 'No such SSO provider'],
      [{ provider_id: provider.id, domain: 'acme.test' }, 400, 'validation_failed', 'Only one of provider_id or domain supported'],
      [{}, 400, 'validation_failed', 'A provider_id or domain needs to be provided'],
      [{ provider_id: provider.id, code_challenge: 'short', code_challenge_method: 's256' }, 400, 'validation_failed', 'code challenge has to be between 43 and 128 characters'],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await authHttp(p, 'POST', '/sso', { body });
      assert.deepEqual([res.status, res.body], [status, { code, message }], JSON.stringify(body));
    }
  });

  it('a disabled provider: 404 sso_provider_disabled', async () => {
    const q = await authProject(SETTINGS);
    const created = await management('POST', '', q, { type: 'saml', metadata_xml: idp.metadata });
    const off = await authHttp(q, 'PUT', `/admin/sso/providers/${created.body.id}`, { token: q.serviceKey, apikey: q.serviceKey, body: { disabled: true } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.disabled, true);
    const res = await authHttp(q, 'POST', '/sso', { body: { provider_id: created.body.id } });
    assert.deepEqual([res.status, res.body], [404, { code: 'sso_provider_disabled', message: 'SSO Provider is currently disabled' }]);
  });
});

describe('providers: Management API and admin API', () => {
  it('Management API CRUD in Supabase\'s shapes; metadata_url fetched; GoTrue\'s conflicts and validation', async () => {
    const q = await authProject(SETTINGS);
    const d1 = domain();
    const created = await management('POST', '', q, { type: 'saml', metadata_url: idp.metadataUrl, domains: [d1],
      name_id_format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const c = created.body;
    assert.equal(c.saml.entity_id, idp.entityId);
    assert.equal(c.saml.metadata_url, idp.metadataUrl);
    assert.match(c.saml.metadata_xml, /EntityDescriptor/);
    assert.equal(c.saml.name_id_format, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    assert.ok(c.saml.id && c.domains[0].id && c.domains[0].created_at && c.created_at && c.updated_at);
    assert.equal(c.domains[0].domain, d1);
    const list = await management('GET', '', q);
    assert.deepEqual(list.body.items.map((x: { id: string }) => x.id), [c.id]);
    const d2 = domain();
    const put = await management('PUT', `/${c.id}`, q, { domains: [d2] });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.domains.map((x: { domain: string }) => x.domain), [d2]);
    assert.equal(put.body.saml.name_id_format, undefined); // PUT without name_id_format clears it, as GoTrue does
    const dup = await management('POST', '', q, { type: 'saml', metadata_xml: idp.metadata });
    assert.deepEqual([dup.status, dup.body], [422, { code: 'saml_idp_already_exists', message: `SAML Identity Provider with this EntityID (${idp.entityId}) already exists` }]);
    const idp2 = await startIdp();
    try {
      const taken = await management('POST', '', q, { type: 'saml', metadata_xml: idp2.metadata, domains: [d2] });
      assert.deepEqual([taken.status, taken.body], [400, { code: 'sso_domain_already_exists', message: `SSO Domain '${d2}' is already assigned to an SSO identity provider (${c.id})` }]);
      const mismatch = await management('PUT', `/${c.id}`, q, { metadata_xml: idp2.metadata });
      assert.deepEqual([mismatch.status, mismatch.body], [400, { code: 'saml_entity_id_mismatch',
        message: `SAML Metadata can be updated only if the EntityID matches for the provider; expected '${idp.entityId}' but got '${idp2.entityId}'` }]);
    } finally {
      await idp2.close();
    }
    for (const [body, message] of [
      [{ metadata_xml: idp.metadata }, "Only 'saml' supported for SSO provider type"],
      [{ type: 'saml' }, 'Either metadata_xml or metadata_url must be set'],
      [{ type: 'saml', metadata_xml: idp.metadata, metadata_url: idp.metadataUrl }, 'Only one of metadata_xml or metadata_url needs to be set'],
      [{ type: 'saml', metadata_url: 'ftp://idp.example.com/m' }, 'metadata_url is not a HTTPS URL'],
      [{ type: 'saml', metadata_xml: '<nope/>' }, 'SAML Metadata XML is not valid: no EntityDescriptor element'],
      [{ type: 'saml', metadata_xml: '<!DOCTYPE x [<!ENTITY a "b">]><EntityDescriptor entityID="x"/>' }, 'SAML Metadata XML is not valid: a DOCTYPE is not allowed'],
      [{ type: 'saml', metadata_xml: idp.metadata.replace(/IDPSSODescriptor/g, 'SPSSODescriptor') }, 'SAML Metadata does not contain any IDPSSODescriptor'],
      [{ type: 'saml', metadata_xml: idp.metadata, name_id_format: 'bogus' }, 'name_id_format must be unspecified or one of urn:oasis:names:tc:SAML:2.0:nameid-format:persistent, urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress, urn:oasis:names:tc:SAML:2.0:nameid-format:transient, urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
    ] as const) {
      const res = await management('POST', '', q, body);
      assert.deepEqual([res.status, res.body], [400, { code: 'validation_failed', message }], JSON.stringify(body).slice(0, 80));
    }
    const gone = await management('DELETE', `/${c.id}`, q);
    assert.equal(gone.status, 200);
    assert.equal(gone.body.id, c.id);
    const missing = await management('GET', `/${c.id}`, q);
    assert.deepEqual([missing.status, missing.body], [404, { code: 'sso_provider_not_found', message: 'SSO Identity Provider not found' }]);
  });

  it('admin API: service_role only; GoTrue\'s shapes (no metadata_xml in lists), resource_ ids', async () => {
    const q = await authProject(SETTINGS);
    const anon = await authHttp(q, 'GET', '/admin/sso/providers');
    assert.equal(anon.status, 403);
    const admin = (method: string, path: string, body?: unknown) => authHttp(q, method, `/admin/sso/providers${path}`, { token: q.serviceKey, apikey: q.serviceKey, body });
    const created = await admin('POST', '', { type: 'saml', metadata_xml: idp.metadata, resource_id: 'acme', domains: [domain()] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.saml.id, undefined);
    assert.deepEqual(Object.keys(created.body.domains[0]), ['domain']);
    const list = await admin('GET', '');
    assert.equal(list.body.items[0].saml.metadata_xml, undefined);
    const byResource = await admin('GET', '/resource_acme');
    assert.equal(byResource.body.id, created.body.id);
    const bad = await admin('GET', '/not-a-uuid');
    assert.deepEqual([bad.status, bad.body], [404, { code: 'sso_provider_not_found', message: 'SSO Identity Provider not found' }]);
  });

  it('SP metadata: entity ID and ACS under /sso/saml, signing certificate, ?download=true', async () => {
    assert.match(spMetadata, new RegExp(`entityID="${p.url.replace(/[.]/g, '\\.')}/auth/v1/sso/saml/metadata"`));
    assert.match(spMetadata, new RegExp(`Location="${p.url.replace(/[.]/g, '\\.')}/auth/v1/sso/saml/acs"`));
    assert.match(spMetadata, /X509Certificate>[A-Za-z0-9+/=\s]{200,}</);
    const dl = await fetch(`${p.url}/auth/v1/sso/saml/metadata?download=true`);
    assert.equal(dl.headers.get('content-disposition'), 'attachment; filename="metadata.xml"');
    assert.match(await dl.text(), /validUntil="\d{4}-/);
  });
});

describe('one project\'s SSO is not another\'s', () => {
  it('provider ids, relay states, assertions and sessions of project A do nothing on project B', async () => {
    // B even trusts the same IdP (entity IDs are unique per project only).
    const b = await management('POST', '', other, { type: 'saml', metadata_xml: idp.metadata, domains: [domain()] });
    assert.equal(b.status, 201);
    const byId = await authHttp(other, 'POST', '/sso', { body: { provider_id: provider.id } });
    assert.deepEqual([byId.status, byId.body.code], [404, 'sso_provider_not_found']);
    // A response made for A's sign-in, posted to B's ACS: B knows no such relay state.
    const { data } = await client(p).auth.signInWithSSO({ providerId: provider.id });
    const formForA = await idp.respond(spMetadata, person(), { requestUrl: data!.url });
    const atB = await postAcs(other, formForA);
    assert.equal(atB.to.searchParams.get('error_code'), 'saml_relay_state_not_found');
    // An IdP-initiated response for A (A's audience), posted to B: signature fine, audience not B's.
    const idpInitiated = await idp.respond(spMetadata, person());
    const atB2 = await postAcs(other, idpInitiated);
    assert.equal(atB2.to.searchParams.get('error_code'), 'validation_failed');
    assert.equal(atB2.to.searchParams.get('error_description'), 'SAML Assertion is not valid');
    // A's SP key is not B's.
    const otherMeta = await (await fetch(`${other.url}/auth/v1/sso/saml/metadata`)).text();
    const cert = (xml: string) => /X509Certificate>([^<]+)</.exec(xml)![1];
    assert.notEqual(cert(otherMeta), cert(spMetadata));
    // A session from A is refused by B.
    const { answer } = await signIn(p, person());
    const token = fragment(answer.to).get('access_token')!;
    const { error } = await client(other).auth.getUser(token);
    assert.ok(error);
    assert.equal(error!.status, 403);
    // B's provider list shows only B's.
    const listB = await management('GET', '', other);
    assert.deepEqual(listB.body.items.map((x: { id: string }) => x.id), [b.body.id]);
    // An account of A cannot list B's providers.
    const cross = await http('GET', `/v1/projects/${other.ref}/config/auth/sso/providers`, { token: p.owner.token });
    assert.equal(cross.status, 404);
  });
});
