// POST /token?grant_type=web3 (supabase-js signInWithWeb3): a Sign-In with Ethereum (EIP-4361) or Sign-In with
// Solana message and its signature. Checked as GoTrue checks them: the signature (viem's address recovery for
// Ethereum; ed25519 over the message, or its Solana off-chain envelope, for Solana), the URI and domain against
// site_url / uri_allow_list, and the issued-at / not-before / expiration windows (10 minutes at most). Loam also
// spends each message: a second use is refused, so a captured message and signature open no session. The user's
// identity is provider `web3`, sub `web3:<chain>:<address>`.
import crypto from 'node:crypto';
import { base58 } from '@scure/base';
import { recoverMessageAddress } from 'viem';
import { allowedRedirect, type AuthConfig } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, OAuthFlowError, validation } from './errors.ts';
import { beforeUserCreated, hookEnabled } from './hooks.ts';
import { str, type Ctx, type Params } from './params.ts';
import type { SessionData } from './session.ts';

const MAX_VALIDITY_MS = 10 * 60 * 1000;
const disabled = (message: string) => new AuthError(422, 'web3_provider_disabled', message);

interface SignInMessage {
  domain: string; address: string; statement: string; uri: URL; version: string; chainId: string; nonce: string;
  issuedAt: Date; expirationTime?: Date; notBefore?: Date;
}

const CHAINS = {
  ethereum: { prefix: 'siwe', name: 'Ethereum', address: /^0x[0-9a-fA-F]{40}$/, addressError: 'wallet address is not a valid Ethereum address', chainId: /^\d+$/ },
  solana: { prefix: 'siws', name: 'Solana', address: /^[a-zA-Z0-9]{32,44}$/, addressError: 'wallet address is not in base58 format', chainId: /^(mainnet|testnet|devnet|localnet|solana:(mainnet|testnet|devnet|localnet))$/ },
} as const;
type Chain = keyof typeof CHAINS;

const DOMAIN = /^[a-zA-Z0-9.-]+(:\d{1,5})?$/;

/** The line format both standards share (GoTrue's siwe / siws parsers, with their error messages). */
export function parseSignInMessage(chain: Chain, raw: string): SignInMessage {
  const spec = CHAINS[chain];
  const fail = (why: string) => validation(`${spec.prefix}: ${why}`);
  const lines = raw.split('\n');
  if (lines.length < 6) throw fail('message needs at least 6 lines');
  const suffix = ` wants you to sign in with your ${spec.name} account:`;
  if (!lines[0].endsWith(suffix)) throw fail(`message first line does not end in "${suffix}"`);
  const domain = lines[0].slice(0, -suffix.length).trim();
  if (!DOMAIN.test(domain)) throw fail('domain in first line of message is not valid');
  const address = lines[1].trim();
  if (!spec.address.test(address)) throw fail(spec.addressError);
  if (lines[2] !== '') throw fail('third line must be empty');
  let start = 3;
  let statement = '';
  if (lines[3] !== '' && lines[4] === '') { statement = lines[3]; start = 5; }
  const fields: Record<string, string> = {};
  let inResources = false;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i].trim();
    if (inResources && line.startsWith('- ')) continue;
    inResources = false;
    if (line === 'Resources:') { inResources = true; continue; }
    if (!line) continue;
    const at = line.indexOf(':');
    if (at < 0) throw fail(`line ${i} is not parsable`);
    fields[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  const time = (key: string, what: string) => {
    if (fields[key] === undefined) return undefined;
    const d = new Date(fields[key]);
    if (!/^\d{4}-\d\d-\d\dT/.test(fields[key]) || Number.isNaN(d.getTime())) throw fail(`${what} is not a valid ISO8601 timestamp`);
    return d;
  };
  let uri: URL;
  if (fields.URI === undefined) throw fail('URI is not specified');
  try { uri = new URL(fields.URI); } catch { throw fail('URI is not valid'); }
  if (fields['Chain ID'] && !spec.chainId.test(fields['Chain ID'])) throw fail('Chain ID is not valid');
  const issuedAt = time('Issued At', 'Issued At');
  const expirationTime = time('Expiration Time', 'Expiration Time');
  const notBefore = time('Not Before', 'Not Before');
  if (!issuedAt) throw fail('Issued At is not specified');
  if (expirationTime && issuedAt > expirationTime) throw fail('Issued At is after Expiration Time');
  if (expirationTime && notBefore && notBefore > expirationTime) throw fail('Not Before is after Expiration Time');
  return { domain, address, statement, uri, version: fields.Version ?? '', chainId: fields['Chain ID'] ?? '', nonce: fields.Nonce ?? '', issuedAt, expirationTime, notBefore };
}

const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

function solanaSignatureValid(m: SignInMessage, raw: string, signature: Buffer): boolean {
  let pub: Buffer;
  try { pub = Buffer.from(base58.decode(m.address)); } catch { return false; }
  if (pub.length !== 32) return false;
  const key = crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI, pub]), format: 'der', type: 'spki' });
  const msg = Buffer.from(raw, 'utf8');
  if (crypto.verify(null, msg, key, signature)) return true;
  // The Solana off-chain message envelope (some wallets sign that instead of the bare text).
  if (msg.length > 0xffff) return false;
  const domain = Buffer.alloc(32);
  domain.write(m.domain.slice(0, 32), 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16LE(msg.length);
  const envelope = Buffer.concat([Buffer.from([0xff]), Buffer.from('solana offchain'), Buffer.from([0]), domain, Buffer.from([0, 1]), pub, len, msg]);
  return crypto.verify(null, envelope, key, signature);
}

async function signatureValid(chain: Chain, m: SignInMessage, raw: string, signature: string): Promise<boolean> {
  if (chain === 'ethereum') {
    try {
      const sig = (signature.startsWith('0x') ? signature : `0x${signature}`) as `0x${string}`;
      return (await recoverMessageAddress({ message: raw, signature: sig })).toLowerCase() === m.address.toLowerCase();
    } catch { return false; }
  }
  const b64 = signature.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
  if (!/^[A-Za-z0-9_-]+$/.test(b64)) throw validation('signature does not contain valid base64 characters');
  const bytes = Buffer.from(b64, 'base64url');
  return bytes.length === 64 && solanaSignatureValid(m, raw, bytes);
}

const urlAllowed = (cfg: AuthConfig, url: string) => allowedRedirect(cfg, url) === url;

export async function web3Grant(c: Ctx, b: Params): Promise<SessionData> {
  const eth = c.cfg.external_web3_ethereum_enabled === true;
  const sol = c.cfg.external_web3_solana_enabled === true;
  if (!eth && !sol) throw disabled('Web3 provider is disabled');
  const chain = str(b, 'chain');
  if (chain === 'solana' && !sol) throw disabled('Solana Web3 provider is disabled');
  if (chain === 'ethereum' && !eth) throw disabled('Ethereum Web3 provider is disabled');
  if (chain !== 'solana' && chain !== 'ethereum') throw new AuthError(400, 'web3_unsupported_chain', 'Unsupported chain');
  const raw = str(b, 'message') ?? '';
  const signature = str(b, 'signature') ?? '';
  if (raw.length < 64) throw validation('message is too short');
  if (raw.length > 20 * 1024) throw validation('message must not exceed 20KB');
  if (chain === 'ethereum' && signature.replace(/^0x/, '').length !== 130) {
    throw validation('signature must be 65 bytes long, encoded as a 130 character-long hexadecimal string');
  }
  if (chain === 'solana' && signature.length !== 86 && signature.length !== 88) {
    throw validation('signature must be 64 bytes encoded as base64 with or without padding');
  }
  const m = parseSignInMessage(chain, raw);
  const name = CHAINS[chain].name;
  const grant = (message: string) => new OAuthFlowError('invalid_grant', message);
  if (!(await signatureValid(chain, m, raw, signature))) throw grant('Signature does not match address in message');
  const local = m.uri.hostname === 'localhost';
  if (m.uri.protocol !== 'https:' && !local) throw grant(`Signed ${name} message is using URI which does not use HTTPS`);
  if (!urlAllowed(c.cfg, m.uri.href)) throw grant(`Signed ${name} message is using URI which is not allowed on this server, message was signed for another app`);
  if (!local && (m.uri.host !== m.domain || !urlAllowed(c.cfg, `https://${m.domain}/`))) {
    throw grant(`Signed ${name} message is using a Domain that does not match the one in URI which is not allowed on this server`);
  }
  const now = Date.now();
  if (m.notBefore && now < m.notBefore.getTime()) throw grant(`Signed ${name} message becomes valid in the future`);
  if (m.expirationTime && now > m.expirationTime.getTime()) throw grant(`Signed ${name} message is expired`);
  if (now > m.issuedAt.getTime() + MAX_VALIDITY_MS) throw grant(`${name} message was issued too long ago`);
  if (now < m.issuedAt.getTime() - MAX_VALIDITY_MS) throw grant(`${name} message was issued too far in the future`);

  const sub = `web3:${chain}:${m.address}`;
  const identityData = { address: m.address, chain, network: m.chainId, domain: m.domain, statement: m.statement, sub };
  if (hookEnabled(c.cfg, 'before_user_created')
      && !(await authCall<boolean>(c.p, `select exists (select 1 from auth.identities where provider = 'web3' and provider_id = $1)`, [sub]))) {
    const at = new Date().toISOString();
    await beforeUserCreated(c.p, c.cfg, c.ip, {
      id: crypto.randomUUID(), aud: 'authenticated', role: 'authenticated', email: '', phone: '',
      app_metadata: { provider: 'web3', providers: ['web3'] }, user_metadata: identityData, identities: [],
      created_at: at, updated_at: at, is_anonymous: false,
    });
  }
  // Spent until the latest moment it could still be accepted.
  const lastValid = Math.min(m.expirationTime?.getTime() ?? Infinity, m.issuedAt.getTime() + MAX_VALIDITY_MS);
  try {
    return await authCall<SessionData>(c.p, 'select auth.web3_signin($1)', [{
      sub, identity_data: identityData, message_hash: crypto.createHash('sha256').update(raw).digest('hex'),
      expires_at: new Date(lastValid).toISOString(), disable_signup: c.cfg.disable_signup, ip: c.ip, user_agent: c.userAgent,
    }]);
  } catch (err) {
    if ((err as { code?: string }).code === 'LMX10') throw grant('Signed message was already used');
    throw err;
  }
}
