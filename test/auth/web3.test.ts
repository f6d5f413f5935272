// Web3 sign-in with supabase-js' signInWithWeb3: Ethereum (a viem account as the wallet, so supabase-js builds
// the EIP-4361 message) and Solana (an ed25519 key made here); GoTrue's errors; replays; isolation.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, it } from 'node:test';
import { base58 } from '@scure/base';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { type Project } from '../helpers/platform.ts';
import { authHttp, authProject, client } from './helpers.ts';

let p: Project;
let other: Project;
before(async () => {
  [p, other] = await Promise.all([
    authProject({ external_web3_ethereum_enabled: true, external_web3_solana_enabled: true, site_url: 'https://app.example.com' }),
    authProject({ external_web3_ethereum_enabled: true, site_url: 'https://app.example.com' }),
  ]);
});

/** An EIP-1193 wallet backed by a viem account, as a browser wallet would answer supabase-js. */
function wallet(account = privateKeyToAccount(generatePrivateKey())) {
  return {
    account,
    request: async ({ method, params }: { method: string; params?: unknown[] }) => {
      if (method === 'eth_requestAccounts') return [account.address];
      if (method === 'eth_chainId') return '0x1';
      if (method === 'personal_sign') return account.signMessage({ message: { raw: params![0] as `0x${string}` } });
      throw new Error(`unexpected ${method}`);
    },
  };
}

async function siwe(account: ReturnType<typeof privateKeyToAccount>, o: { domain?: string; uri?: string; issuedAt?: Date; expirationTime?: Date } = {}) {
  const message = createSiweMessage({
    domain: o.domain ?? 'app.example.com', address: account.address, uri: o.uri ?? 'https://app.example.com/login', version: '1',
    chainId: 1, nonce: crypto.randomBytes(8).toString('hex'), issuedAt: o.issuedAt ?? new Date(), expirationTime: o.expirationTime,
    statement: 'Sign in to the app',
  });
  return { message, signature: await account.signMessage({ message }) };
}

function solanaKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  return { address: base58.encode(raw), sign: (m: string) => new Uint8Array(crypto.sign(null, Buffer.from(m), privateKey)) };
}

const siws = (address: string, issuedAt = new Date(), domain = 'app.example.com') => [
  `${domain} wants you to sign in with your Solana account:`, address, '', 'Sign in to the app', '',
  `URI: https://${domain}/login`, 'Version: 1', 'Chain ID: mainnet', `Nonce: ${crypto.randomBytes(8).toString('hex')}`,
  `Issued At: ${issuedAt.toISOString()}`,
].join('\n');

describe('Ethereum (Sign-In with Ethereum)', () => {
  it('signs in with supabase-js signInWithWeb3 and a wallet; the identity is web3:ethereum:<address>', async () => {
    const w = wallet();
    const c = client(p);
    const { data, error } = await c.auth.signInWithWeb3({ chain: 'ethereum', wallet: w as any, statement: 'Sign in to the app', options: { url: 'https://app.example.com/login' } });
    assert.equal(error, null);
    const identity = data.user!.identities![0];
    assert.equal(identity.provider, 'web3');
    // supabase-js writes the address in lower case; the sub is the address as the message has it (GoTrue's rule).
    assert.equal(identity.identity_data!.sub, `web3:ethereum:${w.account.address.toLowerCase()}`);
    assert.equal(identity.identity_data!.address, w.account.address.toLowerCase());
    const claims = JSON.parse(Buffer.from(data.session!.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.amr[0].method, 'web3');

    // The same wallet signs in to the same user again (with a new message).
    const again = await c.auth.signInWithWeb3({ chain: 'ethereum', wallet: w as any, statement: 'Sign in again', options: { url: 'https://app.example.com/login' } });
    assert.equal(again.error, null);
    assert.equal(again.data.user!.id, data.user!.id);
  });

  it('a replayed message and signature are refused', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const signed = await siwe(account);
    assert.equal((await client(p).auth.signInWithWeb3({ chain: 'ethereum', ...signed })).error, null);
    const res = await authHttp(p, 'POST', '/token?grant_type=web3', { body: { chain: 'ethereum', ...signed } });
    assert.deepEqual([res.status, res.body], [400, { error: 'invalid_grant', error_description: 'Signed message was already used' }]);
  });

  it('refuses what GoTrue refuses: another app\'s URI, a wrong signer, old messages, bad input', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const grant = async (body: Record<string, unknown>) => authHttp(p, 'POST', '/token?grant_type=web3', { body: { chain: 'ethereum', ...body } });
    let res = await grant(await siwe(account, { domain: 'evil.example', uri: 'https://evil.example/' }));
    assert.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Signed Ethereum message is using URI which is not allowed on this server, message was signed for another app' });
    const signed = await siwe(account);
    res = await grant({ message: signed.message, signature: (await siwe(privateKeyToAccount(generatePrivateKey()))).signature });
    assert.equal(res.body.error_description, 'Signature does not match address in message');
    res = await grant(await siwe(account, { issuedAt: new Date(Date.now() - 11 * 60_000) }));
    assert.equal(res.body.error_description, 'Ethereum message was issued too long ago');
    res = await grant(await siwe(account, { uri: 'http://app.example.com/' }));
    assert.equal(res.body.error_description, 'Signed Ethereum message is using URI which does not use HTTPS');
    res = await grant({ message: 'too short', signature: signed.signature });
    assert.deepEqual([res.status, res.body.code, res.body.message], [400, 'validation_failed', 'message is too short']);
    res = await grant({ message: signed.message, signature: '0x1234' });
    assert.equal(res.body.message, 'signature must be 65 bytes long, encoded as a 130 character-long hexadecimal string');
    res = await grant({ message: signed.message.replace('wants you to sign in with your Ethereum account:', 'says hello:'), signature: signed.signature });
    assert.equal(res.body.message, 'siwe: message first line does not end in " wants you to sign in with your Ethereum account:"');
    res = await authHttp(p, 'POST', '/token?grant_type=web3', { body: { chain: 'bitcoin', ...signed } });
    assert.deepEqual([res.status, res.body.code, res.body.message], [400, 'web3_unsupported_chain', 'Unsupported chain']);
  });
});

describe('Solana (Sign-In with Solana)', () => {
  it('signs in with an ed25519 signature (supabase-js, message + signature)', async () => {
    const key = solanaKey();
    const message = siws(key.address);
    const { data, error } = await client(p).auth.signInWithWeb3({ chain: 'solana', message, signature: key.sign(message) });
    assert.equal(error, null);
    assert.equal(data.user!.identities![0].identity_data!.sub, `web3:solana:${key.address}`);
    const forged = siws(key.address);
    const res = await authHttp(p, 'POST', '/token?grant_type=web3', {
      body: { chain: 'solana', message: forged, signature: Buffer.from(solanaKey().sign(forged)).toString('base64url') },
    });
    assert.equal(res.body.error_description, 'Signature does not match address in message');
  });

  it('is refused where the chain is off, with GoTrue\'s words', async () => {
    const key = solanaKey();
    const message = siws(key.address);
    const res = await authHttp(other, 'POST', '/token?grant_type=web3', { body: { chain: 'solana', message, signature: Buffer.from(key.sign(message)).toString('base64url') } });
    assert.deepEqual([res.status, res.body.code, res.body.message], [422, 'web3_provider_disabled', 'Solana Web3 provider is disabled']);
    const none = await authProject();
    const r2 = await authHttp(none, 'POST', '/token?grant_type=web3', { body: { chain: 'ethereum', message, signature: 'x' } });
    assert.deepEqual([r2.status, r2.body.code, r2.body.message], [422, 'web3_provider_disabled', 'Web3 provider is disabled']);
  });
});

describe('isolation', () => {
  it("a Web3 session of one project is nothing to another, and the other project's user is its own", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const a = await client(p).auth.signInWithWeb3({ chain: 'ethereum', ...(await siwe(account)) });
    const res = await authHttp(other, 'GET', '/user', { token: a.data.session!.access_token });
    assert.deepEqual([res.status, res.body.code], [403, 'bad_jwt']);
    const b = await client(other).auth.signInWithWeb3({ chain: 'ethereum', ...(await siwe(account)) });
    assert.equal(b.error, null);
    assert.notEqual(b.data.user!.id, a.data.user!.id);
  });
});
