// A software WebAuthn authenticator for the tests (not product code): ES256 keys from node:crypto, CBOR from
// cborg, attestation `none` or `packed` (self attestation). It answers credential creation and request options
// as a browser would, with credentials whose toJSON() gives what supabase-js sends (base64url fields).
import crypto from 'node:crypto';
import { encode as cborEncode } from 'cborg';

// Plain CBOR (shortest lengths, no tags), as authenticators write it.
const encode = (v: unknown): Buffer => Buffer.from(cborEncode(v));

type Bytes = string | ArrayBuffer | Uint8Array;
const b64u = (v: Bytes): string => (typeof v === 'string' ? v : Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v) : v).toString('base64url'));
const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest();

export interface StoredCredential { id: Buffer; key: crypto.KeyObject; rpId: string; userHandle: Buffer; counter: number }

export interface Credential { id: string; toJSON(): Record<string, unknown> }

export class SoftAuthenticator {
  readonly credentials: StoredCredential[] = [];
  /** Added to every signature count: 0 makes a counter that never moves (as synced passkeys report). */
  counterStep = 1;

  readonly origin: string;
  readonly attestation: 'none' | 'packed';

  constructor(origin: string, attestation: 'none' | 'packed' = 'none') {
    this.origin = origin;
    this.attestation = attestation;
  }

  /** navigator.credentials.create({publicKey}) */
  create(publicKey: any, opts: { origin?: string; rpId?: string } = {}): Credential {
    const rpId: string = opts.rpId ?? publicKey.rp.id;
    const { privateKey, publicKey: pub } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = pub.export({ format: 'jwk' });
    const cose = encode(new Map<number, unknown>([
      [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')],
    ]));
    const id = crypto.randomBytes(32);
    const counter = 0;
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(id.length);
    const authData = Buffer.concat([
      sha256(rpId), Buffer.from([0x01 | 0x04 | 0x40]), Buffer.alloc(4), Buffer.alloc(16), idLen, id, Buffer.from(cose),
    ]);
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: b64u(publicKey.challenge), origin: opts.origin ?? this.origin, crossOrigin: false }));
    const attStmt = this.attestation === 'packed'
      ? { alg: -7, sig: crypto.sign('sha256', Buffer.concat([authData, sha256(clientData)]), privateKey) }
      : {};
    const attestationObject = Buffer.from(encode({ fmt: this.attestation, attStmt, authData }));
    this.credentials.push({ id, key: privateKey, rpId, userHandle: Buffer.from(b64u(publicKey.user.id), 'base64url'), counter });
    const json = {
      id: id.toString('base64url'), rawId: id.toString('base64url'), type: 'public-key',
      response: { clientDataJSON: clientData.toString('base64url'), attestationObject: attestationObject.toString('base64url'), transports: ['internal'] },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    };
    return { id: json.id, toJSON: () => json };
  }

  /** navigator.credentials.get({publicKey}); with no allow list, the first credential for the RP (discoverable). */
  get(publicKey: any, opts: { origin?: string; rpId?: string; credential?: StoredCredential } = {}): Credential {
    const rpId: string = opts.rpId ?? publicKey.rpId;
    const allowed: string[] = (publicKey.allowCredentials ?? []).map((c: any) => b64u(c.id));
    const cred = opts.credential ?? this.credentials.find((c) => (allowed.length ? allowed.includes(c.id.toString('base64url')) : c.rpId === (publicKey.rpId ?? rpId)));
    if (!cred) throw new Error('no credential for this relying party');
    cred.counter += this.counterStep;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(cred.counter);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([0x01 | 0x04]), count]);
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: b64u(publicKey.challenge), origin: opts.origin ?? this.origin, crossOrigin: false }));
    const signature = crypto.sign('sha256', Buffer.concat([authData, sha256(clientData)]), cred.key);
    const json = {
      id: cred.id.toString('base64url'), rawId: cred.id.toString('base64url'), type: 'public-key',
      response: {
        clientDataJSON: clientData.toString('base64url'), authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'), userHandle: cred.userHandle.toString('base64url'),
      },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    };
    return { id: json.id, toJSON: () => json };
  }
}
