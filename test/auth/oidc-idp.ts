// A local OpenID Connect provider for the auth tests, built with oidc-provider (a certified OP library) on an
// ephemeral port, Keycloak-shaped (its routes under /protocol/openid-connect). Whoever the test names with
// `signInAs` is logged in (in a fresh browser: its cookies dropped) and consents at the next authorization.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface Idp {
  issuer: string;
  signInAs(account: { sub: string; email: string; email_verified?: boolean; name?: string }): void;
  /** GET `url` with this browser's cookies, following redirects until one leaves for `stopAt` (returned). */
  follow(url: string, stopAt: string): Promise<string>;
  close(): Promise<void>;
}

export async function startIdp(clients: { client_id: string; client_secret: string; redirect_uris: string[] }[]): Promise<Idp> {
  const accounts = new Map<string, { sub: string; email: string; email_verified?: boolean; name?: string }>();
  let current: { sub: string; email: string; email_verified?: boolean; name?: string } | undefined;
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({ ...c, token_endpoint_auth_method: 'client_secret_post', response_types: ['code'], grant_types: ['authorization_code'] })),
    findAccount: async (_ctx: unknown, sub: string) => {
      const a = accounts.get(sub);
      return a && { accountId: sub, claims: async () => ({ ...a, email_verified: a.email_verified ?? true }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: false } },
    routes: {
      authorization: '/protocol/openid-connect/auth', token: '/protocol/openid-connect/token',
      userinfo: '/protocol/openid-connect/userinfo', jwks: '/protocol/openid-connect/certs',
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['loam-test-idp'] },
    pkce: { required: () => false },
  });
  provider.on('server_error', (_ctx: unknown, err: Error) => console.error('idp', err));
  const handle = provider.callback();
  server.on('request', async (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        if (!current) throw new Error('no account to sign in as');
        const grant = new provider.Grant({ accountId: current.sub, clientId: details.params.client_id });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { login: { accountId: current.sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err));
      }
      return;
    }
    handle(req, res);
  });

  const cookies = new Map<string, string>();
  return {
    issuer,
    signInAs(account) { accounts.set(account.sub, account); current = account; cookies.clear(); },
    async follow(url, stopAt) {
      let next = url;
      for (let hop = 0; hop < 20; hop++) {
        if (next.startsWith(stopAt)) return next;
        const onIdp = next.startsWith(issuer);
        const res = await fetch(next, {
          redirect: 'manual',
          headers: onIdp ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {},
        });
        if (onIdp) {
          for (const c of res.headers.getSetCookie()) {
            const [pair] = c.split(';');
            const i = pair.indexOf('=');
            cookies.set(pair.slice(0, i), pair.slice(i + 1));
          }
        }
        const location = res.headers.get('location');
        const body = await res.text();
        if (!location) throw new Error(`no redirect from ${next}: ${res.status} ${body.slice(0, 300)}`);
        next = new URL(location, next).href;
      }
      throw new Error('too many redirects');
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
