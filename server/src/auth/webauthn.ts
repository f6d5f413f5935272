// WebAuthn, as GoTrue does it: MFA factors of type `webauthn` (POST /factors, /factors/{id}/challenge answering
// credential creation or request options, /factors/{id}/verify with the authenticator's response) and passkeys
// (/passkeys/registration/options|verify, /passkeys/authentication/options|verify, list, rename, delete; the
// admin's list and delete). @simplewebauthn/server builds and checks the ceremonies; the relying party is the
// project's (webauthn_rp_id / webauthn_rp_origins, else site_url's host and origin). Requests for other factor
// types fall through to mfa.ts.
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { Router, type Request, type Response } from 'express';
import type { AuthConfig } from './config.ts';
import { authCall } from './db.ts';
import { AuthError, authErrors, validation } from './errors.ts';
import { limitIpFixed } from './limits.ts';
import { ctx, params, str, type Ctx, type Params } from './params.ts';
import { isUuid, requireAdmin, tokenResponse, userCaller, type SessionData, type UserCaller } from './session.ts';

export const webauthn = Router();

const CHALLENGE_SECONDS = 300;
const MAX_PASSKEYS = 10;

interface RelyingParty { id: string; name: string; origins: string[] }

/** The project's relying party: its settings, else site_url's host and origin. */
function relyingParty(cfg: AuthConfig): RelyingParty {
  const site = new URL(cfg.site_url);
  const id = (cfg.webauthn_rp_id as string | null) || site.hostname;
  const listed = String(cfg.webauthn_rp_origins ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { id, name: (cfg.webauthn_rp_display_name as string | null) || id, origins: listed.length ? listed : [site.origin] };
}

/** What a challenge row keeps of the ceremony it started. */
interface Ceremony { type: 'create' | 'request'; challenge: string; user_verification: 'required' | 'preferred' }

interface WebAuthnUser { id: string; email: string; phone: string; name: string | null }
/** A credential as a factor keeps it: id and public key base64url, the counter, transports, the authenticator model. */
interface FactorCredential { id: string; public_key: string; counter: number; transports?: string[]; aaguid?: string }

const userName = (u: WebAuthnUser) => u.email || u.phone;

function member(req: Request, c: Ctx): UserCaller {
  const who = userCaller(req, c.p);
  if (who.claims.is_anonymous === true) throw new AuthError(403, 'no_authorization', 'Anonymous user not allowed to perform these actions');
  return who;
}

// Ceremony answers are checked for shape before the library reads them: an object with the string fields each
// response must have (the library's own checks follow).
function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function registrationResponse(v: unknown): RegistrationResponseJSON | undefined {
  if (!isObject(v) || !isObject(v.response) || typeof v.id !== 'string' || typeof v.rawId !== 'string' || v.type !== 'public-key') return undefined;
  if (typeof v.response.clientDataJSON !== 'string' || typeof v.response.attestationObject !== 'string') return undefined;
  return { clientExtensionResults: {}, ...v } as unknown as RegistrationResponseJSON;
}
function authenticationResponse(v: unknown): AuthenticationResponseJSON | undefined {
  if (!isObject(v) || !isObject(v.response) || typeof v.id !== 'string' || typeof v.rawId !== 'string' || v.type !== 'public-key') return undefined;
  const r = v.response;
  if (typeof r.clientDataJSON !== 'string' || typeof r.authenticatorData !== 'string' || typeof r.signature !== 'string') return undefined;
  if (r.userHandle !== undefined && r.userHandle !== null && typeof r.userHandle !== 'string') return undefined;
  return { clientExtensionResults: {}, ...v } as unknown as AuthenticationResponseJSON;
}

// ------------------------------------------------------------------------------------------------- MFA factors

interface FactorState {
  factor: { id: string; status: 'verified' | 'unverified'; factor_type: string; credential: FactorCredential | null };
  user: WebAuthnUser;
  credentials: FactorCredential[];
}

/** The factor of the URL when it is a WebAuthn factor of the caller; undefined for other types (mfa.ts answers). */
async function webauthnFactor(req: Request, c: Ctx, who: UserCaller): Promise<FactorState | undefined> {
  const id = String(req.params.factor_id);
  if (!isUuid(id)) throw new AuthError(404, 'mfa_factor_not_found', 'Factor not found');
  const state = await authCall<FactorState>(c.p, 'select auth.mfa_webauthn_state($1, $2, $3)', [who.userId, who.sessionId, id]);
  return state.factor.factor_type === 'webauthn' ? state : undefined;
}

webauthn.post('/factors', async (req, res, next) => {
  const b = params(req);
  if (b.factor_type !== 'webauthn') return next();
  const c = await ctx(req, res);
  const who = member(req, c);
  if (!c.cfg.mfa_web_authn_enroll_enabled) throw new AuthError(422, 'mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn');
  res.json(await authCall(c.p, 'select auth.mfa_enroll_webauthn($1, $2, $3, $4)', [who.userId, who.sessionId, str(b, 'friendly_name') ?? '', c.ip]));
});

webauthn.post('/factors/:factor_id/challenge', async (req, res, next) => {
  const c = await ctx(req, res);
  const who = member(req, c);
  const state = await webauthnFactor(req, c, who);
  if (!state) return next();
  if (!c.cfg.mfa_web_authn_verify_enabled) throw new AuthError(422, 'mfa_webauthn_verify_not_enabled', 'MFA verification is disabled for WebAuthn');
  const rp = relyingParty(c.cfg);
  const user = state.user;
  let ceremony: Ceremony;
  let publicKey: unknown;
  if (state.factor.status === 'unverified') {
    const options = await generateRegistrationOptions({
      rpName: rp.name, rpID: rp.id, userName: userName(user), userDisplayName: user.name || userName(user),
      userID: new TextEncoder().encode(user.id), attestationType: 'none',
      excludeCredentials: state.credentials.map((cr) => ({ id: cr.id, transports: ['usb', 'nfc'] })),
      authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
    });
    ceremony = { type: 'create', challenge: options.challenge, user_verification: 'preferred' };
    publicKey = options;
  } else {
    const cred = state.factor.credential;
    if (!cred) throw new AuthError(422, 'mfa_factor_not_found', 'Factor not found');
    const options = await generateAuthenticationOptions({
      rpID: rp.id, allowCredentials: [{ id: cred.id, transports: cred.transports }], userVerification: 'preferred',
    });
    ceremony = { type: 'request', challenge: options.challenge, user_verification: 'preferred' };
    publicKey = options;
  }
  const challenge = await authCall<{ id: string; type: string; expires_at: number }>(c.p,
    'select auth.mfa_webauthn_challenge($1, $2, $3, $4, $5)', [who.userId, who.sessionId, state.factor.id, c.ip, ceremony]);
  res.json({ id: challenge.id, type: 'webauthn', expires_at: challenge.expires_at,
    webauthn: { type: ceremony.type, credential_options: { publicKey } } });
});

webauthn.post('/factors/:factor_id/verify', async (req, res, next) => {
  const c = await ctx(req, res);
  const who = member(req, c);
  const state = await webauthnFactor(req, c, who);
  if (!state) return next();
  const b = params(req);
  if (!c.cfg.mfa_web_authn_verify_enabled) throw new AuthError(422, 'mfa_webauthn_enroll_not_enabled', 'MFA verification is disabled for WebAuthn');
  const w = b.webauthn;
  if (w === undefined || w === null) throw validation('WebAuthn config required');
  if (!isObject(w)) throw authErrors.badJson('json: cannot unmarshal into Go struct field VerifyFactorParams.webauthn of type api.WebAuthnParams');
  if (w.type !== 'create' && w.type !== 'request') throw validation('WebAuthn type must be create or request');
  if (w.credential_response === undefined || w.credential_response === null) throw validation('credential_response required');
  const challengeId = str(b, 'challenge_id');
  if (!isUuid(challengeId)) throw new AuthError(422, 'mfa_factor_not_found', 'MFA factor with the provided challenge ID not found');
  const pending = await authCall<{ session_data: Ceremony; status: string; credential: FactorCredential | null }>(c.p,
    'select auth.mfa_webauthn_pending($1, $2, $3, $4)', [who.userId, who.sessionId, state.factor.id, challengeId]);
  const ceremony = pending.session_data;
  if (ceremony.type !== w.type) throw validation('Invalid credential_response');
  const rp = relyingParty(c.cfg);
  const failed = () => new AuthError(400, 'webauthn_verification_failed', 'Failed to validate WebAuthn MFA response');
  let credential: FactorCredential | null = null;
  let counter = 0;
  if (w.type === 'create') {
    const response = registrationResponse(w.credential_response);
    if (!response) throw validation('Invalid credential_response');
    const v = await verifyRegistrationResponse({
      response, expectedChallenge: ceremony.challenge, expectedOrigin: rp.origins, expectedRPID: rp.id, requireUserVerification: false,
    }).catch(() => { throw failed(); });
    if (!v.verified) throw failed();
    const info = v.registrationInfo;
    credential = { id: info.credential.id, public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter, transports: info.credential.transports, aaguid: info.aaguid };
    counter = info.credential.counter;
  } else {
    const response = authenticationResponse(w.credential_response);
    if (!response) throw validation('Invalid credential_response');
    const stored = pending.credential;
    if (!stored || response.id !== stored.id) throw failed();
    const v = await verifyAuthenticationResponse({
      response, expectedChallenge: ceremony.challenge, expectedOrigin: rp.origins, expectedRPID: rp.id, requireUserVerification: false,
      credential: { id: stored.id, publicKey: Buffer.from(stored.public_key, 'base64url'), counter: stored.counter, transports: stored.transports },
    }).catch(() => { throw failed(); });
    if (!v.verified) throw failed();
    counter = v.authenticationInfo.newCounter;
  }
  const s = await authCall<SessionData>(c.p, 'select auth.mfa_webauthn_verified($1, $2, $3, $4, $5, $6, $7, $8)',
    [who.userId, who.sessionId, state.factor.id, challengeId, credential, counter,
      { type: w.type, challenge_id: challengeId, verified_at: new Date().toISOString() }, c.ip]);
  res.json(await tokenResponse(c.p, c.cfg, s));
});

// ---------------------------------------------------------------------------------------------------- passkeys

const passkeys = Router();
webauthn.use('/passkeys', passkeys);

function passkeysEnabled(cfg: AuthConfig): void {
  if (!cfg.passkey_enabled) throw new AuthError(404, 'passkey_disabled', 'Passkeys are disabled');
}

async function passkeyCtx(req: Request, res: Response): Promise<Ctx> {
  const c = await ctx(req, res);
  passkeysEnabled(c.cfg);
  return c;
}

/** challenge_id and credential of a verify body, GoTrue's checks in its order. */
function verifyBody(b: Params): { challengeId: string; credential: unknown } {
  const challengeId = str(b, 'challenge_id');
  if (!challengeId) throw validation('challenge_id is required');
  if (b.credential === undefined || b.credential === null) throw validation('credential is required');
  if (!isUuid(challengeId)) throw validation('challenge_id must be a valid UUID');
  return { challengeId, credential: b.credential };
}

async function consume(c: Ctx, id: string, type: string, userId: string | null): Promise<Ceremony> {
  const r = await authCall<{ session_data: Ceremony; expired: boolean }>(c.p, 'select auth.passkey_consume_challenge($1, $2, $3)', [id, type, userId]);
  if (r.expired) throw new AuthError(400, 'webauthn_challenge_expired', 'Challenge has expired');
  return r.session_data;
}

passkeys.post('/registration/options', async (req, res) => {
  const c = await passkeyCtx(req, res);
  const who = member(req, c);
  const state = await authCall<{ user: WebAuthnUser; credentials: { id: string; transports: string[] }[] }>(c.p,
    'select auth.passkey_registration_state($1, $2, $3)', [who.userId, who.sessionId, MAX_PASSKEYS]);
  const rp = relyingParty(c.cfg);
  const options = await generateRegistrationOptions({
    rpName: rp.name, rpID: rp.id, userName: userName(state.user), userDisplayName: state.user.name || userName(state.user),
    userID: new TextEncoder().encode(state.user.id), attestationType: 'none',
    excludeCredentials: state.credentials.map((cr) => ({ id: cr.id, transports: cr.transports })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
  });
  const ceremony: Ceremony = { type: 'create', challenge: options.challenge, user_verification: 'preferred' };
  const ch = await authCall<{ challenge_id: string; expires_at: number }>(c.p, 'select auth.passkey_challenge($1, $2, $3, $4)',
    [who.userId, 'registration', ceremony, CHALLENGE_SECONDS]);
  res.json({ challenge_id: ch.challenge_id, options, expires_at: ch.expires_at });
});

passkeys.post('/registration/verify', async (req, res) => {
  const c = await passkeyCtx(req, res);
  const who = member(req, c);
  // The same guards as for the options (SSO user, aal, cap) before the challenge is spent.
  await authCall(c.p, 'select auth.passkey_registration_state($1, $2, $3)', [who.userId, who.sessionId, MAX_PASSKEYS]);
  const { challengeId, credential } = verifyBody(params(req));
  const ceremony = await consume(c, challengeId, 'registration', who.userId);
  const response = registrationResponse(credential);
  if (!response) throw new AuthError(400, 'webauthn_verification_failed', 'Invalid credential response');
  const rp = relyingParty(c.cfg);
  const failed = () => new AuthError(400, 'webauthn_verification_failed', 'Credential verification failed');
  const v = await verifyRegistrationResponse({
    response, expectedChallenge: ceremony.challenge, expectedOrigin: rp.origins, expectedRPID: rp.id, requireUserVerification: false,
  }).catch(() => { throw failed(); });
  if (!v.verified) throw failed();
  const info = v.registrationInfo;
  const stored = {
    credential_id: Buffer.from(info.credential.id, 'base64url').toString('hex'),
    public_key: Buffer.from(info.credential.publicKey).toString('hex'),
    attestation_type: info.fmt, aaguid: info.aaguid, sign_count: info.credential.counter,
    transports: info.credential.transports ?? [], backup_eligible: info.credentialDeviceType === 'multiDevice',
    backed_up: info.credentialBackedUp,
  };
  res.json(await authCall(c.p, 'select auth.passkey_register($1, $2, $3, $4, $5, $6)',
    [who.userId, who.sessionId, MAX_PASSKEYS, stored, '', c.ip]));
});

passkeys.post('/authentication/options', async (req, res) => {
  const c = await passkeyCtx(req, res);
  // Anyone may start a sign-in ceremony, and each stores a challenge: 30 per 5 minutes per IP (GoTrue's default).
  await limitIpFixed(c.p.ref, 'passkey', c.ip, 30, 300);
  const rp = relyingParty(c.cfg);
  // Discoverable credentials: no allow list, the authenticator names the user.
  const options = await generateAuthenticationOptions({ rpID: rp.id, userVerification: 'preferred' });
  const ceremony: Ceremony = { type: 'request', challenge: options.challenge, user_verification: 'preferred' };
  const ch = await authCall<{ challenge_id: string; expires_at: number }>(c.p, 'select auth.passkey_challenge($1, $2, $3, $4)',
    [null, 'authentication', ceremony, CHALLENGE_SECONDS]);
  res.json({ challenge_id: ch.challenge_id, options, expires_at: ch.expires_at });
});

passkeys.post('/authentication/verify', async (req, res) => {
  const c = await passkeyCtx(req, res);
  const { challengeId, credential } = verifyBody(params(req));
  const ceremony = await consume(c, challengeId, 'authentication', null);
  const response = authenticationResponse(credential);
  if (!response) throw new AuthError(400, 'webauthn_verification_failed', 'Invalid credential response');
  const failed = () => new AuthError(400, 'webauthn_verification_failed', 'Credential verification failed');
  const userId = Buffer.from(response.response.userHandle ?? '', 'base64url').toString('utf8');
  if (!isUuid(userId)) throw failed();
  const credentialHex = Buffer.from(response.rawId, 'base64url').toString('hex');
  const stored = await authCall<{ id: string; public_key: string; sign_count: number; transports: string[] } | null>(c.p,
    'select auth.passkey_credential($1, $2)', [userId, credentialHex]);
  if (!stored) throw failed();
  const rp = relyingParty(c.cfg);
  const v = await verifyAuthenticationResponse({
    response, expectedChallenge: ceremony.challenge, expectedOrigin: rp.origins, expectedRPID: rp.id, requireUserVerification: false,
    credential: { id: response.rawId, publicKey: Buffer.from(stored.public_key, 'hex'), counter: Number(stored.sign_count), transports: stored.transports },
  }).catch(() => { throw failed(); });
  if (!v.verified) throw failed();
  const s = await authCall<SessionData>(c.p, 'select auth.passkey_signin($1, $2, $3, $4)',
    [stored.id, v.authenticationInfo.newCounter, c.ip, c.userAgent]);
  res.json(await tokenResponse(c.p, c.cfg, s));
});

passkeys.get('/', async (req, res) => {
  const c = await passkeyCtx(req, res);
  const who = userCaller(req, c.p);
  res.json(await authCall(c.p, 'select auth.passkey_list($1)', [who.userId]));
});

function passkeyId(req: Request): string {
  const id = String(req.params.passkey_id);
  if (!isUuid(id)) throw new AuthError(404, 'validation_failed', 'Passkey not found');
  return id;
}

passkeys.patch('/:passkey_id', async (req, res) => {
  const c = await passkeyCtx(req, res);
  const who = userCaller(req, c.p);
  const id = passkeyId(req);
  const name = str(params(req), 'friendly_name') ?? '';
  if (!name) throw validation('friendly_name is required');
  if (name.length > 120) throw validation('friendly_name must be 120 characters or less');
  res.json(await authCall(c.p, 'select auth.passkey_rename($1, $2, $3)', [who.userId, id, name]));
});

passkeys.delete('/:passkey_id', async (req, res) => {
  const c = await passkeyCtx(req, res);
  const who = userCaller(req, c.p);
  await authCall(c.p, 'select auth.passkey_delete($1, $2, $3, false, $4)', [who.userId, who.sessionId, passkeyId(req), c.ip]);
  res.status(204).end();
});

function adminUserId(req: Request): string {
  const id = String(req.params.user_id);
  if (!isUuid(id)) throw authErrors.userIdNotUuid();
  return id;
}

webauthn.get('/admin/users/:user_id/passkeys', async (req: Request, res: Response) => {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  res.json(await authCall(c.p, 'select auth.passkey_list($1)', [adminUserId(req)]));
});

webauthn.delete('/admin/users/:user_id/passkeys/:passkey_id', async (req: Request, res: Response) => {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  await authCall(c.p, 'select auth.passkey_delete($1, null, $2, true, $3)', [adminUserId(req), passkeyId(req), c.ip]);
  res.status(204).end();
});

