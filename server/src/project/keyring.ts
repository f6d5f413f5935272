// A project's keyring: everything the data plane needs to tell who a request is besides the legacy secret —
// the hashes of its API keys (sb_publishable_… / sb_secret_…), whether its legacy JWT keys are on, its JWT
// signing keys (public keys to verify, the in-use private key to sign sessions) and the JWKS of the issuers it
// trusts. Loaded once per project and cached; every change to a key NOTIFYs loam_project_changed (SQL in
// sql/platform/functions/keys.sql), which drops the cached keyring in every API process.
import crypto from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { importJWK, type JWK } from 'jose';
import { controlPool } from '../../../db/src/pools.ts';
import { projectCache, type ProjectRuntime } from '../../../db/src/projects.ts';
import { open } from '../../../db/src/secret-box.ts';
import { API_ROLES, type ApiRole } from '../../../db/src/roles.ts';
import type { Alg, Claims, VerifyKey } from './jwt.ts';
import { liveSettings } from '../../../db/src/config.ts';

export interface ApiKeyEntry { id: string; type: 'publishable' | 'secret'; role: ApiRole; claims: Claims }

export interface Signer { alg: Alg; kid: string; key: CryptoKey | Uint8Array }

export interface Keyring {
  legacyApiKeysEnabled: boolean;
  /** SHA-256 (hex) of a key's text → the key. */
  apiKeys: Map<string, ApiKeyEntry>;
  /** The legacy secret verifies tokens unless it was revoked. */
  legacySecretValid: boolean;
  /** Non-revoked signing keys of the project and the keys of its trusted issuers. */
  keys: VerifyKey[];
  /** The key in use when it is not the legacy secret. */
  signer?: Signer;
  /** The trusted issuers as configured, and when this keyring was loaded (for refreshing on an unknown kid). */
  thirdParty?: ThirdPartyRow[];
  loadedAt?: number;
}

interface ThirdPartyRow { id: string; oidc_issuer_url: string | null; jwks_url: string | null; custom_jwks: unknown }

/** A project that never touched its keys: legacy keys on, the legacy secret signs and verifies. */
export const LEGACY_ONLY: Keyring = { legacyApiKeysEnabled: true, apiKeys: new Map(), legacySecretValid: true, keys: [] };

export const apiKeyHash = (key: string) => crypto.createHash('sha256').update(key).digest('hex');
export const isApiKey = (s: string) => s.startsWith('sb_publishable_') || s.startsWith('sb_secret_');

/** The context the private JWK of a signing key is sealed for (management/signing-keys.ts seals with it). */
export const signingKeyContext = (ref: string, id: string) => `signing-key:${ref}:${id}`;
export const apiKeyContext = (ref: string, id: string) => `api-key:${ref}:${id}`;

/** The role a secret key's JWT template gives (service_role unless it names another API role). */
export function templateRole(template: unknown): ApiRole | undefined {
  const role = template && typeof template === 'object' ? (template as Record<string, unknown>).role : undefined;
  if (role === undefined) return 'service_role';
  return typeof role === 'string' && (API_ROLES as readonly string[]).includes(role) ? role as ApiRole : undefined;
}

/** Algorithm a JWK is for: its `alg`, or what its key type implies. */
function algOf(jwk: JWK): Alg | undefined {
  if (jwk.alg) return (['ES256', 'RS256', 'EdDSA', 'HS256'] as string[]).includes(jwk.alg) ? jwk.alg as Alg : undefined;
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

/** A public key for verification, from a JWK (private members dropped); undefined for what cannot be one. */
export async function publicKeyOf(jwk: JWK): Promise<{ alg: Alg; key: crypto.KeyObject } | undefined> {
  const alg = algOf(jwk);
  if (!alg || alg === 'HS256' || (jwk.use !== undefined && jwk.use !== 'sig')) return undefined;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, ...pub } = jwk;
  try {
    const imported = await importJWK({ ...pub, alg }, alg);
    const key = imported instanceof Uint8Array ? undefined : crypto.KeyObject.from(imported as CryptoKey);
    if (!key || key.type !== 'public') return undefined;
    if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return undefined;
    return { alg, key };
  } catch {
    return undefined;
  }
}

interface KeyringRow {
  legacy_api_keys_enabled: boolean;
  api_keys: { id: string; type: 'publishable' | 'secret'; hash: string; template: unknown }[];
  signing_keys: { id: string; algorithm: Alg; status: string; legacy: boolean; public_jwk: JWK | null; private_sealed: string | null }[];
  third_party: ThirdPartyRow[];
}

async function load(ref: string): Promise<Keyring> {
  const { rows: [row] } = await controlPool().query<{ k: KeyringRow | null }>('select platform_private.project_keyring($1) k', [ref]);
  const r = row?.k;
  if (!r) return LEGACY_ONLY;
  const apiKeys = new Map<string, ApiKeyEntry>();
  for (const k of r.api_keys) {
    const role = k.type === 'publishable' ? 'anon' : templateRole(k.template);
    if (!role) continue;
    apiKeys.set(k.hash, { id: k.id, type: k.type, role, claims: { ...(k.type === 'secret' && k.template && typeof k.template === 'object' ? k.template as Claims : {}), iss: 'supabase', ref, role } });
  }
  const keys: VerifyKey[] = [];
  let signer: Signer | undefined;
  let legacySecretValid = true;
  for (const k of r.signing_keys) {
    if (k.legacy) { legacySecretValid = k.status !== 'revoked'; continue; }
    if (k.status === 'revoked') continue;
    if (k.algorithm === 'HS256') {
      // A symmetric key's secret is its private JWK; it verifies by kid only and is never published.
      const jwk = unseal(ref, k.id, k.private_sealed);
      const secret = jwk?.k ? Buffer.from(jwk.k, 'base64url') : undefined;
      if (secret) keys.push({ alg: 'HS256', key: crypto.createSecretKey(secret), kid: k.id });
    } else if (k.public_jwk) {
      const pub = await publicKeyOf({ ...k.public_jwk, alg: k.algorithm });
      if (pub) keys.push({ alg: pub.alg, key: pub.key, kid: k.id });
    }
    if (k.status === 'in_use') {
      const jwk = unseal(ref, k.id, k.private_sealed);
      if (jwk) {
        const key = await importJWK(jwk, k.algorithm);
        signer = { alg: k.algorithm, kid: k.id, key: key as CryptoKey | Uint8Array };
      }
    }
  }
  for (const t of r.third_party) {
    const resolved = await resolveThirdParty(t).catch(() => undefined);
    for (const jwk of resolved?.keys ?? []) {
      const pub = await publicKeyOf(jwk);
      if (pub) keys.push({ ...pub, kid: jwk.kid, thirdParty: { id: t.id, issuer: t.oidc_issuer_url ?? undefined } });
    }
  }
  return { legacyApiKeysEnabled: r.legacy_api_keys_enabled, apiKeys, legacySecretValid, keys, signer, thirdParty: r.third_party, loadedAt: Date.now() };
}

function unseal(ref: string, id: string, sealed: string | null): JWK | undefined {
  if (!sealed) return undefined;
  const text = open(sealed, signingKeyContext(ref, id));
  return text ? JSON.parse(text) as JWK : undefined;
}

const keyrings = projectCache(load);
const attached = new WeakMap<ProjectRuntime, Keyring>();

// How soon an unknown kid may fetch an issuer's keys again (LOAM_THIRD_PARTY_AUTH_REFRESH_MS, default 30 s).

/** The `kid` of a JWT's header, if it is one. */
function kidOf(token: string | undefined): string | undefined {
  if (!token || isApiKey(token)) return undefined;
  try {
    const kid = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'))?.kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

/** Loads (or takes from the cache) the project's keyring and ties it to this runtime record, for keyringOf.
 *  With the request's token: a `kid` no key has, in a project that trusts issuers, fetches their keys again
 *  (an issuer rotated) — at most once per 30 s (LOAM_THIRD_PARTY_AUTH_REFRESH_MS) per project, whatever kids callers make up. */
export async function prepareKeyring(p: ProjectRuntime, token?: string): Promise<Keyring> {
  let kr = await keyrings.get(p.ref);
  const kid = kr.thirdParty?.length ? kidOf(token) : undefined;
  if (kid !== undefined && !kr.keys.some((k) => k.kid === kid) && Date.now() - (kr.loadedAt ?? 0) >= liveSettings.thirdPartyAuthRefreshMs) {
    await Promise.all(kr.thirdParty!.map((t) => resolveThirdParty(t, true).catch(() => undefined)));
    keyrings.forget(p.ref);
    kr = await keyrings.get(p.ref);
  }
  attached.set(p, kr);
  return kr;
}

/** The keyring the gate loaded for this runtime record; a record that never passed the gate (tests, tools)
 *  reads as a project that never touched its keys. */
export const keyringOf = (p: ProjectRuntime): Keyring => attached.get(p) ?? LEGACY_ONLY;

// ---------------------------------------------------------------------------------------------------------------
// Third-party issuers' keys, fetched over HTTP(S) only, from public addresses only (unless the operator sets
// LOAM_THIRD_PARTY_AUTH_ALLOW_PRIVATE=1, e.g. for an issuer on the same network), with a time limit and a size
// cap, and cached per URL. The address is checked at connection time (the lookup below), so a name that
// resolves to a public address when checked and a private one when used cannot reach inside.

const FETCH_TIMEOUT_MS = 5000;
const MAX_BYTES = 256 * 1024;
const MAX_KEYS = 20;
const TTL_MS = 10 * 60_000;
const FAILURE_TTL_MS = 30_000;

const PRIVATE = new net.BlockList();
for (const [a, n] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3]] as const) PRIVATE.addSubnet(a, n, 'ipv4');
for (const [a, n] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) PRIVATE.addSubnet(a, n, 'ipv6');


export function isPrivateAddress(address: string): boolean {
  const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
  const mapped = family === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
  return mapped ? PRIVATE.check(mapped, 'ipv4') : PRIVATE.check(address, family);
}

export class FetchRefused extends Error {}

/** Why a URL may not be fetched (scheme, credentials, a literal private address), or undefined. */
export function urlProblem(raw: string): string | undefined {
  let u: URL;
  try { u = new URL(raw); } catch { return 'is not a URL'; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  if (u.username || u.password) return 'must not hold credentials';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host) && isPrivateAddress(host) && !liveSettings.allowPrivateFetch) return 'points at a private or loopback address';
  return undefined;
}

const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as dns.LookupAddress[];
    const bad = !liveSettings.allowPrivateFetch && list.find((a) => isPrivateAddress(a.address));
    if (bad || list.length === 0) return callback(new FetchRefused(`${hostname} resolves to a private or loopback address`), '', 0);
    if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    callback(null, list[0].address, list[0].family);
  });
};

/** GET a JSON document with the limits above. */
export function fetchJson(raw: string): Promise<unknown> {
  const problem = urlProblem(raw);
  if (problem) return Promise.reject(new FetchRefused(`${raw} ${problem}`));
  const u = new URL(raw);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { lookup: guardedLookup, timeout: FETCH_TIMEOUT_MS, headers: { accept: 'application/json' } }, (res) => {
      if (res.statusCode !== 200) { res.resume(); return reject(new FetchRefused(`${raw} answered ${res.statusCode}`)); }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) { req.destroy(new FetchRefused(`${raw} sent more than ${MAX_BYTES} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => {
        try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch { reject(new FetchRefused(`${raw} did not send JSON`)); }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new FetchRefused(`${raw} did not answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

/** fetch() for an OAuth / OIDC provider's endpoints (auth/oauth.ts, through openid-client and jose), under the
 *  rules above: http(s), public addresses only (checked at connection time), 5 s of silence, 1 MiB; redirects not
 *  followed. The 5 s bound the socket's idle time only: a caller that needs a bound on the whole exchange (an
 *  answer trickled a byte at a time never goes idle) passes `signal`, which ends the connection when it fires. */
export function guardedFetch(raw: string | URL, init: { method?: string; headers?: HeadersInit; body?: unknown; signal?: AbortSignal | null } = {}): Promise<Response> {
  const href = String(raw);
  const problem = urlProblem(href);
  if (problem) return Promise.reject(new FetchRefused(`${href} ${problem}`));
  if (init.signal?.aborted) return Promise.reject(new FetchRefused(`${href} did not answer in the time allowed`));
  const u = new URL(href);
  const mod = u.protocol === 'https:' ? https : http;
  const headers = Object.fromEntries(new Headers(init.headers).entries());
  const body = init.body === undefined || init.body === null ? undefined : String(init.body);
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: init.method ?? 'GET', headers, lookup: guardedLookup, timeout: FETCH_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 4 * MAX_BYTES) { req.destroy(new FetchRefused(`${href} sent more than ${4 * MAX_BYTES} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const status = res.statusCode ?? 502;
        resolve(new Response([101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: h }));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new FetchRefused(`${href} did not answer within ${FETCH_TIMEOUT_MS} ms`)));
    const abort = () => req.destroy(new FetchRefused(`${href} did not answer in the time allowed`));
    init.signal?.addEventListener('abort', abort, { once: true });
    req.on('close', () => init.signal?.removeEventListener('abort', abort));
    req.on('error', reject);
    req.end(body);
  });
}

export interface ResolvedJwks { keys: JWK[]; resolvedAt: Date }

function jwksOf(doc: unknown): JWK[] {
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new FetchRefused('not a JWKS: no "keys" array');
  return keys.filter((k): k is JWK => typeof k === 'object' && k !== null && !Array.isArray(k)).slice(0, MAX_KEYS);
}

// Per URL: the newest fetch, and the last good answer (served while a refresh runs, so a slow or failing issuer
// does not hold up the project's requests once its keys were known).
const jwksCache = new Map<string, { at: number; ok: boolean; value: Promise<ResolvedJwks>; good?: ResolvedJwks }>();

async function fetchJwks(url: string): Promise<ResolvedJwks> {
  return { keys: jwksOf(await fetchJson(url)), resolvedAt: new Date() };
}

async function fetchIssuerJwks(issuer: string): Promise<ResolvedJwks> {
  const conf = await fetchJson(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`) as { jwks_uri?: unknown; issuer?: unknown };
  if (typeof conf?.jwks_uri !== 'string') throw new FetchRefused(`${issuer} publishes no jwks_uri`);
  return fetchJwks(conf.jwks_uri);
}

/** The keys of one trusted issuer: its custom JWKS, or fetched (cached; a failure is retried after 30 s). */
export function resolveThirdParty(t: { oidc_issuer_url: string | null; jwks_url: string | null; custom_jwks: unknown }, fresh = false): Promise<ResolvedJwks> {
  if (t.custom_jwks) return Promise.resolve({ keys: jwksOf(t.custom_jwks), resolvedAt: new Date() });
  const cacheKey = t.jwks_url ? `jwks:${t.jwks_url}` : `oidc:${t.oidc_issuer_url}`;
  const hit = jwksCache.get(cacheKey);
  if (!fresh && hit && Date.now() - hit.at < (hit.ok ? TTL_MS : FAILURE_TTL_MS)) return hit.good ? Promise.resolve(hit.good) : hit.value;
  const value = t.jwks_url ? fetchJwks(t.jwks_url) : fetchIssuerJwks(t.oidc_issuer_url!);
  const entry: { at: number; ok: boolean; value: Promise<ResolvedJwks>; good?: ResolvedJwks } = { at: Date.now(), ok: true, value, good: hit?.good };
  value.then((v) => { entry.good = v; }, () => { entry.ok = false; });
  jwksCache.set(cacheKey, entry);
  if (jwksCache.size > 1000) jwksCache.delete(jwksCache.keys().next().value!);
  // A refresh: the keys known so far serve until it ends (an explicit `fresh` one, for an unknown kid, waits).
  return !fresh && hit?.good ? Promise.resolve(hit.good) : value;
}
