// SSO with SAML 2.0, as GoTrue does it. Each project is a SAML service provider (its own key pair,
// saml-keys.ts): POST /sso starts a sign-in at the IdP of an SSO provider (by id, or by the user's email domain)
// with a signed AuthnRequest (HTTP-Redirect binding); the IdP posts its Response to POST /sso/saml/acs, where the
// signature, audience, time conditions and InResponseTo are checked (node-saml), the relay state is consumed and
// the assertion's ID recorded (a replay finds neither), and the user signs in with the identity
// `sso:<provider id>`; GET /sso/saml/metadata is the SP's metadata. The admin API (/admin/sso/providers) and the
// Management API (management/sso-providers.ts) keep the providers, in the project's auth schema
// (sql/project/migrations/0011-auth-sso.sql).
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import samlify from 'samlify';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { FetchRefused, guardedFetch, urlProblem } from '../project/keyring.ts';
import { allowedRedirect, type AuthConfig } from './config.ts';
import { liveSettings } from '../../../db/src/config.ts';
import { authCall } from './db.ts';
import { AuthError, toAuthError, validation } from './errors.ts';
import { limitIpFixed } from './limits.ts';
import { OAUTH_ERRORS } from './oauth.ts';
import { bool, ctx, obj, params, pkce, str, type Ctx, type Params } from './params.ts';
import { certBody, spKey } from './saml-keys.ts';
import { isUuid, issuer, requireAdmin, tokenResponse, type SessionData } from './session.ts';

export const sso = Router();

const NAME_ID = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
};
const MAX_METADATA_BYTES = 512 * 1024;
// crewjam/saml's allowance for clocks that disagree (GoTrue's library).
const CLOCK_SKEW_MS = 180_000;

function requireSamlEnabled(cfg: AuthConfig): void {
  if (cfg.saml_enabled !== true) throw new AuthError(404, 'saml_provider_disabled', 'SAML 2.0 is disabled');
}

/** The SP's URLs: GoTrue's `<external url>/sso/` base (saml_external_url, else the project's auth URL). */
function spUrls(c: Ctx): { entityId: string; acs: string } {
  let base = issuer(c.p);
  const external = c.cfg.saml_external_url;
  if (typeof external === 'string' && external) {
    try { base = new URL(external).href.replace(/\/$/, ''); } catch { /* not a URL: the project's own */ }
  }
  return { entityId: `${base}/sso/saml/metadata`, acs: `${base}/sso/saml/acs` };
}

// ---------------------------------------------------------------------------------------------------------
// IdP metadata

interface IdpMetadata { entityId: string; ssoUrl: string | undefined; certs: string[] }

const invalidMetadata = (why: string) => validation(`SAML Metadata XML is not valid: ${why}`);

/** GoTrue's checks of IdP metadata (parseSAMLMetadata), parsed by samlify. */
export function parseMetadata(xml: string): IdpMetadata {
  if (Buffer.byteLength(xml) > MAX_METADATA_BYTES) throw invalidMetadata(`larger than ${MAX_METADATA_BYTES} bytes`);
  // No document type: nothing in metadata needs one, and entity declarations are how XML parsers are attacked.
  if (/<!DOCTYPE/i.test(xml)) throw invalidMetadata('a DOCTYPE is not allowed');
  if (!/<([\w-]+:)?EntityDescriptor[\s>]/.test(xml)) throw invalidMetadata('no EntityDescriptor element');
  let meta: ReturnType<typeof samlify.IdPMetadata>;
  try {
    meta = samlify.IdPMetadata(xml);
  } catch (err) {
    throw invalidMetadata((err as Error).message);
  }
  const entityId = meta.getEntityID();
  if (!entityId || typeof entityId !== 'string') throw validation('SAML Metadata does not contain an EntityID');
  const descriptors = xml.match(/<([\w-]+:)?IDPSSODescriptor[\s>]/g)?.length ?? 0;
  if (descriptors < 1) throw validation('SAML Metadata does not contain any IDPSSODescriptor');
  if (descriptors > 1) throw validation('SAML Metadata contains multiple IDPSSODescriptors');
  const sso = meta.getSingleSignOnService('redirect');
  let certs = ([] as unknown[]).concat(meta.getX509Certificate('signing') ?? []);
  // A KeyDescriptor without `use` is for signing too.
  if (!certs.length) certs = [...xml.matchAll(/<(?:[\w-]+:)?X509Certificate>([^<]+)</g)].map((m) => m[1]);
  certs = certs.filter((c): c is string => typeof c === 'string' && c.length > 0).map((c) => c.replace(/\s+/g, ''));
  return { entityId, ssoUrl: typeof sso === 'string' && sso ? sso : undefined, certs: certs as string[] };
}

/** GET metadata_url through guardedFetch (public addresses, 5 s, 4 MiB), GoTrue's words for an HTTP error. */
async function fetchMetadata(url: string): Promise<string> {
  let res: globalThis.Response;
  try {
    res = await guardedFetch(url, { headers: { accept: 'application/xml;charset=UTF-8', 'accept-charset': 'UTF-8' } });
  } catch (err) {
    throw new AuthError(400, 'saml_metadata_fetch_failed', `Error fetching SAML Metadata from URL '${url}': ${err instanceof FetchRefused ? err.message : (err as Error).message}`);
  }
  if (res.status !== 200) throw new AuthError(400, 'saml_metadata_fetch_failed', `HTTP ${res.status} error fetching SAML Metadata from URL '${url}'`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw validation('SAML Metadata XML contains invalid UTF-8 characters, which are not supported at this time');
  }
}

// ---------------------------------------------------------------------------------------------------------
// Providers (admin API and Management API)

/** GoTrue's SSOProvider JSON; `management` keeps the ids and dates Supabase's Management API adds. */
function shape(row: Record<string, any>, opts: { management?: boolean; list?: boolean } = {}): Record<string, unknown> {
  const saml = { ...row.saml } as Record<string, unknown>;
  if (opts.list && !opts.management) delete saml.metadata_xml;
  if (!opts.management) delete saml.id;
  const domains = (row.domains as Record<string, unknown>[]).map((d) => (opts.management ? d : { domain: d.domain }));
  const out: Record<string, unknown> = { id: row.id, ...(row.resource_id ? { resource_id: row.resource_id } : {}), saml, domains,
    created_at: row.created_at, updated_at: row.updated_at };
  if (!opts.management) out.disabled = row.disabled ?? null;
  return out;
}

interface ProviderInput { type?: string; metadata_url?: string; metadata_xml?: string; domains?: string[]; attribute_mapping?: Params;
  name_id_format?: string; resource_id?: string; disabled?: boolean }

function providerInput(b: Params): ProviderInput {
  const domains = b.domains;
  if (domains !== undefined && domains !== null && (!Array.isArray(domains) || domains.some((d) => typeof d !== 'string'))) {
    throw validation('domains must be a list of strings');
  }
  if ((domains as string[] | undefined)?.some((d) => d.length > 253 || d.includes('\0'))) throw validation('SSO domains are at most 253 characters');
  if ((domains as string[] | undefined)?.length && (domains as string[]).length > 100) throw validation('An SSO provider has at most 100 domains');
  const mapping = obj(b, 'attribute_mapping');
  if (mapping !== undefined && mapping.keys !== undefined && (typeof mapping.keys !== 'object' || mapping.keys === null || Array.isArray(mapping.keys))) {
    throw validation('attribute_mapping.keys must be an object');
  }
  return {
    type: str(b, 'type'), metadata_url: str(b, 'metadata_url'), metadata_xml: str(b, 'metadata_xml'),
    domains: (domains ?? undefined) as string[] | undefined, attribute_mapping: mapping, name_id_format: str(b, 'name_id_format'),
    resource_id: str(b, 'resource_id'), disabled: bool(b, 'disabled'),
  };
}

/** GoTrue's CreateSSOProviderParams.validate, then the metadata (given, or fetched from metadata_url). */
async function checkedInput(b: Params, forUpdate: boolean): Promise<{ input: ProviderInput; xml?: string; meta?: IdpMetadata }> {
  const input = providerInput(b);
  if (!forUpdate && input.type !== 'saml') throw validation("Only 'saml' supported for SSO provider type");
  if (input.metadata_url && input.metadata_xml) throw validation('Only one of metadata_xml or metadata_url needs to be set');
  if (!forUpdate && !input.metadata_url && !input.metadata_xml) throw validation('Either metadata_xml or metadata_url must be set');
  if (input.metadata_url) {
    let u: URL;
    try { u = new URL(input.metadata_url); } catch { throw validation('metadata_url is not a valid URL'); }
    // An operator who lets Loam reach private addresses (a test IdP, an IdP on the same network) may use http.
    if (u.protocol !== 'https:' && !(liveSettings.allowPrivateFetch && u.protocol === 'http:')) {
      throw validation('metadata_url is not a HTTPS URL');
    }
    const problem = urlProblem(input.metadata_url);
    if (problem) throw validation(`metadata_url ${problem}`);
  }
  const formats = Object.values(NAME_ID);
  if (input.name_id_format && !formats.includes(input.name_id_format)) {
    throw validation(`name_id_format must be unspecified or one of ${[NAME_ID.persistent, NAME_ID.email, NAME_ID.transient, NAME_ID.unspecified].join(', ')}`);
  }
  const xml = input.metadata_xml || (input.metadata_url ? await fetchMetadata(input.metadata_url) : undefined);
  return { input, xml, meta: xml ? parseMetadata(xml) : undefined };
}

function sqlInput(input: ProviderInput, xml: string | undefined, meta: IdpMetadata | undefined): Params {
  const out: Params = {};
  if (meta) Object.assign(out, { entity_id: meta.entityId, metadata_xml: xml, metadata_url: input.metadata_url ?? null });
  for (const k of ['domains', 'attribute_mapping', 'resource_id', 'disabled'] as const) if (input[k] !== undefined) out[k] = input[k];
  out.name_id_format = input.name_id_format ?? '';
  return out;
}

/** The provider operations both admin APIs share; `management` picks the Management API's shape. */
export const ssoProviders = {
  async list(p: ProjectRuntime, resourceId: string | undefined, management = false) {
    const rows = await authCall<Record<string, any>[]>(p, 'select auth.sso_providers_list($1)', [resourceId ?? null]);
    return { items: rows.map((r) => shape(r, { management, list: true })) };
  },
  async create(p: ProjectRuntime, b: Params, management = false) {
    const { input, xml, meta } = await checkedInput(b, false);
    return shape(await authCall(p, 'select auth.sso_provider_create($1)', [sqlInput(input, xml, meta)]), { management });
  },
  async get(p: ProjectRuntime, id: string, management = false) {
    return shape(await authCall(p, 'select auth.sso_provider_get($1)', [id]), { management });
  },
  async update(p: ProjectRuntime, id: string, b: Params, management = false) {
    await authCall(p, 'select auth.sso_provider_get($1)', [id]);
    const { input, xml, meta } = await checkedInput(b, true);
    return shape(await authCall(p, 'select auth.sso_provider_update($1, $2)', [id, sqlInput(input, xml, meta)]), { management });
  },
  async remove(p: ProjectRuntime, id: string, management = false) {
    return shape(await authCall(p, 'select auth.sso_provider_delete($1)', [id]), { management });
  },
};

const providerRef = (req: Request) => {
  const id = String(req.params.idp_id);
  if (id.includes('\0')) throw new AuthError(404, 'sso_provider_not_found', 'SSO Identity Provider not found');
  return id;
};

async function adminCtx(req: Request, res: Response): Promise<Ctx> {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  return c;
}

sso.get('/admin/sso/providers', async (req, res) => {
  const c = await adminCtx(req, res);
  const resourceId = typeof req.query.resource_id === 'string' && !req.query.resource_id.includes('\0') ? req.query.resource_id : undefined;
  res.json(await ssoProviders.list(c.p, resourceId));
});
sso.post('/admin/sso/providers', async (req, res) => {
  const c = await adminCtx(req, res);
  res.status(201).json(await ssoProviders.create(c.p, params(req)));
});
sso.get('/admin/sso/providers/:idp_id', async (req, res) => {
  const c = await adminCtx(req, res);
  res.json(await ssoProviders.get(c.p, providerRef(req)));
});
sso.put('/admin/sso/providers/:idp_id', async (req, res) => {
  const c = await adminCtx(req, res);
  res.json(await ssoProviders.update(c.p, providerRef(req), params(req)));
});
sso.delete('/admin/sso/providers/:idp_id', async (req, res) => {
  const c = await adminCtx(req, res);
  res.json(await ssoProviders.remove(c.p, providerRef(req)));
});

// ---------------------------------------------------------------------------------------------------------
// SP metadata

sso.get('/sso/saml/metadata', async (req, res) => {
  const c = await ctx(req, res);
  requireSamlEnabled(c.cfg);
  const key = await spKey(c.p.ref);
  const urls = spUrls(c);
  const saml = new SAML({ issuer: urls.entityId, callbackUrl: urls.acs, idpCert: 'unused', privateKey: key.privateKey,
    identifierFormat: NAME_ID.persistent, wantAssertionsSigned: true });
  let xml = saml.generateServiceProviderMetadata(null, key.certificate);
  // GoTrue advertises both NameID formats it asks for, and (with ?download=true) a five-year validity.
  xml = xml.replace(/<NameIDFormat>[^<]*<\/NameIDFormat>/, `<NameIDFormat>${NAME_ID.email}</NameIDFormat><NameIDFormat>${NAME_ID.persistent}</NameIDFormat>`);
  if (req.query.download === 'true') {
    const until = new Date(Date.now() + 5 * 365.25 * 86_400_000).toISOString();
    xml = xml.replace(/<EntityDescriptor /, `<EntityDescriptor validUntil="${until}" `);
    res.set('Content-Disposition', 'attachment; filename="metadata.xml"');
  }
  res.set({ 'Content-Type': 'application/xml', 'Cache-Control': 'public, max-age=600' }).send(xml);
});

// ---------------------------------------------------------------------------------------------------------
// Sign-in

// GoTrue's limits (RATE_LIMIT_SSO 30, SAML_RATE_LIMIT_ASSERTION 15 per 5 minutes per IP, both with a burst of 30),
// as fixed windows of 30 per 5 minutes; Supabase's settings have no field for them. After the SAML check, as
// GoTrue's middleware order has it; a limited request is answered 429, not redirected.
const SSO_LIMIT = 30;
const ACS_LIMIT = 30;

sso.post('/sso', async (req, res) => {
  const c = await ctx(req, res);
  requireSamlEnabled(c.cfg);
  await limitIpFixed(c.p.ref, 'sso', c.ip, SSO_LIMIT, 300);
  const b = params(req);
  const providerId = str(b, 'provider_id');
  const domain = str(b, 'domain');
  if (providerId && domain) throw validation('Only one of provider_id or domain supported');
  if (!providerId && !domain) throw validation('A provider_id or domain needs to be provided');
  if (providerId && !isUuid(providerId)) throw new AuthError(404, 'sso_provider_not_found', 'No such SSO provider');
  const challenge = pkce(b);
  const relayStateId = crypto.randomUUID();
  const requestId = `id-${crypto.randomBytes(20).toString('hex')}`;
  const found = await authCall(c.p, 'select auth.sso_start($1)', [{
    provider_id: providerId ?? null, domain: domain ?? null, relay_state_id: relayStateId, request_id: requestId,
    redirect_to: str(b, 'redirect_to') ?? (typeof req.query.redirect_to === 'string' ? req.query.redirect_to : null), pkce: challenge ?? null,
  }]);
  const meta = parseMetadata(found.metadata_xml);
  if (!meta.ssoUrl) throw validation('SAML Metadata does not contain an HTTP-Redirect SingleSignOnService');
  const key = await spKey(c.p.ref);
  const urls = spUrls(c);
  const saml = new SAML({
    entryPoint: meta.ssoUrl, issuer: urls.entityId, callbackUrl: urls.acs, idpCert: meta.certs.length ? meta.certs : 'none',
    privateKey: key.privateKey, signatureAlgorithm: 'sha256', identifierFormat: found.name_id_format ?? NAME_ID.persistent,
    disableRequestedAuthnContext: true, generateUniqueId: () => requestId,
  });
  const url = await saml.getAuthorizeUrlAsync(relayStateId, undefined, {});
  if (bool(b, 'skip_http_redirect') === true) return void res.json({ url });
  res.redirect(303, url);
});

/** One value of a SAML attribute as xml2js gives it (a string, or {_: text, $: attributes}). */
const text = (v: unknown): string => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { _?: unknown })._ === 'string' ? (v as { _: string })._ : '');

interface Attr { name: string; friendly: string; values: string[] }

function attributes(profile: Profile): Attr[] {
  const assertion = profile.getAssertion?.() as Record<string, any> | undefined;
  const out: Attr[] = [];
  for (const stmt of assertion?.Assertion?.AttributeStatement ?? []) {
    for (const a of stmt?.Attribute ?? []) {
      out.push({ name: String(a?.$?.Name ?? ''), friendly: String(a?.$?.FriendlyName ?? ''), values: (a?.AttributeValue ?? []).map(text) });
    }
  }
  return out;
}

/** GoTrue's SAMLAssertion helpers: attribute lookup by Name or FriendlyName (case-insensitive). */
function valuesOf(attrs: Attr[], name: string): string[] {
  const n = name.toLowerCase();
  return attrs.filter((a) => a.name.toLowerCase() === n || a.friendly.toLowerCase() === n).flatMap((a) => a.values);
}

function userIdOf(attrs: Attr[], profile: Profile): string {
  const subjectId = valuesOf(attrs, 'urn:oasis:names:tc:SAML:attribute:subject-id')[0];
  if (subjectId) return subjectId;
  if (!profile.nameID) return '';
  if (profile.nameIDFormat === NAME_ID.email) return profile.nameID.trim().toLowerCase();
  return profile.nameIDFormat === NAME_ID.transient ? '' : profile.nameID;
}

function emailOf(attrs: Attr[], profile: Profile): string {
  for (const n of ['urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    'http://schemas.xmlsoap.org/claims/EmailAddress', 'mail', 'Mail', 'email']) {
    const v = valuesOf(attrs, n).find(Boolean);
    if (v) return v;
  }
  return profile.nameIDFormat === NAME_ID.email ? profile.nameID : '';
}

interface Mapper { name?: string; names?: string[]; default?: unknown; array?: boolean }

/** attribute_mapping.keys applied to the assertion (GoTrue's Process). */
function mapped(attrs: Attr[], mapping: Params): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, m] of Object.entries((mapping?.keys ?? {}) as Record<string, Mapper>)) {
    const names = [...(m?.name ? [m.name] : []), ...(Array.isArray(m?.names) ? m.names : [])];
    let set = false;
    for (const name of names) {
      const values = valuesOf(attrs, String(name)).filter(Boolean);
      if (values.length) {
        out[key] = m.array ? values : values[0];
        set = true;
        break;
      }
    }
    if (!set && m?.default !== undefined && m?.default !== null) out[key] = m.default;
  }
  return out;
}

// The claims GoTrue's provider.Claims names; other mapped keys go to custom_claims.
const STANDARD_CLAIMS = new Set(['iss', 'sub', 'aud', 'iat', 'exp', 'name', 'family_name', 'given_name', 'middle_name', 'nickname',
  'preferred_username', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at', 'email',
  'email_verified', 'phone', 'phone_verified', 'full_name', 'avatar_url', 'slug', 'provider_id', 'user_name']);

function assertionTimes(profile: Profile): { expires?: string; sessionNotAfter?: string } {
  const a = (profile.getAssertion?.() as Record<string, any> | undefined)?.Assertion;
  return { expires: a?.Conditions?.[0]?.$?.NotOnOrAfter, sessionNotAfter: a?.AuthnStatement?.[0]?.$?.SessionNotOnOrAfter };
}

/** A cache that knows one request ID: the relay state's (node-saml checks InResponseTo against it). */
const oneRequest = (id: string | undefined) => ({
  saveAsync: async () => null,
  getAsync: async (key: string) => (id && key === id ? new Date().toISOString() : null),
  removeAsync: async () => null,
});

// Every outcome of the ACS is a redirect, as GoTrue does it: errors to the site URL (303, in the query).
sso.post('/sso/saml/acs', async (req, res) => {
  const c = await ctx(req, res);
  if (c.cfg.saml_enabled === true) await limitIpFixed(c.p.ref, 'saml_acs', c.ip, ACS_LIMIT, 300);
  try {
    await acs(req, res, c);
  } catch (err) {
    const e = toAuthError(err);
    if (e.status >= 500) console.error(err);
    const error = e.code === 'signup_disabled' || e.code === 'user_banned' ? 'access_denied' : OAUTH_ERRORS[e.status] ?? 'server_error';
    const url = new URL(c.cfg.site_url);
    url.searchParams.set('error', error);
    url.searchParams.set('error_code', e.code);
    url.searchParams.set('error_description', e.message);
    res.redirect(303, url.href);
  }
});

async function acs(req: Request, res: Response, c: Ctx): Promise<void> {
  requireSamlEnabled(c.cfg);
  const form = params(req);
  const relayState = str(form, 'RelayState') ?? '';
  const samlResponse = str(form, 'SAMLResponse') ?? '';
  let provider: { provider_id: string; entity_id: string; metadata_xml: string; attribute_mapping: Params };
  let requestId: string | undefined;
  let flowStateId: string | null = null;
  let redirectTo = '';
  if (isUuid(relayState)) {
    const state = await authCall(c.p, 'select auth.saml_relay_state_take($1)', [relayState]);
    provider = state;
    requestId = state.request_id;
    flowStateId = state.flow_state_id;
    redirectTo = state.redirect_to ?? '';
  } else if (relayState === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(relayState)) {
    if (str(form, 'SAMLart')) throw validation('SAML Artifact response can only be used with SP initiated flow');
    if (!samlResponse) throw validation('SAMLResponse is missing');
    const xml = decodeResponse(samlResponse);
    const issuerValue = /<(?:[\w-]+:)?Issuer\b[^>]*>\s*([^<\s][^<]*?)\s*<\/(?:[\w-]+:)?Issuer>/.exec(xml)?.[1];
    if (!issuerValue) throw validation('SAMLResponse is not a valid XML SAML assertion');
    provider = await authCall(c.p, 'select auth.saml_provider_by_entity($1)', [issuerValue]);
    redirectTo = relayState;
  } else {
    throw validation('SAML RelayState is not a valid UUID or URL');
  }
  if (!samlResponse) throw validation('SAMLResponse is missing');
  decodeResponse(samlResponse);
  const meta = parseMetadata(provider.metadata_xml);
  if (!meta.certs.length) throw validation('SAML Assertion is not valid');
  const urls = spUrls(c);
  const saml = new SAML({
    issuer: urls.entityId, callbackUrl: urls.acs, audience: urls.entityId, idpCert: meta.certs, idpIssuer: provider.entity_id,
    wantAssertionsSigned: true, wantAuthnResponseSigned: false, acceptedClockSkewMs: CLOCK_SKEW_MS,
    validateInResponseTo: requestId ? ValidateInResponseTo.always : ValidateInResponseTo.ifPresent,
    cacheProvider: oneRequest(requestId), requestIdExpirationPeriodMs: 120_000,
  });
  let profile: Profile | null;
  try {
    ({ profile } = await saml.validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw new AuthError(400, 'validation_failed', 'SAML Assertion is not valid', {}, err);
  }
  if (!profile) throw new AuthError(400, 'validation_failed', 'SAML Assertion is not valid');
  const attrs = attributes(profile);
  const userId = userIdOf(attrs, profile);
  if (!userId) {
    throw new AuthError(400, 'saml_assertion_no_user_id', 'SAML Assertion did not contain a persistent Subject Identifier attribute or Subject NameID uniquely identifying this user');
  }
  const claims = mapped(attrs, provider.attribute_mapping);
  const email = (typeof claims.email === 'string' && claims.email) || emailOf(attrs, profile);
  if (!email) throw new AuthError(400, 'saml_assertion_no_email', 'SAML Assertion does not contain an email address');
  const standard: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) (STANDARD_CLAIMS.has(k) ? standard : custom)[k] = v;
  const identityData = { ...standard, iss: provider.entity_id, sub: userId, email, email_verified: true, phone_verified: false,
    ...(Object.keys(custom).length ? { custom_claims: custom } : {}) };
  const times = assertionTimes(profile);
  const assertionId = typeof profile.ID === 'string' && profile.ID ? profile.ID : crypto.createHash('sha256').update(samlResponse).digest('hex');
  const r = await authCall(c.p, 'select auth.sso_signin($1)', [{
    provider_id: provider.provider_id, sub: userId, email, identity_data: identityData, assertion_id: `${provider.provider_id}:${assertionId}`,
    assertion_expires_at: times.expires ?? null, session_not_after: times.sessionNotAfter ?? null, flow_state_id: flowStateId,
    disable_signup: c.cfg.disable_signup, ip: c.ip, user_agent: c.userAgent,
  }]);
  const target = new URL(allowedRedirect(c.cfg, redirectTo || undefined));
  if (r.code) {
    target.searchParams.set('code', r.code);
    return void res.redirect(302, target.href);
  }
  const t = await tokenResponse(c.p, c.cfg, r as SessionData);
  target.hash = new URLSearchParams({
    access_token: t.access_token, expires_at: String(t.expires_at), expires_in: String(t.expires_in), refresh_token: t.refresh_token, token_type: 'bearer',
  }).toString();
  res.redirect(302, target.href);
}

function decodeResponse(samlResponse: string): string {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) throw validation('SAMLResponse is not a valid Base64 string');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (/<!DOCTYPE/i.test(xml)) throw validation('SAMLResponse is not a valid XML SAML assertion');
  return xml;
}
