// A SAML 2.0 identity provider for the SSO tests, built with samlify (schema-validated by
// @authenio/samlify-node-xmllint): it publishes its metadata over HTTP, reads the SP's signed AuthnRequest
// (HTTP-Redirect binding, signature checked against Loam's SP metadata) and answers with a signed Response for the
// POST binding. Options bend one thing at a time (audience, validity, key) for the negative tests.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';

samlify.setSchemaValidator(xmllint);

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

export function keyPair(cn = 'test idp'): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saml-idp-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${cn}`,
      '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore', timeout: 20_000 });
    return { key: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface SamlUser { nameId: string; nameIdFormat?: string; attributes?: Record<string, string | string[]> }

export interface ResponseOptions {
  /** The AuthnRequest URL Loam redirected to (SP-initiated); without it the response is IdP-initiated. */
  requestUrl?: string;
  audience?: string;
  /** Seconds from now when the assertion stops being valid (negative: already expired). */
  validFor?: number;
  sessionNotOnOrAfter?: string;
  /** Sign with another key than the metadata publishes. */
  signWith?: { key: string; cert: string };
  inResponseTo?: string;
}

export interface Idp {
  entityId: string;
  metadata: string;
  metadataUrl: string;
  /** The SAMLResponse (base64) and the RelayState for Loam's ACS. */
  respond(spMetadata: string, user: SamlUser, opts?: ResponseOptions): Promise<{ SAMLResponse: string; RelayState: string; requestId?: string }>;
  close(): Promise<void>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function attributeStatement(attrs: Record<string, string | string[]>): string {
  const parts = Object.entries(attrs).map(([name, v]) => `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${
    ([] as string[]).concat(v).map((x) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(x)}</saml:AttributeValue>`).join('')
  }</saml:Attribute>`);
  return parts.length ? `<saml:AttributeStatement>${parts.join('')}</saml:AttributeStatement>` : '';
}

export async function startIdp(entityId = `https://idp-${crypto.randomBytes(4).toString('hex')}.example.com/metadata`): Promise<Idp> {
  const pair = keyPair();
  const server = http.createServer((req, res) => {
    if (req.url === '/metadata') return void res.writeHead(200, { 'content-type': 'application/xml' }).end(idp.getMetadata());
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const make = (p: { key: string; cert: string }) => samlify.IdentityProvider({
    entityID: entityId, privateKey: p.key, signingCert: p.cert, wantAuthnRequestsSigned: true,
    nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    singleSignOnService: [{ Binding: REDIRECT, Location: `${base}/sso` }, { Binding: POST, Location: `${base}/sso` }],
  });
  const idp = make(pair);

  return {
    entityId, metadata: idp.getMetadata(), metadataUrl: `${base}/metadata`,
    async respond(spMetadata, user, opts = {}) {
      const sp = samlify.ServiceProvider({ metadata: spMetadata });
      let requestId: string | undefined;
      let relayState = '';
      if (opts.requestUrl) {
        const u = new URL(opts.requestUrl);
        const query = Object.fromEntries(u.searchParams);
        // Loam's AuthnRequest is signed: samlify checks it against the SP metadata's certificate.
        const parsed = await idp.parseLoginRequest(sp, 'redirect', { query, octetString: u.search.slice(1).split('&').filter((kv) => !kv.startsWith('Signature=')).join('&') } as never);
        requestId = String(parsed.extract.request?.id ?? '');
        relayState = query.RelayState ?? '';
      }
      const signer = opts.signWith ? make(opts.signWith) : idp;
      const now = new Date();
      const until = new Date(now.getTime() + (opts.validFor ?? 300) * 1000).toISOString();
      const before = opts.validFor !== undefined && opts.validFor < 0 ? new Date(now.getTime() + (opts.validFor - 300) * 1000).toISOString() : now.toISOString();
      const acs = sp.entityMeta.getAssertionConsumerService(POST) as string;
      const authn = `<saml:AuthnStatement AuthnInstant="${now.toISOString()}"${opts.sessionNotOnOrAfter ? ` SessionNotOnOrAfter="${opts.sessionNotOnOrAfter}"` : ''} SessionIndex="s-${crypto.randomBytes(4).toString('hex')}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
      const inResponseTo = opts.inResponseTo ?? requestId;
      const result = await signer.createLoginResponse(sp, { extract: { request: { id: requestId ?? '' } } } as never, 'post', {}, (template: string) => {
        let t = template.replace('{AuthnStatement}', authn).replace('{AttributeStatement}', attributeStatement(user.attributes ?? {}));
        if (!inResponseTo) t = t.replace(/ InResponseTo="\{InResponseTo\}"/g, '');
        const id = `_${crypto.randomBytes(16).toString('hex')}`;
        return {
          id,
          context: samlify.SamlLib.replaceTagsByValue(t, {
            ID: id, AssertionID: `_${crypto.randomBytes(16).toString('hex')}`, Destination: acs, Audience: opts.audience ?? sp.entityMeta.getEntityID(),
            SubjectRecipient: acs, Issuer: entityId, IssueInstant: now.toISOString(), StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
            ConditionsNotBefore: before, ConditionsNotOnOrAfter: until, SubjectConfirmationDataNotOnOrAfter: until,
            NameIDFormat: user.nameIdFormat ?? 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', NameID: user.nameId,
            InResponseTo: inResponseTo ?? '',
          }),
        };
      });
      return { SAMLResponse: result.context, RelayState: relayState, requestId };
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
